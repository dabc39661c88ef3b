"""The bottom of the package: file-system primitives every other layer writes through.

* :mod:`allen_viewer.io.atomic`: the one atomic writer (temporary sibling, fsync, rename;
  never over a non-regular file).
* :mod:`allen_viewer.io.guard`: the output guard: a user-given output path checked before
  any work (special files and links refused, ``--force`` rules, the folder, the name's
  length, files the command reads), the output's lock, and one line for a file-system
  error met while writing (:func:`~allen_viewer.io.guard.write_error`).
* :mod:`allen_viewer.io.sidecars`: how sidecars are named (``FILE.EXT.json``, the older
  ``STEM.json``) and whether a file at that name is one of ours.

Standard library only; of allen_viewer it imports :mod:`allen_viewer.errors` and
:mod:`allen_viewer.sanitize` and nothing else, so ``api/``, ``formats/``, ``store/``,
``atlas/``, ``export/``, ``library/`` and the rest use it without an upward edge
(``tests/test_layering.py``; docs/design.md, "Layers and nevers").
"""
