"""Session version 4's ``mode`` and ``mode_experiments`` (issue 23: composites and gene sets)."""
import json

import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.state import MODES, SESSION_VERSION, ViewerState, read_session, write_session


def test_mode_round_trips_through_a_session_file(tmp_path):
    state = ViewerState(mode="composite", mode_experiments=(71717084, 74272479))
    path = write_session(tmp_path / "s.json", state)
    data = json.loads(path.read_text())
    assert data["version"] == SESSION_VERSION >= 4
    assert data["mode"] == "composite" and data["mode_experiments"] == [71717084, 74272479]
    again = read_session(path)
    assert (again.mode, again.mode_experiments) == ("composite", (71717084, 74272479))
    seen = []
    twin = ViewerState()
    twin.events.mode.connect(lambda new, old: seen.append(new))
    twin.update_from(again)
    assert seen == ["composite"] and twin.mode_experiments == (71717084, 74272479)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_older_sessions_open_in_gene_mode(version):
    data = ViewerState().to_dict()
    data["version"] = version
    from tests.test_figures_state import drop_v4_keys

    drop_v4_keys(data)  # every key version 4 added (the figures' too)
    drop = (["cut_away", "slice_planes"] if version < 3 else []) + (
        ["structure_styles", "structure_labels"] if version < 2 else [])
    for key in drop:
        data.pop(key)
    state = ViewerState.from_dict(data)
    assert state.mode == "gene" and state.mode_experiments == ()
    data["mode"] = "gene-set"  # not a key before version 4
    with pytest.raises(AllenViewerError, match="unknown key 'mode'"):
        ViewerState.from_dict(data, "old.json")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(mode="heatmap"), "mode"),
    (lambda d: d.update(mode="composite", mode_experiments=[1]), "2 or 3 mode_experiments"),
    (lambda d: d.update(mode="composite", mode_experiments=[1, 2, 3, 4]), "2 or 3 mode_experiments"),
    (lambda d: d.update(mode="gene-set", mode_experiments=[5]), "2 to 500"),
    (lambda d: d.update(mode_experiments=["x"]), "mode_experiments\\[0\\]"),
    (lambda d: d.pop("mode"), "missing key 'mode'"),
])
def test_a_bad_mode_gives_one_clear_message(mutate, message):
    data = ViewerState().to_dict()
    mutate(data)
    with pytest.raises(AllenViewerError, match=message) as info:
        ViewerState.from_dict(data, "s.json")
    assert "\n" not in str(info.value)
    assert set(MODES) == {"gene", "composite", "gene-set"}
