"""Keyboard shortcuts in the real window: camera presets, threshold up/down, next/previous
slice, no clashes, listed in Help and in the user guide.

Offline: Pdyn (71717084) is embedded, so nothing needs a server.
"""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QTableWidget

from allen_viewer.gui.shortcuts import (
    CAMERA_KEYS,
    LABELS_KEY,
    SLICE_KEYS,
    SLICE_STEP_GRID,
    THRESHOLD_KEYS,
    THRESHOLD_STEP,
)
from allen_viewer.guide import guide_path
from tests.gui.offline_window import offline_window, wait

pytestmark = pytest.mark.gui

PDYN = 71717084


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory, ontology, reference_space, gene_index):
    with offline_window(tmp_path_factory, ontology, reference_space, gene_index, gene="Pdyn") as w:
        assert w.grid.id == PDYN
        w.activateWindow()
        assert wait(lambda: w.isActiveWindow(), 5000)
        yield w


def _press(widget, keys: str) -> None:
    """Type a key sequence (e.g. ``Ctrl+1``, ``]``) at ``widget`` as a user would."""
    combo = QKeySequence(keys)[0]
    QTest.keyClick(widget, combo.key(), combo.keyboardModifiers())


def test_no_two_shortcuts_share_keys(window):
    owners: dict[str, set[str]] = {}
    for act in window.findChildren(QAction):
        for seq in act.shortcuts():
            if not seq.isEmpty():
                owners.setdefault(seq.toString(), set()).add(act.text())
    for sc in window.findChildren(QShortcut):
        if not sc.key().isEmpty():
            owners.setdefault(sc.key().toString(), set()).add(sc.objectName() or "QShortcut")
    clashes = {keys: names for keys, names in owners.items() if len(names) > 1}
    assert clashes == {}
    ours = [*CAMERA_KEYS.values(), *THRESHOLD_KEYS.values(), *SLICE_KEYS.values(), LABELS_KEY]
    assert all(QKeySequence(k).toString() in owners for k in ours)
    # the keys the slice panes handle themselves are no window shortcut
    for key in ("Up", "Down", "PgUp", "PgDown"):
        assert key not in owners


def test_camera_presets_from_the_keyboard(window):
    w = window
    scene = w.scene.plotter
    for preset in ("dorsal", "lateral", "anterior"):
        _press(scene, CAMERA_KEYS[preset])
        assert w.state.camera.preset == preset
        direction = w.scene.plotter.camera.GetDirectionOfProjection()
        axis = {"dorsal": 1, "lateral": 2, "anterior": 0}[preset]
        assert abs(direction[axis]) > 0.99  # looking along that axis
    _press(scene, CAMERA_KEYS["reset"])
    assert w.state.camera.preset == "oblique"


def test_threshold_up_and_down(window):
    w = window
    w.controls.pinned.setChecked(True)
    w.controls.threshold.setValue(3.0)
    _press(w.scene.plotter, THRESHOLD_KEYS["up"])
    assert w.state.display.threshold == pytest.approx(3.0 + THRESHOLD_STEP)
    assert w.scene.display_settings.threshold == pytest.approx(3.0 + THRESHOLD_STEP)
    assert w.controls.threshold.value() == pytest.approx(3.0 + THRESHOLD_STEP)  # the control follows the state
    _press(w.scene.plotter, THRESHOLD_KEYS["down"])
    _press(w.scene.plotter, THRESHOLD_KEYS["down"])
    assert w.state.display.threshold == pytest.approx(3.0 - THRESHOLD_STEP)
    w.controls.threshold.setValue(0.2)
    _press(w.scene.plotter, THRESHOLD_KEYS["down"])
    assert w.controls.threshold.value() == pytest.approx(w.controls.threshold.minimum())  # not below 0
    assert w.state.display.threshold == 0.0
    top = float(w.grid.energy[w.grid.has_data].max())  # the slider's top: the gene's largest energy
    w.controls.threshold.setValue(top - 0.1)
    _press(w.scene.plotter, THRESHOLD_KEYS["up"])
    assert w.state.display.threshold == pytest.approx(top) == w.controls.threshold.value()


def test_the_threshold_key_writes_the_state_and_leaves_the_rule_as_a_slider_drag_does(window):
    w = window
    w.controls.pinned.setChecked(False)
    w.controls.threshold.setValue(2.0)
    assert not w.state.display.threshold_pinned
    percentile = w.state.display.threshold_percentile
    seen = []
    w.state.display.events.threshold.connect(seen.append)
    try:
        w.shortcuts.step_threshold(+1)
    finally:
        w.state.display.events.threshold.disconnect(seen.append)
    assert seen == [pytest.approx(2.0 + THRESHOLD_STEP)]  # one write, into the state
    assert not w.state.display.threshold_pinned and not w.controls.pinned.isChecked()
    assert w.state.display.threshold_percentile == percentile
    # ... and the slider, the 3-D view and (following the threshold) the slices follow it
    assert w.controls.threshold.value() == pytest.approx(2.0 + THRESHOLD_STEP)
    assert w.scene.display_settings.threshold == pytest.approx(2.0 + THRESHOLD_STEP)
    w.state.slices_follow_threshold = True
    try:
        assert w.slices.layers.min_energy == pytest.approx(2.0 + THRESHOLD_STEP)
        w.shortcuts.step_threshold(-1)
        assert w.slices.layers.min_energy == pytest.approx(2.0)
    finally:
        w.state.slices_follow_threshold = False
    assert w.slices.layers.min_energy is None


def test_next_and_previous_slice_in_the_active_pane(window, qtbot):
    w = window
    coronal, sagittal = w.slices.panes["coronal"], w.slices.panes["sagittal"]
    start = coronal.slice_index
    ap, dv, ml = w.state.cursor_um
    _press(w.scene.plotter, SLICE_KEYS["next"])
    assert w.state.cursor_um == (ap + 25.0, dv, ml)  # the key moved the state's cursor 25 µm ...
    assert coronal.slice_index == start + 1  # ... and the pane followed
    assert w.slices.cursor_index()[0] == start + 1
    _press(w.scene.plotter, SLICE_KEYS["previous_grid"])
    assert coronal.slice_index == start + 1 - SLICE_STEP_GRID
    assert w.state.cursor_um[0] == ap + 25.0 * (1 - SLICE_STEP_GRID)
    # the mouse over the sagittal pane makes it the active one
    s0 = sagittal.slice_index
    qtbot.mouseMove(sagittal.canvas, QPoint(sagittal.canvas.width() // 2, sagittal.canvas.height() // 2))
    qtbot.waitUntil(lambda: w.shortcuts.active_pane == "sagittal", timeout=2000)
    ml0 = w.state.cursor_um[2]
    _press(w.scene.plotter, SLICE_KEYS["previous"])
    assert sagittal.slice_index == s0 - 1
    assert w.state.cursor_um[2] == ml0 - 25.0


def test_the_slice_key_stops_at_the_annotations_edge(window):
    w = window
    w.shortcuts.active_pane = "horizontal"
    last = w.slices.panes["horizontal"].slider.maximum()
    w.shortcuts.step_slice(10_000)
    assert w.state.cursor_um[1] == last * 25.0
    assert w.slices.panes["horizontal"].slice_index == last
    w.shortcuts.step_slice(-10_000)
    assert w.state.cursor_um[1] == 0.0 and w.slices.panes["horizontal"].slice_index == 0
    w.shortcuts.step_slice(160)
    assert w.slices.panes["horizontal"].slice_index == 160
    w.shortcuts.active_pane = "coronal"


def test_typing_in_the_search_box_is_not_a_shortcut(window):
    w = window
    box = w.search_panel.search_box
    box.setFocus()
    box.clear()
    index = w.slices.panes[w.shortcuts.active_pane].slice_index
    threshold = w.controls.threshold.value()
    QTest.keyClicks(box, "a.b,c]d[")
    assert box.text() == "a.b,c]d["
    assert w.slices.panes[w.shortcuts.active_pane].slice_index == index
    assert w.controls.threshold.value() == threshold
    box.clear()


def test_labels_toggle_key(window):
    w = window
    on = w.state.structure_labels
    _press(w.scene.plotter, LABELS_KEY)
    assert w.state.structure_labels is (not on)
    _press(w.scene.plotter, LABELS_KEY)
    assert w.state.structure_labels is on


def test_help_lists_every_shortcut_and_so_does_the_guide(window):
    w = window
    help_action = w.findChild(QAction, "keyboardShortcutsAction")
    assert help_action is not None
    help_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Help")
    assert help_action in help_menu.actions()
    help_action.trigger()
    dialog = w.shortcuts.dialog
    assert dialog is not None and dialog.isVisible()
    rows = w.shortcuts.table()
    table = dialog.findChild(QTableWidget, "keyboardShortcutsTable")
    assert table.rowCount() == len(rows) and table.item(0, 0).text() == rows[0][0]
    shown = {(k, what) for k, what in rows}
    native = QKeySequence.SequenceFormat.NativeText
    for keys in (*CAMERA_KEYS.values(), *THRESHOLD_KEYS.values(), *SLICE_KEYS.values(), LABELS_KEY, "Ctrl+K"):
        assert any(k == QKeySequence(keys).toString(native) for k, _ in shown), keys
    dialog.close()

    guide = guide_path().read_text(encoding="utf-8")
    section = guide[guide.index("## Keyboard shortcuts"):]
    for act in w.findChildren(QAction):
        for seq in act.shortcuts():
            keys = seq.toString()
            if keys:
                assert f"`{keys}`" in section, f"{keys} ({act.text()}) is not in the guide's table"
