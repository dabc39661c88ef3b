"""File > Export in the window: the same core functions as the CLI, overwrite questions,
images at any size, the clipboard, failures in the banner.

The dialogs are replaced by the test's answers (``ask_save_path``, ``confirm_overwrite``,
``ask_image_options``, ``ask_volume`` are the only places the actions ask the user).
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image
from PySide6.QtGui import QGuiApplication

from allen_viewer.export.image import PROVENANCE_KEY
from allen_viewer.export.tables import VOXEL_COLUMNS

pytestmark = [pytest.mark.gui, pytest.mark.window(network="closed", size=(1400, 900), gene="Pdyn")]

PDYN = 71717084


class Answers:
    """What the 'user' answers: the path to save to, whether to replace, the image options."""

    def __init__(self, exports):
        self.path = None
        self.replace = True
        self.asked_to_replace: list[list] = []
        self.image = {"size": (800, 600), "view": None, "transparent": False}
        exports.ask_save_path = lambda caption, suggested, file_filter: self.path
        exports.confirm_overwrite = self._confirm
        exports.ask_image_options = lambda: dict(self.image)
        exports.ask_volume = lambda available: "energy"

    def _confirm(self, existing):
        self.asked_to_replace.append(list(existing))
        return self.replace


@pytest.fixture
def answers(window):
    window.banner.hide()
    return Answers(window.exports)


def _export(qtbot, window, key):
    with qtbot.waitSignal(window.exports.exportFinished, timeout=60_000) as blocker:
        window.exports.actions[key].trigger()
    return blocker.args[0]


def test_menu_lists_the_exports(window):
    menu = window.exports.menu
    window.exports.update_enabled()
    texts = [a.text().replace("&", "") for a in menu.actions() if a.text()]
    for word in ("Voxels (CSV)", "Structure means", "Volume", "Image of the 3-D view", "whole window",
                 "slice pane", "Copy the 3-D view"):
        assert any(word in t for t in texts), (word, texts)
    file_menu = window.menuBar().actions()[0].menu()
    assert menu.menuAction() in file_menu.actions()
    assert window.exports.actions["voxels"].isEnabled()
    assert not window.exports.actions["comparison"].isEnabled()  # only in compare mode


def test_voxels_csv_through_the_core_with_its_sidecar(qtbot, window, answers, tmp_path):
    answers.path = tmp_path / "pdyn_voxels"  # no suffix: .csv is added
    files = _export(qtbot, window, "voxels")
    out = tmp_path / "pdyn_voxels.csv"
    assert files == [out, tmp_path / "pdyn_voxels.csv.json"]
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(VOXEL_COLUMNS)
    assert len(lines) - 1 == int(window.grid.has_data.sum())
    side = json.loads((tmp_path / "pdyn_voxels.csv.json").read_text())
    assert side["experiments"][0]["experiment_id"] == PDYN and side["export"] == "voxels"
    assert "Exported" in window.status_text


def test_never_overwrites_silently(qtbot, window, answers, tmp_path):
    out = tmp_path / "structures.csv"
    out.write_text("keep me")
    answers.path = out
    answers.replace = False
    with qtbot.assertNotEmitted(window.exports.exportFinished):
        window.exports.actions["structures"].trigger()
    assert window.exports.channels() == []  # no export job was started, so none can finish later
    assert answers.asked_to_replace == [[out]]
    assert out.read_text() == "keep me" and not (tmp_path / "structures.csv.json").exists()
    answers.replace = True
    _export(qtbot, window, "structures")
    assert out.read_text().startswith("structure_id,acronym")
    # the sidecar now exists too, and the next export names both
    _export(qtbot, window, "structures")
    assert answers.asked_to_replace[-1] == [out, tmp_path / "structures.csv.json"]


def test_volume_export(qtbot, window, answers, tmp_path):
    answers.path = tmp_path / "pdyn.nrrd"
    _export(qtbot, window, "volume")
    image = sitk.ReadImage(str(tmp_path / "pdyn.nrrd"))
    assert image.GetSize() == (67, 41, 58) and image.GetSpacing() == (200.0, 200.0, 200.0)
    assert (tmp_path / "pdyn.nrrd.json").exists()


def test_3d_image_at_a_size_larger_than_the_screen(qtbot, window, answers, tmp_path):
    answers.path = tmp_path / "scene.png"
    answers.image = {"size": (2400, 1500), "view": None, "transparent": False}  # the screen is 1920 x 1080
    window.scene.camera_preset("lateral")
    files = _export(qtbot, window, "image_3d")
    assert files == [tmp_path / "scene.png", tmp_path / "scene.png.json"]
    with Image.open(files[0]) as im:
        assert im.size == (2400, 1500) and im.mode == "RGB"
        px = np.asarray(im).astype(int)
        assert "Pdyn" in im.text["Title"] and PROVENANCE_KEY in im.text
    sat = px.max(axis=2) - px.min(axis=2)
    assert (sat[300:1200, 400:2000] > 60).mean() > 0.03  # spheres in the middle (~5 %; blank: 0)
    rows, cols = np.nonzero(sat[150:] > 60)
    assert np.ptp(cols) > 1.3 * np.ptp(rows)  # the camera on screen (lateral) was used
    side = json.loads(files[1].read_text())
    assert side["camera"]["as_on_screen"] is True and side["image"]["width_px"] == 2400
    assert side["display"]["threshold"] == window.controls.values()["threshold"]


def test_3d_image_with_a_transparent_background(qtbot, window, answers, tmp_path):
    answers.path = tmp_path / "transparent.png"
    answers.image = {"size": (640, 480), "view": "dorsal", "transparent": True}
    files = _export(qtbot, window, "image_3d")
    with Image.open(files[0]) as im:
        assert im.size == (640, 480) and im.mode == "RGBA"
        alpha = np.asarray(im)[:, :, 3]
    assert alpha[2, 320] == 0 and (alpha == 255).mean() > 0.02
    assert json.loads(files[1].read_text())["camera"] == {"preset": "dorsal"}


def test_window_and_slice_pane_images(qtbot, window, answers, tmp_path):
    answers.path = tmp_path / "window.png"
    files = _export(qtbot, window, "image_window")
    with Image.open(files[0]) as im:
        assert im.size == (window.width(), window.height())
        assert len(np.unique(np.asarray(im).reshape(-1, 3), axis=0)) > 200
    answers.path = tmp_path / "coronal.png"
    files = _export(qtbot, window, "image_coronal")
    canvas = window.slices.panes["coronal"].canvas
    with Image.open(files[0]) as im:
        assert im.size == (canvas.width(), canvas.height())
    side = json.loads(files[1].read_text())
    assert side["slice"]["plane"] == "coronal" and side["experiments"][0]["experiment_id"] == PDYN


def test_copy_to_the_clipboard(qtbot, window):
    clipboard = QGuiApplication.clipboard()
    clipboard.clear()
    window.exports.actions["copy_3d"].trigger()
    image = clipboard.image()
    assert not image.isNull() and (image.width(), image.height()) == (window.scene.width(), window.scene.height())
    window.exports.actions["copy_window"].trigger()
    assert clipboard.image().width() == window.width()


def test_a_failed_export_shows_in_the_banner_and_leaves_no_file(qtbot, window, answers, tmp_path):
    blocker_file = tmp_path / "not_a_folder"
    blocker_file.write_text("a file where the folder should be")
    answers.path = blocker_file / "voxels.csv"
    with qtbot.waitSignal(window.exports.exportFailed, timeout=30_000) as blocker:
        window.exports.actions["voxels"].trigger()
    assert "not write" in blocker.args[0].lower() and "folder" in blocker.args[0]
    assert window.banner.isVisible() and window.banner.kind == "error"
    assert "voxels" in window.banner.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]
    assert not window.exports.channels()


def _magenta(px: np.ndarray) -> np.ndarray:
    """Pixels of OUTSIDE_COLOR's hue (magenta, lit or shaded): in no colour map offered."""
    r, g, b = (px[:, :, i].astype(int) for i in range(3))
    return (r > 120) & (b > 90) & (g < 0.6 * np.minimum(r, b))


def test_3d_image_draws_the_colour_by_choice_and_the_outside_voxels(qtbot, window, answers, tmp_path, monkeypatch):
    from allen_viewer.expression.grid import ExpressionGrid
    from allen_viewer.render.layers import color_channel

    real = window.grid
    assert real.outside_brain.any()  # Pdyn's real grid has voxels with data outside the brain
    # GENERATED density (the embedded Pdyn is energy only): a left-to-right ramp, unlike energy
    density = np.broadcast_to(np.linspace(0.0, 1.0, real.shape[2], dtype=np.float32), real.shape).copy()
    density[~real.has_data_anywhere] = np.nan
    grid = ExpressionGrid(real.experiment, energy=real.energy, has_data=real.has_data_anywhere,
                          density=density, in_brain=real.in_brain)
    monkeypatch.setattr(window, "grid", grid)
    plain = window.exports.render_scene_pixels((480, 360), "dorsal", False)  # auto, inside only
    assert _magenta(plain).sum() == 0
    controls = window.controls
    controls.color_by.setCurrentIndex(controls.color_by.findData("density"))
    window.outside_action.setChecked(True)
    try:
        assert window.state.display.color_by == "density" and window.state.display.show_outside_brain
        answers.path = tmp_path / "density.png"
        answers.image = {"size": (480, 360), "view": "dorsal", "transparent": False}
        files = _export(qtbot, window, "image_3d")
        with Image.open(files[0]) as im:
            px = np.asarray(im)[:, :, :3]
        side = json.loads(files[1].read_text())
    finally:
        controls.color_by.setCurrentIndex(controls.color_by.findData("auto"))
        window.outside_action.setChecked(False)
    assert _magenta(px).sum() > 20  # the voxels outside the brain were drawn
    # density colours differ from intensity colours (auto) on the same spheres
    spheres = (np.ptp(plain.astype(int), axis=2) > 60) & ~_magenta(px)  # coloured pixels of the plain render
    assert spheres.sum() > 500
    changed = np.abs(px.astype(int) - plain.astype(int)).max(axis=2) > 40
    assert changed[spheres].mean() > 0.15, changed[spheres].mean()  # 0.29 measured; 0 without the fix
    assert side["display"]["color_by"] == "density"
    assert side["display"]["colour"] == color_channel(grid, "density") == "density"
    assert side["display"]["show_outside_brain"] is True
    assert side["session"]["display"]["color_by"] == "density"
