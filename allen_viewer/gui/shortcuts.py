"""Keyboard shortcuts: camera presets, threshold up/down, next/previous slice; *Help >
Keyboard shortcuts…* lists every shortcut of the window.

=================  ===============================================================
Keys               What they do
=================  ===============================================================
Ctrl+1 / 2 / 3     dorsal / lateral / anterior camera preset
Ctrl+0             reset the camera (the default oblique view)
]  /  [            raise / lower the energy threshold by :data:`THRESHOLD_STEP`
.  /  ,            next / previous slice (25 µm) in the active slice pane
Ctrl+. / Ctrl+,    next / previous 200 µm (one expression-grid plane, 8 slices)
Ctrl+L             structure labels on the slices (on/off)
=================  ===============================================================

*Next* is the increasing index: posterior (coronal), ventral (horizontal), right
(sagittal).  The **active pane** is the slice pane the mouse was last over or clicked in
(the coronal pane until then).

The keys without Ctrl are plain characters, so they never reach a shortcut while a text
box has the focus (the gene search, the filters, the number boxes): Qt gives typed
characters to the text box first.  The arrow and Page keys stay with the focused slice pane
(its own stepping) and the lists; nothing here uses them.  The shortcuts are window-wide
QActions in the *View* menu (the camera presets on its existing entries), so the menu shows
their keys too.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from allen_viewer.gui.structure_menu import menu_named as _menu
from allen_viewer.model.steps import stepped_cursor, stepped_threshold
from allen_viewer.render.slice_images import PLANES

THRESHOLD_STEP = 0.5
"""Energy units per press of ] or [ (the slider's range is the shown grid's energies, about
0-40; the default rule's thresholds are a few units)."""
SLICE_STEP_FINE = 1
SLICE_STEP_GRID = 8
"""25 µm slices per press: one slice, or one 200 µm grid plane."""

CAMERA_KEYS = {"dorsal": "Ctrl+1", "lateral": "Ctrl+2", "anterior": "Ctrl+3", "reset": "Ctrl+0"}
THRESHOLD_KEYS = {"up": "]", "down": "["}
SLICE_KEYS = {"next": ".", "previous": ",", "next_grid": "Ctrl+.", "previous_grid": "Ctrl+,"}
LABELS_KEY = "Ctrl+L"
PANE_KEYS = (("Up / Down", "next / previous slice in the focused slice pane"),
             ("Page Up / Page Down", "10 slices on in the focused slice pane"),
             ("Mouse wheel (Shift: 5x)", "slices in the pane under the mouse"))
"""Keys the slice panes handle themselves (listed in the Help table, not shortcuts)."""


class Shortcuts:
    """The window's keyboard shortcuts (module docstring) and the Help table."""

    def __init__(self, window):
        self.window = window
        self.active_pane = "coronal"
        self.actions: dict[str, QAction] = {}
        view = _menu(window, "&View")
        camera_texts = {"dorsal": "Dorsal view", "lateral": "Lateral view", "anterior": "Anterior view",
                        "reset": "Reset camera"}
        for key, text in camera_texts.items():
            act = _find(view, text)
            if act is None:  # not in the View menu (any more): a window-wide action of our own
                act = QAction(text, window)
                act.triggered.connect(window.reset_camera if key == "reset"
                                      else (lambda _=False, n=key: window.camera_preset(n)))
                window.addAction(act)
            act.setShortcut(QKeySequence(CAMERA_KEYS[key]))
            self.actions[f"camera_{key}"] = act
        if view is not None:
            view.addSeparator()
        for name, text, slot in (
                ("threshold_up", "Raise the energy threshold", lambda: self.step_threshold(+1)),
                ("threshold_down", "Lower the energy threshold", lambda: self.step_threshold(-1)),
                ("slice_next", "Next slice", lambda: self.step_slice(SLICE_STEP_FINE)),
                ("slice_previous", "Previous slice", lambda: self.step_slice(-SLICE_STEP_FINE)),
                ("slice_next_grid", "Next 200 µm", lambda: self.step_slice(SLICE_STEP_GRID)),
                ("slice_previous_grid", "Previous 200 µm", lambda: self.step_slice(-SLICE_STEP_GRID))):
            act = QAction(text, window)
            act.setObjectName(f"shortcut_{name}")
            keys = {"threshold_up": THRESHOLD_KEYS["up"], "threshold_down": THRESHOLD_KEYS["down"],
                    "slice_next": SLICE_KEYS["next"], "slice_previous": SLICE_KEYS["previous"],
                    "slice_next_grid": SLICE_KEYS["next_grid"],
                    "slice_previous_grid": SLICE_KEYS["previous_grid"]}[name]
            act.setShortcut(QKeySequence(keys))
            act.triggered.connect(slot)
            window.addAction(act)  # works with the menu bar hidden too
            if view is not None:
                view.addAction(act)
            self.actions[name] = act
        labels = getattr(getattr(window, "structure_styles", None), "labels_action", None)
        if labels is not None:
            labels.setShortcut(QKeySequence(LABELS_KEY))
            self.actions["labels"] = labels
        for name, pane in window.slices.panes.items():
            pane.hovered.connect(lambda pos, n=name: self._set_active(n) if pos is not None else None)
            pane.clicked.connect(lambda _pos, n=name: self._set_active(n))
        self.help_action = QAction("&Keyboard shortcuts…", window)
        self.help_action.setObjectName("keyboardShortcutsAction")
        self.help_action.triggered.connect(self.show_help)
        help_menu = _menu(window, "&Help")
        if help_menu is not None:
            about = getattr(window, "about_action", None)
            if about is not None and about in help_menu.actions():
                help_menu.insertAction(about, self.help_action)
            else:
                help_menu.addAction(self.help_action)
        self.dialog: QDialog | None = None

    def _set_active(self, name: str) -> None:
        self.active_pane = name

    # ---- what the keys do ---------------------------------------------------------------

    def step_threshold(self, direction: int) -> None:
        """Move the energy threshold by :data:`THRESHOLD_STEP` up (+1) or down (-1), within
        the slider's range: ``state.display.threshold`` (the rule as it is, as a slider drag
        leaves it; :func:`~allen_viewer.model.steps.stepped_threshold`); the controls, the
        3-D view and the slices follow the state."""
        display = self.window.state.display
        display.threshold = stepped_threshold(display.threshold, self.window.loaded.grid, direction,
                                              THRESHOLD_STEP)

    def step_slice(self, steps: int) -> None:
        """Move ``state.cursor_um`` ``steps`` 25 µm slices on along the active pane's axis
        (:func:`~allen_viewer.model.steps.stepped_cursor`); the panes follow the state."""
        state = self.window.state
        state.cursor_um = stepped_cursor(state.cursor_um, PLANES[self.active_pane].axis, steps)

    # ---- Help ---------------------------------------------------------------------------

    def table(self) -> list[tuple[str, str]]:
        """(keys, what) of every shortcut of the window's actions, then the panes' own keys,
        in the platform's spelling of the keys."""
        rows = []
        seen = set()
        for act in self.window.findChildren(QAction):
            for seq in act.shortcuts():
                text = seq.toString(QKeySequence.SequenceFormat.NativeText)
                if text and (text, act.text()) not in seen:
                    seen.add((text, act.text()))
                    rows.append((text, act.text().replace("&", "").rstrip("…").rstrip(".")))
        rows.sort(key=lambda r: r[1].lower())
        return rows + list(PANE_KEYS)

    def show_help(self) -> QDialog:
        """Show (non-modal) the table of keys."""
        if self.dialog is None:
            dlg = QDialog(self.window)
            dlg.setObjectName("keyboardShortcutsDialog")
            dlg.setWindowTitle("Keyboard shortcuts")
            layout = QVBoxLayout(dlg)
            layout.addWidget(QLabel("Keys without Ctrl act when no text box has the focus. "
                                    "The active slice pane is the one the mouse was last over."))
            table = QTableWidget(0, 2, dlg)
            table.setObjectName("keyboardShortcutsTable")
            table.setHorizontalHeaderLabels(["Keys", "Action"])
            table.verticalHeader().setVisible(False)
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
            layout.addWidget(table)
            buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dlg)
            buttons.rejected.connect(dlg.close)
            layout.addWidget(buttons)
            dlg.resize(520, 560)
            self.dialog = dlg
        table = self.dialog.findChild(QTableWidget, "keyboardShortcutsTable")
        rows = self.table()
        table.setRowCount(len(rows))
        for i, (keys, what) in enumerate(rows):
            for j, text in enumerate((keys, what)):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                table.setItem(i, j, item)
        table.resizeColumnToContents(0)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog


def _find(menu, text: str) -> QAction | None:
    if menu is None:
        return None
    for act in menu.actions():
        if act.text() == text:
            return act
    return None


def install_shortcuts(window) -> Shortcuts:
    """Add the keyboard shortcuts and *Help > Keyboard shortcuts…* to ``window``."""
    return Shortcuts(window)
