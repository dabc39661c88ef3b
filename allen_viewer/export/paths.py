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
from allen_viewer.sanitize import clean_text


class OutputRefused(AllenViewerError):
    """An output path that must not be written (exists, not a regular file, bad folder)."""


def _kind(mode: int) -> str:
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
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputRefused(f"Cannot check the output path {path} ({exc.strerror or exc}).") from None
    if not stat.S_ISREG(st.st_mode):
        hint = " Give the path of its target instead." if stat.S_ISLNK(st.st_mode) else ""
        raise OutputRefused(f"{path} is {_kind(st.st_mode)}, not a regular file; it is never replaced, "
                            f"not even with --force.{hint}")


def check_output_path(path: Path, force: bool, companions: Iterable[Path | str] = ()) -> Path:
    """Refuse, before any work, an output path that cannot or must not be written.

    ``companions``: other files the export will write beside it (a ``.json`` sidecar, a
    ``.raw`` file); each must not be a folder, link or special file either.  An existing
    regular ``path`` needs ``force``.  Returns ``Path(path)``.
    """
    text = str(path)
    companions = list(companions) + _usual_companions(Path(path))
    if not text.strip():
        raise OutputRefused("The output path is empty.")
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise OutputRefused(f"{clean_text(text)} names a folder, not a file.")
    try:
        name_max = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        name_max = 255
    longest = max(len(os.fsencode(Path(p).name)) for p in (path, *map(Path, companions)))
    if name_max and longest > name_max:
        raise OutputRefused(f"The output file name is {longest} bytes long; this file system allows "
                            f"{name_max} at most.")
    for p in (path, *map(Path, companions)):
        refuse_special(p)
    if os.path.lexists(path) and not force:
        raise OutputRefused(f"{path} already exists; pass --force to overwrite it.")
    parent = path.parent
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


def _usual_companions(path: Path) -> list[Path]:
    """The files every export writes beside ``path``: the ``.json`` sidecar, and the
    ``.raw`` of a MetaImage header."""
    from allen_viewer.export.provenance import sidecar_path

    out = [sidecar_path(path)] if path.name else []
    if path.suffix.lower() == ".mhd":
        out.append(path.with_suffix(".raw"))
    return [p for p in out if p != path]


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
