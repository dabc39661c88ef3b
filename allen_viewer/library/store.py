"""The packed library store: every synced experiment's in-brain energy, laid out for search.

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
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from allen_viewer.errors import AllenViewerError, CorruptData
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.library.integrity import damage_message, manifest_problems, quick_problems
from allen_viewer.sanitize import clean_text
from allen_viewer.store.atomic import atomic_write

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
SEGMENT_DTYPE = np.dtype([("hemisphere", "u1"), ("label", "<u4"), ("start", "<i8"), ("stop", "<i8")])
PRECISION_NOTE = ("energy: IEEE float16, round to nearest (relative error <= 2**-11 = 0.049% from 6.1e-5 to "
                  "65504, absolute <= 3e-8 below; clipped at 65504); structure sums: float64 sums of the "
                  "original float32 grids, kept as float32")


class LibraryError(AllenViewerError):
    """The library is missing, busy, damaged or made for another annotation."""


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


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
        _save_npy(folder / "voxels.npy", self.voxels)
        _save_npy(folder / "segments.npy", self.segments)

    @classmethod
    def load(cls, folder: Path, annotation_sha256: str) -> "Layout":
        try:
            voxels = np.load(folder / "voxels.npy", allow_pickle=False)
            segments = np.load(folder / "segments.npy", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise CorruptData(f"The library layout in {folder} is unreadable ({clean_text(exc, 120)}); delete "
                              "the folder and sync again.") from None
        n_grid = GRID_SHAPE[0] * GRID_SHAPE[1] * GRID_SHAPE[2]
        if (voxels.ndim != 1 or voxels.dtype.kind not in "iu" or segments.dtype != SEGMENT_DTYPE
                or (len(voxels) and (voxels.min() < 0 or voxels.max() >= n_grid))):
            raise CorruptData(f"The library layout in {folder} (voxels.npy, segments.npy) is damaged; delete "
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


# ---------------------------------------------------------------------------- packing rows


@dataclass
class PackedRows:
    """New rows ready to append: the contents of every row file for ``c`` experiments."""

    records: np.ndarray          # ROW_DTYPE (c,), runs_start relative to this batch
    energy: np.ndarray           # float16 (c, V)
    seg_count: np.ndarray        # uint16 (c, S)
    seg_energy: np.ndarray       # float32 (c, S)
    seg_density: np.ndarray      # float32 (c, S)
    seg_q: np.ndarray            # float32 (c, S)
    seg_q2: np.ndarray           # float32 (c, S)
    runs: np.ndarray             # int32 (runs, 2)

    def __len__(self) -> int:
        return len(self.records)

    def file_arrays(self) -> dict[str, np.ndarray]:
        return {"rows.bin": self.records, "energy.f16": self.energy, "seg_count.u16": self.seg_count,
                "seg_energy.f32": self.seg_energy, "seg_density.f32": self.seg_density,
                "seg_q.f32": self.seg_q, "seg_q2.f32": self.seg_q2}


def pack_rows(layout: Layout, ids: Sequence[int], symbols: Sequence[str], planes: Sequence[str],
              energy: np.ndarray, density: np.ndarray | None = None,
              has_density: Sequence[bool] | None = None) -> PackedRows:
    """Pack ``c`` experiments' column values into store rows.

    ``energy``: float32 (c, V) in column order (:meth:`Layout.columns`), NaN where Allen has
    no data, else >= 0.  ``density``: the same shape or None; ``has_density[i]`` says whether
    row i's density is real (rows without keep NaN density sums).
    """
    energy = np.asarray(energy, dtype=np.float32)
    c, v = energy.shape
    if v != layout.n_voxels or not (len(ids) == len(symbols) == len(planes) == c):
        raise ValueError("pack_rows: sizes do not match the layout / each other")
    has = ~np.isnan(energy)
    if np.any(energy[has] < 0) or not np.all(np.isfinite(energy[has])):
        raise CorruptData("energy values must be >= 0 and finite (NaN for no data)")
    starts = layout.segment_starts
    e32 = np.where(has, energy, np.float32(0.0))
    clipped = (e32 > F16_MAX).sum(axis=1)
    q16 = np.minimum(e32, np.float32(F16_MAX)).astype(np.float16)
    # (reduceat is fast on float64 input; casting inside it is not)
    seg_count = np.rint(np.add.reduceat(has.astype(np.float64), starts, axis=1)).astype(np.uint16)
    seg_energy = np.add.reduceat(e32.astype(np.float64), starts, axis=1).astype(np.float32)
    q = q16.astype(np.float32).astype(np.float64)
    seg_q = np.add.reduceat(q, starts, axis=1).astype(np.float32)
    np.multiply(q, q, out=q)
    seg_q2 = np.add.reduceat(q, starts, axis=1).astype(np.float32)
    del e32, q
    seg_density = np.full((c, layout.n_segments), np.nan, dtype=np.float32)
    dens_flags = np.zeros(c, bool) if has_density is None else np.asarray(has_density, bool)
    if density is not None and dens_flags.any():
        d = np.where(has[dens_flags] & ~np.isnan(density[dens_flags]), density[dens_flags], 0.0)
        seg_density[dens_flags] = np.add.reduceat(d.astype(np.float64), starts, axis=1).astype(np.float32)
    order, runs, n_runs = _mask_runs(layout, has)
    records = np.zeros(c, ROW_DTYPE)
    records["id"] = np.asarray(ids, dtype=np.int64)
    records["n_runs"] = n_runs
    records["runs_start"] = np.concatenate([[0], np.cumsum(n_runs)[:-1]]) if c else []
    records["voxels_with_data"] = has.sum(axis=1)
    records["clipped"] = clipped
    records["plane"] = [PLANES.index(p) if p in PLANES else 0 for p in planes]
    records["mask_order"] = order
    records["has_density"] = dens_flags
    records["symbol"] = [str(s).encode("ascii", "replace")[:32] for s in symbols]
    return PackedRows(records, q16, seg_count, seg_energy, seg_density, seg_q, seg_q2, runs)


def _mask_runs(layout: Layout, has: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run-length code each row's mask in the order with fewer runs.

    Returns (order per row, int32 (runs, 2) [start, stop) positions in rows' order, runs per row).
    """
    c = has.shape[0]
    counts, coded = [], []
    for perm in layout.perms:
        m = has[:, perm]
        edges = np.diff(np.pad(m, ((0, 0), (1, 1))).view(np.int8), axis=1)
        counts.append((edges == 1).sum(axis=1))
        coded.append(edges)
    order = np.where(counts[1] < counts[0], 1, 0).astype(np.uint8)
    rows_all, starts_all, stops_all = [], [], []
    for o, edges in enumerate(coded):
        pick = np.flatnonzero(order == o)
        if not len(pick):
            continue
        r_start, p_start = np.nonzero(edges[pick] == 1)
        _, p_stop = np.nonzero(edges[pick] == -1)
        rows_all.append(pick[r_start])
        starts_all.append(p_start)
        stops_all.append(p_stop)
    if rows_all:
        rows_cat = np.concatenate(rows_all)
        sort = np.argsort(rows_cat, kind="stable")
        runs = np.stack([np.concatenate(starts_all)[sort], np.concatenate(stops_all)[sort]], axis=1).astype(np.int32)
        n_runs = np.bincount(rows_cat, minlength=c).astype(np.int32)
    else:
        runs, n_runs = np.zeros((0, 2), np.int32), np.zeros(c, np.int32)
    return order, runs, n_runs


# ---------------------------------------------------------------------------- the library


class Library:
    """The packed store in ``root`` (default ``<cache>/library``), opened read-only and lazily.

    A snapshot: the rows committed when it was opened (:meth:`refresh` sees newer ones).
    Arrays are memory-mapped, so opening costs milliseconds whatever the size.
    """

    def __init__(self, root: Path | str | None = None):
        if root is None:
            from allen_viewer.store.cache import Cache

            root = Cache().root / "library"
        self.root = Path(root).expanduser()
        self._opened = False

    def __repr__(self) -> str:
        return f"Library({str(self.root)!r})"

    # ---- opening -----------------------------------------------------------------------

    def exists(self) -> bool:
        return (self.root / MANIFEST).is_file()

    def read_manifest(self) -> dict:
        path = self.root / MANIFEST
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LibraryError(f"There is no library at {self.root} yet; run `allen-viewer library sync` "
                               "first.") from None
        except (OSError, ValueError, RecursionError) as exc:
            raise CorruptData(damage_message(self.root, [f"manifest.json is unreadable ({clean_text(exc, 120)})"])
                              ) from None
        if isinstance(manifest, dict) and manifest.get("format") == FORMAT:
            problems = manifest_problems(manifest)
        else:
            problems = manifest_problems(manifest) if not isinstance(manifest, dict) else []
        if problems:
            raise CorruptData(damage_message(self.root, problems))
        if manifest.get("format") != FORMAT:
            raise LibraryError(f"The library at {self.root} has format {manifest.get('format')!r}; this "
                               f"version reads format {FORMAT}. Delete the folder and sync again.")
        return manifest

    def refresh(self) -> "Library":
        """(Re)open: read the manifest and map the committed rows."""
        manifest = self.read_manifest()
        self.manifest = manifest
        self.layout = Layout.load(self.root, manifest["annotation_sha256"])
        if self.layout.n_voxels != manifest["n_voxels"] or self.layout.n_segments != manifest["n_segments"]:
            raise CorruptData(f"The library layout in {self.root} does not match its manifest; delete the "
                              "folder and sync again.")
        rows = int(manifest["rows"])
        self._maps = {name: self._map(name, dtype, rows, self._width(kind)) for name, (dtype, kind) in ROW_FILES.items()}
        self._maps[RUNS_FILE] = self._map(RUNS_FILE, np.dtype("<i4"), int(manifest["runs"]), 2)
        self.table = np.array(self._maps["rows.bin"])  # a small copy: 64 bytes a row
        self._row_of = None
        self._opened = True
        problems = quick_problems(self)  # random bytes, NaN sums: refuse rather than rank junk
        if problems:
            self._opened = False
            raise CorruptData(damage_message(self.root, problems))
        return self

    def _width(self, kind: str | None) -> int | None:
        return None if kind is None else (self.layout.n_voxels if kind == "V" else self.layout.n_segments)

    def _map(self, name: str, dtype: np.dtype, rows: int, width: int | None) -> np.ndarray:
        shape = (rows,) if width is None else (rows, width)
        if rows == 0:
            return np.zeros(shape, dtype)
        path = self.root / name
        need = rows * dtype.itemsize * (width or 1)
        try:
            size = path.stat().st_size
        except OSError:
            size = -1
        if size < need:
            raise CorruptData(f"The library file {path} is shorter than its manifest says ({max(size, 0):,} of "
                              f"{need:,} bytes); delete {self.root} and sync again.")
        return np.memmap(path, dtype=dtype, mode="r", shape=shape)

    def _ensure(self) -> None:
        if not self._opened:
            self.refresh()

    # ---- contents ----------------------------------------------------------------------

    def __len__(self) -> int:
        self._ensure()
        return len(self.table)

    def __bool__(self) -> bool:  # an empty library is still a library (``lib or default`` stays lib)
        return True

    @property
    def ids(self) -> np.ndarray:
        """int64 (rows,): experiment ids in row order."""
        self._ensure()
        return self.table["id"]

    @property
    def planes(self) -> np.ndarray:
        """str (rows,): ``coronal``, ``sagittal`` or ``""``."""
        self._ensure()
        return np.array(PLANES, dtype=object)[self.table["plane"]]

    @property
    def symbols(self) -> list[str]:
        self._ensure()
        return [s.decode("ascii", "replace") for s in self.table["symbol"]]

    def row_of(self, experiment_id: int) -> int | None:
        """The row of an experiment, or None when it is not in the library."""
        self._ensure()
        if self._row_of is None:
            self._row_of = {int(i): r for r, i in enumerate(self.table["id"])}
        return self._row_of.get(int(experiment_id))

    def __contains__(self, experiment_id: int) -> bool:
        return self.row_of(experiment_id) is not None

    @property
    def energy(self) -> np.ndarray:
        """float16 (rows, V) memmap: energy, **0 where there is no data** (see :meth:`has_data`)."""
        self._ensure()
        return self._maps["energy.f16"]

    def seg(self, name: str) -> np.ndarray:
        """A per-segment table (rows, S): ``count``, ``energy``, ``density``, ``q`` or ``q2``."""
        self._ensure()
        return self._maps[{"count": "seg_count.u16", "energy": "seg_energy.f32", "density": "seg_density.f32",
                           "q": "seg_q.f32", "q2": "seg_q2.f32"}[name]]

    @property
    def runs(self) -> np.ndarray:
        """int32 (runs, 2) memmap: [start, stop) positions of has-data runs, rows' runs in row order."""
        self._ensure()
        return self._maps[RUNS_FILE]

    def has_data(self, row: int) -> np.ndarray:
        """bool (V,): the columns where experiment ``row`` has data."""
        self._ensure()
        rec = self.table[row]
        perm = self.layout.perms[int(rec["mask_order"])]
        start = int(rec["runs_start"])
        runs = np.asarray(self.runs[start:start + int(rec["n_runs"])])
        edges = np.zeros(self.layout.n_voxels + 1, np.int8)
        edges[runs[:, 0]] = 1   # runs are maximal, so a start never meets another run's stop
        edges[runs[:, 1]] = -1
        mask = np.zeros(self.layout.n_voxels, bool)
        mask[perm] = np.cumsum(edges[:-1], dtype=np.int32) > 0
        return mask

    def values(self, row: int) -> np.ndarray:
        """float32 (V,): the stored (float16-rounded) energy of a row, NaN where no data."""
        out = np.asarray(self.energy[row], dtype=np.float32)
        out[~self.has_data(row)] = np.nan
        return out

    def grid(self, row: int) -> np.ndarray:
        """float32 (AP, DV, ML) energy grid of a row (float16-rounded), NaN where no data and
        outside the brain (the store keeps in-brain voxels only)."""
        return self.layout.to_grid(self.values(row))

    def size_bytes(self) -> int:
        """Bytes taken by the library's files."""
        total = 0
        with contextlib.suppress(FileNotFoundError):
            for p in self.root.iterdir():
                with contextlib.suppress(OSError):
                    total += p.stat().st_size
        return total

    def writer(self, layout: Layout | None = None, durable: bool = True) -> "LibraryWriter":
        """An exclusive writer (a context manager); ``layout`` is needed to create the library."""
        return LibraryWriter(self, layout, durable=durable)


# ---------------------------------------------------------------------------- writing


class LibraryWriter:
    """Appends rows under an exclusive lock; creates the library on first use.

    ``durable``: fsync every file before committing (leave on; a temporary benchmark library
    may turn it off).
    """

    def __init__(self, library: Library, layout: Layout | None = None, durable: bool = True):
        self.library = library
        self.root = library.root
        self.durable = durable
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise LibraryError(f"Cannot write the library folder {self.root} ({exc.strerror or exc}); "
                               "set ALLEN_VIEWER_CACHE to a writable folder.") from None
        if not _try_lock(self._lock_fd):
            os.close(self._lock_fd)
            raise LibraryError(f"Another allen-viewer process is writing to the library at {self.root}; "
                               "wait for it to finish.")
        try:
            if not library.exists():
                if layout is None:
                    raise LibraryError(f"There is no library at {self.root} yet.")
                self._create(layout)
            self.manifest = library.read_manifest()
            if layout is not None and layout.annotation_sha256 != self.manifest["annotation_sha256"]:
                raise LibraryError(f"The library at {self.root} was built for another grid annotation; delete "
                                   "the folder and sync again.")
            self.layout = Layout.load(self.root, self.manifest["annotation_sha256"])
            existing = library.refresh().ids
            self._ids = {int(i) for i in existing}
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "LibraryWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    @property
    def ids(self) -> set[int]:
        return self._ids

    @property
    def rows(self) -> int:
        return int(self.manifest["rows"])

    def _create(self, layout: Layout) -> None:
        for name in list(ROW_FILES) + [RUNS_FILE]:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.root / name)  # leftovers of a creation that never committed
        layout.save(self.root)
        manifest = {
            "format": FORMAT, "kind": "allen_viewer library", "rows": 0, "runs": 0,
            "n_voxels": layout.n_voxels, "n_segments": layout.n_segments,
            "annotation_sha256": layout.annotation_sha256, "energy_dtype": "float16",
            "precision": PRECISION_NOTE, "no_data": "0 in energy.f16; the row's mask (runs.i32) says which voxels "
                                                    "have data",
            "voxel_order": "left hemisphere (ML < 29) first, then right; ontology graph order of the "
                           "gridAnnotation label; then AP, DV, ML",
            "mask_orders": list(MASK_ORDERS), "created_utc": _now(), "updated_utc": _now(),
        }
        self._write_manifest(manifest)

    def _write_manifest(self, manifest: dict) -> None:
        with atomic_write(self.root / MANIFEST, "w") as fh:
            json.dump(manifest, fh, indent=1)
            fh.write("\n")

    def append(self, packed: PackedRows) -> int:
        """Append rows (skipping ids already present) and commit; returns the new row count."""
        keep = np.array([int(i) not in self._ids for i in packed.records["id"]], bool)
        ids = packed.records["id"][keep]
        if len(np.unique(ids)) != len(ids):
            raise ValueError("the same experiment twice in one append")
        if not keep.any():
            return self.rows
        packed = _select(packed, keep)
        rows, n_runs = self.rows, int(self.manifest["runs"])
        records = packed.records.copy()
        records["runs_start"] += n_runs
        arrays = packed.file_arrays()
        arrays["rows.bin"] = records
        widths = {"V": self.layout.n_voxels, "S": self.layout.n_segments}
        for name, (dtype, kind) in ROW_FILES.items():
            row_bytes = dtype.itemsize * (widths[kind] if kind else 1)
            self._append_file(name, rows * row_bytes, np.ascontiguousarray(arrays[name], dtype=dtype))
        self._append_file(RUNS_FILE, n_runs * 8, np.ascontiguousarray(packed.runs, dtype="<i4"))
        manifest = dict(self.manifest, rows=rows + len(records), runs=n_runs + len(packed.runs), updated_utc=_now())
        self._write_manifest(manifest)
        self.manifest = manifest
        self._ids.update(int(i) for i in ids)
        return self.rows

    def _append_file(self, name: str, committed: int, data: np.ndarray) -> None:
        """Cut ``name`` back to its committed bytes, then append ``data``."""
        path = self.root / name
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                size = os.fstat(fd).st_size
                if size < committed:
                    raise CorruptData(f"The library file {path} lost committed rows ({size:,} of {committed:,} "
                                      f"bytes); delete {self.root} and sync again.")
                if size != committed:
                    os.ftruncate(fd, committed)
                os.lseek(fd, committed, os.SEEK_SET)
                view = memoryview(data.reshape(-1).view(np.uint8))
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise LibraryError(f"Cannot write {path} ({exc.strerror or exc}); check the disk space.") from None


def _select(packed: PackedRows, keep: np.ndarray) -> PackedRows:
    """The rows of ``packed`` where ``keep`` is True (runs re-based)."""
    rec = packed.records
    pieces = [packed.runs[int(s):int(s) + int(n)] for s, n, k in zip(rec["runs_start"], rec["n_runs"], keep) if k]
    runs = np.concatenate(pieces) if pieces else np.zeros((0, 2), np.int32)
    records = rec[keep].copy()
    records["runs_start"] = np.concatenate([[0], np.cumsum(records["n_runs"])[:-1]]) if len(records) else []
    return PackedRows(records, packed.energy[keep], packed.seg_count[keep], packed.seg_energy[keep],
                      packed.seg_density[keep], packed.seg_q[keep], packed.seg_q2[keep], runs)


def _try_lock(fd: int) -> bool:
    """An exclusive, non-blocking lock on ``fd`` (released when it is closed or the process dies)."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
