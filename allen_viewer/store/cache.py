"""The on-disk cache of downloaded data.

Layout under the cache root (``ALLEN_VIEWER_CACHE``, else the platform's user cache dir)::

    grids/<experiment id>.zip      expression grid zips, as /grid_data/download returns them
    reference/<name>               large reference files (NRRD volumes, zips)
    quarantine/<name>.<UTC time>   entries found damaged, moved aside (with a .reason.txt)

and, written by other modules (the whole layout is in docs/user-guide.md, "The cache")::

    gene_index.tsv.gz              the refreshed experiment list (AtlasData.refresh_gene_index)
    images/                        section images, section lists and point-to-pixel answers
                                   (allen_viewer.store.section_store)
    library/                       the whole-genome library (allen_viewer.library.store)
    meshes/                        surface meshes (allen_viewer.render.meshes)
    atlas/labels25-<key>.npy       the uncompressed 25 µm labels (allen_viewer.atlas.reference_space)
    guide/                         the user guide rendered to HTML (allen_viewer.guide)

Entries are only ever written whole (downloads go to a temporary file and are renamed),
so a file under ``grids/`` is either a complete download or damage from outside (a disk
error, a user's edit).  :meth:`Cache.cached_grid` checks each grid once per process and
remembers the checked (path, mtime, size), so repeat reads cost one ``stat``.
"""
from __future__ import annotations

import datetime as _dt
import os
import tempfile
import threading
from pathlib import Path, PurePath

from allen_viewer import config
from allen_viewer.errors import AllenViewerError, CorruptData
from allen_viewer.formats.grid_file import read_grid_zip
from allen_viewer.sanitize import is_id

_validated: set[tuple[str, int, int]] = set()
_validated_lock = threading.Lock()


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.absolute()), st.st_mtime_ns, st.st_size)


def validate_grid_file(path: Path, experiment_id: int | None = None) -> None:
    """Check a grid zip with :func:`read_grid_zip` unless this process already checked this
    very file (same path, modification time and size).  Raises :class:`CorruptData`; with
    ``experiment_id``, also when its ``data_set.xml`` names another experiment (a cached
    ``grids/5.zip`` holding experiment 7 is damaged like any other entry)."""
    path = Path(path)
    key = _stat_key(path)
    with _validated_lock:
        if key in _validated:
            return
    held = read_grid_zip(path).data_set.get("id", "")
    if experiment_id is not None and is_id(held) and int(held) != int(experiment_id):
        raise CorruptData(f"it holds the grid of experiment {held}, not of experiment {int(experiment_id)}")
    with _validated_lock:
        _validated.add(key)


def remember_valid(path: Path) -> None:
    """Record ``path`` as checked (e.g. right after a download validated it)."""
    key = _stat_key(Path(path))
    with _validated_lock:
        _validated.add(key)


class Cache:
    """The cache directory (``root``); see the module docstring for its layout."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root).expanduser() if root is not None else config.cache_dir()

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    # -------------------------------------------------------------- paths

    @property
    def grids_dir(self) -> Path:
        return self.root / "grids"

    @property
    def reference_dir(self) -> Path:
        return self.root / "reference"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    def grid_path(self, experiment_id: int) -> Path:
        """Where the grid zip of an experiment lives (whether or not it is there)."""
        return self.grids_dir / f"{int(experiment_id)}.zip"

    def reference_path(self, name: str) -> Path:
        """Where a reference file lives, e.g. ``reference_path("ara_nissl_25.nrrd")``."""
        if not name or PurePath(name).name != name or name in (".", ".."):
            raise ValueError(f"{name!r} is not a plain file name")
        return self.reference_dir / name

    # -------------------------------------------------------------- grids

    def cached_grid(self, experiment_id: int) -> Path | None:
        """The checked grid zip of an experiment, or ``None`` when it is not cached.

        A damaged entry is moved to ``quarantine/`` and :class:`CorruptData` is raised
        saying so (the caller may fetch it again).  An unreadable entry raises
        :class:`AllenViewerError`.
        """
        path = self.grid_path(experiment_id)
        try:
            if not path.is_file():
                return None
            with open(path, "rb"):
                pass
        except OSError as exc:
            raise AllenViewerError(
                f"Cannot read the cached grid {path} ({exc.strerror or exc}); check the cache folder's permissions."
            ) from None
        try:
            validate_grid_file(path, experiment_id)
        except CorruptData as exc:
            moved = self.quarantine(path, str(exc))
            raise CorruptData(
                f"The cached grid of experiment {int(experiment_id)} was damaged ({exc}); it was moved aside "
                f"to {moved} and will be fetched again.") from None
        except FileNotFoundError:  # removed by another process between the checks
            return None
        return path

    def grids(self) -> list[int]:
        """Ids of the experiments with a grid zip in the cache (unchecked), sorted."""
        try:
            names = [p.name for p in self.grids_dir.iterdir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise AllenViewerError(f"Cannot list the cache folder {self.grids_dir} ({exc.strerror or exc}).") from None
        return sorted(int(n[:-4]) for n in names if n.endswith(".zip") and is_id(n[:-4]))

    # -------------------------------------------------------------- housekeeping

    def ensure_writable(self, folder: Path | None = None) -> Path:
        """Create ``folder`` (default: the root) and check a file can be written in it.

        Raises :class:`AllenViewerError` naming the folder and the fix when it cannot.
        """
        folder = Path(folder) if folder is not None else self.root
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise AllenViewerError(
                f"The cache folder {folder} cannot be written ({exc.strerror or exc}). "
                "Set ALLEN_VIEWER_CACHE to a writable folder, or free some disk space.") from None
        return folder

    def quarantine(self, path: Path, reason: str) -> Path:
        """Move a damaged entry to ``quarantine/<name>.<UTC time><suffix>`` and write the
        reason next to it (``.reason.txt``); return the new path."""
        path = Path(path)
        folder = self.ensure_writable(self.quarantine_dir)
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        target = folder / f"{path.stem}.{stamp}{path.suffix}"
        n = 1
        while target.exists():
            target = folder / f"{path.stem}.{stamp}-{n}{path.suffix}"
            n += 1
        try:
            os.replace(path, target)
        except OSError as exc:
            raise AllenViewerError(
                f"The cache entry {path} is damaged ({reason}) and could not be moved aside "
                f"({exc.strerror or exc}); delete it by hand.") from None
        try:
            target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
        except OSError:
            pass  # the move is what matters; the note is a courtesy
        return target

    def size_bytes(self) -> int:
        """Bytes taken by every file under the root (quarantine included)."""
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
        return total
