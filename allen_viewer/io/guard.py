"""Checks on a user-given output path, before any work is done, and one way to report
file-system errors while writing it.

Rules (docs/reliability.md, "Writing outputs"):

* ``--force`` replaces an existing **regular file** only.  A folder, a FIFO, a device, a
  socket or a **symbolic link** (even one to a regular file) is refused with or without
  ``--force``: the output is always written to a temporary sibling and renamed over the
  path, which would replace the link or the special file itself rather than write through
  it, so the viewer refuses instead of guessing.  Name the link's target to write there.
* The folder must exist, be a folder, be writable and not on a read-only file system; a
  file name longer than the file system allows is refused.  All of this is checked
  before the (possibly long) work starts.
* **Every file an export writes is part of the output** (:func:`output_files`): the data
  file(s) -- an ``.mhd``'s ``.raw``, ``--volume all``'s per-channel files -- and the sidecar
  (``FILE.EXT.json``, :func:`allen_viewer.io.sidecars.sidecar_path`).  Without
  ``--force`` the export refuses when any of them exists (one line naming it, nothing
  written).  With ``--force`` data files are replaced, but a sidecar only when it is this
  program's own (:func:`~allen_viewer.io.sidecars.is_own_sidecar`); any other file at
  a sidecar's name is never replaced, not even with ``--force``.
* An output is never written onto a file the command reads (``reads``: ``--session`` of a
  screenshot, a library list ...), nor onto its own sidecar.
* Concurrent writers: :func:`claim_output` holds an exclusive lock on the output's name
  (``flock`` on a small lock file in the temporary folder, named by a hash of the output's
  absolute path) while an export writes its files; a second export of the same output at
  the same time is refused in one line, and the checks are made again under the lock, so
  one experiment's data never ends up with another's sidecar.
* :func:`output_errors` turns an ``OSError`` met while writing (no space left, including
  the one a buffered ``close`` raises; read-only file system; name too long) into one
  :class:`AllenViewerError` line; the writers (``atomic_write``) have removed their
  temporary file by then, so nothing partial is left.
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import Iterable, Iterator

from allen_viewer.errors import AllenViewerError
from allen_viewer.io.sidecars import foreign_sidecar_message, is_own_sidecar, sidecar_path
from allen_viewer.sanitize import clean_text


class OutputRefused(AllenViewerError):
    """An output path that must not be written (exists, not a regular file, bad folder)."""


def special_kind(path: Path | str) -> str | None:
    """What ``path`` is when it exists and is not a regular file (``"a folder"``, ``"a
    symbolic link"``, ``"a FIFO (named pipe)"``, ``"a device"``, ``"a socket"``); None when
    it does not exist or is a regular file.  ``lstat``: a symbolic link is not followed, so
    it counts as not regular.  Any other ``OSError`` is raised unchanged.

    The one test of "special file in the way": :func:`refuse_special` (before any work) and
    :func:`allen_viewer.io.atomic.replace_file` (at the rename) both ask it."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def refuse_special(path: Path | str) -> None:
    """Raise :class:`OutputRefused` when ``path`` exists and is not a regular file (a
    symbolic link counts as not regular: it is not followed)."""
    path = Path(path)
    try:
        kind = special_kind(path)
    except OSError as exc:
        raise OutputRefused(f"Cannot check the output path {path} ({exc.strerror or exc}).") from None
    if kind is not None:
        hint = " Give the path of its target instead." if kind == "a symbolic link" else ""
        raise OutputRefused(f"{path} is {kind}, not a regular file; it is never replaced, "
                            f"not even with --force.{hint}")


def output_files(path: Path | str, files: Iterable[Path | str] | None = None) -> tuple[list[Path], Path]:
    """(the data files, the sidecar) an export to ``path`` writes.

    ``files``: the data files when they are not ``path`` itself (``--volume all``'s
    per-channel files); by default ``path`` and, for a MetaImage header, its ``.raw``."""
    path = Path(path)
    data = [path] if files is None else [Path(f) for f in files]
    for f in list(data):
        if f.suffix.lower() == ".mhd" and f.with_suffix(".raw") not in data:
            data.append(f.with_suffix(".raw"))
    return data, sidecar_path(path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.abspath(a) == os.path.abspath(b)


def check_output_path(path: Path, force: bool, companions: Iterable[Path | str] = (),
                      files: Iterable[Path | str] | None = None, reads: Iterable[Path | str | None] = (),
                      make_folder: bool = False) -> Path:
    """Refuse, before any work, an output path that cannot or must not be written.

    ``files``: the data files the export writes (default ``path``, and an ``.mhd``'s
    ``.raw``: :func:`output_files`); ``companions``: more files written beside them; the
    sidecar is always added.  None may be a folder, link or special file; none may be a file
    the command reads (``reads``).  An existing data file needs ``force``; an existing
    sidecar needs ``force`` and must be one of ours.  ``make_folder``: a folder that does not
    exist yet is no reason to refuse (the writer makes it: ``--screenshot``).  Returns
    ``Path(path)``.
    """
    text = str(path)
    if not text.strip():
        raise OutputRefused("The output path is empty.")
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise OutputRefused(f"{clean_text(text)} names a folder, not a file.")
    data, side = output_files(path, files)
    data += [Path(c) for c in companions if Path(c) not in data and Path(c) != side]
    everything = [*data, side]
    try:
        name_max = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        name_max = 255
    longest = max(len(os.fsencode(p.name)) for p in (path, *everything))
    if name_max and longest > name_max:
        raise OutputRefused(f"The output file name is {longest} bytes long; this file system allows "
                            f"{name_max} at most.")
    for p in (path, *everything):
        refuse_special(p)
    for r in reads:
        if r is None:
            continue
        for p in everything:
            if _same_file(p, Path(r)):
                raise OutputRefused(f"{p} is a file this command reads ({r}); it is never written over. "
                                    "Choose another output name.")
    if os.path.lexists(side) and not is_own_sidecar(side):
        raise OutputRefused(foreign_sidecar_message(side))
    if not force:
        for p in everything:
            if os.path.lexists(p):
                raise OutputRefused(f"{p} already exists; pass --force to overwrite it.")
    parent = path.parent
    if not parent.exists() and make_folder and not os.path.lexists(parent):
        return path
    if not parent.exists():
        raise OutputRefused(f"The folder {parent} does not exist.")
    if not parent.is_dir():
        raise OutputRefused(f"{parent} is not a folder.")
    try:
        vfs = os.statvfs(parent)
        read_only = bool(vfs.f_flag & getattr(os, "ST_RDONLY", 1))
    except (OSError, AttributeError):
        read_only = False
    if read_only:
        raise OutputRefused(f"The folder {parent} is on a read-only file system.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputRefused(f"The folder {parent} is not writable.")
    return path


def existing_output_files(path: Path | str, files: Iterable[Path | str] | None = None) -> list[Path]:
    """The files of an export to ``path`` that exist now (data files, then the sidecar):
    what the window names when it asks before replacing them."""
    data, side = output_files(path, files)
    return [p for p in (*data, side) if os.path.lexists(p)]


def _lock_folder() -> Path:
    import tempfile

    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"allen_viewer-output-locks-{uid}"


@contextlib.contextmanager
def output_lock(path: Path | str) -> Iterator[None]:
    """An exclusive, non-blocking lock on the output ``path``'s name for the block.

    The lock is ``flock`` on ``<temp folder>/allen_viewer-output-locks-<uid>/<sha256 of the
    absolute path>.lock`` (never a file beside the output); it is released when the block
    ends or the process dies.  Another holder: :class:`OutputRefused`, one line.  Where no
    lock can be made (no ``fcntl``, the temporary folder not writable) the block runs
    without one."""
    import hashlib

    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    key = hashlib.sha256(os.fsencode(os.path.abspath(path))).hexdigest()[:32]
    folder = _lock_folder()
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        st = os.lstat(folder)
        if not stat.S_ISDIR(st.st_mode) or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
            raise OSError("not our lock folder")
        fd = os.open(folder / f"{key}.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputRefused(f"{path} is being written by another allen-viewer export right now; "
                                "nothing was written. Try again when it has finished.") from None
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def claim_output(path: Path | str, force: bool, companions: Iterable[Path | str] = (),
                 files: Iterable[Path | str] | None = None,
                 reads: Iterable[Path | str | None] = ()) -> Iterator[Path]:
    """:func:`output_lock` on ``path``, then :func:`check_output_path` again under the lock
    (what another export wrote meanwhile counts), for the block that writes the files."""
    reads = list(reads)
    with output_lock(path):
        yield check_output_path(Path(path), force, companions, files=files, reads=reads)


@contextlib.contextmanager
def undo_on_failure(*paths: Path | str) -> Iterator[None]:
    """Remove ``paths`` (files this export has just written) when the block fails, so a
    sidecar that cannot be written does not leave its data file behind."""
    try:
        yield
    except BaseException:
        for p in paths:
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(p).st_mode):
                    os.unlink(p)
        raise


def write_error(path: Path | str, exc: OSError) -> AllenViewerError:
    """One line for a file-system error met while writing ``path``."""
    reason = exc.strerror or clean_text(exc)
    if exc.errno == errno.ENOSPC:
        hint = "free some space or choose another folder"
    elif exc.errno == errno.EROFS:
        hint = "the folder is on a read-only file system"
    elif exc.errno == errno.ENAMETOOLONG:
        hint = "choose a shorter name"
    elif exc.errno in (errno.EEXIST, errno.ENOTDIR) and "regular file" not in reason:
        reason, hint = "a file stands where a folder is needed", "choose another folder"
    else:
        hint = "check the folder and its permissions"
    return AllenViewerError(f"Cannot write {path} ({reason}); {hint}. Nothing was written.")


@contextlib.contextmanager
def output_errors(path: Path | str) -> Iterator[None]:
    """Turn an ``OSError`` raised inside the block into :func:`write_error`'s message."""
    try:
        yield
    except AllenViewerError:
        raise
    except OSError as exc:
        raise write_error(path, exc) from None
