"""Two genes on one slice, in two colours (the compare view's slice panes; Qt-free).

:class:`TwoGeneSliceLayers` is a :class:`~allen_viewer.render.slice_images.SliceLayers`
whose heat map shows gene A in green and gene B in magenta, added, so voxels where both
express are white.  Each gene's energy is scaled to its saturation value
(:func:`energy_vmax`: the 99th percentile of its energies with data; shared: the larger of
the two for both).  Arrays are (AP, DV, ML); the slices are the 25 µm annotation's.
"""
from __future__ import annotations

import numpy as np

from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.render.slice_images import ENERGY_MAX_PERCENTILE, GRID_MAPS, OVERLAY_ALPHA, Plane, SliceLayers

COLOR_A = np.array([0, 255, 0], dtype=np.float32)
"""Gene A's colour in the slice overlay (green)."""
COLOR_B = np.array([255, 0, 255], dtype=np.float32)
"""Gene B's colour in the slice overlay (magenta); A + B at full energy is white."""


def energy_vmax(grid: ExpressionGrid) -> float:
    """The energy at which a grid's colours saturate: the 99th percentile over its voxels
    with data (as the single-gene views; 1.0 when there are none)."""
    has = np.asarray(grid.has_data, dtype=bool)
    if not has.any():
        return 1.0
    vals = grid.energy[has]
    top = float(np.percentile(vals, ENERGY_MAX_PERCENTILE))
    return top if top > 0 else (float(vals.max()) if vals.max() > 0 else 1.0)


class TwoGeneSliceLayers(SliceLayers):
    """:class:`SliceLayers` whose heat map shows two grids at once: A green, B magenta.

    Per 200 µm grid voxel, each gene's level is ``clip(energy / vmax, 0, 1)`` (0 where it
    has no data); the colour is ``level_a * green + level_b * magenta`` and the opacity
    follows the larger level (as the single-gene overlay), 0 where neither has data.
    """

    def __init__(self) -> None:
        super().__init__()
        self.grid_b: ExpressionGrid | None = None
        self.vmax_b = 1.0

    def set_grids(self, a: ExpressionGrid | None, b: ExpressionGrid | None, shared: bool = True) -> None:
        self.grid, self.grid_b = a, b
        self.vmax = energy_vmax(a) if a is not None else 1.0
        self.vmax_b = energy_vmax(b) if b is not None else 1.0
        if shared:
            self.vmax = self.vmax_b = max(self.vmax, self.vmax_b)

    def levels(self, plane: Plane, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(level_a, level_b, either_has_data) on the grid section under 25 µm slice ``index``."""
        g_index = GRID_MAPS[plane.axis][index]
        out = []
        has_any = None
        for grid, vmax in ((self.grid, self.vmax), (self.grid_b, self.vmax_b)):
            if grid is None:
                out.append(None)
                continue
            e = plane.take(grid.energy, g_index)
            h = plane.take(grid.has_data, g_index)
            level = np.zeros(e.shape, np.float32)
            level[h] = np.clip(e[h] / vmax, 0.0, 1.0)
            out.append(level)
            has_any = h if has_any is None else (has_any | h)
        shape = next(x.shape for x in out if x is not None)
        la = out[0] if out[0] is not None else np.zeros(shape, np.float32)
        lb = out[1] if out[1] is not None else np.zeros(shape, np.float32)
        return la, lb, has_any

    def _overlay(self, rgb: np.ndarray, plane: Plane, index: int, brain: np.ndarray) -> np.ndarray:
        la, lb, has = self.levels(plane, index)
        if not has.any():
            return rgb
        color = np.clip(la[:, :, None] * COLOR_A + lb[:, :, None] * COLOR_B, 0, 255)
        lo, hi = OVERLAY_ALPHA
        alpha = np.where(has, lo + (hi - lo) * np.maximum(la, lb), 0.0).astype(np.float32)
        rows, cols = GRID_MAPS[plane.rows], GRID_MAPS[plane.cols]
        color = color.take(rows, axis=0).take(cols, axis=1)
        alpha = (alpha.take(rows, axis=0).take(cols, axis=1) * brain)[:, :, None]
        out = rgb.astype(np.float32) * (1.0 - alpha) + color * alpha
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)
