"""Issue 25, the window as a person uses it: one scenario per problem, driven with pytest-qt's
real event injection (mouse press/move/release at widget coordinates, key clicks) on one
offline window showing the real embedded Pdyn grid.

Expected values come from the real data: the search order from the gene index and the
embedded grids on disk, the threshold from the Pdyn grid's in-brain energies, the surface
opacities from :mod:`allen_viewer.render.structure_style`'s rule.
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionSlider

from allen_viewer import config
from allen_viewer.render.structure_style import DIMMED_FLOOR, shown_opacity
from allen_viewer.store.gene_index import prefix_rank

pytestmark = [pytest.mark.gui, pytest.mark.window(network="offline", gene="Pdyn", size=(1600, 1000))]

NRP1 = 74272479


def _handle_centre(slider) -> QPoint:
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    rect = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                         QStyle.SubControl.SC_SliderHandle, slider)
    return rect.center()


def _drag(qtbot, widget, start: QPoint, dx: int, dy: int = 0) -> None:
    qtbot.mousePress(widget, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 5):
        qtbot.mouseMove(widget, QPoint(start.x() + dx * step // 4, start.y() + dy * step // 4))
    qtbot.mouseRelease(widget, Qt.MouseButton.LeftButton, pos=QPoint(start.x() + dx, start.y() + dy))


def _embedded_ids() -> set[int]:
    return {int(p.stem) for p in (config.resources_dir() / "grids").glob("*.zip") if p.stem.isdigit()}


def _expected_order(gene_index, query: str, available: set[int], n: int) -> list[int]:
    """The issue's rule, computed here from the index: exact symbol (or alias) first, then
    the prefix matches by (symbol before alias, available, coronal, length, symbol)."""
    q = query.lower()
    exact = [e for e in gene_index.experiments if q in (e.symbol.lower(), e.alias.lower())]
    prefix = [e for e in gene_index.experiments
              if (e.symbol.lower().startswith(q) or e.alias.lower().startswith(q)) and e not in exact]
    prefix.sort(key=lambda e: (not e.symbol.lower().startswith(q), e.id not in available, e.plane != "coronal",
                               len(e.symbol), e.symbol.lower(), e.id))
    return [e.id for e in (exact + prefix)[:n]]


# ---- 5: search ranking -------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["pd", "p", "nr", "calb"])
def test_search_ranks_available_coronal_short_first(window, qtbot, gene_index, query):
    box = window.search_panel.search_box
    box.clear()
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(box, query)
    model = window.search_panel.model
    qtbot.waitUntil(lambda: model.rowCount() > 0, timeout=5000)
    n = min(12, model.rowCount())
    shown = [model.experiment(r).id for r in range(n)]
    assert shown == _expected_order(gene_index, query, _embedded_ids() | set(window.data.cache.grids()), n)
    if query in ("pd", "p"):
        assert model.experiment(0).symbol == "Pdyn"  # the embedded coronal Pdyn, not Pdc or Cpq
    if query == "nr":
        assert model.experiment(0).id == NRP1
    box.clear()


def test_prefix_rank_key_is_the_documented_rule(gene_index):
    pdyn = gene_index.by_id(71717084)
    sagittal_pdyn = next(e for e in gene_index.exact_symbol("Pdyn") if e.plane == "sagittal")
    assert prefix_rank(pdyn, "pd", {pdyn.id}) < prefix_rank(sagittal_pdyn, "pd", {pdyn.id})
    assert prefix_rank(pdyn, "pd", set()) > prefix_rank(gene_index.exact_symbol("Pdk3")[0], "pd", set())


# ---- 7: the threshold slider's resolution ----------------------------------------------------

def test_a_40_pixel_drag_stays_within_the_colour_scale(window, qtbot):
    controls = window.controls
    slider = controls.threshold.slider
    energies = window.grid.energy[window.grid.has_data].astype(np.float64)
    before = controls.threshold.value()
    assert before == pytest.approx(np.percentile(energies, 90.0), rel=1e-6)  # the gene's 90th percentile
    _drag(qtbot, slider, _handle_centre(slider), 40)
    qtbot.waitUntil(lambda: controls.threshold.value() != before, timeout=3000)
    after = controls.threshold.value()
    top = float(np.percentile(energies, 99.0))  # the colour scale's top (the layer's robust maximum)
    assert before < after < top, (before, after, top)
    assert window.state.display.threshold == pytest.approx(after)
    # the value box is still the energy, typed
    box = controls.threshold.box
    box.selectAll()
    qtbot.keyClicks(box, f"{before:.2f}")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: abs(controls.threshold.value() - round(before, 2)) < 1e-9, timeout=3000)
    assert slider.value() == pytest.approx(333, abs=2)  # back a third of the way: the 90th percentile


# ---- 6: the status bar -------------------------------------------------------------------------

def test_hover_text_has_its_own_field_and_follows_keyboard_slice_moves(window, qtbot):
    pane = window.slices.panes["sagittal"]
    canvas = pane.canvas
    centre = canvas.image_rect().center().toPoint()
    qtbot.mouseMove(canvas, centre)
    qtbot.waitUntil(lambda: "ML" in window.hover_label.text(), timeout=3000)

    def hover_ml() -> str:
        text = window.hover_label.text()
        return text.split("ML ")[1].split(" mm")[0]

    pane_ml = lambda: pane.position.text().split()[1]  # noqa: E731 - "ML  3.800 mm"
    assert float(hover_ml()) == pytest.approx(float(pane_ml()), abs=0.026)
    canvas.setFocus()
    for _ in range(10):
        qtbot.keyClick(canvas, Qt.Key.Key_Up)
    qtbot.waitUntil(lambda: abs(float(hover_ml()) - float(pane_ml())) <= 0.026, timeout=3000)
    # its own field, left of the permanent message, never under it
    hover, message = window.hover_label, window.message_label
    assert hover.geometry().right() < message.geometry().left()
    assert hover.isVisible() and hover.width() > 200


# ---- 4: a ticked structure stays visible while another is selected ----------------------------

def test_ticked_structure_stays_visible_when_another_is_selected(window, qtbot):
    cp, aon = window.ontology.get("CP").id, window.ontology.get("AON").id
    window.tree_panel.set_visible(cp, True)
    qtbot.waitUntil(lambda: cp in window.scene.structure_ids, timeout=60_000)
    window.surfaces.go_to_structure("AON")
    qtbot.waitUntil(lambda: aon in window.scene.structure_ids, timeout=60_000)
    base = window.structure_styles.opacity(cp)
    assert window.scene.structure_opacity(cp) == pytest.approx(shown_opacity(base, False, True))
    assert window.scene.structure_opacity(cp) >= min(base, DIMMED_FLOOR)


def test_selection_outline_is_the_cyan_the_guide_says(window):
    from PySide6.QtGui import QImage

    from allen_viewer.render.slice_images import OUTLINE_RGB

    assert window.state.selected_structure == window.ontology.get("AON").id
    image = window.slices.panes["coronal"].image().convertToFormat(QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    rgb = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * h).reshape(h, -1)[:, :w * 3]
    rgb = rgb.reshape(h, w, 3)
    assert tuple(OUTLINE_RGB) == (0, 255, 255)
    assert (rgb == OUTLINE_RGB).all(axis=2).sum() > 20  # the selected AON is outlined in cyan
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "user-guide.md").read_text(encoding="utf-8")
    assert "cyan outline" in text and "yellow outline" not in text  # the guide agrees with the screen


# ---- 2: the 3-D image export draws the surfaces (and the cursor) ------------------------------

def test_export_of_the_3d_view_draws_the_surfaces_on_screen(window, qtbot):
    cp, aon = window.ontology.get("CP").id, window.ontology.get("AON").id
    qtbot.waitUntil(lambda: {cp, aon} <= set(window.scene.structure_ids), timeout=60_000)
    exports = window.exports
    layers = exports.session_layers()
    drawn = {s["id"] for s in layers.describe()["structure_surfaces"]}
    assert drawn == {cp, aon} == set(window.scene.structure_ids)
    with_surfaces = exports.render_scene_pixels((400, 300), "lateral", False)
    window.tree_panel.set_visible(cp, False)
    window.surfaces.select_structure(None)
    qtbot.waitUntil(lambda: not window.scene.structure_ids, timeout=10_000)
    assert exports.session_layers().describe()["structure_surfaces"] == []
    without = exports.render_scene_pixels((400, 300), "lateral", False)
    changed = np.abs(with_surfaces.astype(int) - without.astype(int)).sum(axis=2) > 30
    assert changed.sum() > 300, "the structure surfaces on screen are not in the exported image"


# ---- 8: the smaller items ------------------------------------------------------------------

def test_colour_by_offers_only_the_grids_channels(window):
    combo = window.controls.color_by
    model = combo.model()
    for row in range(combo.count()):
        key = combo.itemData(row)
        expected = key in ("auto", "energy") or key in window.grid.available
        assert model.item(row).isEnabled() == expected, key
    if window.grid.energy_only:  # the embedded Pdyn download is energy only
        assert not model.item(combo.findData("density")).isEnabled()


def test_open_session_starts_in_the_folder_of_the_last_save(window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    folder = tmp_path / "sessions"
    folder.mkdir()
    target = folder / "mine.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    window.dialogs.save_session_dialog()
    assert target.is_file()
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (asked.append(a), ("", ""))[1]))
    window.dialogs.open_session_dialog()
    assert asked and asked[0][2] == str(folder.resolve())


def test_about_fits_the_screen(window, qtbot):
    window.about_action.trigger()
    box = window.dialogs.about_box
    qtbot.waitExposed(box)
    limit = int(box.screen().availableGeometry().height() * 0.8) + 1
    qtbot.waitUntil(lambda: box.height() <= limit, timeout=5000)  # (it was as tall as the screen)
    assert box.width() <= box.screen().availableGeometry().width()
    box.close()


def test_view_structures_comes_to_the_front(window, qtbot):
    window.library_dock.raise_()
    qtbot.waitUntil(lambda: window.tree_panel.visibleRegion().isEmpty(), timeout=3000)
    action = window.tree_dock.toggleViewAction()
    action.trigger()  # hides it
    qtbot.waitUntil(lambda: not window.tree_dock.isVisible(), timeout=3000)
    action.trigger()  # View > Structures again
    qtbot.waitUntil(lambda: not window.tree_panel.visibleRegion().isEmpty(), timeout=3000)


# ---- 3: docks never resize the window; the layout holds --------------------------------------

def test_section_dock_takes_its_width_from_the_views(window, qtbot):
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: window.width() == 1600, timeout=3000)
    central = window.centralWidget().width()
    window.section_dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: window.section_dock.isVisible() and window.section_dock.width() >= 400, timeout=5000)
    qtbot.wait(300)  # (not a negative check: the width is checked again after the hold is released)
    assert (window.width(), window.height()) == (1600, 1000)
    assert window.centralWidget().width() < central
    assert window.display_dock.width() >= 250  # the display controls are not squeezed
    window.section_dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: not window.section_dock.isVisible(), timeout=3000)


@pytest.mark.parametrize("size", [(1000, 650), (800, 500)])
def test_small_windows_hold(window, qtbot, size):
    window.resize(*size)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == size, timeout=5000)
    window.section_dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: window.section_dock.isVisible(), timeout=3000)
    qtbot.wait(300)
    assert (window.width(), window.height()) == size
    panel = window.findChild(type(window.controls).__mro__[1], "displayPanel")
    # the display controls scroll instead of being squeezed on top of each other
    assert panel.height() >= panel.minimumSizeHint().height()
    rows = [w.geometry() for w in (window.controls.threshold, window.controls.color_by, window.controls.cmap,
                                   window.controls.opacity)]
    for a, b in zip(rows, rows[1:]):
        assert a.bottom() < b.top()
    window.section_dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: not window.section_dock.isVisible(), timeout=3000)
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: window.width() == 1600, timeout=3000)


# ---- 1 and 6: compare mode keeps the display controls; no stale compare text ----------------

def test_compare_mode_keeps_the_display_controls_and_they_act_on_it(window, qtbot):
    with qtbot.waitSignal(window.compareReady, timeout=60_000):
        window.compare.compare_with("Nrp1")
    qtbot.waitUntil(lambda: window.compare.is_comparing, timeout=10_000)
    assert window.display_dock.isVisible() and window.controls.isVisible()
    assert window.camera_buttons["dorsal"].isVisible()
    view = window.compare_view
    slider = window.controls.threshold.slider
    before = window.controls.threshold.value()
    _drag(qtbot, slider, _handle_centre(slider), 30)
    qtbot.waitUntil(lambda: window.controls.threshold.value() != before, timeout=3000)
    qtbot.waitUntil(lambda: view.scene_a.display_settings.threshold == pytest.approx(window.controls.threshold.value()),
                    timeout=3000)
    # the Display dock comes back from the View menu in compare mode too
    window.display_dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: not window.display_dock.isVisible(), timeout=3000)
    window.display_dock.toggleViewAction().trigger()
    qtbot.waitUntil(lambda: window.display_dock.isVisible(), timeout=3000)
    assert "Comparing" in window.status_text
    qtbot.mouseClick(view.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.compare.is_comparing, timeout=5000)
    assert "Comparing" not in window.status_text and "Pdyn" in window.status_text
    assert "Nrp1" not in window.hover_label.text()


def test_log2_title_says_c_and_fits(window, qtbot):
    from allen_viewer.expression.compare import LOG2_PSEUDOCOUNT

    window.compare.set_compare_mode(True)
    qtbot.waitUntil(lambda: window.compare.is_comparing, timeout=10_000)
    view = window.compare_view
    view.set_kind("ratio")
    scene = view.scenes[2]
    title = scene.color_bar_title
    scale = scene._layer.scale  # the compare view's scaling (percentile rank by default)
    assert f"c = {LOG2_PSEUDOCOUNT['percentile' if scale == 'zscore' else scale]:g}" in title
    # the title's text box, as the renderer draws it, lies inside the panel: not cut at "c ="
    from allen_viewer.render.figure_overlays import text_box

    bar = scene._layer.colour_bar
    scene.plotter.render()
    x0, x1, y0, y1 = text_box(bar.title_actor, bar.renderer)
    width, height = scene.plotter.render_window.GetSize()
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    view.set_kind("difference")
    window.compare.set_compare_mode(False)
    QApplication.processEvents()


# ---- 8: the 3-D cursor stays visible inside dense spheres -------------------------------------

def test_3d_cursor_is_visible_inside_the_striatum(window, qtbot):
    """Click the coronal pane in the left caudoputamen, where Pdyn's spheres are densest: the
    3-D cursor moves there and its red arms show around the spheres (at least a fifth of the
    5-px-wide arms' projected length is visible in the rendered view)."""
    from vtkmodules.vtkRenderingCore import vtkCoordinate

    from allen_viewer.render.scene_layers import CURSOR_COLOR, CURSOR_HALF_LENGTH_UM, CURSOR_LINE_WIDTH

    if window.compare.is_comparing:
        window.compare.set_compare_mode(False)
    from allen_viewer.state import DEFAULT_CURSOR_UM  # the left caudoputamen

    pane = window.slices.panes["coronal"]
    pane.set_slice(round(DEFAULT_CURSOR_UM[0] / 25.0))
    canvas = pane.canvas
    start = np.asarray(window.scene.cursor, float)
    row, col = DEFAULT_CURSOR_UM[1] / 25.0 + 4, DEFAULT_CURSOR_UM[2] / 25.0 + 4  # 100 µm from it
    p = canvas.to_widget(row, col)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(p.x()), round(p.y())))
    qtbot.waitUntil(lambda: not np.allclose(window.scene.cursor, start), timeout=5000)
    c = np.asarray(window.scene.cursor, float)
    assert c[0] == pytest.approx(DEFAULT_CURSOR_UM[0], abs=25)
    assert window.data.reference_space.structure_at_um(c).acronym == "CP"
    window.scene.camera_preset("oblique")
    window.scene.render()
    plotter = window.scene.plotter
    shot = np.asarray(plotter.screenshot(return_img=True))[:, :, :3].astype(int)
    red = (np.abs(shot - np.array(CURSOR_COLOR) * 255).max(axis=2) <= 40).sum()
    renderer = plotter.renderer
    coord = vtkCoordinate()
    coord.SetCoordinateSystemToWorld()
    length = 0.0
    for axis in range(3):
        ends = []
        for sign in (-1, 1):
            q = c.copy()
            q[axis] += sign * CURSOR_HALF_LENGTH_UM
            coord.SetValue(*q)
            ends.append(np.array(coord.GetComputedDoubleDisplayValue(renderer)))
        length += float(np.linalg.norm(ends[1] - ends[0]))
    assert CURSOR_LINE_WIDTH >= 3
    assert red >= 0.2 * CURSOR_LINE_WIDTH * length, (red, length)
