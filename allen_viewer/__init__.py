"""allen_viewer: a desktop viewer and toolkit for the Allen Mouse Brain Atlas ISH expression grids.

The package is split into a Qt-free core (``api``, ``store``, ``atlas``, ``expression``,
``export``, ``library``, ``config``, ``cli``) and the Qt views in ``gui``.  Nothing outside
``gui`` imports Qt.
"""

__version__ = "0.1.0"

ALLEN_CITATION = (
    "Allen Mouse Brain Atlas, mouse.brain-map.org and atlas.brain-map.org. "
    "Lein, E.S. et al. (2007) Genome-wide atlas of gene expression in the adult mouse brain, "
    "Nature 445: 168-176. doi:10.1038/nature05453. "
    "Allen Mouse Common Coordinate Framework (CCFv3): Wang, Q. et al. (2020) Cell 181: 936-953. "
    "(c) 2004 Allen Institute for Brain Science."
)
