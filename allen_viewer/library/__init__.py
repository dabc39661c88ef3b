"""The whole-genome library: bulk download, a packed store made for search, differential
and correlation search, and the region x gene matrix.

* :mod:`~allen_viewer.library.store`: :class:`Library` (the packed, memory-mapped store under
  ``<cache>/library``), :class:`Layout`, :func:`pack_rows`;
* :mod:`~allen_viewer.library.sync`: :func:`sync` (parallel, resumable download + packing),
  :func:`select_experiments`, :func:`library_status`;
* :mod:`~allen_viewer.library.search`: :func:`differential_search`, :func:`correlation_search`;
* :mod:`~allen_viewer.library.matrix`: :func:`region_gene_matrix` (written by
  :func:`allen_viewer.export.library_tables.write_matrix_csv`);
* :mod:`~allen_viewer.library.remote`: the same searches sent to Allen's services;
* :mod:`~allen_viewer.library.searches`: the searches as specs (form, columns, rows) and their
  use cases (seed choice, local and remote runs), shared by the CLI and the GUI panel.

Computation only: results are returned, and the CLI (``allen_viewer/cli/library.py``) and the
GUI write them through :mod:`allen_viewer.export` (this package never imports export/ or the
CLI).  Import the submodules themselves (this package imports nothing, so that registering
the CLI commands stays cheap).  See ``docs/library.md`` for the store layout, the precision kept and the search rules.
"""
