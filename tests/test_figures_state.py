"""Session version 4, the figures' part (issue 21): the compare options and the camera's
projection are saved; sessions of version 1-3 reopen with raw compare scaling, a shared scale,
the difference, a 10 % cut and a perspective camera (as they were drawn then)."""
from __future__ import annotations

import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.state import (
    CAMERA_V4_KEYS,
    FIGURES_V4_KEYS,
    SESSION_V4_MODE_KEYS,
    SESSION_VERSION,
    VIEW_V4_KEYS,
    CompareOptions,
    ViewerState,
    read_session,
    write_session,
)


def drop_v4_keys(data: dict) -> dict:
    """A version-4 session dict without its version-4 keys (as version 1-3 wrote it): the
    figures' compare options and camera projection, and the gene sets' mode."""
    for key in FIGURES_V4_KEYS + SESSION_V4_MODE_KEYS + VIEW_V4_KEYS:
        data.pop(key, None)
    for key in CAMERA_V4_KEYS:
        data["camera"].pop(key, None)
    return data


def test_a_new_state_compares_by_percentile_rank():
    options = ViewerState().compare_options
    assert (options.normalise, options.scale, options.kind, options.min_abs_fraction) == \
        ("rank", "shared", "difference", 0.1)


def test_compare_options_and_projection_round_trip(tmp_path):
    state = ViewerState()
    state.compare_options.normalise = "z"
    state.compare_options.scale = "separate"
    state.compare_options.kind = "ratio"
    state.compare_options.min_abs_fraction = 0.25
    state.camera.preset = "dorsal"
    state.camera.projection = "parallel"
    state.camera.parallel_scale_um = 4321.5
    path = write_session(tmp_path / "s.json", state)
    again = read_session(path)
    assert SESSION_VERSION >= 4
    assert again.compare_options == CompareOptions("separate", "ratio", "z", 0.25)
    assert (again.camera.projection, again.camera.parallel_scale_um) == ("parallel", 4321.5)
    seen = []
    twin = ViewerState()
    twin.compare_options.events.normalise.connect(lambda new, old: seen.append(new))
    twin.update_from(again)
    assert seen == ["z"]


@pytest.mark.parametrize("version", [1, 2, 3])
def test_older_sessions_reopen_raw_and_in_perspective(version):
    data = drop_v4_keys(ViewerState().to_dict())
    data["version"] = version
    if version < 3:
        data.pop("cut_away")
        data.pop("slice_planes")
    if version < 2:
        data.pop("structure_styles")
        data.pop("structure_labels")
    state = ViewerState.from_dict(data)
    assert state.compare_options == CompareOptions(scale="shared", kind="difference", normalise="raw",
                                                   min_abs_fraction=0.1)
    assert state.camera.projection == "perspective" and state.camera.parallel_scale_um is None
    data["compare_options"] = {"scale": "shared"}  # not a key before version 4
    with pytest.raises(AllenViewerError, match="unknown key 'compare_options'"):
        ViewerState.from_dict(data, "old.json")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["compare_options"].update(normalise="percent"), "compare_options.normalise"),
    (lambda d: d["compare_options"].update(min_abs_fraction=0.95), "compare_options.min_abs_fraction"),
    (lambda d: d["compare_options"].pop("scale"), "missing key 'compare_options.scale'"),
    (lambda d: d["camera"].update(projection="fisheye"), "camera.projection"),
    (lambda d: d["camera"].update(parallel_scale_um=-3), "camera.parallel_scale_um"),
    (lambda d: d["camera"].pop("projection"), "missing key 'camera.projection'"),
])
def test_a_bad_v4_value_gives_one_clear_line(mutate, message):
    data = ViewerState().to_dict()
    mutate(data)
    with pytest.raises(AllenViewerError, match=message) as info:
        ViewerState.from_dict(data, "s.json")
    assert "\n" not in str(info.value)
