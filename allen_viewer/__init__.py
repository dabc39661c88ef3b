"""allen_viewer: a desktop viewer and toolkit for the Allen Mouse Brain Atlas ISH expression grids.

The package is split into a Qt-free core (``api``, ``store``, ``atlas``, ``expression``,
``export``, ``library``, ``config``, ``cli``) and the Qt views in ``gui``.  Nothing outside
``gui`` imports Qt.

Scripts and notebooks use the functions of :mod:`allen_viewer.scripting` from here
(``import allen_viewer as av; av.load_grid("Pdyn")``); they are imported on first use, so
``import allen_viewer`` stays cheap (no numpy, Qt or VTK).
"""

__version__ = "0.1.0"

ALLEN_CITATION = (
    "Allen Mouse Brain Atlas, mouse.brain-map.org and atlas.brain-map.org. "
    "Lein, E.S. et al. (2007) Genome-wide atlas of gene expression in the adult mouse brain, "
    "Nature 445: 168-176. doi:10.1038/nature05453. "
    "Allen Mouse Common Coordinate Framework (CCFv3): Wang, Q. et al. (2020) Cell 181: 936-953. "
    "(c) 2004 Allen Institute for Brain Science."
)


_SCRIPTING = ("find", "experiment", "load_grid", "in_brain", "export_structures", "export_voxels", "session", "read_session",
              "save_session", "render_image", "render_movie", "sync_library", "correlated_genes",
              "differential_genes", "open_viewer", "atlas_data")
"""The names of :mod:`allen_viewer.scripting` offered at the package top level."""


def __getattr__(name: str):
    # By name, on first use: this package is also the bottom of the layers (``__version__``,
    # ``ALLEN_CITATION``, imported by api/, export/, gui/ ...), so the facade adds no import
    # edge from it to scripting.py, which sits above everything (docs/design.md).
    if name in _SCRIPTING:
        import importlib

        return getattr(importlib.import_module("allen_viewer.scripting"), name)
    raise AttributeError(f"module 'allen_viewer' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SCRIPTING))
