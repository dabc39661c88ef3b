"""The packed library store: every synced experiment's in-brain energy, laid out for search.

Its public face; the work is split by job:

* :mod:`~allen_viewer.library.layout`: the files, their format and constants, and
  :class:`Layout` (which grid voxels are the columns, grouped into segments);
* :mod:`~allen_viewer.library.reader`: :class:`Library`, a read-only, memory-mapped snapshot;
* :mod:`~allen_viewer.library.writer`: :func:`pack_rows` and :class:`LibraryWriter`
  (append-only rows, committed by an atomic ``manifest.json``).

Import the names from here or from those modules; they are the same objects.
"""
from __future__ import annotations

from allen_viewer.library.layout import (
    F16_MAX,
    FORMAT,
    LEFT_RIGHT_ML,
    MANIFEST,
    MASK_ORDERS,
    PLANES,
    PRECISION_NOTE,
    ROW_DTYPE,
    ROW_FILES,
    RUNS_FILE,
    SEGMENT_DTYPE,
    SEGMENTS_FILE,
    VOXELS_FILE,
    Layout,
    LibraryError,
    annotation_checksum,
)
from allen_viewer.library.reader import Library
from allen_viewer.library.writer import LibraryWriter, PackedRows, pack_rows

__all__ = [
    "F16_MAX", "FORMAT", "LEFT_RIGHT_ML", "MANIFEST", "MASK_ORDERS", "PLANES", "PRECISION_NOTE", "ROW_DTYPE",
    "ROW_FILES", "RUNS_FILE", "SEGMENT_DTYPE", "SEGMENTS_FILE", "VOXELS_FILE", "Layout", "Library",
    "LibraryError", "LibraryWriter", "PackedRows", "annotation_checksum", "pack_rows",
]
