"""The packed library store's layout: its files, their format, and which grid voxels are
the columns.

Lives in ``<cache>/library/`` (``Cache().root / "library"``), next to the grid zips the
viewer reads (``<cache>/grids/``).  One row per experiment, one column per in-brain voxel
of the 200 µm grid (``gridAnnotation > 0``: 62,529 of the 67 x 41 x 58 voxels, both
hemispheres).  Files::

    manifest.json      committed row count, sizes, layout checksum (written last, atomically)
    voxels.npy         int32 (V,): flat (AP, DV, ML) C-order grid index of each column
    segments.npy       the column blocks: (hemisphere, gridAnnotation label) with bounds
    rows.bin           the experiment table, one 64-byte record per row (ROW_DTYPE)
    energy.f16         float16 (rows, V): energy rounded to float16; 0 where no data
    runs.i32           int32 (runs, 2): the has-data mask of each row, run-length coded
    seg_count.u16      uint16 (rows, S): voxels with data per segment
    seg_energy.f32     float32 (rows, S): sum of the original float32 energy per segment
    seg_density.f32    float32 (rows, S): sum of density per segment (NaN: no density grid)
    seg_q.f32          float32 (rows, S): sum of the float16-rounded energy per segment
    seg_q2.f32         float32 (rows, S): sum of its squares per segment

Column order: left hemisphere (ML index < 29) first, then right; within a hemisphere by the
ontology graph order of the voxel's gridAnnotation label, then (AP, DV, ML).  So every
structure (with its descendants, a contiguous range of graph order) is one contiguous block
of columns per hemisphere, and a segment (one label in one hemisphere) is contiguous too.

Precision kept: energy is stored as IEEE float16 (round to nearest): relative error at most
2**-11 (0.049 %) for values from 6.1e-5 to 65,504, absolute error at most 3e-8 below;
values above 65,504 are clipped to it and counted (``clipped`` in the row table).  The
per-segment sums are accumulated in float64 and kept as float32 (relative error 6e-8);
``seg_energy``/``seg_density`` sum the *original* float32 grids, so structure means (the
differential search, the region x gene matrix) are exact to 1e-7, not float16-rounded.

"No data" (Allen's -1) is 0 in ``energy.f16`` and absent from the row's mask; every reader
goes through the mask (:meth:`Library.values` gives NaN there).  The mask is coded as runs
of consecutive has-data columns in one of two voxel orders, whichever needs fewer runs:
``ap-dv-ml`` (a coronal experiment's missing sections are AP slabs: few runs) or
``ml-ap-dv`` (a sagittal one covers one hemisphere and misses ML slabs: few runs).

Crash safety: all row files are append-only.  An append writes and fsyncs the new rows of
every file, then replaces ``manifest.json`` (the committed row count); readers never look
past the committed rows, and the next append first cuts every file back to them.  A
process killed at any moment therefore leaves the old or the new rows, never half a row.
One writer at a time (an exclusive lock on ``.lock``); readers take no lock.

The reader is :mod:`allen_viewer.library.reader` (:class:`Library`), the writer
:mod:`allen_viewer.library.writer` (:func:`pack_rows`, :class:`LibraryWriter`);
:mod:`allen_viewer.library.store` is their public face.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from allen_viewer.errors import AllenViewerError, CorruptData
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.io.atomic import atomic_write
from allen_viewer.sanitize import clean_text

FORMAT = 1
F16_MAX = 65504.0
"""Largest float16; energies above it are clipped (real energies stay far below)."""
LEFT_RIGHT_ML = GRID_SHAPE[2] // 2
"""ML index 29: columns with ML < 29 are the left hemisphere (as ExpressionGrid counts)."""
MASK_ORDERS = ("ap-dv-ml", "ml-ap-dv")
PLANES = ("", "coronal", "sagittal")
"""Plane codes in the row table (Allen's plane_of_section ids: 1 coronal, 2 sagittal)."""
ROW_DTYPE = np.dtype([
    ("id", "<i8"), ("runs_start", "<i8"), ("n_runs", "<i4"), ("voxels_with_data", "<i4"),
    ("clipped", "<i4"), ("plane", "u1"), ("mask_order", "u1"), ("has_density", "u1"), ("reserved", "u1"),
    ("symbol", "S32"),
])
"""One experiment-table record (64 bytes): id, where its mask runs are, how many voxels have
data, how many values were clipped, plane code, mask order, whether density was kept, symbol."""

# name: (dtype, "V" for one value per voxel column, "S" per segment, None for one record)
ROW_FILES = {
    "rows.bin": (ROW_DTYPE, None),
    "energy.f16": (np.dtype("<f2"), "V"),
    "seg_count.u16": (np.dtype("<u2"), "S"),
    "seg_energy.f32": (np.dtype("<f4"), "S"),
    "seg_density.f32": (np.dtype("<f4"), "S"),
    "seg_q.f32": (np.dtype("<f4"), "S"),
    "seg_q2.f32": (np.dtype("<f4"), "S"),
}
RUNS_FILE = "runs.i32"
MANIFEST = "manifest.json"
VOXELS_FILE, SEGMENTS_FILE = "voxels.npy", "segments.npy"
"""The layout's own files (:meth:`Layout.save`), written once when the library is made."""
SEGMENT_DTYPE = np.dtype([("hemisphere", "u1"), ("label", "<u4"), ("start", "<i8"), ("stop", "<i8")])
PRECISION_NOTE = ("energy: IEEE float16, round to nearest (relative error <= 2**-11 = 0.049% from 6.1e-5 to "
                  "65504, absolute <= 3e-8 below; clipped at 65504); structure sums: float64 sums of the "
                  "original float32 grids, kept as float32")


class LibraryError(AllenViewerError):
    """The library is missing, busy, damaged or made for another annotation."""


def annotation_checksum(grid_annotation: np.ndarray) -> str:
    """sha256 of the (AP, DV, ML) uint32 grid annotation, to tie a library to its voxels."""
    return hashlib.sha256(np.ascontiguousarray(grid_annotation, dtype="<u4").tobytes()).hexdigest()


# ---------------------------------------------------------------------------- layout


class Layout:
    """Which grid voxels are the store's columns, in which order, grouped into segments.

    ``voxels``: int32 (V,), the flat C-order index into the (AP, DV, ML) grid of each column.
    ``segments``: structured (S,) array of ``hemisphere`` (0 left, 1 right), ``label``
    (gridAnnotation structure id), ``start``/``stop`` (the segment's columns).
    """

    def __init__(self, voxels: np.ndarray, segments: np.ndarray, annotation_sha256: str):
        self.voxels = np.asarray(voxels, dtype=np.int32)
        self.segments = np.asarray(segments, dtype=SEGMENT_DTYPE)
        self.annotation_sha256 = annotation_sha256
        self._perms: list[np.ndarray] | None = None
        if len(self.segments) and (self.segments["start"][0] != 0 or self.segments["stop"][-1] != len(self.voxels)
                                   or np.any(self.segments["start"][1:] != self.segments["stop"][:-1])):
            raise CorruptData("library segments do not tile the voxel columns")

    @classmethod
    def build(cls, grid_annotation: np.ndarray, ontology) -> "Layout":
        """The layout for a (AP, DV, ML) grid annotation and the ontology's graph order."""
        grid_annotation = np.asarray(grid_annotation)
        if grid_annotation.shape != GRID_SHAPE:
            raise ValueError(f"grid annotation has shape {grid_annotation.shape}, expected {GRID_SHAPE}")
        flat = np.flatnonzero(grid_annotation.ravel() > 0)
        labels = grid_annotation.ravel()[flat].astype(np.int64)
        ml = np.unravel_index(flat, GRID_SHAPE)[2]
        hemi = (ml >= LEFT_RIGHT_ML).astype(np.int64)
        uniq, inverse = np.unique(labels, return_inverse=True)
        rank = np.array([_graph_rank(ontology, int(u)) for u in uniq], dtype=np.int64)[inverse]
        order = np.lexsort((flat, rank, hemi))
        voxels, labels, hemi = flat[order], labels[order], hemi[order]
        change = np.flatnonzero((np.diff(labels) != 0) | (np.diff(hemi) != 0)) + 1
        starts = np.concatenate([[0], change])
        stops = np.concatenate([change, [len(voxels)]])
        segments = np.zeros(len(starts), SEGMENT_DTYPE)
        segments["hemisphere"], segments["label"] = hemi[starts], labels[starts]
        segments["start"], segments["stop"] = starts, stops
        return cls(voxels.astype(np.int32), segments, annotation_checksum(grid_annotation))

    @property
    def n_voxels(self) -> int:
        return len(self.voxels)

    @property
    def n_segments(self) -> int:
        return len(self.segments)

    @property
    def segment_starts(self) -> np.ndarray:
        return self.segments["start"].astype(np.intp)

    @property
    def segment_sizes(self) -> np.ndarray:
        return (self.segments["stop"] - self.segments["start"]).astype(np.int64)

    @property
    def perms(self) -> list[np.ndarray]:
        """For each mask order, the columns in that order (``perms[o][k]``: column at position k)."""
        if self._perms is None:
            ap, dv, ml = np.unravel_index(self.voxels.astype(np.int64), GRID_SHAPE)
            self._perms = [np.argsort(self.voxels, kind="stable"), np.lexsort((dv, ap, ml))]
        return self._perms

    def columns(self, volume: np.ndarray) -> np.ndarray:
        """The store columns of an (AP, DV, ML) grid volume: ``volume.ravel()[voxels]``."""
        volume = np.asarray(volume)
        if volume.shape != GRID_SHAPE:
            raise ValueError(f"volume has shape {volume.shape}, expected {GRID_SHAPE}")
        return volume.ravel()[self.voxels]

    def to_grid(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """A (V,) column vector back to a float32 (AP, DV, ML) grid, ``fill`` outside the brain."""
        out = np.full(int(np.prod(GRID_SHAPE)), fill, dtype=np.float32)
        out[self.voxels] = values
        return out.reshape(GRID_SHAPE)

    def segment_mask(self, label_ids: Iterable[int], hemispheres: Sequence[int] = (0, 1)) -> np.ndarray:
        """bool (S,): segments whose label is in ``label_ids`` (and hemisphere in ``hemispheres``)."""
        ids = np.fromiter((int(i) for i in label_ids), dtype=np.int64)
        return np.isin(self.segments["label"].astype(np.int64), ids) & np.isin(self.segments["hemisphere"], hemispheres)

    def column_mask(self, segment_mask: np.ndarray) -> np.ndarray:
        """bool (V,): the columns of the segments selected by ``segment_mask``."""
        return np.repeat(np.asarray(segment_mask, bool), self.segment_sizes)

    def save(self, folder: Path) -> None:
        _save_npy(folder / VOXELS_FILE, self.voxels)
        _save_npy(folder / SEGMENTS_FILE, self.segments)

    @classmethod
    def load(cls, folder: Path, annotation_sha256: str) -> "Layout":
        try:
            voxels = np.load(folder / VOXELS_FILE, allow_pickle=False)
            segments = np.load(folder / SEGMENTS_FILE, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise CorruptData(f"The library layout in {folder} is unreadable ({clean_text(exc, 120)}); delete "
                              "the folder and sync again.") from None
        n_grid = GRID_SHAPE[0] * GRID_SHAPE[1] * GRID_SHAPE[2]
        if (voxels.ndim != 1 or voxels.dtype.kind not in "iu" or segments.dtype != SEGMENT_DTYPE
                or (len(voxels) and (voxels.min() < 0 or voxels.max() >= n_grid))):
            raise CorruptData(f"The library layout in {folder} ({VOXELS_FILE}, {SEGMENTS_FILE}) is damaged; delete "
                              "the folder and sync again.")
        return cls(voxels, segments, annotation_sha256)


def _graph_rank(ontology, label: int) -> int:
    """Position of a label in the ontology's graph order (unknown labels last, by id)."""
    try:
        return int(ontology.by_id(label).graph_order)
    except AllenViewerError:
        return 10**9 + label


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_write(path) as fh:
        np.save(fh, array, allow_pickle=False)

