"""What the stepping keys write into the state, Qt-free (``[``/``]``, ``.``/``,``:
:mod:`allen_viewer.gui.shortcuts`).

The keys write the :class:`~allen_viewer.state.ViewerState` and the widgets follow its events
(docs/design.md "The data path"), as a drag of the threshold slider or of a slice pane's
slider does:

* :func:`stepped_threshold` -- the display threshold one step on, within what the threshold
  slider spans: 0 to the shown gene's largest energy among its voxels with data (or the
  threshold itself, when it is above that).  The slider's handler writes the threshold only:
  the rule (``threshold_pinned``, ``threshold_percentile``) stays as it is, and so it does here;
* :func:`stepped_cursor` -- the cursor ``steps`` 25 µm slices on along one axis, within the
  25 µm annotation the slice panes cut (index 0 to ``ANNOTATION_SHAPE[axis] - 1``), the other
  two coordinates unchanged.
"""
from __future__ import annotations

import numpy as np

from allen_viewer.atlas.reference_space import ANNOTATION_SHAPE, ANNOTATION_SPACING_UM


def threshold_range(grid, threshold: float) -> tuple[float, float | None]:
    """(lowest, highest) energy threshold the slider spans for ``grid`` (an
    :class:`~allen_viewer.expression.grid.ExpressionGrid` or None) while the threshold is
    ``threshold``: 0 to the grid's largest energy among its voxels with data, or to
    ``threshold`` when that is higher; None (no upper bound) without a grid with data."""
    if grid is None or not grid.has_data.any():
        return 0.0, None
    top = float(grid.energy[grid.has_data].max())
    return 0.0, max(top, float(threshold))


def stepped_threshold(threshold: float, grid, direction: int, step: float) -> float:
    """``threshold`` moved by ``direction * step`` energy units, clipped to
    :func:`threshold_range`."""
    lo, hi = threshold_range(grid, threshold)
    value = max(float(threshold) + int(direction) * float(step), lo)
    return value if hi is None else min(value, hi)


def stepped_cursor(cursor_um, axis: int, steps: int) -> tuple[float, float, float]:
    """The CCF point (µm, (AP, DV, ML)) ``steps`` 25 µm slices on from ``cursor_um`` along
    ``axis`` (0 AP, 1 DV, 2 ML), at a 25 µm slice and clipped into the annotation; the other
    coordinates as they were."""
    um = [float(v) for v in cursor_um]
    index = int(np.rint(um[axis] / ANNOTATION_SPACING_UM)) + int(steps)
    index = min(max(index, 0), ANNOTATION_SHAPE[axis] - 1)
    um[axis] = float(index * ANNOTATION_SPACING_UM)
    return (um[0], um[1], um[2])
