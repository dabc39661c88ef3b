"""File formats at the bottom of the core: what ``api/``, ``store/``, ``atlas/`` and
``expression/`` all read, so that none of them imports another for a format.

* :mod:`allen_viewer.formats.grid_file`: Allen's expression grid zips (``.mhd`` + ``.raw``
  volumes, (AP, DV, ML) 67 x 41 x 58 at 200 µm, -1 = no data).

numpy and defusedxml only; of allen_viewer it imports only :mod:`allen_viewer.errors`,
:mod:`allen_viewer.sanitize` (to clean zip member names in messages) and the atomic writer
:mod:`allen_viewer.io.atomic`, the bottom package
(tests/test_layering.py::test_formats_imports_only_io_errors_and_sanitize).
"""
