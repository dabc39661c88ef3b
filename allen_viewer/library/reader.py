"""Reading the packed library store: :class:`Library`, a read-only, memory-mapped snapshot
of the committed rows (the files and their format: :mod:`allen_viewer.library.layout`).

Readers take no lock and never look past the rows ``manifest.json`` commits, so a writer
(:mod:`allen_viewer.library.writer`) may append meanwhile.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from allen_viewer.errors import CorruptData
from allen_viewer.library.integrity import damage_message, manifest_problems, quick_problems
from allen_viewer.library.layout import FORMAT, MANIFEST, PLANES, ROW_FILES, RUNS_FILE, Layout, LibraryError
from allen_viewer.sanitize import clean_text

if TYPE_CHECKING:
    from allen_viewer.library.writer import LibraryWriter


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
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if isinstance(manifest, dict) and fmt == FORMAT:
            problems = manifest_problems(manifest)
        elif isinstance(manifest, dict) and (not isinstance(fmt, int) or isinstance(fmt, bool)):
            # no format number at all: not another version's manifest, a damaged one
            problems = [f"manifest.json has format = {clean_text(repr(fmt), 40)}, not a format number"]
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
        from allen_viewer.library.writer import LibraryWriter

        return LibraryWriter(self, layout, durable=durable)
