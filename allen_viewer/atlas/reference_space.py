"""The CCFv3 reference space: annotation volumes, coordinates and structure masks.

Two resolutions, both indexed (AP, DV, ML) in CCFv3's PIR orientation (+AP posterior,
+DV inferior/ventral, +ML towards the right):

* 25 µm: ``annotation_25.nrrd``, 528 x 320 x 456 voxels; voxel (a, b, c) lies at
  (25 a, 25 b, 25 c) µm.
* 200 µm: the expression grid, 67 x 41 x 58 voxels; voxel (i, j, k) lies at
  (200 i, 200 j, 200 k) µm, i.e. on 25 µm voxel (8 i, 8 j, 8 k).  Its labels are Allen's
  ``gridAnnotation`` (the label volume Allen published for the expression grids).  Its ids
  are an older label set than the 2017 annotation, but every id is in the 2017 ontology, so
  a structure's mask (its own voxels plus all its descendants') is well defined at both
  resolutions.

The 25 µm labels are held as compact ``uint16`` indices into :attr:`ReferenceSpace.label_ids`
(Allen ids reach 6e8, so a ``uint32`` volume would cost twice the memory); :meth:`annotation`
gives the Allen ids back.  All conversions between grid index, 25 µm index and micrometres
live here.

Memory: the gzip NRRD is decoded in 8 MB pieces straight into compact labels
(:func:`read_annotation_labels`, about 2 x 154 MB at its peak instead of 1.4 GB through
SimpleITK), and :meth:`ReferenceSpace.load` with a ``cache_dir`` keeps the result as an
uncompressed ``.npy`` there (``<cache>/atlas/``), memory-mapped read-only on later runs: a
start-up then reads only the pages a slice or a mask touches (see docs/design.md, "Memory
and start-up order").
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import logging
import zipfile
import zlib
from pathlib import Path

import numpy as np

from allen_viewer.atlas.ontology import Ontology, Structure
from allen_viewer.errors import CorruptData
from allen_viewer.formats.grid_file import GRID_SHAPE, GRID_SPACING_UM, parse_mhd

ANNOTATION_SHAPE = (528, 320, 456)
"""(AP, DV, ML) voxels of the 25 µm CCFv3 volumes."""
ANNOTATION_SPACING_UM = 25.0
GRID_TO_25 = int(GRID_SPACING_UM / ANNOTATION_SPACING_UM)  # 8
LABELS_CACHE_VERSION = 1
"""Bumped when the cached labels' layout or meaning changes (old files are then ignored)."""
_DECODE_CHUNK_VALUES = 2 * 1024 * 1024  # uint32 values decoded at a time (8 MB)

log = logging.getLogger(__name__)


# ---- coordinates: one place for every conversion -------------------------------------------

def grid_to_um(index) -> np.ndarray:
    """Grid (AP, DV, ML) index -> CCF micrometres (PIR)."""
    return np.asarray(index, dtype=float) * GRID_SPACING_UM


def um_to_grid(um, clip: bool = True) -> np.ndarray:
    """CCF micrometres -> nearest grid index (clipped into the grid unless ``clip=False``)."""
    idx = np.rint(np.asarray(um, dtype=float) / GRID_SPACING_UM).astype(int)
    return np.clip(idx, 0, np.array(GRID_SHAPE) - 1) if clip else idx


def ccf25_to_um(index) -> np.ndarray:
    """25 µm (AP, DV, ML) index -> CCF micrometres."""
    return np.asarray(index, dtype=float) * ANNOTATION_SPACING_UM


def um_to_ccf25(um, clip: bool = True) -> np.ndarray:
    """CCF micrometres -> nearest 25 µm index (clipped unless ``clip=False``)."""
    idx = np.rint(np.asarray(um, dtype=float) / ANNOTATION_SPACING_UM).astype(int)
    return np.clip(idx, 0, np.array(ANNOTATION_SHAPE) - 1) if clip else idx


def grid_to_ccf25(index) -> np.ndarray:
    return np.asarray(index, dtype=int) * GRID_TO_25


def ccf25_to_grid(index, clip: bool = True) -> np.ndarray:
    return um_to_grid(ccf25_to_um(index), clip=clip)


# ---- volume readers -------------------------------------------------------------------------

NRRD_HEADER_MAX = 64 * 1024
"""Largest NRRD header read (real ones are a few hundred bytes)."""


def check_nrrd_header(path: Path | str, expected_shape: tuple[int, int, int] | None = None) -> None:
    """Check a NRRD file's header in Python before SimpleITK reads it: the ``NRRD000n`` magic,
    printable ``field: value`` / ``key:=value`` / ``#`` lines ended by a blank line within
    :data:`NRRD_HEADER_MAX` bytes, ``dimension: 3`` and ``sizes`` of ``expected_shape`` (x =
    AP fastest).  SimpleITK's NRRD reader dies with a segmentation fault on some damaged
    headers (e.g. the magic followed by binary bytes), which no ``try`` can catch, so such a
    file must never reach it.  Raises :class:`CorruptData`."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(NRRD_HEADER_MAX)
    except OSError as exc:
        raise CorruptData(f"{path} cannot be read ({exc.strerror or exc})") from None
    end = head.find(b"\n\n")
    if not head.startswith(b"NRRD000") or end < 0:
        raise CorruptData(f"{path} is not a readable NRRD volume (no NRRD header)")
    try:
        lines = head[:end].decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise CorruptData(f"{path} is not a readable NRRD volume (its header is not text)") from None
    fields = {}
    for line in lines[1:]:
        if line.startswith("#"):
            continue
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":=")
        if not sep or not key.strip() or not line.isprintable():
            raise CorruptData(f"{path} is not a readable NRRD volume (a damaged header line)")
        fields[key.strip().lower()] = value.strip()
    if fields.get("dimension") != "3" or "sizes" not in fields:
        raise CorruptData(f"{path} is not a readable NRRD volume (not a 3-D volume header)")
    if expected_shape is not None and fields["sizes"].split() != [str(int(n)) for n in expected_shape]:
        raise CorruptData(f"{path} has sizes {fields['sizes'][:60]}, expected {' '.join(map(str, expected_shape))}")


def read_nrrd_volume(path: Path | str, expected_shape: tuple[int, int, int] | None = None) -> np.ndarray:
    """Read a CCF NRRD (x = AP fastest on disk) into an (AP, DV, ML) array.

    Raises :class:`CorruptData` when the file cannot be read or has another shape.
    """
    import SimpleITK as sitk  # only here: reading the annotation itself does not need it

    check_nrrd_header(path, expected_shape)  # SimpleITK crashes (SIGSEGV) on some damaged headers
    try:
        # the NRRD reader by name, not by the file's suffix: a download is checked as NAME.nrrd.part
        image = sitk.ReadImage(str(path), imageIO="NrrdImageIO")
    except RuntimeError as exc:
        raise CorruptData(f"{path} is not a readable NRRD volume ({str(exc).strip().splitlines()[-1]})") from exc
    # SimpleITK gives (z, y, x) = (ML, DV, AP); a transposed view is (AP, DV, ML)
    arr = sitk.GetArrayFromImage(image).transpose(2, 1, 0)
    if expected_shape is not None and arr.shape != tuple(expected_shape):
        raise CorruptData(f"{path} has shape {arr.shape}, expected {tuple(expected_shape)} (AP, DV, ML)")
    return arr


def read_grid_annotation(source: Path | str) -> np.ndarray:
    """Read ``P56_Mouse_gridAnnotation.zip`` (or its bytes) into a uint32 (AP, DV, ML) id volume."""
    try:
        with zipfile.ZipFile(source if not isinstance(source, bytes) else io.BytesIO(source)) as zf:
            names = {Path(n).name: n for n in zf.namelist()}
            header = parse_mhd(zf.read(names["gridAnnotation.mhd"]).decode("ascii", "replace"))
            raw = zf.read(names["gridAnnotation.raw"])
    except (KeyError, zipfile.BadZipFile, OSError) as exc:
        raise CorruptData(f"grid annotation {source} is unreadable ({exc})") from exc
    if header.get("DimSize", "").split() != [str(d) for d in GRID_SHAPE] or header.get("ElementType") != "MET_UINT":
        raise CorruptData(f"grid annotation {source} is not a 67x41x58 MET_UINT volume")
    if len(raw) != 4 * int(np.prod(GRID_SHAPE)):
        raise CorruptData(f"grid annotation {source} has {len(raw)} bytes, expected {4 * int(np.prod(GRID_SHAPE))}")
    return np.frombuffer(raw, "<u4").reshape(GRID_SHAPE[::-1]).transpose(2, 1, 0).copy()


_NRRD_UINT32 = {"unsigned int", "uint", "uint32", "uint32_t", "unsigned long int"}


def _nrrd_header(fh) -> dict[str, str] | None:
    """The fields of a NRRD header (the file positioned at the data), or None if not NRRD."""
    if not fh.readline(64).startswith(b"NRRD000"):
        return None
    fields: dict[str, str] = {}
    for _ in range(200):
        line = fh.readline(4096).decode("ascii", "replace").rstrip("\r\n")
        if not line:
            return fields
        if line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.lstrip("=").strip()
    return None


def read_annotation_labels(path: Path | str, label_ids: np.ndarray) -> np.ndarray:
    """The 25 µm annotation NRRD as C-contiguous uint16 (AP, DV, ML) compact labels.

    Streams a ``gzip`` or ``raw`` little-endian uint32 NRRD (Allen's own ``annotation_25.nrrd``)
    through :func:`compact_labels` 8 MB at a time, so the uint32 volume is never whole in
    memory; any other encoding falls back to :func:`read_nrrd_volume` (SimpleITK).  Raises
    :class:`CorruptData` for a short, damaged or misshapen file or an id not in ``label_ids``.
    """
    path = Path(path)
    n_values = int(np.prod(ANNOTATION_SHAPE))
    try:
        with open(path, "rb") as fh:
            header = _nrrd_header(fh)
            offset = fh.tell()
    except OSError as exc:
        raise CorruptData(f"{path} cannot be read ({exc.strerror or exc})") from exc
    simple = (header is not None and header.get("type", "").lower() in _NRRD_UINT32
              and header.get("dimension") == "3" and header.get("encoding") in ("gzip", "gz", "raw")
              and header.get("endian", "little") == "little" and "data file" not in header
              and "datafile" not in header)
    if not simple:
        annotation = read_nrrd_volume(path, ANNOTATION_SHAPE)
        return np.ascontiguousarray(compact_labels(annotation.transpose(2, 1, 0), label_ids).transpose(2, 1, 0))
    sizes = header.get("sizes", "").split()
    if sizes != [str(n) for n in ANNOTATION_SHAPE]:
        raise CorruptData(f"{path} has sizes {' '.join(sizes) or '?'} (AP DV ML), expected "
                          f"{' '.join(str(n) for n in ANNOTATION_SHAPE)}")
    # the file's order: AP fastest, then DV, then ML, i.e. a C-order (ML, DV, AP) array
    file_order = np.empty(n_values, dtype=np.uint16)
    try:
        with open(path, "rb") as raw:
            raw.seek(offset)
            stream = gzip.GzipFile(fileobj=raw) if header["encoding"] in ("gzip", "gz") else raw
            done = 0
            while done < n_values:
                want = min(_DECODE_CHUNK_VALUES, n_values - done) * 4
                buf = stream.read(want)
                if len(buf) != want:
                    raise CorruptData(f"{path} ends after {done + len(buf) // 4:,} of {n_values:,} values")
                file_order[done:done + want // 4] = compact_labels(np.frombuffer(buf, "<u4"), label_ids)
                done += want // 4
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise CorruptData(f"{path} is not a readable NRRD volume ({exc})") from exc
    shape_file = ANNOTATION_SHAPE[::-1]
    return np.ascontiguousarray(file_order.reshape(shape_file).transpose(2, 1, 0))


def compact_labels(annotation: np.ndarray, label_ids: np.ndarray) -> np.ndarray:
    """Map Allen ids to their positions in sorted ``label_ids`` (uint16), fast.

    Ids below 65,536 go through a lookup table; the few large 2017 ids through a binary
    search over just their voxels.  An id missing from ``label_ids`` raises CorruptData.
    """
    lut = np.full(65536, 65535, dtype=np.uint16)
    small = label_ids < 65535
    lut[label_ids[small]] = np.nonzero(small)[0].astype(np.uint16)
    labels = lut[np.minimum(annotation, 65535)]
    big = annotation >= 65535
    if big.any():
        values = annotation[big]
        pos = np.searchsorted(label_ids, values)
        pos = np.minimum(pos, len(label_ids) - 1)
        if not np.array_equal(label_ids[pos], values):
            bad = np.setdiff1d(np.unique(values), label_ids)
            raise CorruptData(f"annotation has ids not in the ontology: {bad[:10].tolist()}")
        labels[big] = pos.astype(np.uint16)
    if (labels == 65535).any():
        bad = np.setdiff1d(np.unique(annotation[labels == 65535]), label_ids)
        raise CorruptData(f"annotation has ids not in the ontology: {bad[:10].tolist()}")
    return labels


def labels_cache_path(annotation_path: Path | str, label_ids: np.ndarray, cache_dir: Path) -> Path:
    """``<cache_dir>/labels25-<key>.npy``: the key hashes the annotation file's bytes, the
    label table (the ontology's ids) and :data:`LABELS_CACHE_VERSION`, so another annotation
    or ontology gets its own file and a stale one is never read."""
    digest = hashlib.sha256(f"labels25 v{LABELS_CACHE_VERSION} {ANNOTATION_SHAPE}".encode())
    with open(annotation_path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    digest.update(np.ascontiguousarray(label_ids, dtype="<u4").tobytes())
    return Path(cache_dir) / f"labels25-{digest.hexdigest()[:20]}.npy"


def _map_labels(path: Path) -> np.ndarray | None:
    """The cached labels, memory-mapped read-only, or None when the file is not a whole,
    well-formed (528, 320, 456) uint16 C-order ``.npy`` (it is then rebuilt)."""
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        log.warning("cached labels %s unreadable (%s); rebuilding them", path, exc)
        return None
    if (mapped.shape != ANNOTATION_SHAPE or mapped.dtype != np.uint16 or not mapped.flags.c_contiguous
            or mapped.offset + mapped.nbytes != path.stat().st_size):
        log.warning("cached labels %s are %s %s; rebuilding them", path, mapped.dtype, mapped.shape)
        return None
    return np.asarray(mapped)  # a plain ndarray view of the read-only map (np.memmap's quirks left out)


def cached_labels25(annotation_path: Path | str, label_ids: np.ndarray, cache_dir: Path) -> np.ndarray:
    """The 25 µm compact labels, memory-mapped from ``cache_dir`` (built there the first time).

    The first run decodes the NRRD (:func:`read_annotation_labels`) and saves the labels
    atomically as a 154 MB ``.npy``; later runs map it read-only, so only the pages actually
    used (a slice, a mask) are read and they stay shared with the page cache.  A damaged
    file is rebuilt; a cache that cannot be written keeps the decoded labels in memory.
    """
    from allen_viewer.io.atomic import atomic_write

    path = labels_cache_path(annotation_path, label_ids, cache_dir)
    if path.is_file():
        mapped = _map_labels(path)
        if mapped is not None:
            return mapped
    labels = read_annotation_labels(annotation_path, label_ids)
    try:
        with atomic_write(path) as fh:
            np.save(fh, labels, allow_pickle=False)
        for old in Path(cache_dir).glob("labels25-*.npy"):  # an older annotation's or ontology's copy
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not cache the 25 um labels in %s: %s", cache_dir, exc)
        return labels
    mapped = _map_labels(path)
    return mapped if mapped is not None else labels


class ReferenceSpace:
    """CCFv3 annotation at 25 µm and at the 200 µm grid, with structure masks.

    ``labels25``: uint16 (AP, DV, ML) compact labels at 25 µm (0 = outside the brain).
    ``grid_annotation``: uint32 (AP, DV, ML) Allen ids at 200 µm (0 = outside the brain).
    ``label_ids``: sorted Allen ids, ``label_ids[labels25]`` is the id volume.
    """

    def __init__(self, ontology: Ontology, labels25: np.ndarray, label_ids: np.ndarray, grid_annotation: np.ndarray):
        if labels25.shape != ANNOTATION_SHAPE:
            raise CorruptData(f"25 µm annotation has shape {labels25.shape}, expected {ANNOTATION_SHAPE}")
        if grid_annotation.shape != GRID_SHAPE:
            raise CorruptData(f"grid annotation has shape {grid_annotation.shape}, expected {GRID_SHAPE}")
        self.ontology = ontology
        self.labels25 = labels25
        self.label_ids = label_ids
        self.grid_annotation = grid_annotation

    @classmethod
    def load(cls, ontology: Ontology, annotation_path: Path | str, grid_annotation_path: Path | str,
             cache_dir: Path | str | None = None) -> "ReferenceSpace":
        """Read the annotation volumes; with ``cache_dir``, the 25 µm labels come memory-mapped
        from (or are first saved to) an uncompressed copy there (:func:`cached_labels25`)."""
        label_ids = np.array(sorted({0} | {s.id for s in ontology}), dtype=np.uint32)
        if cache_dir is not None:
            labels25 = cached_labels25(annotation_path, label_ids, Path(cache_dir))
        else:
            labels25 = read_annotation_labels(annotation_path, label_ids)
        grid = read_grid_annotation(grid_annotation_path)
        unknown = set(np.unique(grid).tolist()) - set(label_ids.tolist())
        if unknown:
            raise CorruptData(f"grid annotation has ids not in the ontology: {sorted(unknown)[:10]}")
        return cls(ontology, labels25, label_ids, grid)

    # ---- lookups --------------------------------------------------------------------------

    def annotation(self) -> np.ndarray:
        """The 25 µm annotation as Allen structure ids (uint32, a new 300 MB array)."""
        return self.label_ids[self.labels25]

    def structure_id_at_um(self, um) -> int:
        """Allen id of the finest structure at a CCF point (µm); 0 outside the brain."""
        a, b, c = um_to_ccf25(um)
        return int(self.label_ids[self.labels25[a, b, c]])

    def structure_at_um(self, um) -> Structure | None:
        sid = self.structure_id_at_um(um)
        return self.ontology.by_id(sid) if sid else None

    def grid_structure_ids(self) -> np.ndarray:
        """uint32 (AP, DV, ML) Allen ids at the 200 µm grid (the finest structure per voxel)."""
        return self.grid_annotation

    @property
    def grid_brain_mask(self) -> np.ndarray:
        return self.grid_annotation > 0

    @functools.cached_property
    def brain_mask25(self) -> np.ndarray:
        return self.labels25 > 0

    # ---- structure masks ------------------------------------------------------------------

    def _compact_table(self, structure) -> np.ndarray:
        """bool per compact label: True where the label is the structure or a descendant."""
        ids = np.fromiter(self.ontology.descendant_ids(structure), dtype=np.uint32)
        return np.isin(self.label_ids, ids)

    def mask25(self, structure: Structure | int | str) -> np.ndarray:
        """bool (AP, DV, ML) 25 µm mask of a structure and all its descendants."""
        return self._compact_table(structure)[self.labels25]

    def grid_mask(self, structure: Structure | int | str) -> np.ndarray:
        """bool (AP, DV, ML) 200 µm grid mask of a structure and all its descendants."""
        ids = np.fromiter(self.ontology.descendant_ids(structure), dtype=np.uint32)
        return np.isin(self.grid_annotation, ids)
