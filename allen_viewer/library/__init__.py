"""The whole-genome library: bulk download, a packed store made for search, differential
and correlation search, and the region x gene matrix.

* :mod:`~allen_viewer.library.store`: :class:`Library` (the packed, memory-mapped store under
  ``<cache>/library``), :class:`Layout`, :func:`pack_rows`;
* :mod:`~allen_viewer.library.sync`: :func:`sync` (parallel, resumable download + packing),
  :func:`select_experiments`, :func:`library_status`;
* :mod:`~allen_viewer.library.search`: :func:`differential_search`, :func:`correlation_search`;
* :mod:`~allen_viewer.library.matrix`: :func:`region_gene_matrix`, :func:`write_matrix_csv`;
* :mod:`~allen_viewer.library.remote`: the same searches sent to Allen's services;
* :mod:`~allen_viewer.library.commands`: the CLI commands (:func:`add_library_commands`).

See ``docs/library.md`` for the store layout, the precision kept and the search rules.
"""
from allen_viewer.library.matrix import COMBINE_RULES, RegionGeneMatrix, region_gene_matrix, write_matrix_csv
from allen_viewer.library.search import (
    MIN_OVERLAP,
    CorrelationHit,
    DifferentialHit,
    correlation_search,
    differential_search,
)
from allen_viewer.library.store import Layout, Library, LibraryError, pack_rows
from allen_viewer.library.sync import DEFAULT_WORKERS, SyncReport, library_status, select_experiments, sync

__all__ = [
    "COMBINE_RULES", "DEFAULT_WORKERS", "MIN_OVERLAP", "CorrelationHit", "DifferentialHit", "Layout", "Library",
    "LibraryError", "RegionGeneMatrix", "SyncReport", "correlation_search", "differential_search", "library_status",
    "pack_rows", "region_gene_matrix", "select_experiments", "sync", "write_matrix_csv",
]
