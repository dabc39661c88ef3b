"""The 3-D view's cut-away and slice planes in the ViewerState and its sessions (version 3).

Qt-free: the GUI binding is tested in tests/gui/test_slice_planes.py."""
from __future__ import annotations

import json

import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.render.cuts import CUT_AWAYS as RENDER_CUT_AWAYS
from allen_viewer.state import CUT_AWAYS, SESSION_VERSION, ViewerState, read_session, write_session


def test_the_state_offers_exactly_the_cut_aways_the_renderer_draws():
    assert set(CUT_AWAYS) == set(RENDER_CUT_AWAYS)


def test_cut_and_planes_round_trip_through_a_session_file(tmp_path):
    state = ViewerState(cut_away="left", slice_planes=True, cursor_um=(7000.0, 3000.0, 5000.0))
    path = write_session(tmp_path / "s.json", state)
    data = json.loads(path.read_text())
    assert data["version"] == SESSION_VERSION >= 3
    assert data["cut_away"] == "left" and data["slice_planes"] is True
    again = read_session(path)
    assert (again.cut_away, again.slice_planes, again.cursor_um) == ("left", True, (7000.0, 3000.0, 5000.0))
    seen = []
    twin = ViewerState()
    twin.events.cut_away.connect(lambda new, old: seen.append(("cut", new)))
    twin.events.slice_planes.connect(lambda new, old: seen.append(("planes", new)))
    twin.update_from(again)
    assert seen == [("cut", "left"), ("planes", True)]


@pytest.mark.parametrize("version", [1, 2])
def test_older_sessions_open_with_no_cut_and_no_planes(version):
    data = ViewerState(cut_away="right", slice_planes=True).to_dict()
    data["version"] = version
    for key in ("cut_away", "slice_planes", "mode", "mode_experiments") + (
            ("structure_styles", "structure_labels") if version == 1 else ()):
        data.pop(key)
    from tests.test_figures_state import drop_v4_keys

    drop_v4_keys(data)
    state = ViewerState.from_dict(data)
    assert state.cut_away == "none" and state.slice_planes is False
    data["cut_away"] = "left"  # not a key before version 3
    with pytest.raises(AllenViewerError, match="unknown key 'cut_away'"):
        ViewerState.from_dict(data, "old.json")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(cut_away="middle"), "cut_away"),
    (lambda d: d.update(cut_away=3), "cut_away"),
    (lambda d: d.update(slice_planes="yes"), "slice_planes: expected true or false"),
    (lambda d: d.pop("slice_planes"), "missing key 'slice_planes'"),
])
def test_a_bad_cut_or_planes_value_gives_one_clear_message(mutate, message):
    data = ViewerState().to_dict()
    mutate(data)
    with pytest.raises(AllenViewerError, match=message) as info:
        ViewerState.from_dict(data, "s.json")
    assert "\n" not in str(info.value)
