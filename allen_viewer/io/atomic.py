"""Atomic file writes: a temporary file in the target's directory, then ``os.replace``.

The one writer of files that must be whole or absent: the cache (grid zips, section images,
the gene index, meshes, labels), the library, sessions and every export go through it, the
HTTP transport's downloads included (:mod:`allen_viewer.api.transport`).  It lives in the
bottom package :mod:`allen_viewer.io` and imports nothing of the viewer but the output
guard's test for a special file (:func:`allen_viewer.io.guard.special_kind`), so every
package may use it (``tests/test_layering.py``).

* :func:`atomic_write`: a context manager yielding a file object for code that writes bytes
  or text itself.
* :class:`AtomicFile`: the same as an object, for writers that must check the temporary
  file (by its path) before it is committed, or report each step's failure in their own
  words (the transport's validated downloads).
* :func:`atomic_path`: a temporary *path* for writers that only take a file name
  (SimpleITK), renamed over the target on success.
* :func:`replace_file`: the one rename: fsync, refuse a non-regular target, ``os.replace``.
  A resumable download that keeps its own ``.part`` file commits through it too.

A process killed mid-write leaves at most a ``.<name>.<random>.part`` file
(:func:`is_temporary`) that is never read as the real entry; the target is either the old
complete file or the new complete file.  A target that exists and is not a regular file (a
folder, FIFO, device, socket or symbolic link) is never replaced: the rename is refused
with ``OSError(EEXIST)`` and the temporary file removed.  On any failure the temporary file
is removed.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from allen_viewer.io.guard import special_kind

_UMASK = os.umask(0)
os.umask(_UMASK)
TEMP_SUFFIX = ".part"
"""Every temporary file of this module ends so (and starts with a dot)."""
_NAME_CHARS = 100
"""Characters of the target's name kept in a temporary name (``.{name}.{8 random}.part``
must fit the file system's 255 bytes)."""


class AtomicFile:
    """A temporary sibling of ``path`` open for writing (``file``; its path is ``name``),
    renamed over ``path`` by :meth:`commit`, removed by :meth:`discard`.

    Used as a context manager it discards the temporary file unless it was committed.
    ``suffix`` replaces ``.part`` (a writer that picks its format by the file name).
    The folder must exist; an ``OSError`` from creating the file is raised unchanged.
    """

    def __init__(self, path: Path | str, mode: str = "wb", suffix: str = TEMP_SUFFIX):
        self.path = Path(path)
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name[:_NAME_CHARS]}.", suffix=suffix, dir=self.path.parent)
        self.name = name
        self.committed = False
        try:
            os.chmod(name, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
            self.file: IO = os.fdopen(fd, mode)
            self._open = True
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            _unlink(name)
            raise

    def sync(self) -> None:
        """Flush and fsync the file and close it (idempotent); an ``OSError`` (a full disk at
        the flush) is raised unchanged, the file closed all the same."""
        if not self._open:
            return
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
        finally:
            self._open = False
            self.file.close()

    def commit(self) -> Path:
        """:meth:`sync`, then rename over ``path`` (:func:`replace_file`); returns ``path``."""
        self.sync()
        replace_file(self.name, self.path, sync=False)
        self.committed = True
        return self.path

    def discard(self) -> None:
        """Close and remove the temporary file (nothing happens after :meth:`commit`)."""
        if self.committed:
            return
        if self._open:
            self._open = False
            with contextlib.suppress(OSError, ValueError):
                self.file.close()
        _unlink(self.name)

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; rename it over ``path`` on success.

    The folder is made if missing.  On any exception the temporary file is removed and
    ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(path, mode) as tmp:
        yield tmp.file
        tmp.commit()


@contextlib.contextmanager
def atomic_path(path: Path | str, suffix: str = TEMP_SUFFIX) -> Iterator[Path]:
    """A temporary sibling *path* of ``path`` (an empty file, ending in ``suffix``) for a
    writer that takes a file name; fsync'ed and renamed over ``path`` when the block ends
    without an exception, removed otherwise.  The folder must exist."""
    tmp = AtomicFile(path, "wb", suffix=suffix)
    tmp.sync()  # closed, empty: the writer opens it by name
    try:
        yield Path(tmp.name)
        replace_file(tmp.name, tmp.path)
        tmp.committed = True
    finally:
        tmp.discard()


def replace_file(tmp: Path | str, path: Path | str, sync: bool = True) -> None:
    """Rename the complete file ``tmp`` over ``path``: fsync it first (``sync``), refuse a
    ``path`` that exists and is not a regular file (``OSError(EEXIST)``; ``tmp`` is left
    for the caller), then ``os.replace``."""
    if sync:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    if special_kind(path) is not None:
        raise OSError(errno.EEXIST, "it exists and is not a regular file, so it was not replaced", str(path))
    os.replace(tmp, path)


def is_temporary(name: str) -> bool:
    """Whether a file name is one of this module's temporary files (``.<name>.<random>.part``)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _unlink(name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name)
