"""Atomic file writes: a temporary file in the target's directory, then ``os.replace``.

A process killed mid-write leaves at most a ``.part`` file that is never read as the real
entry; the target is either the old complete file or the new complete file.  A target that
exists and is not a regular file (a folder, FIFO, device, socket or symbolic link) is never
replaced: the rename is refused with ``OSError(EEXIST)`` and the temporary file removed.
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success.

    On any exception the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".part", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _refuse_special(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _refuse_special(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISREG(mode):
        raise OSError(errno.EEXIST, "it exists and is not a regular file, so it was not replaced", str(path))


@contextlib.contextmanager
def atomic_path(path: Path | str, suffix: str = "") -> Iterator[Path]:
    """A temporary sibling of ``path``, for writers that need a file name rather than an
    open file (an encoder process, a library that opens the file itself); renamed over
    ``path`` (after an fsync) when the block succeeds, removed when it fails, so ``path`` is
    either the old complete file or the new complete one.

    ``suffix`` ends the temporary name (``.part.mp4``) for writers that choose the format by
    the name.  A ``path`` that is not a regular file is never replaced (as :func:`atomic_write`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".part" + suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        _refuse_special(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
