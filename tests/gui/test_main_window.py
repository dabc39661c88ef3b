"""The main window driven as a user would: search, load, select, click, hover, fail, recover.

One window serves the whole module (a VTK render window is slow to make on software
OpenGL); it talks to a module-wide fake Allen server.  The tests run in file order and each
one says what it needs (a gene loaded, a cursor position) rather than relying on the last.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from allen_viewer.atlas.reference_space import ccf25_to_um, um_to_ccf25, um_to_grid
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.expression.summary import summarize
from allen_viewer.render.scene_layers import STRUCTURE_HIGHLIGHT_OPACITY
from allen_viewer.gui.settings import ViewerSettings
from allen_viewer.gui.slice_view import OUTLINE_RGB
from allen_viewer.gui.structure_tree import StructureIdRole

pytestmark = [pytest.mark.gui, pytest.mark.window(network="fake_server", size=(1600, 1000))]

PDYN, NRP1 = 71717084, 74272479
CP, TH = 672, 549
CP_POINT_UM = np.array([5000.0, 4000.0, 3750.0])  # left caudoputamen, a voxel with Pdyn data


def _load(qtbot, window, query):
    """Load a gene through the search box, as a user would; return the grid."""
    box = window.search_panel.search_box
    box.clear()
    qtbot.keyClicks(box, str(query))
    with qtbot.waitSignal(window.gridLoaded, timeout=20_000) as blocker:
        qtbot.keyClick(box, Qt.Key.Key_Return)
    return blocker.args[0]


def _ensure(qtbot, window, experiment_id):
    if window.grid is None or window.grid.id != experiment_id or window.grid_channel.busy:
        _load(qtbot, window, experiment_id)
    assert window.grid.id == experiment_id


def _click_canvas(qtbot, canvas, row, col):
    p = canvas.to_widget(row, col)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(p.x()), round(p.y())))


# ---- loading a gene ----------------------------------------------------------------------

def test_type_pdy_pick_pdyn_and_see_the_spheres(qtbot, window):
    box = window.search_panel.search_box
    box.clear()
    qtbot.keyClicks(box, "Pdy")
    model = window.search_panel.model
    assert model.data(model.index(0, 0)) == "Pdyn"
    assert model.data(model.index(0, 3)) == "embedded"
    with qtbot.waitSignal(window.gridLoaded, timeout=20_000) as blocker:
        qtbot.keyClick(box, Qt.Key.Key_Return)
    grid = blocker.args[0]
    assert grid.id == PDYN and window.grid is grid
    points = window.scene.expression_points
    threshold = window.controls.values()["threshold"]
    with np.errstate(invalid="ignore"):
        drawn = grid.has_data & (grid.energy >= threshold)
    assert points.n_points == int(drawn.sum()) > 1000  # one sphere per drawn voxel
    flat = np.asarray(points.point_data["grid_index"])
    assert grid.has_data.ravel()[flat].all()  # never a "-1" voxel
    ijk = np.column_stack(np.unravel_index(flat, GRID_SHAPE))
    assert np.allclose(points.points, ijk * 200.0)
    # the spheres sit inside the brain outline's box
    b = np.array(window.scene.scene_bounds())
    pts = np.asarray(points.points)
    assert (pts.min(axis=0) >= b[0::2] - 200).all() and (pts.max(axis=0) <= b[1::2] + 200).all()
    assert "Pdyn" in window.windowTitle()
    assert window.search_panel.recent_experiments()[0].id == PDYN
    assert window.settings.last_experiment == PDYN
    assert window.slices.layers.grid is grid
    assert "Pdyn" in window.status_text


def test_display_controls_reach_the_scene_and_the_slices(qtbot, window):
    _ensure(qtbot, window, PDYN)
    grid = window.grid
    before = window.scene.expression_points.n_points
    window.controls.threshold.setValue(10.0)
    qtbot.waitUntil(lambda: window.scene.display_settings.threshold == 10.0, timeout=2000)
    assert window.scene.expression_points.n_points == int((grid.has_data & (np.nan_to_num(grid.energy) >= 10)).sum())
    assert window.scene.expression_points.n_points < before
    window.controls.cmap.setCurrentText("magma")
    assert window.slices.layers.cmap_name == "magma"
    assert window.settings.display()["threshold"] == 10.0
    window.controls.threshold.setValue(1.0)
    window.controls.cmap.setCurrentText("viridis")


# ---- structures --------------------------------------------------------------------------

def test_click_a_structure_in_the_tree_and_see_it_highlighted(qtbot, window, reference_space):
    _ensure(qtbot, window, PDYN)
    window.set_cursor_um(CP_POINT_UM, select=False)  # the coronal pane cuts through CP
    panel = window.tree_panel
    panel.filter_box.clear()
    qtbot.keyClicks(panel.filter_box, "Caudoputamen")
    idx = panel.proxy.mapFromSource(panel.model.index_of(CP))
    rect = panel.tree.visualRect(idx)
    with qtbot.waitSignal(window.surfaceReady, timeout=30_000, check_params_cb=lambda sid: sid == CP):
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    # 3-D: the surface is shown and highlighted
    assert CP in window.scene.structure_ids
    assert window.scene.structure_opacity(CP) == pytest.approx(STRUCTURE_HIGHLIGHT_OPACITY)
    # slices: outlined (no fill)
    assert window.slices.layers.highlight_id == CP
    img = window.slices.panes["coronal"].image()
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    rgb = arr[:, :img.width() * 3].reshape(img.height(), img.width(), 3)
    assert np.all(rgb == OUTLINE_RGB, axis=2).sum() > 50
    # the summary of the loaded gene over CP
    s = summarize(window.grid, reference_space, CP)
    text = panel.summary.text()
    assert "CP" in text and "Caudoputamen" in text
    assert f"mean energy {s.mean_energy:.3g}" in text
    # the embedded (energy-only) Pdyn was upgraded online: density is GENERATED by the fake
    assert window.grid.density is not None and f"mean density {s.mean_density:.3g}" in text
    assert f"voxels with data {s.voxels_with_data:,} / {s.voxels:,}" in text
    # the numbers against plain numpy: CP and its descendants in the 200 µm annotation
    from tests import numpy_reference as ref

    energy = np.asarray(window.grid.energy, dtype=np.float64)
    cp = ref.structure_mask("CP") & ref.brain()
    with np.errstate(invalid="ignore"):
        valid = cp & ~np.isnan(energy) & (energy != -1)
    assert s.voxels == int(cp.sum()) and s.voxels_with_data == int(valid.sum()) > 0
    assert s.mean_energy == pytest.approx(energy[valid].mean(), rel=1e-6)


def test_selecting_another_structure_replaces_the_surface(qtbot, window):
    window.surfaces.select_structure(CP)
    qtbot.waitUntil(lambda: CP in window.scene.structure_ids, timeout=30_000)
    with qtbot.waitSignal(window.surfaceReady, timeout=30_000, check_params_cb=lambda sid: sid == TH):
        window.surfaces.select_structure(TH)
    assert window.scene.structure_ids == [TH]
    assert window.slices.layers.highlight_id == TH
    assert "TH" in window.tree_panel.summary.text()


def test_visibility_checkbox_keeps_a_surface_shown(qtbot, window):
    window.surfaces.select_structure(None)
    model = window.tree_panel.model
    with qtbot.waitSignal(window.surfaceReady, timeout=30_000, check_params_cb=lambda sid: sid == CP):
        model.setData(model.index_of(CP), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert CP in window.scene.structure_ids
    window.surfaces.select_structure(TH)
    qtbot.waitUntil(lambda: TH in window.scene.structure_ids, timeout=30_000)
    window.surfaces.select_structure(None)
    assert CP in window.scene.structure_ids and TH not in window.scene.structure_ids  # CP is checked
    model.setData(model.index_of(CP), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert CP not in window.scene.structure_ids


# ---- cursor ------------------------------------------------------------------------------

def test_moving_a_slice_moves_the_other_panes_and_the_3d_cursor(qtbot, window):
    cor = window.slices.panes["coronal"]
    sag = window.slices.panes["sagittal"]
    hor = window.slices.panes["horizontal"]
    cor.slider.setValue(cor.slider.value() + 1)  # a user drag ends somewhere
    target = cor.slider.value() + 40
    cor.slider.setValue(target)
    assert sag.canvas.crosshair[1] == target  # sagittal columns are AP
    assert hor.canvas.crosshair[0] == target  # horizontal rows are AP
    qtbot.waitUntil(lambda: window.scene.cursor is not None and window.scene.cursor[0] == ccf25_to_um(target),
                    timeout=2000)
    # and the other way round: the sagittal slider moves the coronal crosshair
    sag.slider.setValue(100)
    assert cor.canvas.crosshair[1] == 100  # coronal columns are ML
    qtbot.waitUntil(lambda: window.scene.cursor[2] == ccf25_to_um(100), timeout=2000)


def test_clicking_in_a_pane_moves_everything_and_selects_the_structure_there(qtbot, window, reference_space):
    _ensure(qtbot, window, PDYN)
    window.set_cursor_um(CP_POINT_UM, select=False)
    cor = window.slices.panes["coronal"]
    a, b, c = um_to_ccf25(CP_POINT_UM)
    _click_canvas(qtbot, cor.canvas, b + 0.5, c + 0.5)
    um = window.slices.cursor_um()
    expected_id = reference_space.structure_id_at_um(um)
    assert expected_id != 0
    assert window.tree_panel.selected_id() == expected_id
    assert window.tree_panel.tree.currentIndex().data(StructureIdRole) == expected_id
    assert np.allclose(window.scene.cursor, um)
    assert window.slices.panes["sagittal"].slice_index == um_to_ccf25(um)[2]
    assert window.slices.panes["horizontal"].slice_index == um_to_ccf25(um)[1]
    # click somewhere else in the sagittal pane: the coronal pane follows
    sag = window.slices.panes["sagittal"]
    _click_canvas(qtbot, sag.canvas, 150.5, 300.5)  # DV 150, AP 300
    # a screen pixel may cover more than one 25 µm pixel: allow one either way
    assert abs(window.slices.panes["coronal"].slice_index - 300) <= 1
    assert abs(window.slices.cursor_index()[1] - 150) <= 1
    assert window.slices.panes["coronal"].slice_index == window.slices.cursor_index()[0]


def test_picking_in_the_3d_view_moves_the_panes(qtbot, window, reference_space):
    """What the scene reports for a click on a sphere moves the panes and the tree selection.

    The point is the one the scene computes for a click at the view's centre
    (``pick_display``); the click-to-pick path itself belongs to the scene's own tests.
    """
    _ensure(qtbot, window, PDYN)
    scene = window.scene
    scene.camera_preset("dorsal")
    size = scene.plotter.render_window.GetSize()
    um = scene.pick_display(size[0] / 2, size[1] / 2)
    assert um is not None  # a sphere under the centre of a dorsal view of Pdyn
    scene.pointPicked.emit(um)
    assert np.allclose(window.slices.cursor_um(), ccf25_to_um(um_to_ccf25(um)))
    assert window.slices.panes["coronal"].slice_index == um_to_ccf25(um)[0]
    assert window.slices.panes["sagittal"].slice_index == um_to_ccf25(um)[2]
    assert np.allclose(scene.cursor, window.slices.cursor_um())
    sid = reference_space.structure_id_at_um(um)
    assert window.tree_panel.selected_id() == (sid or None)
    scene.reset_camera()


def test_hover_shows_structure_and_values_in_the_status_bar(qtbot, window, reference_space):
    _ensure(qtbot, window, PDYN)
    window.set_cursor_um(CP_POINT_UM, select=False)
    canvas = window.slices.panes["coronal"].canvas
    a, b, c = um_to_ccf25(CP_POINT_UM)
    p = canvas.to_widget(b + 0.5, c + 0.5)
    qtbot.mouseMove(canvas, QPoint(round(p.x()), round(p.y())))
    qtbot.waitUntil(lambda: "energy" in window.hover_label.text(), timeout=2000)
    text = window.hover_label.text()
    s = reference_space.structure_at_um(CP_POINT_UM)
    i, j, k = um_to_grid(CP_POINT_UM)
    assert window.grid.has_data[i, j, k]
    assert s.name in text
    assert f"energy {window.grid.energy[i, j, k]:.3g}" in text
    # the energy-only embedded grid was upgraded online (the fake's GENERATED channels)
    assert f"intensity {window.grid.intensity[i, j, k]:.3g}" in text
    assert f"density {window.grid.density[i, j, k]:.3g}" in text
    # outside the brain (top-left corner of the coronal image): no data there
    p = canvas.to_widget(2.5, 2.5)
    qtbot.mouseMove(canvas, QPoint(round(p.x()), round(p.y())))
    qtbot.waitUntil(lambda: "outside the brain" in window.hover_label.text(), timeout=2000)
    assert "energy no data" in window.hover_label.text()


# ---- background requests: newest wins, failures, offline --------------------------------

def test_a_library_search_result_loads_its_gene_in_the_window(qtbot, window, ontology, gene_index):
    from tests.library import build_library, make_layout, real_grid

    layout = make_layout(ontology)
    build_library(window.data.cache.root / "library", layout,
                  [(i, gene_index.by_id(i).symbol, "coronal", layout.columns(real_grid(gene_index, i).energy))
                   for i in (PDYN, NRP1)])
    _ensure(qtbot, window, PDYN)
    panel = window.library_panel
    assert panel.seed_edit.text().startswith("Pdyn")  # the seed follows the gene on show
    window.library_dock.show()
    window.library_dock.raise_()
    qtbot.mouseClick(panel.differential_button, Qt.MouseButton.LeftButton)
    panel.target_edit.setText("CP")
    panel.contrast_edit.setText("Isocortex")
    with qtbot.waitSignal(panel.searchFinished, timeout=15_000):
        qtbot.mouseClick(panel.search_button, Qt.MouseButton.LeftButton)
    assert panel.proxy.rowCount() == 2  # both experiments of the library, ranked
    row = next(r for r in range(panel.proxy.rowCount()) if "Nrp1" in str(panel.proxy.index(r, 2).data()))
    rect = panel.results.visualRect(panel.proxy.index(row, 2))
    with qtbot.waitSignal(window.gridLoaded, timeout=20_000) as blocker:
        qtbot.mouseClick(panel.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args[0].id == NRP1 and window.grid.id == NRP1
    window.tree_dock.raise_()


def test_a_newer_gene_overtakes_a_delayed_download(qtbot, window, server, gene_index):
    slow = gene_index.resolve("Gad1")  # GENERATED grids on the fake server
    fast = gene_index.resolve("Sst")
    assert window.data.locate(slow.id) == "remote" and window.data.locate(fast.id) == "remote"
    server.inject(f"/grid_data/download/{slow.id}", "delay", seconds=2.5)
    loaded = []
    dropped = window.grid_channel.dropped
    window.gridLoaded.connect(loaded.append)
    try:
        window.request_gene(slow.symbol)
        qtbot.waitUntil(lambda: bool(server.requests_to(f"/grid_data/download/{slow.id}")), timeout=5000)
        assert window.grid_indicator.isVisible()
        _load(qtbot, window, fast.symbol)
        assert window.grid.id == fast.id
        # let the delayed download finish: its result must not replace the newer gene
        # (once in_flight is 0 every answer has reached the channel: nothing more can come)
        qtbot.waitUntil(lambda: window.grid_channel.in_flight == 0, timeout=15_000)
    finally:
        window.gridLoaded.disconnect(loaded.append)
    assert [g.id for g in loaded] == [fast.id]
    assert window.grid_channel.dropped == dropped + 1  # the overtaken request ended and was dropped
    assert window.grid.id == fast.id and "Sst" in window.windowTitle()
    assert window.scene.expression_points.n_points == _drawn_count(window)
    assert not window.banner.isVisible()
    assert not window.grid_indicator.isVisible()


def test_an_html_outage_is_reported_and_the_window_stays_usable(qtbot, window, server, gene_index):
    exp = gene_index.resolve("Gad2")
    server.inject("/grid_data/download/", "html", times=10)
    with qtbot.waitSignal(window.loadFailed, timeout=20_000) as blocker:
        window.request_gene("Gad2")
    assert "HTML" in blocker.args[0]
    assert window.banner.isVisible() and "HTML page" in window.banner.text and "Gad2" in window.banner.text
    assert "HTML page" in window.status_text and window.message_label.toolTip() == window.status_text
    assert window.data.locate(exp.id) == "remote"  # nothing was cached
    # still usable: search and load an embedded gene
    grid = _load(qtbot, window, "Nrp1")
    assert grid.id == NRP1 and window.scene.expression_points.n_points == _drawn_count(window)
    from tests import numpy_reference as ref

    assert grid.has_data.sum() == ref.has_data(NRP1).sum()  # the embedded grid, read by plain numpy
    assert not window.banner.isVisible()


def test_unknown_gene_shows_suggestions(qtbot, window):
    with qtbot.waitSignal(window.loadFailed, timeout=2000) as blocker:
        window.request_gene("Pdynn")
    assert "Pdyn" in blocker.args[0] and "did you mean" in blocker.args[0]
    assert window.banner.isVisible()
    window.banner.close_button.click()
    assert not window.banner.isVisible()


def test_offline_mode_uses_embedded_data_only(qtbot, window, server, monkeypatch, gene_index):
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    remote = gene_index.resolve("Calb1")
    with qtbot.waitSignal(window.loadFailed, timeout=10_000) as blocker:
        window.request_gene("Calb1")
    assert "Offline" in blocker.args[0] or "offline" in blocker.args[0]
    assert not server.requests_to("/grid_data")  # the network was not touched
    assert window.data.locate(remote.id) == "remote"
    for exp_id in (PDYN, NRP1):
        grid = _load(qtbot, window, exp_id)
        # embedded, or its three-channel copy when an earlier test upgraded it online
        assert grid.id == exp_id and grid.source in ("embedded", "cached")
    assert not server.requests_to("/grid_data") and not window.banner.isVisible()


# ---- Nissl -----------------------------------------------------------------------------

def test_nissl_download_can_be_cancelled_then_completes(qtbot, window, server):
    assert not window.data.has_nissl()
    assert not window.nissl_action.isEnabled()
    server.inject("/informatics-archive/current-release/mouse_ccf/ara_nissl/", "delay", seconds=1.5)
    window.download_nissl_action.trigger()
    assert window.nissl_indicator.isVisible() and window.cancel_nissl_action.isEnabled()
    with qtbot.waitSignal(window.nissl_channel.cancelled, timeout=15_000):
        window.nissl_indicator.cancel_button.click()
    assert "cancelled" in window.status_text
    assert not window.nissl_indicator.isVisible()
    assert window.slices.background == "annotation"
    with qtbot.waitSignal(window.nissl_channel.resultReady, timeout=60_000):
        window.download_nissl_action.trigger()
    assert window.data.has_nissl()
    assert window.slices.background == "nissl" and window.nissl_action.isChecked()
    img = window.slices.panes["coronal"].image()
    img = img.convertToFormat(img.Format.Format_RGB888)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    rgb = arr[:, :img.width() * 3].reshape(img.height(), img.width(), 3).astype(int)
    # the (GENERATED stand-in) Nissl is grey: channels equal where no heat map or highlight is drawn
    grey = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])
    assert grey.mean() > 0.3
    window.annotation_action.trigger()
    assert window.slices.background == "annotation"


# ---- persistence -------------------------------------------------------------------------

def test_layout_gene_and_display_persist(qtbot, window, make_window):
    settings_path = window.settings.path
    _ensure(qtbot, window, NRP1)
    window.controls.set_values(threshold=2.5, cmap="plasma")
    window.session.read_controls()  # the controls changed: into the state, the views follow
    window.search_dock.hide()
    window.save_settings()
    saved_state = window.saveState()
    again = make_window(settings=settings_path, size=None)
    try:
        assert again.controls.values()["threshold"] == 2.5 and again.controls.values()["cmap"] == "plasma"
        assert again.scene.display_settings.threshold == 2.5
        assert again.settings.last_experiment == NRP1
        assert again.saveState() == saved_state
        assert again.search_dock.isHidden()
        assert again.size() == window.size()
        qtbot.waitUntil(lambda: again.index is not None, timeout=10_000)
        # the offline test loaded Pdyn, then Nrp1: newest first
        assert [e.id for e in again.search_panel.recent_experiments()][:2] == [NRP1, PDYN]
        assert os.path.isfile(settings_path)
    finally:
        make_window.close_window(again)
        window.search_dock.show()
        window.controls.set_values(threshold=1.0, cmap="viridis")
        window.session.read_controls()  # the controls changed: into the state, the views follow


def test_without_gene_the_viewer_opens_the_last_gene_or_pdyn(tmp_path):
    from allen_viewer.gui.main_window import default_query

    settings = ViewerSettings(tmp_path / "fresh.ini")
    assert default_query(settings) == "Pdyn"
    settings.remember_experiment(NRP1)
    assert default_query(settings) == str(NRP1)
    assert ViewerSettings(tmp_path / "fresh.ini", read_only=True).recent_experiments == [NRP1]
    ro = ViewerSettings(tmp_path / "fresh.ini", read_only=True)
    ro.remember_experiment(PDYN)
    assert ViewerSettings(tmp_path / "fresh.ini").last_experiment == NRP1  # read-only wrote nothing


def _drawn_count(window) -> int:
    """Voxels the 3-D view must draw: in-brain (the 200 µm annotation > 0, read by plain
    numpy) with data (energy not -1) and at or above the shown threshold."""
    from tests import numpy_reference as ref

    grid, threshold = window.grid, window.controls.values()["threshold"]
    energy = np.asarray(grid.energy)
    with np.errstate(invalid="ignore"):
        return int((ref.brain() & (energy != -1) & ~np.isnan(energy) & (energy >= threshold)).sum())
