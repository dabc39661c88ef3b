"""The library's defaults and choices that the command-line parser shows.

Standard library only (no numpy): ``allen-viewer --help`` and argument errors import this
module, never the library's working modules (see docs/design.md, "Start-up cost").
:mod:`~allen_viewer.library.search`, :mod:`~allen_viewer.library.sync` and
:mod:`~allen_viewer.library.matrix` take their constants from here.
"""
from __future__ import annotations

MIN_OVERLAP = 50
"""Fewest voxels with data in both grids (within the domain) for a pair to get an r."""
DEFAULT_WORKERS = 4
"""Parallel downloads of ``library sync``."""
COMBINE_RULES = ("prefer-coronal", "mean")
"""How ``matrix`` combines a gene's several experiments (see :mod:`allen_viewer.library.matrix`)."""
