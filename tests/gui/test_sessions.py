"""Sessions: what the window shows saved to a file and opened again, in the window and from the CLI.

Offline throughout: Pdyn (71717084) and Nrp1 (74272479) are embedded, so nothing needs a server.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from allen_viewer.gui.session_views import open_session_file, save_session_file
from allen_viewer.state import ExperimentRef, read_session
from tests.gui import run_viewer

pytestmark = [pytest.mark.gui, pytest.mark.window(network="offline", notices=False, size=(1600, 1000))]

PDYN, NRP1 = 71717084, 74272479
CP, TH = 672, 549


def _settle(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.is_busy() and not w.session.pending, timeout=60_000)


def test_the_state_follows_the_window(qtbot, window):
    w = window
    w.request_gene("Pdyn")
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == PDYN, timeout=60_000)
    _settle(qtbot, w)
    assert w.state.experiment == ExperimentRef(PDYN, "Pdyn", "coronal")
    w.controls.cmap.setCurrentText("magma")
    assert w.state.display.cmap == "magma"
    w.controls.size_scale.setValue(1.7)
    assert w.state.display.size_scale == pytest.approx(1.7)
    w.controls.pinned.setChecked(True)
    assert w.state.display.threshold_pinned and w.state.display.threshold_rule == "energy"
    w.controls.pinned.setChecked(False)
    w.controls.percentile.setValue(75.0)
    assert w.state.display.threshold_percentile == 75.0
    assert w.state.display.threshold == pytest.approx(w.controls.values()["threshold"])
    w.controls.color_by.setCurrentIndex(w.controls.color_by.findData("density"))
    assert w.state.display.color_by == "density"
    w.outside_action.setChecked(True)
    assert w.state.display.show_outside_brain
    w.outside_action.setChecked(False)
    w.surfaces.select_structure(TH)
    assert w.state.selected_structure == TH
    w.tree_panel.set_visible(CP, True)
    assert CP in w.state.visible_structures
    w.tree_panel.set_visible(CP, False)
    assert CP not in w.state.visible_structures
    assert w.state.network == "offline-mode"


def test_session_round_trip_in_the_window(qtbot, window, tmp_path):
    w = window
    w.request_gene("Pdyn")
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == PDYN, timeout=60_000)
    _settle(qtbot, w)
    w.controls.set_values(threshold=4.25, size_scale=1.4, cmap="inferno", opacity=0.7, threshold_percentile=85.0,
                          threshold_pinned=False, color_by="energy")
    w.controls.changed.emit()
    w.outside_action.setChecked(True)
    w.tree_panel.set_visible(CP, True)
    w.surfaces.go_to_structure("TH")
    w.camera_preset("lateral")
    _settle(qtbot, w)
    path = tmp_path / "s.json"
    assert save_session_file(w, path)
    saved = read_session(path)
    assert saved.experiment.id == PDYN and saved.camera.preset == "lateral"
    assert saved.selected_structure == TH and saved.visible_structures == (CP,)
    assert saved.display.threshold == pytest.approx(4.25) and saved.display.cmap == "inferno"

    # change everything, then open the session: the same state again
    w.request_gene(NRP1)
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == NRP1, timeout=60_000)
    w.controls.set_values(threshold=9.0, size_scale=0.6, cmap="gray", opacity=0.3, threshold_percentile=60.0,
                          threshold_pinned=True, color_by="auto")
    w.controls.changed.emit()
    w.outside_action.setChecked(False)
    w.camera_preset("dorsal")
    w.surfaces.select_structure(CP)
    w.tree_panel.set_visible(CP, False)
    w.set_cursor_um(np.array([7000.0, 3000.0, 6000.0]), select=False)
    _settle(qtbot, w)
    assert open_session_file(w, path)
    _settle(qtbot, w)
    assert w.grid.id == PDYN
    again = w.session.snapshot()
    a, b = saved.to_dict(), again.to_dict()
    for key in ("position_um", "focal_point_um", "view_up"):
        assert np.allclose(a["camera"].pop(key), b["camera"].pop(key), atol=1e-3)
    assert a == b
    assert w.controls.saved_values() == {
        "threshold": pytest.approx(4.25), "size_scale": pytest.approx(1.4), "cmap": "inferno",
        "opacity": pytest.approx(0.7), "threshold_percentile": 85.0, "threshold_pinned": False, "color_by": "energy"}
    assert w.outside_action.isChecked() and w.scene.layer.color_by == "energy"
    w.outside_action.setChecked(False)
    assert w.tree_panel.selected_id() == TH and CP in w.scene.structure_ids
    assert np.allclose(w.slices.cursor_um(), saved.cursor_um)


def test_a_turned_camera_is_saved_as_a_pose(qtbot, window, tmp_path):
    w = window
    _settle(qtbot, w)
    w.camera_preset("anterior")
    cam = w.scene.plotter.camera
    cam.Azimuth(25.0)
    w.scene.render()
    snap = w.session.snapshot()
    assert snap.camera.preset is None
    pose = np.array(snap.camera.position_um)
    path = tmp_path / "turned.json"
    assert save_session_file(w, path)
    w.camera_preset("dorsal")
    assert open_session_file(w, path)
    _settle(qtbot, w)
    assert np.allclose(w.scene.camera_pose().position, pose, atol=1e-3)


@pytest.mark.parametrize("pinned", [False, True])
def test_another_gene_with_a_session_gets_the_threshold_by_its_rule(qtbot, window, pinned):
    """``--session a.json --gene Nrp1`` (the gene swapped before ``apply``, the saved
    experiment passed along): an unpinned rule gives Nrp1 its own percentile, not Pdyn's
    saved energy; a pinned one keeps that energy."""
    from allen_viewer.expression.brain import percentile_threshold

    w = window
    if w.compare.is_comparing:
        w.compare.set_compare_mode(False)
    w.request_gene("Pdyn")
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == PDYN, timeout=60_000)
    _settle(qtbot, w)
    session = w.session.snapshot()
    d = session.display
    d.threshold, d.threshold_percentile, d.threshold_pinned = 7.1, 90.0, pinned
    session.experiment = ExperimentRef.of(w.data.experiment(NRP1))  # what app.py does with --gene
    w.session.open(session, PDYN)
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == NRP1, timeout=60_000)
    _settle(qtbot, w)
    expected = 7.1 if pinned else percentile_threshold(w.grid, 90.0)
    assert abs(expected - 7.1) > 1.0 or pinned  # Nrp1's 90th percentile is far from Pdyn's 7.1
    assert w.controls.values()["threshold"] == pytest.approx(expected, abs=0.01)
    assert w.state.display.threshold == pytest.approx(expected, abs=0.01)
    assert w.state.display.threshold_pinned is pinned
    # the saved gene itself still gets its exact saved threshold, pinned or not
    session.experiment = ExperimentRef.of(w.data.experiment(PDYN))
    w.session.open(session, PDYN)
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == PDYN, timeout=60_000)
    _settle(qtbot, w)
    assert w.controls.values()["threshold"] == pytest.approx(7.1, abs=0.01)


def _compare_pdyn_with_nrp1(qtbot, w) -> None:
    w.request_gene("Pdyn")
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == PDYN, timeout=60_000)
    w.compare.compare_with(NRP1)
    qtbot.waitUntil(lambda: w.compare.is_comparing, timeout=60_000)
    _settle(qtbot, w)


def test_compare_mode_is_saved_and_reopened(qtbot, window, tmp_path):
    w = window
    _compare_pdyn_with_nrp1(qtbot, w)
    path = tmp_path / "cmp.json"
    assert save_session_file(w, path)
    saved = read_session(path)
    assert saved.comparing and saved.compare_with == ExperimentRef(NRP1, "Nrp1", "coronal")
    w.compare.set_compare_mode(False)
    assert not w.state.comparing
    assert open_session_file(w, path)
    qtbot.waitUntil(lambda: w.compare.is_comparing, timeout=60_000)
    _settle(qtbot, w)
    assert w.compare_grid.id == NRP1 and w.grid.id == PDYN
    w.compare.set_compare_mode(False)


def test_compare_options_are_saved_and_reopened_in_the_compare_view(qtbot, window, tmp_path):
    """Separate scales and a log2 ratio of percentile ranks, chosen in the compare view,
    saved from the window and reopened: the view shows them again (issue 19)."""
    w = window
    _compare_pdyn_with_nrp1(qtbot, w)
    view = w.compare_view
    view.scale_box.setCurrentIndex(view.scale_box.findData("separate"))  # as the user picks them
    view.kind_box.setCurrentIndex(view.kind_box.findData("ratio"))
    view.norm_box.setCurrentIndex(view.norm_box.findData("percentile"))
    path = tmp_path / "options.json"
    assert save_session_file(w, path)
    saved = read_session(path)
    assert (saved.compare_options.scale, saved.compare_options.kind, saved.compare_options.normalise) == (
        "separate", "ratio", "rank")
    view.scale_box.setCurrentIndex(view.scale_box.findData("shared"))
    view.kind_box.setCurrentIndex(view.kind_box.findData("difference"))
    assert w.state.compare_options.scale == "shared"
    assert open_session_file(w, path)
    _settle(qtbot, w)
    assert view.scale_box.currentData() == "separate" and view.kind_box.currentData() == "ratio"
    assert view.norm_box.currentData() == "percentile"
    assert view.scene_a.color_range != view.scene_b.color_range  # each gene its own scale
    assert w.session.snapshot().compare_options == saved.compare_options
    w.state.compare_options.scale, w.state.compare_options.kind = "shared", "difference"
    w.compare.set_compare_mode(False)


def test_the_compare_view_follows_the_state(qtbot, window):
    w = window
    _compare_pdyn_with_nrp1(qtbot, w)
    view = w.compare_view
    w.compare.set_compare_mode(False)  # hidden, it still follows
    w.controls.cmap.setCurrentText("plasma")
    assert all(scene.display_settings.cmap == "plasma" for scene in view.scenes[:2])
    w.surfaces.select_structure(CP)
    assert view.structure is not None and view.structure.id == CP
    w.set_cursor_um(np.array([6000.0, 3000.0, 4000.0]), select=False)
    assert np.allclose(view.slices.cursor_um(), w.slices.cursor_um())
    assert w.state.cursor_um == tuple(w.slices.cursor_um())
    w.set_slice_background("annotation")
    assert w.state.slice_background == "annotation"


def test_a_session_gene_that_cannot_load_leaves_the_gene_on_show_in_the_state(qtbot, window, tmp_path):
    """Offline, a session naming a gene that needs a download: the load fails (banner), the
    session stops waiting for it and the state names the gene still on show (issue 19:
    opening a session is setting the state, and the state never names what is not shown)."""
    from allen_viewer.state import ViewerState, write_session

    w = window
    w.request_gene("Pdyn")
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == PDYN, timeout=60_000)
    _settle(qtbot, w)
    remote = next(e for e in w.index.experiments_of("Pdyn") if w.data.locate(e.id) == "remote")
    session = ViewerState()
    session.experiment = ExperimentRef.of(remote)
    path = write_session(tmp_path / "remote.json", session)
    with qtbot.waitSignal(w.loadFailed, timeout=60_000):
        assert open_session_file(w, path)
    _settle(qtbot, w)
    assert w.grid.id == PDYN and w.state.experiment == ExperimentRef(PDYN, "Pdyn", "coronal")
    assert w.banner.isVisible() and w.banner.kind == "error"
    w.banner.hide()


def test_image_exports_from_the_window_embed_their_session(qtbot, window, tmp_path):
    w = window
    w.request_gene("Pdyn")
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == PDYN, timeout=60_000)
    _settle(qtbot, w)
    exports = w.exports
    exports.ask_save_path = lambda caption, suggested, file_filter: tmp_path / "shot.png"
    exports.confirm_overwrite = lambda existing: True
    exports.ask_image_options = lambda: {"size": (320, 240), "view": "lateral", "transparent": False}
    with qtbot.waitSignal(exports.exportFinished, timeout=60_000):
        exports.actions["image_3d"].trigger()
    session = read_session(tmp_path / "shot.png.json")
    assert session.experiment.id == PDYN and session.camera.preset == "lateral"
    assert session.display.threshold == pytest.approx(w.controls.values()["threshold"])
    exports.ask_save_path = lambda caption, suggested, file_filter: tmp_path / "pane.png"
    with qtbot.waitSignal(exports.exportFinished, timeout=60_000):
        exports.actions["image_coronal"].trigger()
    assert read_session(tmp_path / "pane.png.json").cursor_um == w.state.cursor_um


def test_a_bad_session_file_goes_to_the_banner(window, tmp_path):
    w = window
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"format": "allen_viewer.session", "version": 1, "colour": "red"}))
    before = w.state.to_dict()
    assert not open_session_file(w, path)
    assert w.banner.isVisible() and "unknown key 'colour'" in w.banner.text
    assert w.state.to_dict() == before
    w.banner.hide()


# ---- the command line ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def cli_cache(tmp_path_factory):
    """One cache for the module's command-line runs: the first builds the outline mesh and the
    atlas arrays (about 15 s of a cold run), the others reuse them.  Offline, nothing else is
    cached, so what each run shows and saves does not depend on the runs before it."""
    return tmp_path_factory.mktemp("cli_cache")


def _run(args, tmp_path, cache):
    return run_viewer(["--offline", *args], tmp_path / "settings.ini", cache)


def test_an_exported_image_reopens_as_the_same_session(tmp_path, qapp, cli_cache):
    """``export image Pdyn --threshold 7.5 --view dorsal --out a.png`` then
    ``--session a.png.json --screenshot b.png``: the same gene, threshold, camera and display; b.png.json carries it."""
    a_png, b_png = tmp_path / "a.png", tmp_path / "b.png"
    result = _run(["export", "image", "Pdyn", "--threshold", "7.5", "--view", "dorsal", "--size", "400x300",
                   "--out", str(a_png)], tmp_path, cli_cache)
    assert result.returncode == 0, result.stderr
    a = json.loads((tmp_path / "a.png.json").read_text())["session"]
    assert a["experiment"] == {"id": PDYN, "gene": "Pdyn", "plane": "coronal"}
    assert a["display"]["threshold"] == 7.5 and a["display"]["threshold_pinned"] is True
    assert a["camera"]["preset"] == "dorsal"

    result = _run(["--session", str(tmp_path / "a.png.json"), "--screenshot", str(b_png)], tmp_path, cli_cache)
    assert result.returncode == 0, result.stderr
    assert b_png.is_file()
    b = json.loads((tmp_path / "b.png.json").read_text())
    assert b["export"] == "image" and b["experiments"][0]["experiment_id"] == PDYN
    b = b["session"]
    assert b["experiment"] == a["experiment"]
    assert b["display"] == a["display"]
    assert b["camera"]["preset"] == "dorsal"
    # the dorsal camera looks straight down (-y towards +y), anterior up
    pos, focal = np.array(b["camera"]["position_um"]), np.array(b["camera"]["focal_point_um"])
    direction = (focal - pos) / np.linalg.norm(focal - pos)
    assert np.allclose(direction, [0, 1, 0], atol=1e-6) and np.allclose(b["camera"]["view_up"], [-1, 0, 0])
    # and b.png reopens too, from its own PNG text chunk
    result = _run(["--session", str(tmp_path / "b.png"), "--screenshot", str(tmp_path / "c.png")], tmp_path, cli_cache)
    assert result.returncode == 0, result.stderr
    c = json.loads((tmp_path / "c.png.json").read_text())["session"]
    assert c["display"] == b["display"] and c["experiment"] == b["experiment"]
    assert np.allclose(c["camera"]["position_um"], b["camera"]["position_um"], atol=1e-3)


def test_a_percentile_export_reopens_with_its_rule(tmp_path, qapp, cli_cache):
    result = _run(["export", "image", "Pdyn", "--threshold-percentile", "80", "--size", "300x200",
                   "--out", str(tmp_path / "p.png")], tmp_path, cli_cache)
    assert result.returncode == 0, result.stderr
    a = read_session(tmp_path / "p.png.json")
    assert a.display.threshold_pinned is False and a.display.threshold_percentile == 80.0
    assert a.display.threshold_rule == "percentile" and a.camera.preset == "oblique"


def test_session_with_another_gene_on_the_command_line_uses_the_rule(tmp_path, qapp, cli_cache):
    """``--session p.json --gene Nrp1``: p.json saved Pdyn at its 90th percentile (unpinned),
    so Nrp1 is drawn at its own 90th percentile, not at Pdyn's energy."""
    result = _run(["export", "image", "Pdyn", "--threshold-percentile", "90", "--size", "300x200",
                   "--out", str(tmp_path / "p.png")], tmp_path, cli_cache)
    assert result.returncode == 0, result.stderr
    a = read_session(tmp_path / "p.png.json")
    assert a.display.threshold_pinned is False and a.display.threshold_percentile == 90.0
    result = _run(["--session", str(tmp_path / "p.png.json"), "--gene", "Nrp1",
                   "--screenshot", str(tmp_path / "n.png")],
                  tmp_path, cli_cache)
    assert result.returncode == 0, result.stderr
    b = read_session(tmp_path / "n.png.json")
    assert b.experiment.id == NRP1
    assert b.display.threshold_pinned is False and b.display.threshold_percentile == 90.0
    assert abs(b.display.threshold - a.display.threshold) > 1.0, (a.display.threshold, b.display.threshold)


@pytest.mark.parametrize("content, message", [
    ("{}", "not an allen_viewer session"),
    ('{"export": "voxels", "experiments": []}', "export sidecar without a session"),
    ("nope", "is not valid JSON"),
])
def test_bad_session_on_the_command_line_is_one_line(tmp_path, qapp, cli_cache, content, message):
    path = tmp_path / "s.json"
    path.write_text(content)
    result = _run(["--session", str(path), "--screenshot", str(tmp_path / "x.png")], tmp_path, cli_cache)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("allen-viewer: error: ") and message in lines[0]
    assert not (tmp_path / "x.png").exists()
