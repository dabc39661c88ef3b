"""Slices that keep the anatomy readable (issue 21): the heat map's opacity ramps from the
threshold (transparent there), and a selected structure is outlined, never filled.  Expected
values from numpy on the embedded Pdyn grid and the annotation."""
from __future__ import annotations

import numpy as np

from allen_viewer.render.slice_images import (
    GRID_MAPS,
    OUTLINE_RGB,
    OVERLAY_ALPHA,
    PLANES,
    SliceLayers,
    slice_layers_for,
    structure_label_table,
)

CP = 672


def _layers(reference_space, grid, min_energy=None) -> SliceLayers:
    return slice_layers_for(reference_space, grid, "viridis", min_energy)


def test_the_heat_map_is_transparent_at_the_threshold_and_ramps_up(reference_space, pdyn):
    plane, index = PLANES["coronal"], 200
    threshold = float(np.percentile(pdyn.energy[pdyn.has_data], 90))
    atlas = _layers(reference_space, pdyn, 1e9).render(plane, index)  # dimmed atlas, no heat map
    layers = _layers(reference_space, pdyn, threshold)
    img = layers.render(plane, index)
    g = GRID_MAPS[plane.axis][index]
    energy = plane.take(pdyn.energy, g)
    has = plane.take(pdyn.has_data, g)
    rows, cols = GRID_MAPS[plane.rows], GRID_MAPS[plane.cols]
    e_px = energy.take(rows, axis=0).take(cols, axis=1)
    has_px = has.take(rows, axis=0).take(cols, axis=1) & (plane.take(reference_space.labels25, index) > 0)
    assert OVERLAY_ALPHA[0] == 0.0
    changed = np.any(img != atlas, axis=2)
    with np.errstate(invalid="ignore"):
        below = has_px & (e_px < threshold)
        strong = has_px & (e_px >= layers.vmax)
    assert below.any() and strong.any()
    assert not changed[below].any()  # below the threshold: the atlas as it is
    # at the top: opacity 0.9 of the colour map's top colour over the atlas
    top = layers.cmap[255].astype(np.float64)
    expected = (atlas[strong].astype(np.float64) * (256 - int(256 * 0.9)) + top * int(256 * 0.9)) / 256
    assert np.abs(img[strong].astype(np.float64) - expected).max() <= 1.0
    # weakly above the threshold: closer to the atlas than to the colour (mostly transparent)
    with np.errstate(invalid="ignore"):
        weak = has_px & (e_px > threshold) & (e_px < threshold + 0.1 * (layers.vmax - threshold))
    if weak.any():
        diff = np.abs(img[weak].astype(int) - atlas[weak].astype(int)).mean()
        assert diff < 30


def test_a_selected_structure_is_outlined_not_filled(reference_space, pdyn):
    plane, index = PLANES["coronal"], 200
    layers = _layers(reference_space, pdyn, 5.0)
    plain = layers.render(plane, index)
    layers.highlight_table = structure_label_table(reference_space, CP)
    lit = layers.render(plane, index)
    outline = np.all(lit == OUTLINE_RGB, axis=2)
    assert outline.sum() > 50
    assert np.array_equal(lit[~outline], plain[~outline])  # the expression inside CP unchanged
