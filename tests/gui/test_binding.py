"""gui/binding.py: a widget writes one state field and follows its events, without echoes."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox

from allen_viewer.gui.binding import bind, follow
from allen_viewer.state import ViewerState


def test_widget_writes_the_state_and_follows_it_without_echo(qtbot):
    state = ViewerState()
    box = QCheckBox()
    qtbot.addWidget(box)
    writes = []
    state.events.slices_follow_threshold.connect(lambda new, old: writes.append(new))
    toggles = []
    box.toggled.connect(toggles.append)
    bind(box.toggled, state, "slices_follow_threshold", box.setChecked, widget=box, convert=bool)
    box.setChecked(True)  # the user: widget -> state
    assert state.slices_follow_threshold is True and writes == [True]
    state.slices_follow_threshold = False  # a session: state -> widget, no write back
    assert box.isChecked() is False
    assert writes == [True, False]
    assert toggles == [True]  # the widget's signal was blocked while the state set it


def test_bind_shows_the_initial_value_and_undo_disconnects(qtbot):
    state = ViewerState()
    state.slices_follow_threshold = True
    box = QCheckBox()
    qtbot.addWidget(box)
    undo = bind(box.toggled, state, "slices_follow_threshold", box.setChecked, widget=box, convert=bool)
    assert box.isChecked()
    undo()
    state.slices_follow_threshold = False
    assert box.isChecked()  # no longer follows
    box.setChecked(False)
    box.setChecked(True)
    assert state.slices_follow_threshold is False  # no longer writes


def test_follow_calls_back_for_each_field_and_initially():
    state = ViewerState()
    seen = []
    undo = follow(state, ["section_um", "spatial_seed_um"], lambda new, old: seen.append(new), initial=True)
    assert seen == [None, None]
    state.section_um = (1.0, 2.0, 3.0)
    assert seen[-1] == (1.0, 2.0, 3.0)
    undo()
    state.spatial_seed_um = (4.0, 5.0, 6.0)
    assert len(seen) == 3
