"""What the user sees beyond the genes (issue 19): "slices follow threshold", the Section
dock's point and the Spatial dock's seed in the ViewerState and its sessions (version 4),
and the genes on show as ``genes``."""
from __future__ import annotations

import json

import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.state import GRID_EXTENT_UM, VIEW_V4_KEYS, ExperimentRef, ViewerState, read_session, write_session


def test_view_fields_round_trip_through_a_session_file(tmp_path):
    state = ViewerState()
    state.slices_follow_threshold = True
    state.section_um = (5400.0, 3000.0, 2000.0)
    state.spatial_seed_um = (6000.0, 4200.0, 1800.0)
    again = read_session(write_session(tmp_path / "s.json", state))
    assert again.slices_follow_threshold is True
    assert again.section_um == (5400.0, 3000.0, 2000.0)
    assert again.spatial_seed_um == (6000.0, 4200.0, 1800.0)
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["section_um"] == [5400.0, 3000.0, 2000.0] and data["slices_follow_threshold"] is True


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_sessions_without_the_view_keys_open_with_their_defaults(version):
    data = ViewerState().to_dict()
    for key in VIEW_V4_KEYS:
        del data[key]
    data["version"] = version
    if version < 4:
        for key in ("mode", "mode_experiments", "compare_options"):
            del data[key]
        for key in ("projection", "parallel_scale_um"):
            del data["camera"][key]
    if version < 3:
        del data["cut_away"], data["slice_planes"]
    if version < 2:
        del data["structure_styles"], data["structure_labels"]
    state = ViewerState.from_dict(data)
    assert (state.slices_follow_threshold, state.section_um, state.spatial_seed_um) == (False, None, None)


def test_a_version_3_session_may_not_carry_the_view_keys():
    data = ViewerState().to_dict()
    for key in ("mode", "mode_experiments", "compare_options"):
        del data[key]
    for key in ("projection", "parallel_scale_um"):
        del data["camera"][key]
    data["version"] = 3
    with pytest.raises(AllenViewerError, match="unknown keys 'slices_follow_threshold', 'section_um'"):
        ViewerState.from_dict(data)


@pytest.mark.parametrize("key,value,message", [
    ("slices_follow_threshold", 1, "slices_follow_threshold: expected true or false"),
    ("section_um", [1, 2], "section_um: expected an array of 3 numbers or null"),
    ("spatial_seed_um", "here", "spatial_seed_um: expected an array of 3 numbers or null"),
])
def test_bad_view_values_give_one_clear_message(key, value, message):
    data = ViewerState().to_dict()
    data[key] = value
    with pytest.raises(AllenViewerError, match=message):
        ViewerState.from_dict(data)


def test_points_are_clipped_into_the_grid():
    data = ViewerState().to_dict()
    data["section_um"] = [-5.0, 1e308, 100.0]
    state = ViewerState.from_dict(data)
    assert state.section_um == (0.0, GRID_EXTENT_UM[1], 100.0)


def test_update_from_copies_the_view_fields_with_events():
    state, other = ViewerState(), ViewerState()
    other.slices_follow_threshold = True
    other.spatial_seed_um = (1.0, 2.0, 3.0)
    seen = []
    state.events.slices_follow_threshold.connect(lambda new, old: seen.append(("follow", new)))
    state.events.spatial_seed_um.connect(lambda new, old: seen.append(("seed", new)))
    state.update_from(other)
    assert seen == [("follow", True), ("seed", (1.0, 2.0, 3.0))]


def test_genes_lists_the_genes_on_show():
    state = ViewerState()
    assert state.genes == ()
    a, b = ExperimentRef(71717084, "Pdyn", "coronal"), ExperimentRef(74272479, "Nrp1", "coronal")
    state.experiment = a
    state.compare_with = b
    assert state.genes == (a,)  # B loaded, comparison not on show
    state.comparing = True
    assert state.genes == (a, b)
