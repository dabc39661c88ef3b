"""Compare mode: Pdyn and Nrp1 side by side, linked cameras, the correlation, the difference view.

One window serves the module (render windows are slow to make on software OpenGL); both
grids are embedded, so no server is needed.  The tests run in file order; the first opens
compare mode and each later one checks it is still open.
"""
from __future__ import annotations

from pathlib import Path

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication, QDialog

from allen_viewer.atlas.reference_space import um_to_grid
from allen_viewer.expression.compare import both_have_data, correlation, difference
from allen_viewer.gui.compare_view import GenePickerDialog
from allen_viewer.render.two_gene_slices import COLOR_A
from allen_viewer.gui.slice_view import PLANES

pytestmark = [pytest.mark.gui, pytest.mark.window(network="closed", size=(1600, 1000))]

PDYN, NRP1 = 71717084, 74272479
CP = 672
CLOSED = "http://127.0.0.1:9"


def _pose(scene):
    cam = scene.plotter.camera
    return np.array([*cam.GetPosition(), *cam.GetFocalPoint(), *cam.GetViewUp()])


def _comparing(window):
    assert window.compare.is_comparing and window.grid.id == PDYN and window.compare_grid.id == NRP1
    return window.compare_view


def test_open_compare_mode_with_pdyn_and_nrp1(qtbot, window):
    with qtbot.waitSignal(window.gridLoaded, timeout=20_000):
        window.request_gene("Pdyn")
    assert not window.compare.is_comparing
    with qtbot.waitSignal(window.compareReady, timeout=20_000) as blocker:
        window.compare.compare_with("Nrp1")
    a, b = blocker.args
    assert (a.id, b.id) == (PDYN, NRP1)
    view = _comparing(window)
    assert window.stack.currentWidget() is view and window.compare_mode_action.isChecked()
    assert "Pdyn" in window.windowTitle() and "vs Nrp1" in window.windowTitle()
    assert [c.text().split(" (")[0] for c in view.captions[:2]] == ["A: Pdyn", "B: Nrp1"]
    assert "only where both have data" in view.captions[2].text()
    # each gene's view draws that gene's voxels with data at its threshold: A's from the
    # controls, B's the same percentile of B's own in-brain energies
    from allen_viewer.expression.brain import percentile_threshold

    threshold = window.controls.values()["threshold"]
    pct = 100.0 * float((a.energy[a.has_data] < threshold).mean())
    for scene, grid, cut in ((view.scene_a, a, threshold), (view.scene_b, b, percentile_threshold(b, pct))):
        idx = np.asarray(scene.expression_points["grid_index"])
        assert scene.display_settings.threshold == pytest.approx(cut)
        with np.errstate(invalid="ignore"):
            assert len(idx) == int((grid.has_data & (grid.energy >= cut)).sum()) > 1000
        # coloured by each gene's percentile rank among its own in-brain voxels (the default)
        from allen_viewer.expression.compare import scaled_energy

        np.testing.assert_array_equal(np.asarray(scene.expression_points["color_value"]),
                                      scaled_energy(grid, "percentile").ravel()[idx])
    assert [c.text().split(" \u2014")[0] for c in view.captions] == [
        "A: Pdyn (percentile rank)", "B: Nrp1 (percentile rank)", "A - B (rank difference)"]
    assert window.state.compare_options.normalise == "rank"
    # shared scale by default: one colour range for both; separate: each its own
    assert view.scale == "shared" and "shared scale" in view.scene_a.color_bar_title
    assert view.scene_a.color_range == view.scene_b.color_range
    view.set_scale("separate")
    assert view.scene_a.color_range != view.scene_b.color_range
    assert view.scene_a.color_bar_title == "percentile rank"
    assert view.slices.layers.vmax != view.slices.layers.vmax_b
    assert window.state.compare_options.scale == "separate"
    view.norm_box.setCurrentIndex(view.norm_box.findData("raw"))  # raw energy, as before version 4
    assert window.state.compare_options.normalise == "raw"
    assert view.scene_a.color_bar_title == "expression energy (a.u.)"
    view.set_scale("shared")
    assert view.slices.layers.vmax == view.slices.layers.vmax_b == view.scene_a.color_range[1]
    window.state.compare_options.normalise = "rank"  # the state drives the view too
    assert view.norm_box.currentData() == "percentile" and view.scene_a.color_range[1] == 1.0


def test_moving_one_camera_moves_the_others(qtbot, window):
    view = _comparing(window)
    a, b, d = view.scene_a, view.scene_b, view.scene_diff
    before = _pose(a)
    renders = view.link.renders
    # a left-button drag across the middle view, as the mouse does it
    widget = b.plotter
    centre = QPointF(widget.width() / 2, widget.height() / 2)

    def send(kind, pos, buttons):
        event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), Qt.MouseButton.LeftButton, buttons,
                            Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(widget, event)

    send(QEvent.Type.MouseButtonPress, centre, Qt.MouseButton.LeftButton)
    for step in range(1, 6):
        send(QEvent.Type.MouseMove, centre + QPointF(15 * step, 4 * step), Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, centre + QPointF(75, 20), Qt.MouseButton.NoButton)
    assert not np.allclose(_pose(b), before, atol=1.0)  # the drag turned the middle view
    np.testing.assert_allclose(_pose(a), _pose(b), atol=1e-6)
    np.testing.assert_allclose(_pose(d), _pose(b), atol=1e-6)
    qtbot.waitUntil(lambda: view.link.renders >= renders + 2, timeout=3000)  # the others drew the new pose

    # zooming the difference view zooms the others
    d.plotter.camera.Zoom(1.3)
    np.testing.assert_allclose(_pose(a), _pose(d), atol=1e-6)
    assert a.plotter.camera.GetViewAngle() == pytest.approx(d.plotter.camera.GetViewAngle())

    # the window's camera buttons act on all three in compare mode
    window.camera_buttons["dorsal"].click()
    for scene in (a, b, d):
        np.testing.assert_allclose(scene.plotter.camera.GetDirectionOfProjection(), (0, 1, 0), atol=1e-6)
        np.testing.assert_allclose(scene.plotter.camera.GetViewUp(), (-1, 0, 0), atol=1e-6)


def test_the_correlation_shown_is_the_cores(qtbot, window, reference_space):
    view = _comparing(window)
    a, b = window.grid, window.compare_grid
    r = correlation(a, b)
    assert not math.isnan(r)
    assert view.whole_brain_r == r
    assert view.whole_brain_n == int(both_have_data(a, b).sum())
    text = view.correlation_text
    assert f"whole brain r = {r:.4f}" in text and "r = 0.0102" in text and f"n = {view.whole_brain_n:,}" in text
    window.surfaces.select_structure(CP)
    qtbot.waitUntil(lambda: view.structure is not None and view.structure.id == CP, timeout=3000)
    mask = reference_space.grid_mask(CP)
    r_cp = correlation(a, b, mask)
    assert view.structure_r == r_cp and not math.isnan(r_cp) and r_cp != r
    assert view.structure_n == int((both_have_data(a, b) & mask).sum()) > 10
    assert f"CP (Caudoputamen): r = {r_cp:.4f}" in view.correlation_text
    # the selected structure is highlighted in the compare slices too
    assert view.slices.layers.highlight_id == CP


def test_the_difference_view_shows_only_voxels_where_both_have_data(window):
    view = _comparing(window)
    a, b = window.grid, window.compare_grid
    both = both_have_data(a, b)
    threshold = window.controls.values()["threshold"]
    with np.errstate(invalid="ignore"):
        expressed = np.fmax(a.energy, b.energy) >= threshold
    # non-vacuous: some expressed voxels have data in only one of the two experiments
    assert (a.has_data ^ b.has_data).sum() > 100 and (expressed & (a.has_data ^ b.has_data)).any()

    from allen_viewer.expression.compare import LOG2_PSEUDOCOUNT
    from allen_viewer.render.layers import DEFAULT_MIN_ABS_FRACTION

    view.norm_box.setCurrentIndex(view.norm_box.findData("raw"))  # raw energy first (ranks are the default)

    def drawn_as_expected(values, cut_by_energy=True):
        pts = view.difference_points()
        idx = np.asarray(pts["grid_index"])
        assert both.ravel()[idx].all()
        lo, hi = view.scene_diff.color_range
        assert lo == -hi and hi > 0
        keep = both & np.isfinite(values) & (expressed if cut_by_energy else True)
        with np.errstate(invalid="ignore"):
            keep &= np.abs(values) >= DEFAULT_MIN_ABS_FRACTION * hi  # the near-zero bulk is hidden
        assert len(idx) == int(keep.sum()) > 100
        np.testing.assert_allclose(np.asarray(pts["color_value"]), np.clip(values.ravel()[idx], lo, hi),
                                   rtol=1e-5, atol=1e-6)

    view.set_kind("difference")
    drawn_as_expected(difference(a, b, "difference"))
    assert view.scene_diff.color_bar_title.startswith("energy difference (a.u.)")

    view.set_kind("ratio")  # log2 with the stated pseudocount: defined wherever both have data
    c = LOG2_PSEUDOCOUNT["raw"]
    with np.errstate(invalid="ignore"):
        drawn_as_expected(np.log2((a.energy + c) / (b.energy + c)).astype(np.float32) + np.where(both, 0, np.nan))
    assert "log2" in view.scene_diff.color_bar_title and "c = 0.1" in view.scene_diff.color_bar_title
    assert "log2" in view.captions[2].text()

    # normalised: each gene's percentile rank among its own in-brain energies, no energy cut
    view.norm_box.setCurrentIndex(view.norm_box.findData("percentile"))
    view.set_kind("difference")
    ranks = []
    for g in (a, b):
        r = np.full(g.energy.shape, np.nan)
        e = g.energy[g.has_data].astype(np.float64)
        order = np.sort(e)
        r[g.has_data] = ((np.searchsorted(order, e, "left") + np.searchsorted(order, e, "right") - 1) / 2
                         / (e.size - 1))
        ranks.append(r)
    drawn_as_expected((ranks[0] - ranks[1]).astype(np.float32), cut_by_energy=False)
    assert view.scene_diff.color_bar_title.startswith("rank difference")
    view.norm_box.setCurrentIndex(view.norm_box.findData("raw"))


def test_slices_overlay_both_genes_in_two_colours(qtbot, window, reference_space):
    view = _comparing(window)
    a, b = window.grid, window.compare_grid
    layers = view.slices.layers
    assert layers.grid is a and layers.grid_b is b
    # a grid voxel with strong Pdyn and no Nrp1 signal shows green in the coronal pane
    with np.errstate(invalid="ignore"):
        only_a = a.has_data & b.has_data & (a.energy > layers.vmax) & (b.energy < 0.05 * layers.vmax_b) \
            & (reference_space.grid_annotation > 0)
    i, j, k = np.argwhere(only_a)[len(np.argwhere(only_a)) // 2]
    window.set_cursor_um(np.array([i, j, k]) * 200.0, select=False)
    pane = view.slices.panes["coronal"]
    rgb = view.slices.layers.render(PLANES["coronal"], pane.slice_index)
    row, col = int(view.slices.cursor_index()[1]), int(view.slices.cursor_index()[2])
    assert tuple(um_to_grid(view.slices.cursor_um())) == (i, j, k)
    r, g, bl = (int(v) for v in rgb[row, col])
    assert g > 150 and g > r + 80 and g > bl + 80, (r, g, bl)
    assert COLOR_A[1] == 255
    legend = view.slices.legend.text()
    assert "Pdyn (green" in legend and "Nrp1 (magenta" in legend
    # hovering names both genes' values
    text = window.describe_point(np.array([i, j, k]) * 200.0)
    assert f"Pdyn {a.energy[i, j, k]:.3g}" in text and "Nrp1" in text and "difference" in text


def test_comparison_table_export_from_compare_mode(qtbot, window, tmp_path):
    view = _comparing(window)
    exports = window.exports
    out = tmp_path / "pdyn_vs_nrp1.csv"
    exports.ask_save_path = lambda *args: out
    with qtbot.waitSignal(exports.exportFinished, timeout=30_000):
        exports.actions["comparison"].trigger()
    assert out.read_text().splitlines()[0].startswith("structure_id,acronym")
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["whole_brain_r"] == pytest.approx(view.whole_brain_r)
    assert [e["experiment_id"] for e in side["experiments"]] == [PDYN, NRP1]


def test_swap_and_leave_compare_mode(qtbot, window):
    view = _comparing(window)
    r = view.whole_brain_r
    with qtbot.waitSignal(window.compareReady, timeout=5000):
        view.swap_button.click()
    assert window.grid.id == NRP1 and window.compare_grid.id == PDYN and window.compare.is_comparing
    assert view.captions[0].text().startswith("A: Nrp1") and view.whole_brain_r == pytest.approx(r)
    assert window.section_dock.panel.experiment.id == NRP1  # the Section dock follows gene A
    with qtbot.waitSignal(window.compareModeChanged, timeout=2000) as blocker:
        view.close_button.click()
    assert blocker.args == [False] and not window.compare.is_comparing
    assert window.stack.currentWidget() is window.splitter and not window.compare_mode_action.isChecked()
    assert "vs" not in window.windowTitle()
    window.compare_mode_action.trigger()  # back, without loading anything
    assert window.compare.is_comparing and window.grid.id == NRP1
    with qtbot.waitSignal(window.compareReady, timeout=5000):
        view.swap_button.click()
    assert window.grid.id == PDYN and window.section_dock.panel.experiment.id == PDYN


def test_the_gene_picker_dialog(qtbot, gene_index):
    dialog = GenePickerDialog(gene_index, parent=None, current="Pdyn")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.panel.search_box, "Nrp1")
    qtbot.keyClick(dialog.panel.search_box, Qt.Key.Key_Return)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.experiment is not None and dialog.experiment.id == NRP1  # the coronal one first


def test_screenshot_of_compare_mode(tmp_path, qapp):
    shot = tmp_path / "compare.png"
    env = dict(os.environ, ALLEN_VIEWER_SETTINGS=str(tmp_path / "s.ini"), ALLEN_VIEWER_CACHE=str(tmp_path / "c"),
               ALLEN_API_URL=CLOSED, ALLEN_DOWNLOAD_URL=CLOSED + "/x")
    result = subprocess.run([sys.executable, "-m", "allen_viewer", "--offline", "--gene", "Pdyn", "--compare", "Nrp1",
                             "--screenshot", str(shot)], capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "Pdyn (coronal, 71717084) and Nrp1 (coronal, 74272479) (compare mode)" in result.stdout
    img = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB888)
    assert (img.width(), img.height()) == (1600, 1000)
    ptr = img.constBits()
    px = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    px = px[:, :img.width() * 3].reshape(img.height(), img.width(), 3).astype(int)
    # three 3-D views side by side right of the docks, each with coloured spheres in it
    top = px[150:500, 340:1600]
    thirds = np.array_split(top, 3, axis=1)
    for third in thirds:
        sat = third.max(axis=2) - third.min(axis=2)
        assert (sat > 60).mean() > 0.01
    assert not (tmp_path / "s.ini").exists()
