"""File > Export > Movie…: the turntable from the window's view and display settings,
through the same core function as ``allen-viewer export movie``; progress and cancel.

The option and save dialogs are replaced by the test's answers (``ask_movie_options`` of
``window.exports.movie``, ``ask_save_path`` and ``confirm_overwrite`` of ``window.exports``).
"""
from __future__ import annotations

import json

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest
import pyvista as pv
from PySide6.QtCore import QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from allen_viewer.api.client import AllenClient
from allen_viewer.data import AtlasData
from allen_viewer.gui.main_window import MainWindow
from allen_viewer.gui.movie_export import MovieExportDialog, default_movie_options
from allen_viewer.gui.settings import ViewerSettings
from allen_viewer.state import read_session
from allen_viewer.store.cache import Cache

pytestmark = pytest.mark.gui

PDYN = 71717084
CLOSED = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory, ontology, reference_space, gene_index):
    pv.global_theme.anti_aliasing = None
    client = AllenClient(CLOSED, CLOSED + "/informatics-archive/current-release", timeout=(1.0, 1.0), retries=0)
    data = AtlasData(cache=Cache(tmp_path_factory.mktemp("movie_cache")), client=client)
    data.__dict__.update(ontology=ontology, reference_space=reference_space, gene_index=gene_index)
    w = MainWindow(data, ViewerSettings(tmp_path_factory.mktemp("settings") / "s.ini"))
    w.resize(1200, 800)
    w.show()
    QTest.qWaitForWindowExposed(w)
    w.request_gene("Pdyn")
    qapp.processEvents()
    deadline = 60_000
    while deadline > 0 and (w.grid is None or w.space is None or w.outline_mesh is None or w.is_busy()):
        QTest.qWait(20)
        deadline -= 20
    assert w.grid is not None and w.grid.id == PDYN and w.outline_mesh is not None
    yield w
    w.close()
    w.deleteLater()
    QTest.qWait(50)


@pytest.fixture
def answers(window):
    """What the 'user' answers: the movie options and the path to save to (replacing is allowed)."""
    window.banner.hide()
    exports = window.exports
    given = {"options": {"size": (161, 121), "view": None, "frames": 4, "fps": 10.0}, "path": None}
    exports.movie.ask_movie_options = lambda: dict(given["options"])
    exports.ask_save_path = lambda caption, suggested, file_filter: given["path"]
    exports.confirm_overwrite = lambda existing: True
    return given


def test_the_menu_entry_and_the_dialog(window, qtbot):
    window.exports.update_enabled()
    act = window.exports.actions["movie"]
    assert act.text().replace("&", "") == "Movie of the 3-D view…" and act.isEnabled()
    assert act in window.exports.menu.actions()
    dialog = MovieExportDialog(window, {"size": (640, 480), "view": "dorsal", "frames": 36, "fps": 12})
    qtbot.addWidget(dialog)
    assert dialog.values() == {"size": (640, 480), "view": "dorsal", "frames": 36, "fps": 12.0,
                               "clip": "none", "planes": False}
    cut = MovieExportDialog(window, {"clip": "left", "planes": True})  # the figure options of export image
    qtbot.addWidget(cut)
    assert cut.values()["clip"] == "left" and cut.values()["planes"] is True
    plain = MovieExportDialog(window)
    qtbot.addWidget(plain)
    assert plain.values() == {**default_movie_options(), "fps": float(default_movie_options()["fps"])}
    assert plain.values()["view"] is None  # the camera on screen, by default


def test_mp4_from_the_camera_on_screen(qtbot, window, answers, tmp_path):
    window.camera_preset("lateral")
    window.scene.plotter.camera.Azimuth(20)  # a view of the user's own, not a preset
    pose = window.scene.camera_pose()
    answers["path"] = tmp_path / "pdyn_turn"  # no suffix: .mp4 is added
    shown = []
    exports = window.exports
    QTimer.singleShot(0, lambda: shown.append(exports.movie.progress_dialog is not None
                                              and exports.movie.progress_dialog.isVisible()))
    with qtbot.waitSignal(exports.exportFinished, timeout=120_000) as blocker:
        exports.actions["movie"].trigger()
    out = tmp_path / "pdyn_turn.mp4"
    assert blocker.args[0] == [out, tmp_path / "pdyn_turn.mp4.json"]
    assert shown == [True]  # the progress dialog was up while the frames were rendered
    reader = iio2.get_reader(out, "FFMPEG")
    try:
        assert reader.count_frames() == 4 and reader.get_meta_data()["size"] == (160, 120)
    finally:
        reader.close()
    side = json.loads((tmp_path / "pdyn_turn.mp4.json").read_text())
    turn = side["camera"]["turn"]
    assert side["export"] == "movie" and turn["fitted_to_the_whole_turn"] is False
    np.testing.assert_allclose(side["camera"]["position_um"], pose.position, atol=1e-6)
    np.testing.assert_allclose(turn["first_frame_camera"]["position_um"], pose.position, atol=1e-6)
    d = window.state.display
    assert side["display"]["energy_threshold"] == pytest.approx(d.threshold)
    assert side["movie"]["size_asked"] == {"width_px": 161, "height_px": 121}
    state = read_session(tmp_path / "pdyn_turn.mp4.json")
    assert state.experiment.id == PDYN and state.camera.preset is None
    np.testing.assert_allclose(state.camera.position_um, pose.position, atol=1e-3)
    assert "turntable of Pdyn" in window.status_text and "rounded" in window.status_text


def test_gif_from_a_preset(qtbot, window, answers, tmp_path):
    answers["options"] = {"size": (120, 90), "view": "dorsal", "frames": 3, "fps": 25.0}
    answers["path"] = tmp_path / "turn.gif"
    with qtbot.waitSignal(window.exports.exportFinished, timeout=120_000):
        window.exports.actions["movie"].trigger()
    frames = iio.imread(tmp_path / "turn.gif", index=None, plugin="pillow", mode="RGB")
    assert frames.shape == (3, 90, 120, 3)
    state = read_session(tmp_path / "turn.gif.json")
    assert state.camera.preset == "dorsal" and state.camera.position_um is None
    assert window.exports.movie.options["view"] == "dorsal"  # the dialog remembers the last answers


def test_cancel_stops_and_leaves_no_file(qtbot, window, answers, tmp_path):
    answers["options"] = {"size": (96, 72), "view": "oblique", "frames": 200, "fps": 30.0}
    answers["path"] = tmp_path / "never.mp4"
    movie = window.exports.movie

    def press_cancel():
        buttons = movie.progress_dialog.findChildren(QPushButton)
        [b for b in buttons if b.text() == "Cancel"][0].click()

    QTimer.singleShot(0, press_cancel)
    # the movie is written inside trigger() (frames with processEvents between them): when
    # it returns the export has ended, so exportFinished cannot come later
    with qtbot.assertNotEmitted(window.exports.exportFinished):
        window.exports.actions["movie"].trigger()
    assert list(tmp_path.iterdir()) == []
    assert "cancelled" in window.status_text and movie.progress_dialog is None


def test_bad_options_show_in_the_banner(qtbot, window, answers, tmp_path):
    answers["options"] = {"size": (96, 72), "view": "oblique", "frames": 3, "fps": 55.0}
    answers["path"] = tmp_path / "fast.gif"
    with qtbot.waitSignal(window.exports.exportFailed, timeout=10_000) as blocker:
        window.exports.actions["movie"].trigger()
    assert "frame rate (--fps) must be from 1 to 50" in blocker.args[0] and window.banner.isVisible()
    assert list(tmp_path.iterdir()) == []
