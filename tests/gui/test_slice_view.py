"""Slice panes: orientation, atlas colours, the heat map (no data transparent), highlight,
crosshair and cursor sharing, clicks, slice steps (their time: benchmarks/slices.py)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from allen_viewer import config
from allen_viewer.atlas.reference_space import ANNOTATION_SHAPE, ccf25_to_grid, ccf25_to_um
from allen_viewer.expression.grid import ExpressionGrid, load_grid
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.gui.slice_view import (
    GRID_MAPS,
    OUTLINE_RGB,
    PLANES,
    SliceLayers,
    SlicePanes,
    label_colors,
    nissl_to_gray,
    structure_label_table,
)

pytestmark = pytest.mark.gui

CP, MOB, CB, ISOCORTEX = 672, 507, 512, 315
PDYN = 71717084


@pytest.fixture(scope="module")
def pdyn(gene_index):
    return load_grid(config.resources_dir() / "grids" / f"{PDYN}.zip", gene_index.by_id(PDYN))


@pytest.fixture
def layers(reference_space):
    lay = SliceLayers()
    lay.space = reference_space
    lay.label_rgb = label_colors(reference_space)
    return lay


def _grid_with_one_voxel(experiment, ijk, value=5.0) -> ExpressionGrid:
    energy = np.full(GRID_SHAPE, np.nan, dtype=np.float32)
    has = np.zeros(GRID_SHAPE, dtype=bool)
    energy[ijk] = value
    has[ijk] = True
    return ExpressionGrid(experiment=experiment, energy=energy, has_data=has)


def _structure_pixels(space, plane, index, structure_id):
    table = structure_label_table(space, structure_id)
    return table[plane.take(space.labels25, index)]


# ---- orientation -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["coronal", "sagittal", "horizontal"])
def test_sections_map_volume_axes_to_rows_and_columns(reference_space, name):
    plane = PLANES[name]
    vol = reference_space.labels25
    a, b, c = 250, 120, 150
    index = (a, b, c)[plane.axis]
    sec = plane.take(vol, index)
    assert sec.shape == plane.image_shape
    row, col = (a, b, c)[plane.rows], (a, b, c)[plane.cols]
    assert sec[row, col] == vol[a, b, c]
    assert np.array_equal(plane.point(index, row, col), [a, b, c])


def test_sagittal_pane_has_anterior_left_and_dorsal_up(reference_space):
    plane = PLANES["sagittal"]
    ml = 150  # left hemisphere, through the olfactory bulb and the cerebellum
    mob = _structure_pixels(reference_space, plane, ml, MOB)
    cb = _structure_pixels(reference_space, plane, ml, CB)
    w = plane.image_shape[1]
    assert np.nonzero(mob)[1].mean() < w / 4  # olfactory bulb at the far left
    assert np.nonzero(cb)[1].mean() > w / 2  # cerebellum on the right
    ctx = _structure_pixels(reference_space, plane, ml, ISOCORTEX)
    cp = _structure_pixels(reference_space, plane, ml, CP)
    assert np.nonzero(ctx)[0].mean() < np.nonzero(cp)[0].mean()  # cortex above the striatum


def test_coronal_pane_has_dorsal_up_and_left_hemisphere_left(reference_space):
    plane = PLANES["coronal"]
    ap = 200  # through the striatum
    ctx = _structure_pixels(reference_space, plane, ap, ISOCORTEX)
    cp = _structure_pixels(reference_space, plane, ap, CP)
    assert np.nonzero(ctx)[0].min() < np.nonzero(cp)[0].min()
    assert plane.corners == ("DL", "DR", "VL", "VR")
    # ML index 0 is the animal's left (CCF +ML = right): column 0 is the screen's left
    assert plane.cols == 2 and plane.point(ap, 10, 20)[2] == 20


def test_horizontal_pane_has_anterior_up(reference_space):
    plane = PLANES["horizontal"]
    dv = 120
    mob = _structure_pixels(reference_space, plane, dv, MOB)
    cb = _structure_pixels(reference_space, plane, dv, CB)
    assert np.nonzero(mob)[0].mean() < np.nonzero(cb)[0].mean()
    assert plane.corners == ("AL", "AR", "PL", "PR")


# ---- layers ------------------------------------------------------------------------------

def test_annotation_in_atlas_colours_with_dark_boundaries(layers, reference_space):
    plane = PLANES["coronal"]
    img = layers.render(plane, 200)
    labels = plane.take(reference_space.labels25, 200)
    cp = _structure_pixels(reference_space, plane, 200, CP)
    inner = cp & np.roll(cp, 1, 0) & np.roll(cp, -1, 0) & np.roll(cp, 1, 1) & np.roll(cp, -1, 1)
    assert inner.any()
    colors = img[inner]
    expected = reference_space.ontology.by_id(CP).color
    assert np.all(np.abs(colors.astype(int) - expected) <= 1)
    assert np.all(img[labels == 0] == 0)  # outside the brain: black
    edge = cp & ~inner
    assert img[edge].mean() < img[inner].mean()  # boundaries are darker


def test_heat_map_covers_exactly_the_upsampled_voxel_and_no_data_is_transparent(layers, gene_index):
    plane = PLANES["coronal"]
    exp = gene_index.by_id(PDYN)
    ijk = (25, 18, 20)  # a grid voxel inside the brain
    index = ijk[0] * 8
    empty = ExpressionGrid(exp, np.full(GRID_SHAPE, np.nan, np.float32), np.zeros(GRID_SHAPE, bool))
    layers.set_grid(empty)
    no_data = layers.render(plane, index)
    layers.set_grid(_grid_with_one_voxel(exp, ijk))
    with_voxel = layers.render(plane, index)
    changed = np.any(no_data != with_voxel, axis=2)
    rows = GRID_MAPS[plane.rows] == ijk[1]
    cols = GRID_MAPS[plane.cols] == ijk[2]
    block = rows[:, None] & cols[None, :]
    assert changed.any()
    assert not changed[~block].any()  # nothing outside the voxel's 25 µm block changed
    labels = plane.take(layers.space.labels25, index)
    assert changed[block & (labels > 0)].all()  # the whole block inside the brain is coloured
    # the block is the grid voxel's footprint: ~8 pixels per axis, centred on 8 i
    assert 7 <= rows.sum() <= 9 and 7 <= cols.sum() <= 9
    assert np.nonzero(rows)[0].min() <= 8 * ijk[1] <= np.nonzero(rows)[0].max()
    assert all(ccf25_to_grid((index, r, 0))[1] == ijk[1] for r in np.nonzero(rows)[0])
    # a slice that maps to another grid plane shows no heat map
    assert np.array_equal(layers.render(plane, index + 8), _render_empty(layers, empty, plane, index + 8))


def _render_empty(layers, empty, plane, index):
    grid = layers.grid
    layers.set_grid(empty)
    try:
        return layers.render(plane, index)
    finally:
        layers.set_grid(grid)


def test_real_grid_overlay_differs_only_where_there_is_data(layers, pdyn):
    plane = PLANES["sagittal"]
    index = 150
    layers.set_grid(pdyn)
    img = layers.render(plane, index)
    empty = ExpressionGrid(pdyn.experiment, np.full(GRID_SHAPE, np.nan, np.float32), np.zeros(GRID_SHAPE, bool))
    base = _render_empty(layers, empty, plane, index)
    has = plane.take(pdyn.has_data, GRID_MAPS[plane.axis][index])
    has_px = has[np.ix_(GRID_MAPS[plane.rows], GRID_MAPS[plane.cols])]
    changed = np.any(img != base, axis=2)
    assert changed.any()
    assert not changed[~has_px].any()
    assert layers.vmax == pytest.approx(float(np.percentile(pdyn.energy[pdyn.has_data], 99)))


def test_highlight_outlines_the_structure_without_a_fill(layers, reference_space):
    plane = PLANES["coronal"]
    plain = layers.render(plane, 200)
    layers.highlight_table = structure_label_table(reference_space, CP)
    lit = layers.render(plane, 200)
    cp = _structure_pixels(reference_space, plane, 200, CP)
    outline = np.all(lit == OUTLINE_RGB, axis=2)
    assert outline.any()
    grown = cp | np.roll(cp, 1, 0) | np.roll(cp, -1, 0) | np.roll(cp, 1, 1) | np.roll(cp, -1, 1)
    assert not (outline & ~grown).any()  # the outline hugs the structure
    inside = cp & ~outline
    assert np.array_equal(lit[inside], plain[inside])  # outline only: no fill over the expression (#21)
    far = ~grown
    assert np.array_equal(lit[far], plain[far])


def test_nissl_background_and_grey_scaling(layers, reference_space):
    brain = reference_space.brain_mask25
    flat = brain.astype(np.float32) * 1000.0 + 5.0  # degenerate: one value inside the brain
    gray = nissl_to_gray(flat, brain)
    assert gray.dtype == np.uint8 and gray.shape == ANNOTATION_SHAPE
    assert gray[brain].min() == 255 and gray[~brain].max() == 0
    ramp = (np.arange(ANNOTATION_SHAPE[0], dtype=np.float32)[:, None, None] * brain)  # AP ramp
    gray = nissl_to_gray(ramp, brain)
    assert gray[brain].max() == 255 and gray[~brain].max() == 0
    assert gray[400, :, :][brain[400]].mean() > gray[100, :, :][brain[100]].mean()
    layers.nissl = nissl_to_gray(flat, brain)
    layers.background = "nissl"
    img = layers.render(PLANES["coronal"], 200)
    assert np.array_equal(img[..., 0], img[..., 1])  # grey
    assert set(np.unique(img)) <= {0, 255}


# ---- widgets -----------------------------------------------------------------------------

@pytest.fixture
def panes(qtbot, reference_space):
    w = SlicePanes()
    qtbot.addWidget(w)
    w.set_reference_space(reference_space)
    w.resize(1300, 420)
    w.show()
    qtbot.waitExposed(w)
    w.fit_pane_widths()
    return w


def test_slider_moves_the_cursor_and_the_other_crosshairs_follow(qtbot, panes):
    cor, sag, hor = (panes.panes[n] for n in ("coronal", "sagittal", "horizontal"))
    with qtbot.waitSignal(panes.cursorMoved, timeout=1000) as blocker:
        cor.slider.setValue(300)
    assert blocker.args[0][0] == pytest.approx(ccf25_to_um(300))
    assert cor.slice_index == 300
    # AP runs along the sagittal columns and the horizontal rows
    assert sag.canvas.crosshair[1] == 300
    assert hor.canvas.crosshair[0] == 300
    assert sag.slice_index == panes.cursor_index()[2] and hor.slice_index == panes.cursor_index()[1]


def test_click_moves_every_pane_to_the_point(qtbot, panes):
    sag = panes.panes["sagittal"]
    canvas = sag.canvas
    target_row, target_col = 150, 200  # DV, AP in the sagittal image
    pos = canvas.to_widget(target_row, target_col)
    with qtbot.waitSignal(panes.pointClicked, timeout=1000) as blocker:
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(pos.x()), round(pos.y())))
    um = blocker.args[0]
    idx = panes.cursor_index()
    assert abs(idx[0] - target_col) <= 1 and abs(idx[1] - target_row) <= 1
    assert idx[2] == sag.slice_index
    assert np.allclose(um, ccf25_to_um(idx))
    assert panes.panes["coronal"].slice_index == idx[0]
    assert panes.panes["horizontal"].slice_index == idx[1]


def test_hover_reports_points_and_leaving(qtbot, panes):
    got = []
    panes.pointHovered.connect(got.append)
    canvas = panes.panes["coronal"].canvas
    pos = canvas.to_widget(100, 120)
    qtbot.mouseMove(canvas, QPoint(round(pos.x()), round(pos.y())))
    qtbot.waitUntil(lambda: any(g is not None for g in got), timeout=1000)
    um = [g for g in got if g is not None][-1]
    assert abs(um[1] - ccf25_to_um(100)) <= 25 and abs(um[2] - ccf25_to_um(120)) <= 25
    assert um[0] == ccf25_to_um(panes.panes["coronal"].slice_index)


def test_wheel_and_keys_step_slices(qtbot, panes):
    pane = panes.panes["horizontal"]
    start = pane.slice_index
    pane.canvas.setFocus()
    qtbot.keyClick(pane.canvas, Qt.Key.Key_Up)
    assert pane.slice_index == start + 1
    qtbot.keyClick(pane.canvas, Qt.Key.Key_PageDown)
    assert pane.slice_index == start - 9
    assert panes.cursor_index()[1] == start - 9


def test_set_cursor_um_moves_all_panes(panes):
    panes.set_cursor_um([5000.0, 4000.0, 3000.0])
    assert np.array_equal(panes.cursor_index(), [200, 160, 120])
    assert [panes.panes[n].slice_index for n in ("coronal", "sagittal", "horizontal")] == [200, 120, 160]
    panes.set_cursor_um([-100.0, 1e6, 3000.0])  # clipped into the volume
    assert np.array_equal(panes.cursor_index(), [0, ANNOTATION_SHAPE[1] - 1, 120])


def test_panes_render_only_when_something_changed(qtbot, panes, pdyn):
    pane = panes.panes["coronal"]
    pane.image()
    n = pane.render_count
    pane.image()
    pane.set_crosshair(np.array([10.0, 10.0, 10.0]))
    pane.image()
    assert pane.render_count == n
    panes.set_grid(pdyn)
    pane.image()
    assert pane.render_count == n + 1
    panes.set_highlight(CP)
    assert panes.layers.highlight_table is not None
    pane.image()
    assert pane.render_count == n + 2
    panes.set_cmap("magma")
    pane.image()
    assert pane.render_count == n + 3


def test_slice_steps_render_a_new_section_each_time(qtbot, panes, pdyn):
    """Stepping a slider re-renders that pane's section (its time: benchmarks/slices.py)."""
    panes.set_grid(pdyn)
    panes.set_highlight(CP)
    # repaint() paints only an exposed window: put the panes above any window an earlier module
    # of this worker left on the screen (one covering them made this fail now and then, with no
    # paint at all, under the parallel suite)
    panes.raise_()
    qtbot.waitExposed(panes)
    for name, pane in panes.panes.items():
        start = pane.slice_index
        pane.slider.setValue(start + 1)
        pane.canvas.repaint()
        before = pane.render_count
        for step in range(2, 6):
            pane.slider.setValue(start + step)
            pane.canvas.repaint()
        assert pane.slice_index == start + 5, name
        assert pane.render_count == before + 4, name


def test_zero_energy_is_transparent_and_the_heat_map_can_follow_the_threshold(layers, gene_index):
    """Energy 0 looks like no data (the atlas shows), never like weak expression; with
    ``min_energy`` (the 3-D threshold) only voxels at or above it are coloured."""
    plane = PLANES["coronal"]
    exp = gene_index.by_id(PDYN)
    ijk = (25, 18, 20)
    index = ijk[0] * 8
    empty = ExpressionGrid(exp, np.full(GRID_SHAPE, np.nan, np.float32), np.zeros(GRID_SHAPE, bool))
    layers.set_grid(empty)
    no_data = layers.render(plane, index)
    layers.set_grid(_grid_with_one_voxel(exp, ijk, value=0.0))
    assert np.array_equal(layers.render(plane, index), no_data)
    layers.set_grid(_grid_with_one_voxel(exp, ijk, value=0.2))
    assert not np.array_equal(layers.render(plane, index), no_data)  # low but not zero: coloured
    layers.min_energy = 1.0
    assert np.array_equal(layers.render(plane, index), no_data)
    layers.min_energy = 0.1
    assert not np.array_equal(layers.render(plane, index), no_data)


def test_outline_colour_is_in_no_colour_map():
    from allen_viewer.state import CMAPS
    from allen_viewer.gui.slice_view import OUTLINE_RGB, colormap_lut

    for name in CMAPS:
        lut = colormap_lut(name).astype(int)
        assert np.abs(lut - OUTLINE_RGB.astype(int)).sum(axis=1).min() > 150, name


# ---- spatial-correlation r map (issue 12) ---------------------------------------------------

def _pane_pixels(pane) -> np.ndarray:
    """The pane's QImage (as painted) as an (H, W, 3) uint8 array."""
    img = pane.image()
    h, w = img.height(), img.width()
    raw = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h)
    return raw.reshape(h, img.bytesPerLine())[:, : 3 * w].reshape(h, w, 3).copy()


def test_r_map_replaces_the_heat_map_in_the_panes_and_goes_away_again(qtbot, panes, pdyn):
    from allen_viewer.gui.slice_view import RMAP_ALPHA
    from allen_viewer.gui.spatial_dock import diverging_rgb

    panes.set_grid(pdyn)
    pane = panes.panes["coronal"]
    pos, neg = (25, 18, 20), (25, 18, 40)  # two in-brain grid voxels of one coronal plane
    panes.set_cursor_um(ccf25_to_um(np.array([8 * pos[0], 8 * pos[1], 8 * pos[2]])))
    gene = _pane_pixels(pane)
    rmap = np.full(GRID_SHAPE, np.nan, np.float32)
    rmap[pos], rmap[neg] = 1.0, -1.0
    panes.set_rmap(rmap, pos)
    shown = _pane_pixels(pane)
    assert "r with seed at AP 5.0, DV 3.6, ML 4.0 mm" in panes.legend.text()[0]
    # the same section without any heat map: the atlas as it is dimmed under a gene
    empty = ExpressionGrid(pdyn.experiment, np.full(GRID_SHAPE, np.nan, np.float32), np.zeros(GRID_SHAPE, bool))
    layers = panes.layers
    keep = layers.rmap
    layers.rmap = None
    atlas = _render_empty(layers, empty, pane.plane, pane.slice_index)
    layers.rmap = keep
    labels = pane.plane.take(layers.space.labels25, pane.slice_index)
    a = int(round(256 * RMAP_ALPHA))
    for ijk, r in ((pos, 1.0), (neg, -1.0)):
        row, col = 8 * ijk[1], 8 * ijk[2]
        assert labels[row, col] > 0
        want = (atlas[row, col].astype(int) * (256 - a) + diverging_rgb(np.array(r)).astype(int) * a) >> 8
        assert shown[row, col].tolist() == want.tolist()
    assert shown[8 * pos[1], 8 * pos[2], 0] > shown[8 * pos[1], 8 * pos[2], 2]  # +1 red
    assert shown[8 * neg[1], 8 * neg[2], 2] > shown[8 * neg[1], 8 * neg[2], 0]  # -1 blue
    # no result: transparent, and the gene's heat map is gone (it differed from the atlas)
    block = np.zeros(labels.shape, bool)
    for ijk in (pos, neg):
        block |= (GRID_MAPS[1] == ijk[1])[:, None] & (GRID_MAPS[2] == ijk[2])[None, :]
    assert np.array_equal(shown[~block], atlas[~block])
    assert np.any(gene[~block] != atlas[~block])
    # hiding it brings the gene's heat map back, pixel for pixel
    panes.set_rmap(None)
    assert np.array_equal(_pane_pixels(pane), gene)
    assert "Pdyn" in panes.legend.text()[0] or "expression energy" in panes.legend.text()[0]
    with pytest.raises(ValueError):
        panes.set_rmap(np.zeros((3, 3, 3), np.float32))
