"""The data behind the fake Allen server: what is real, what is generated, and how.

Real (from ``resources/``, see ``resources/NOTICE``):

* the list of experiments (``gene_index.tsv.gz``: 26,078 SectionDataSet ids with their gene
  symbol, old symbol, gene name, Entrez id and plane);
* the structure graph (``structure_graph_1.json``; its ``universe`` wrapper is removed, so
  ``msg`` is ``[root 997]`` as the real service sends it);
* the grid zips of experiments 71717084 (Pdyn) and 74272479 (Nrp1), energy only, and their
  ``data_set.xml`` records (served as they are when a request has no ``include=``);
* ``annotation_25.nrrd`` and ``P56_Mouse_gridAnnotation.zip``.

SYNTHESIZED (deterministic, for tests only, never shown as Allen data):

* SectionDataSet fields other than id / gene / plane (specimen ids, dates, storage
  directories, ...) except for the two experiments above, whose fields come from their
  ``data_set.xml``; Allen gene ids (``FAKE_GENE_ID_BASE`` + rank);
* GENERATED intensity and density for the two real grids (their energy is real; density a
  smooth field of 0.05-1, intensity = energy / density, so energy = intensity x density);
* GENERATED grids for every other experiment: energy, intensity and density made of a few
  smooth blobs seeded by the experiment id, with data exactly where the real Pdyn grid
  71717084 has data (so, as in the real files, about 39% of the voxels with data lie
  outside the brain), and for sagittal experiments -1 on the right half too (ML index >= 29);
* one GENERATED experiment, :data:`OLD_STYLE_ID`, whose intensity has values (> 0, no -1)
  where its energy and density are -1, as a grid file of an older Allen release does;
* StructureUnionize rows computed from the 200 µm grids and the grid annotation (pixel
  sums, which need the section images, are null);
* a GENERATED stand-in for ``ara_nissl_25.nrrd``: uint8, 528 x 320 x 456 (AP, DV, ML),
  gzip NRRD, one grey level per annotated structure (a hash of its id), 0 outside the brain.
"""
from __future__ import annotations

import atexit
import copy
import gzip
import io
import json
import shutil
import tempfile
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np

from allen_viewer import config
from allen_viewer.formats.grid_file import (
    GRID_SHAPE,
    VOLUME_NAMES,
    mhd_header,
    parse_data_set_xml,
    read_grid_zip,
)
from allen_viewer.records import Experiment
from allen_viewer.store.gene_index import read_gene_index

REAL_GRID_IDS = (71717084, 74272479)
"""Experiments whose real grid zips are in ``resources/grids``."""
FAKE_GENE_ID_BASE = 900_000_000
"""Synthesized Allen gene ids start here (real Allen gene ids are far smaller)."""
MOUSE_PRODUCT = {
    "id": 1, "abbreviation": "Mouse", "name": "Mouse Brain", "resource": "Allen Mouse Brain Atlas",
    "species": "Mouse", "description": "Genome-wide, high-resolution ISH data detailing gene expression "
                                       "throughout the adult mouse brain.",
}
PLANE_IDS = {"coronal": 1, "sagittal": 2}
REFERENCE_SPACE_IDS = {"coronal": 9, "sagittal": 10}
OLD_STYLE_ID = 69782969
"""Pdyn sagittal: its GENERATED intensity has values where energy and density are -1 (an older
Allen file does this); "has data" must come from energy or density, never from intensity."""
COVERAGE_TEMPLATE_ID = 71717084
"""Generated grids have data where this real grid has (outside-brain voxels included)."""
SAGITTAL_FIRST_EMPTY_ML = 29
"""Sagittal experiments cover the left hemisphere: ML indices >= 29 are -1 (no data)."""
DOWNLOAD_PREFIX = "/informatics-archive/current-release/"
NISSL_RELPATH = "mouse_ccf/ara_nissl/ara_nissl_25.nrrd"
ANNOTATION_RELPATH = "mouse_ccf/annotation/ccf_2017/annotation_25.nrrd"
GRID_ANNOTATION_RELPATH = "mouse_annotation/P56_Mouse_gridAnnotation.zip"
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
"""Every member of a zip the fake server builds carries this timestamp, so the same request
gives the same bytes whenever it is made (``writestr`` with a name stamps the current second)."""
_NISSL_NOTE = b"# GENERATED stand-in by tests/fake_allen: NOT the Allen Nissl volume (grey level = hash of the structure id)\n"


def _mix(value: int, salt: int) -> int:
    """A deterministic pseudo-random non-negative int from ``value`` (splitmix64 step)."""
    z = (value * 0x9E3779B97F4A7C15 + salt * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def _xml_value(text: str):
    """A data_set.xml scalar as the JSON the API would give (int, float, bool or str)."""
    if text in ("true", "false"):
        return text == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _write_member(zf: zipfile.ZipFile, name: str, data: bytes | str) -> None:
    """Write one deflated member stamped :data:`ZIP_DATE_TIME` (not the current second)."""
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
    info.external_attr = 0o600 << 16  # what writestr gives a member named by a string
    zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)


class FakeAllenData:
    """Tables, grids and files of the fake server.  Build once per process with :meth:`shared`."""

    _shared: "FakeAllenData | None" = None
    _shared_lock = threading.Lock()

    def __init__(self, resources: Path | None = None, work_dir: Path | None = None):
        self.resources = Path(resources) if resources else config.resources_dir()
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="fake_allen_"))
        self._lock = threading.RLock()
        self.experiments: dict[int, Experiment] = {
            e.id: e for e in read_gene_index(self.resources / "gene_index.tsv.gz")}
        self.genes = self._gene_rows()
        self.section_data_sets = self._section_data_set_rows()
        graph = json.loads((self.resources / "structure_graph_1.json").read_text(encoding="utf-8"))
        self.structure_root = self._unwrap_root(graph["msg"])
        self.structures = self._flat_structures(self.structure_root)
        self.structures_by_id = {s["id"]: s for s in self.structures}
        self.grid_annotation = self._read_grid_annotation()
        self._volumes: dict[int, dict[str, np.ndarray]] = {}
        self._unionize: dict[int, list[dict]] = {}
        self.files: dict[str, Path] = {
            ANNOTATION_RELPATH: self.resources / "annotation_25.nrrd",
            GRID_ANNOTATION_RELPATH: self.resources / "P56_Mouse_gridAnnotation.zip",
        }

    @classmethod
    def shared(cls) -> "FakeAllenData":
        """One instance per process (the tables take a moment; the Nissl stand-in longer)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
                atexit.register(cls._shared.close)
            return cls._shared

    def close(self) -> None:
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # ------------------------------------------------------------------ tables

    def _gene_rows(self) -> dict[str, dict]:
        """One ``model::Gene`` row per symbol (synthesized ids; names and Entrez ids real)."""
        by_symbol: dict[str, Experiment] = {}
        for e in sorted(self.experiments.values(), key=lambda e: e.id):
            by_symbol.setdefault(e.symbol, e)
        rows = {}
        for rank, symbol in enumerate(sorted(by_symbol)):
            e = by_symbol[symbol]
            rows[symbol] = {
                "id": FAKE_GENE_ID_BASE + rank,
                "acronym": symbol,
                "name": e.name,
                "entrez_id": e.entrez_id,
                "ensembl_id": None,
                "homologene_id": None,
                "chromosome_id": None,
                "organism_id": 2,
                "original_symbol": e.alias or symbol,
                "original_name": e.name,
                "alias_tags": None,
                "legacy_ensembl_gene_id": None,
                "reference_genome_id": None,
                "sphinx_id": None,
                "version_status": "no change",
            }
        return rows

    def _section_data_set_rows(self) -> dict[int, dict]:
        """SectionDataSet rows (without includes); synthesized fields are deterministic."""
        rows = {}
        real = {i: self._real_record(i) for i in REAL_GRID_IDS}
        for e in self.experiments.values():
            row = {
                "id": e.id,
                "blue_channel": None,
                "delegate": False,
                "expression": _mix(e.id, 1) % 10 < 6,
                "failed": False,
                "failed_facet": 734881840,
                "green_channel": None,
                "name": None,
                "plane_of_section_id": PLANE_IDS[e.plane],
                "qc_date": f"2009-0{1 + _mix(e.id, 2) % 9}-{1 + _mix(e.id, 3) % 28:02d}T12:00:00Z",
                "red_channel": None,
                "reference_space_id": REFERENCE_SPACE_IDS[e.plane],
                "rnaseq_design_id": None,
                "section_thickness": 25.0,
                "specimen_id": 60_000_000 + _mix(e.id, 4) % 20_000_000,
                "sphinx_id": 1 + _mix(e.id, 5) % 200_000,
                "storage_directory": f"/external/aibssan/production32/prod{1 + _mix(e.id, 6) % 500}/image_series_{e.id}/",
                "weight": 5470,
            }
            if e.id in real:
                row.update({k: v for k, v in real[e.id].items() if k in row})
            rows[e.id] = row
        return rows

    def _real_record(self, experiment_id: int) -> dict:
        path = self.resources / "grids" / f"{experiment_id}.zip"
        if not path.is_file():
            return {}
        with zipfile.ZipFile(path) as zf:
            if "data_set.xml" not in zf.namelist():
                return {}
            fields = parse_data_set_xml(zf.read("data_set.xml"))
        return {k.replace("-", "_"): _xml_value(v) for k, v in fields.items()}

    def gene_of(self, experiment_id: int) -> dict:
        """The gene row included with an experiment.  Name, Entrez id and old symbol are the
        experiment's own entry in the index (a few symbols have experiments listed under
        different old symbols or Entrez ids), so the rows rebuild the index exactly."""
        e = self.experiments[experiment_id]
        row = dict(self.genes[e.symbol])
        row.update(name=e.name, entrez_id=e.entrez_id, original_symbol=e.alias or e.symbol)
        return row

    def plane_row(self, experiment_id: int) -> dict:
        plane = self.experiments[experiment_id].plane
        return {"id": PLANE_IDS[plane], "name": plane}

    @staticmethod
    def _unwrap_root(msg: list) -> dict:
        level = list(msg)
        for _ in range(3):
            for node in level:
                if node.get("id") == 997:
                    return node
            level = [c for n in level for c in n.get("children", [])]
        raise ValueError("structure graph has no root 997")

    @staticmethod
    def _flat_structures(root: dict) -> list[dict]:
        """``model::Structure`` rows with ``structure_id_path`` (``/997/8/567/``) and ``graph_id``."""
        out = []

        def walk(node: dict, path: str) -> None:
            here = f"{path}{node['id']}/"
            row = {k: v for k, v in node.items() if k != "children"}
            row.update({"graph_id": 1, "structure_id_path": here})
            out.append(row)
            for child in node.get("children", []):
                walk(child, here)

        walk(root, "/")
        return out

    def structure_graph_envelope(self) -> dict:
        return {"success": True, "id": 0, "start_row": 0, "num_rows": 1, "total_rows": 1,
                "msg": [copy.deepcopy(self.structure_root)]}

    # ------------------------------------------------------------------ grids

    def _read_grid_annotation(self) -> np.ndarray:
        """The 200 µm grid annotation, uint32 structure ids, (AP, DV, ML)."""
        with zipfile.ZipFile(self.resources / "P56_Mouse_gridAnnotation.zip") as zf:
            raw = zf.read("gridAnnotation.raw")
        return np.frombuffer(raw, "<u4").reshape(GRID_SHAPE[::-1]).transpose(2, 1, 0)

    def has_grid(self, experiment_id: int) -> bool:
        return experiment_id in self.experiments or experiment_id in REAL_GRID_IDS

    def real_grid_path(self, experiment_id: int) -> Path | None:
        path = self.resources / "grids" / f"{experiment_id}.zip"
        return path if experiment_id in REAL_GRID_IDS and path.is_file() else None

    def volumes(self, experiment_id: int) -> dict[str, np.ndarray]:
        """(AP, DV, ML) float32 volumes: real energy (with GENERATED intensity and density) for
        the embedded two, else all GENERATED."""
        with self._lock:
            if experiment_id not in self._volumes:
                real = self.real_grid_path(experiment_id)
                if real is not None:
                    self._volumes[experiment_id] = self._with_generated_channels(
                        experiment_id, read_grid_zip(real).volumes["energy"])
                else:
                    self._volumes[experiment_id] = self.generated_volumes(experiment_id)
            return self._volumes[experiment_id]

    def _with_generated_channels(self, experiment_id: int, energy: np.ndarray) -> dict[str, np.ndarray]:
        """Real ``energy`` plus GENERATED density (a smooth 0.05-1 field seeded by the id) and
        intensity = energy / density; both -1 exactly where the energy is."""
        rng = np.random.default_rng(experiment_id + 1)
        grid = np.indices(GRID_SHAPE, dtype=np.float32)
        phase = rng.uniform(0, 2 * np.pi, 3)
        field = sum(np.sin(grid[a] / (4.0 + a) + phase[a]) for a in range(3)) / 3.0  # -1..1
        density = (0.525 + 0.475 * field).astype(np.float32)
        no_data = energy < 0
        intensity = (energy / density).astype(np.float32)
        density[no_data] = -1.0
        intensity[no_data] = -1.0
        return {"energy": np.array(energy, np.float32), "intensity": intensity, "density": density}

    def coverage_template(self) -> np.ndarray:
        """bool (AP, DV, ML): where the real grid :data:`COVERAGE_TEMPLATE_ID` has data."""
        with self._lock:
            if not hasattr(self, "_coverage"):
                path = self.resources / "grids" / f"{COVERAGE_TEMPLATE_ID}.zip"
                self._coverage = read_grid_zip(path).volumes["energy"] != -1
            return self._coverage

    def generated_volumes(self, experiment_id: int) -> dict[str, np.ndarray]:
        """GENERATED (not Allen) energy/intensity/density grids, deterministic from the id.

        Density (0-1) is a sum of 2-5 Gaussian blobs centred on random brain voxels;
        intensity (grey levels, 30-255) rises with density; energy = intensity * density.
        All three have data where the real Pdyn grid has (:meth:`coverage_template`:
        inside the brain and, as real files do, outside it), -1 elsewhere and, for sagittal
        experiments, on the right half (ML index >= 29).  For :data:`OLD_STYLE_ID` the
        intensity has its values everywhere, also where energy and density are -1.
        """
        rng = np.random.default_rng(experiment_id)
        brain = self.grid_annotation > 0
        inside = np.argwhere(brain)
        grid = np.indices(GRID_SHAPE, dtype=np.float32)
        density = np.zeros(GRID_SHAPE, np.float32)
        for _ in range(int(rng.integers(2, 6))):
            centre = inside[int(rng.integers(len(inside)))].astype(np.float32)
            sigma = float(rng.uniform(2.0, 7.0))
            d2 = sum((grid[a] - centre[a]) ** 2 for a in range(3))
            density += np.float32(rng.uniform(0.05, 0.6)) * np.exp(-d2 / (2 * sigma * sigma))
        density += rng.uniform(0.0, 0.01, GRID_SHAPE).astype(np.float32)
        density = np.clip(density, 0.0, 1.0).astype(np.float32)
        intensity = (30.0 + 225.0 * np.sqrt(density)).astype(np.float32)
        energy = (intensity * density).astype(np.float32)
        no_data = ~self.coverage_template()
        if self.experiments.get(experiment_id) and self.experiments[experiment_id].plane == "sagittal":
            no_data = no_data.copy()
            no_data[:, :, SAGITTAL_FIRST_EMPTY_ML:] = True
        out = {}
        for name, vol in (("energy", energy), ("intensity", intensity), ("density", density)):
            vol = vol.copy()
            if not (name == "intensity" and experiment_id == OLD_STYLE_ID):
                vol[no_data] = -1.0
            out[name] = vol
        return out

    def data_set_xml(self, experiment_id: int) -> bytes:
        """The ``data_set.xml`` record: the real file for the embedded two, else GENERATED."""
        real = self.real_grid_path(experiment_id)
        if real is not None:
            with zipfile.ZipFile(real) as zf:
                return zf.read("data_set.xml")
        row = self.section_data_sets[experiment_id]
        lines = ['<?xml version="1.0" encoding="UTF-8"?>',
                 "<!-- GENERATED by tests/fake_allen: synthesized record, not Allen data -->",
                 "<section-data-set>"]
        for key in sorted(row):
            tag = key.replace("_", "-")
            value = row[key]
            if value is None:
                lines.append(f'  <{tag} nil="true"/>')
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
                lines.append(f"  <{tag}>{text}</{tag}>")
        lines.append("</section-data-set>")
        return ("\n".join(lines) + "\n").encode("utf-8")

    def grid_zip(self, experiment_id: int, include: list[str] | None = None, *,
                 raw_bytes_delta: int = 0, extra_members: dict[str, bytes] | None = None,
                 data_set_xml: bytes | None = None) -> bytes:
        """The zip ``/grid_data/download/<id>`` returns.

        Without ``include``: ``data_set.xml``, ``energy.raw``, ``energy.mhd`` (the real
        zip as it is, for the embedded two).  With ``include``: the named volumes (for the
        embedded two, real energy and GENERATED intensity/density), no XML.  The keyword arguments build
        damaged zips for fault injection: ``raw_bytes_delta`` cuts (negative) or pads
        every ``.raw``; ``extra_members`` adds members; ``data_set_xml`` replaces the XML.
        """
        real = self.real_grid_path(experiment_id)
        if include is None and real is not None and not (raw_bytes_delta or extra_members or data_set_xml):
            return real.read_bytes()
        volumes = self.volumes(experiment_id)
        names = [n for n in VOLUME_NAMES if n in volumes and (include is None or n in include)]
        if include is None:
            names = ["energy"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            if include is None:
                _write_member(zf, "data_set.xml", data_set_xml if data_set_xml is not None else self.data_set_xml(experiment_id))
            elif data_set_xml is not None:
                _write_member(zf, "data_set.xml", data_set_xml)
            for name in names:
                raw = np.ascontiguousarray(volumes[name].astype("<f4").transpose(2, 1, 0)).tobytes()
                if raw_bytes_delta < 0:
                    raw = raw[:raw_bytes_delta]
                elif raw_bytes_delta > 0:
                    raw += b"\0" * raw_bytes_delta
                _write_member(zf, f"{name}.raw", raw)
                _write_member(zf, f"{name}.mhd", mhd_header(f"{name}.raw"))
            for member, content in (extra_members or {}).items():
                _write_member(zf, member, content)
        return buf.getvalue()

    # ------------------------------------------------------------------ StructureUnionize

    def unionize_rows(self, experiment_id: int) -> list[dict]:
        """StructureUnionize rows computed from the 200 µm grid (fake: see module docstring).

        For every structure with grid voxels (its own and its descendants'): the mean
        energy over the voxels with data (``expression_energy``, ``voxel_energy_mean``),
        their coefficient of variation, and the mean density where a density grid exists.
        """
        with self._lock:
            if experiment_id in self._unionize:
                return self._unionize[experiment_id]
        if not self.has_grid(experiment_id):
            return []
        vols = self.volumes(experiment_id)
        energy = vols["energy"].ravel()
        density = vols.get("density")
        labels = self.grid_annotation.ravel()
        ok = (energy >= 0) & (labels > 0)
        uniq, inverse = np.unique(labels[ok], return_inverse=True)
        e = energy[ok].astype(np.float64)
        sums = {"n": np.bincount(inverse), "e": np.bincount(inverse, e), "e2": np.bincount(inverse, e * e)}
        if density is not None:
            sums["d"] = np.bincount(inverse, density.ravel()[ok].astype(np.float64))
        totals: dict[int, dict[str, float]] = {}
        for i, label in enumerate(uniq.tolist()):
            s = self.structures_by_id.get(label)
            if s is None:
                continue
            for ancestor in (int(a) for a in s["structure_id_path"].strip("/").split("/")):
                t = totals.setdefault(ancestor, dict.fromkeys(sums, 0.0))
                for k in sums:
                    t[k] += float(sums[k][i])
        rows = []
        for sid in sorted(totals):
            t = totals[sid]
            mean = t["e"] / t["n"]
            var = max(t["e2"] / t["n"] - mean * mean, 0.0)
            structure = self.structures_by_id[sid]
            rows.append({
                "id": experiment_id * 10_000 + len(rows),  # synthesized row id
                "section_data_set_id": experiment_id,
                "structure_id": sid,
                "expression_energy": mean,
                "expression_density": (t["d"] / t["n"]) if "d" in t else None,
                "sum_expressing_pixels": None,
                "sum_expressing_pixel_intensity": None,
                "sum_pixels": None,
                "sum_pixel_intensity": None,
                "voxel_energy_mean": mean,
                "voxel_energy_cv": (var ** 0.5 / mean) if mean > 0 else 0.0,
                "structure": structure,
            })
        with self._lock:
            self._unionize[experiment_id] = rows
        return rows

    # ------------------------------------------------------------------ download-server files

    def file_path(self, relpath: str) -> Path | None:
        """The local file served for ``relpath`` under the download prefix, or None."""
        if relpath == NISSL_RELPATH:
            return self.nissl_path()
        return self.files.get(relpath)

    def nissl_path(self) -> Path:
        """The GENERATED Nissl stand-in (built on first use, once per process)."""
        with self._lock:
            path = self.work_dir / "ara_nissl_25.nrrd"
            if not path.is_file():
                build_nissl_standin(self.resources / "annotation_25.nrrd", path)
            return path


def build_nissl_standin(annotation_nrrd: Path, out: Path) -> None:
    """Write a GENERATED uint8 stand-in for ``ara_nissl_25.nrrd`` from ``annotation_25.nrrd``.

    Same sizes (528 x 320 x 456, AP fastest) and space as the annotation; each voxel is
    ``100 + 4 * (hash(structure id) >> 27)`` inside the brain (100-224) and 0 outside, so
    the volume is brain-shaped with visible region borders.  Streams through zlib: about
    a second, little memory.
    """
    data = annotation_nrrd.read_bytes()
    end = data.index(b"\n\n") + 2
    header_lines = data[:end].decode("ascii").splitlines()
    fields = dict(line.split(": ", 1) for line in header_lines if ": " in line and not line.startswith("#"))
    if fields.get("type") not in ("unsigned int", "uint32", "uint") or fields.get("encoding") != "gzip":
        raise ValueError(f"{annotation_nrrd}: expected a gzip'd uint32 NRRD")
    header = [header_lines[0], _NISSL_NOTE.decode().rstrip("\n")]
    for line in header_lines[1:]:
        if line.startswith("type:"):
            line = "type: unsigned char"
        elif line.startswith("endian:"):
            continue  # meaningless for one-byte voxels
        if line:
            header.append(line)
    inflate = zlib.decompressobj(wbits=47)
    deflate = zlib.compressobj(level=1, wbits=31)
    pending = b""
    tmp = out.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(("\n".join(header) + "\n\n").encode("ascii"))
        view = memoryview(data)[end:]
        step = 1 << 20
        for at in range(0, len(view), step):
            chunk = pending + inflate.decompress(view[at:at + step])
            usable = len(chunk) - len(chunk) % 4
            pending = chunk[usable:]
            fh.write(deflate.compress(_nissl_levels(chunk[:usable])))
        tail = pending + inflate.flush()
        fh.write(deflate.compress(_nissl_levels(tail)))
        fh.write(deflate.flush())
    tmp.replace(out)


def _nissl_levels(raw: bytes) -> bytes:
    labels = np.frombuffer(raw, "<u4")
    h = labels * np.uint32(2654435761)  # Knuth's multiplicative hash, wraps in uint32
    h >>= np.uint32(27)
    levels = (h.astype(np.uint8) * np.uint8(4)) + np.uint8(100)
    levels[labels == 0] = 0
    return levels.tobytes()


def read_nrrd_header(path: Path) -> dict[str, str]:
    """``key: value`` fields of a NRRD header (for tests)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    text = head[:head.index(b"\n\n")].decode("ascii")
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line and not line.startswith("#"))


def gunzip_nrrd_body(path: Path) -> bytes:
    """The decompressed voxel bytes of a gzip NRRD (for tests)."""
    data = path.read_bytes()
    return gzip.decompress(data[data.index(b"\n\n") + 2:])
