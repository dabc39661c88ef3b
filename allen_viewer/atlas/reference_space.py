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
"""
from __future__ import annotations

import functools
import io
import zipfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from allen_viewer.atlas.ontology import Ontology, Structure
from allen_viewer.errors import CorruptData
from allen_viewer.formats.grid_file import GRID_SHAPE, GRID_SPACING_UM, parse_mhd

ANNOTATION_SHAPE = (528, 320, 456)
"""(AP, DV, ML) voxels of the 25 µm CCFv3 volumes."""
ANNOTATION_SPACING_UM = 25.0
GRID_TO_25 = int(GRID_SPACING_UM / ANNOTATION_SPACING_UM)  # 8


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

def read_nrrd_volume(path: Path | str, expected_shape: tuple[int, int, int] | None = None) -> np.ndarray:
    """Read a CCF NRRD (x = AP fastest on disk) into an (AP, DV, ML) array.

    Raises :class:`CorruptData` when the file cannot be read or has another shape.
    """
    try:
        image = sitk.ReadImage(str(path))
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
    def load(cls, ontology: Ontology, annotation_path: Path | str, grid_annotation_path: Path | str) -> "ReferenceSpace":
        annotation = read_nrrd_volume(annotation_path, ANNOTATION_SHAPE)
        label_ids = np.array(sorted({0} | {s.id for s in ontology}), dtype=np.uint32)
        # relabel in file order (contiguous, fast), then lay out C-contiguous (AP, DV, ML)
        labels25 = np.ascontiguousarray(compact_labels(annotation.transpose(2, 1, 0), label_ids).transpose(2, 1, 0))
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
