"""ViewerState: the Qt-free evented model of what the viewer shows, and its session files."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.state import (
    SESSION_FORMAT,
    SESSION_VERSION,
    ExperimentRef,
    ViewerState,
    read_session,
    session_from_record,
    write_session,
)


def _example() -> ViewerState:
    state = ViewerState()
    state.experiment = ExperimentRef(71717084, "Pdyn", "coronal")
    state.compare_with = ExperimentRef(79556662, "Penk", "coronal")
    state.comparing = True
    state.display.threshold_percentile = 85.0
    state.display.threshold = 5.25
    state.display.threshold_pinned = True
    state.display.color_by = "intensity"
    state.display.size_scale = 1.5
    state.display.opacity = 0.6
    state.display.cmap = "magma"
    state.display.show_outside_brain = True
    state.camera.preset = None
    state.camera.position_um = (-20000.0, -15000.0, -9000.0)
    state.camera.focal_point_um = (6600.0, 4000.0, 5700.0)
    state.camera.view_up = (0.0, -1.0, 0.0)
    state.camera.view_angle_deg = 28.5
    state.cursor_um = (5000.0, 3000.0, 2000.0)
    state.selected_structure = 672
    state.visible_structures = (315, 1089)
    state.slice_background = "nissl"
    return state


def test_state_imports_neither_qt_nor_vtk():
    code = ("import sys, allen_viewer.state; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'vtkmodules', 'pyvista', 'numpy')]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_fields_fire_events_with_new_and_old_values():
    state = ViewerState()
    seen = []
    state.events.selected_structure.connect(lambda new, old: seen.append(("sel", new, old)))
    state.display.events.threshold.connect(lambda new, old: seen.append(("thr", new, old)))
    state.selected_structure = 672
    state.selected_structure = 672  # equal: no event
    state.display.threshold = 7.5
    assert seen == [("sel", 672, None), ("thr", 7.5, 1.0)]


def test_all_relays_nested_changes_with_their_path():
    state = ViewerState()
    paths = []
    state.events.all.connect(lambda info: paths.append(tuple(p.attr for p in info.path)))
    state.display.cmap = "hot"
    state.camera.preset = "dorsal"
    state.network = "online"
    assert paths == [("display", "cmap"), ("camera", "preset"), ("network",)]


def test_json_round_trip_keeps_every_saved_field(tmp_path):
    state = _example()
    path = write_session(tmp_path / "s.json", state)
    again = read_session(path)
    assert again.to_dict() == state.to_dict()
    assert again.experiment == ExperimentRef(71717084, "Pdyn", "coronal")
    assert again.camera.position_um == (-20000.0, -15000.0, -9000.0)
    assert again.visible_structures == (315, 1089)
    data = json.loads(path.read_text())
    assert data["format"] == SESSION_FORMAT and data["version"] == SESSION_VERSION
    assert "network" not in data


def test_update_from_fires_events_only_for_changes():
    state = ViewerState()
    fired = []
    state.events.all.connect(lambda info: fired.append(".".join(p.attr for p in info.path)))
    state.update_from(ViewerState())
    assert fired == []
    state.update_from(_example())
    assert "display.cmap" in fired and "experiment" in fired and "camera.position_um" in fired
    assert state.to_dict() == _example().to_dict()


def test_threshold_rule_follows_the_pin():
    state = ViewerState()
    assert state.display.threshold_rule == "percentile"
    state.display.threshold_pinned = True
    assert state.display.threshold_rule == "energy"


def test_copy_is_independent():
    state = _example()
    twin = state.copy()
    twin.display.cmap = "gray"
    assert state.display.cmap == "magma"


def test_sidecar_embedding_a_session_is_read(tmp_path):
    sidecar = {"export": "image", "experiments": [], "session": _example().to_dict()}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(sidecar))
    assert read_session(path).to_dict() == _example().to_dict()


def test_sidecar_without_a_session_is_refused(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"export": "voxels", "experiments": []}))
    with pytest.raises(AllenViewerError, match="export sidecar without a session"):
        read_session(path)


def _broken(mutate) -> dict:
    data = _example().to_dict()
    mutate(data)
    return data


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(colour="red"), "unknown key 'colour'"),
    (lambda d: d["display"].update(glow=1), "unknown key 'display.glow'"),
    (lambda d: d.pop("cursor_um"), "missing key 'cursor_um'"),
    (lambda d: d["camera"].pop("preset"), "missing key 'camera.preset'"),
    (lambda d: d["display"].update(threshold="high"), "display.threshold: expected a number, not 'high'"),
    (lambda d: d["display"].update(threshold=-1), r"display.threshold: -1 is out of range"),
    (lambda d: d["display"].update(opacity=0), r"display.opacity: 0 is out of range \(must be > 0\)"),
    (lambda d: d["display"].update(threshold_percentile=101), "display.threshold_percentile: 101 is out"),
    (lambda d: d["display"].update(cmap="jet"), "display.cmap: 'jet' is not one of viridis"),
    (lambda d: d["display"].update(color_by=3), "display.color_by: 3 is not one of auto"),
    (lambda d: d["display"].update(threshold_pinned="yes"), "display.threshold_pinned: expected true or false"),
    (lambda d: d.update(cursor_um=[1, 2]), "cursor_um: expected an array of 3 numbers"),
    (lambda d: d.update(cursor_um=[1, 2, None]), r"cursor_um\[2\]: expected a number, not null"),
    (lambda d: d.update(selected_structure=True), "selected_structure: expected a whole number or null"),
    (lambda d: d.update(visible_structures=[1, "CP"]), r"visible_structures\[1\]: expected a whole number"),
    (lambda d: d["experiment"].update(id="Pdyn"), "experiment.id: expected a whole number"),
    (lambda d: d["experiment"].update(plane="axial"), "experiment.plane: 'axial' is not one of"),
    (lambda d: d.update(experiment=[1]), "experiment: expected a JSON object, not an array of 1"),
    (lambda d: d.update(display=None), "display: expected a JSON object, not null"),
    (lambda d: d.update(version=SESSION_VERSION + 1), "written by a newer allen_viewer"),
    (lambda d: d.update(version="1"), "\"version\" must be a whole number"),
    (lambda d: d.update(format="something.else"), "not an allen_viewer session"),
    (lambda d: d.update(compare_with=None), "\"comparing\" is true but"),
    (lambda d: d["camera"].update(preset=None, position_um=None), "neither a preset nor a position_um"),
    (lambda d: d["display"].update(threshold=10 ** 400), "display.threshold: a whole number of 401 digits is out"),
    (lambda d: d.update(cursor_um=[1, 10 ** 400, 2]), r"cursor_um\[1\]: a whole number of 401 digits is out"),
    (lambda d: d.update(selected_structure=10 ** 400), "selected_structure: a whole number of 401 digits"),
    (lambda d: d["experiment"].update(id=2 ** 63), "experiment.id: a whole number of 19 digits is out"),
])
def test_bad_sessions_give_one_clear_message(mutate, message):
    with pytest.raises(AllenViewerError, match=message) as info:
        ViewerState.from_dict(_broken(mutate), "s.json")
    text = str(info.value)
    assert text.startswith("s.json") and "\n" not in text and "Traceback" not in text


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    ("{not json", "is not valid JSON"),
    ("[1, 2]", "expected a JSON object, not an array of 2"),
    (b"\xff\xfe\x00", "is not a text file"),
    pytest.param("[" * 100_000 + "]" * 100_000, "nested too deeply", id="nested-100000"),
    pytest.param('{"version": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply", id="nested-inside"),
])
def test_bad_session_files(tmp_path, content, message):
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(AllenViewerError, match=message):
        read_session(path)


def test_a_session_file_with_a_400_digit_number_is_one_line(tmp_path):
    path = tmp_path / "s.json"
    data = _example().to_dict()
    data["display"]["threshold"] = 10 ** 400
    path.write_text(json.dumps(data))
    with pytest.raises(AllenViewerError, match="display.threshold: a whole number of 401 digits is out of range"):
        read_session(path)
    data["display"]["threshold"] = 10 ** 5000  # Python's int-to-text limit: never printed
    with pytest.raises(AllenViewerError, match="thousands of digits is out of range"):
        ViewerState.from_dict(data, "s.json")


def test_from_json_refuses_deeply_nested_json_in_one_line():
    with pytest.raises(AllenViewerError, match="s.json is not a session: its JSON is nested too deeply"):
        ViewerState.from_json("[" * 100_000 + "]" * 100_000, "s.json")


def test_session_record_is_the_state_itself_or_embedded():
    data = _example().to_dict()
    assert session_from_record(data, "x").to_dict() == data
    assert session_from_record({"export": "image", "session": data}, "x").to_dict() == data


def test_write_session_never_replaces_a_folder(tmp_path):
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(AllenViewerError, match="not a regular file"):
        write_session(tmp_path / "dir.json", ViewerState())


def test_the_colour_maps_and_colour_by_choices_are_defined_once_in_the_state():
    """The render layer draws with the state's lists (one definition, issue 20): it defines none
    of its own."""
    import re
    from pathlib import Path

    from allen_viewer.render import layers as render_layer
    from allen_viewer.state import CMAPS, COLOR_BY, DEFAULT_CMAP

    source = Path(render_layer.__file__).read_text(encoding="utf-8")
    assert not re.search(r"^(CMAPS|COLOR_BY|DEFAULT_CMAP)\s*[:=]", source, re.M)
    assert render_layer.DisplaySettings().cmap == DEFAULT_CMAP and DEFAULT_CMAP in CMAPS
    assert "auto" in COLOR_BY
