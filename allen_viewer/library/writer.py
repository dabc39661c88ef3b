"""Writing the packed library store: packing experiments into rows (:func:`pack_rows`) and
appending them under an exclusive lock (:class:`LibraryWriter`).

Crash safety (the format: :mod:`allen_viewer.library.layout`): all row files are
append-only.  An append writes and fsyncs the new rows of every file, then replaces
``manifest.json`` (the committed row count) atomically
(:func:`~allen_viewer.io.atomic.atomic_write`); the next append first cuts every file
back to the committed rows.  One writer at a time (an exclusive lock on ``.lock``).
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from allen_viewer.errors import CorruptData
from allen_viewer.library.layout import (
    F16_MAX,
    FORMAT,
    MANIFEST,
    MASK_ORDERS,
    PLANES,
    PRECISION_NOTE,
    ROW_DTYPE,
    ROW_FILES,
    RUNS_FILE,
    Layout,
    LibraryError,
)
from allen_viewer.io.atomic import atomic_write
from allen_viewer.library.reader import Library


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


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
