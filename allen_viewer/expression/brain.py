"""The in-brain mask, the hemisphere convention and the per-gene display threshold.

* **In brain**: a 200 µm grid voxel is in the brain when Allen's ``gridAnnotation`` (the
  label volume published with the expression grids, ``resources/P56_Mouse_gridAnnotation.zip``)
  labels it with a structure (id > 0).  62,529 of the 159,326 grid voxels are.  Allen's grid
  files also carry values outside it (Pdyn 71717084: 38,463 of its 99,019 voxels with data;
  they are tissue edges, meninges and registration spill-over); every count, mean and
  correlation of the viewer uses in-brain voxels only.
* **Hemispheres**: by ML index of the (AP, DV, ML) grid: 0-28 is ``left``, 29-57 is
  ``right`` (CCFv3 +z, increasing ML, points to the animal's right).
* **Threshold**: by default the 3-D view draws the voxels whose energy is at or above the
  :data:`DEFAULT_THRESHOLD_PERCENTILE` th percentile of the gene's own in-brain energies.
"""
from __future__ import annotations

import functools

import numpy as np

from allen_viewer.formats.grid_file import GRID_SHAPE

LEFT_ML_END = 29
"""ML indices ``< LEFT_ML_END`` are the left hemisphere, the others (29-57) the right."""
HEMISPHERES = ("left", "right")
DEFAULT_THRESHOLD_PERCENTILE = 90.0
"""The default 3-D threshold, as a percentile of the gene's in-brain energies.  Chosen
between the 85th and the 90th so that Pdyn's striatum stands clear: at the 85th (energy
5.3) 1,902 isocortex voxels are drawn in front of it, at the 90th (7.1) 672, while 2,935 of
the 6,056 drawn voxels lie in the striatum (measured on the real grid 71717084)."""
FALLBACK_THRESHOLD = 1.0
"""Energy threshold used when a grid has no in-brain energies to take a percentile of."""


@functools.lru_cache(maxsize=1)
def brain_mask() -> np.ndarray:
    """bool (AP, DV, ML) 67 x 41 x 58: True where the bundled 200 µm grid annotation is > 0.

    Read once per process (about 5 ms); the returned array is read-only.
    """
    from allen_viewer import config
    from allen_viewer.atlas.reference_space import read_grid_annotation

    mask = read_grid_annotation(config.resources_dir() / "P56_Mouse_gridAnnotation.zip") > 0
    mask.setflags(write=False)
    return mask


def hemisphere_mask(name: str) -> np.ndarray:
    """bool (AP, DV, ML): the ``left`` (ML 0-28) or ``right`` (ML 29-57) half of the grid."""
    if name not in HEMISPHERES:
        raise ValueError(f"hemisphere must be 'left' or 'right', not {name!r}")
    mask = np.zeros(GRID_SHAPE, bool)
    if name == "left":
        mask[:, :, :LEFT_ML_END] = True
    else:
        mask[:, :, LEFT_ML_END:] = True
    return mask


def hemisphere_of_ml(ml: int) -> str:
    """``left`` for ML index 0-28, ``right`` for 29-57."""
    return "left" if int(ml) < LEFT_ML_END else "right"


def percentile_threshold(grid, percentile: float = DEFAULT_THRESHOLD_PERCENTILE) -> float:
    """The energy at ``percentile`` (0-100) of ``grid``'s in-brain energies (voxels with data).

    :data:`FALLBACK_THRESHOLD` when the grid has no in-brain voxel with data.
    """
    p = float(percentile)
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile must be between 0 and 100, not {percentile!r}")
    values = grid.energy[grid.has_data]
    if values.size == 0:
        return FALLBACK_THRESHOLD
    return float(np.percentile(values.astype(np.float64), p))
