"""Off-screen images of the 3-D scene: size, content, transparency, provenance, atomic writes, CLI.

Plain off-screen pyvista plotters: these run without a display (EGL) or under Xvfb.
"""
from __future__ import annotations

from pathlib import Path

import json
import os

import numpy as np
import pytest
import pyvista as pv
from PIL import Image

from allen_viewer import ALLEN_CITATION, __version__, cli
from allen_viewer.errors import AllenViewerError
from allen_viewer.render.layers import BACKGROUND, PRESETS, apply_camera_preset
from allen_viewer.export.image import (
    PROVENANCE_KEY,
    export_image,
    parse_size,
    read_png_provenance,
    render_scene,
    unpremultiply,
    write_png,
)

PDYN = 71717084
BACKGROUND_RGB = np.array([int(BACKGROUND[i:i + 2], 16) for i in (1, 3, 5)])


pytestmark = pytest.mark.usefixtures("no_anti_aliasing")  # tests/conftest.py


def _saturated(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb[:, :, :3].astype(int)
    return (rgb.max(axis=2) - rgb.min(axis=2)) > 60


def _bbox(mask: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1


def test_parse_size():
    assert parse_size("3000x2000") == (3000, 2000)
    assert parse_size(" 640 X 480 ") == (640, 480)
    for bad in ("3000", "3000x", "axb", "-5x10", "10x10", "20000x100"):
        with pytest.raises(AllenViewerError):
            parse_size(bad)


def test_a_large_render_has_its_size_and_shows_the_brain(pdyn, outline):
    """3000 x 2000: larger than the 1920 x 1080 test screen."""
    px = render_scene(pdyn, outline, (3000, 2000), view="lateral")
    assert px.shape == (2000, 3000, 3) and px.dtype == np.uint8
    # not blank: the background in the corners, spheres of the colour map in the middle
    np.testing.assert_array_equal(px[1000, 5], BACKGROUND_RGB)
    middle = px[500:1500, 750:2250]
    assert len(np.unique(middle.reshape(-1, 3), axis=0)) > 500
    assert _saturated(middle).mean() > 0.05
    # lateral: anterior-posterior runs across the screen, so the spheres are wider than tall
    w, h = _bbox(_saturated(px[200:1800]))
    assert w > 1.3 * h and w > 1200


def test_presets_are_the_viewers(pdyn, outline):
    dorsal = render_scene(pdyn, outline, (400, 400), view="dorsal", orientation=False, caption="")
    lateral = render_scene(pdyn, outline, (400, 400), view="lateral", orientation=False, caption="")
    wd, hd = _bbox(_saturated(dorsal[60:]))  # below the colour bar
    wl, hl = _bbox(_saturated(lateral[60:]))
    assert hd > wd * 1.05  # from above: anterior up, the brain is longer than wide
    assert wl > hl * 1.3  # from the side: longer than high
    with pytest.raises(AllenViewerError):
        render_scene(pdyn, outline, (100, 100), view="sideways")
    # the geometry is the viewer's: camera along the documented direction, view-up as documented
    cam = pv.Camera()
    for name, (direction, up) in PRESETS.items():
        apply_camera_preset(cam, name, outline.bounds, 1.5, outline.points)
        d = np.asarray(direction) / np.linalg.norm(direction)
        np.testing.assert_allclose(cam.GetDirectionOfProjection(), -d, atol=1e-6)
        assert np.dot(cam.GetViewUp(), up) > 0.75


def test_transparent_background_has_alpha(pdyn, outline):
    px = render_scene(pdyn, outline, (800, 600), view="oblique", transparent=True)
    assert px.shape == (600, 800, 4)
    alpha = px[:, :, 3]
    assert alpha[5, 400] == 0 and alpha[595, 400] == 0  # background: fully transparent
    assert (alpha == 255).mean() > 0.02  # opaque spheres and text
    partial = (alpha > 0) & (alpha < 255)
    assert partial.mean() > 0.01  # the translucent outline
    opaque = render_scene(pdyn, outline, (800, 600), view="oblique")
    spheres = (alpha == 255) & _saturated(px)
    assert spheres.sum() > 1000
    # the same sphere colours as over the dark background
    diff = np.abs(px[:, :, :3][spheres].astype(int) - opaque[spheres].astype(int))
    assert np.median(diff) <= 2


def test_unpremultiply():
    rgba = np.array([[[100, 50, 0, 128], [0, 0, 0, 0], [200, 100, 50, 255]]], dtype=np.uint8)
    out = unpremultiply(rgba)
    np.testing.assert_array_equal(out[0, 0], [199, 100, 0, 128])
    np.testing.assert_array_equal(out[0, 1], [0, 0, 0, 0])
    np.testing.assert_array_equal(out[0, 2], [200, 100, 50, 255])


def test_export_writes_png_and_sidecar_with_provenance(pdyn, outline, tmp_path):
    path = tmp_path / "pdyn.png"
    result = export_image(pdyn, path, outline, size=(640, 480), view="dorsal", transparent=True,
                          display={"threshold": 3.0, "cmap": "magma"})
    assert result["files"] == [path, tmp_path / "pdyn.png.json"]
    with Image.open(path) as im:
        assert im.size == (640, 480) and im.mode == "RGBA"
        assert "Pdyn" in im.text["Title"] and im.text["Software"] == f"allen_viewer {__version__}"
        assert f"grid_data/download/{PDYN}" in im.text["Source"]
        assert json.loads(im.text[PROVENANCE_KEY])["experiments"][0]["experiment_id"] == PDYN
    side = json.loads((tmp_path / "pdyn.png.json").read_text())
    exp = side["experiments"][0]
    assert (exp["experiment_id"], exp["gene"], exp["plane"]) == (PDYN, "Pdyn", "coronal")
    assert exp["source_url"].endswith(f"/grid_data/download/{PDYN}")
    assert side["software"] == f"allen_viewer {__version__}" and side["citation"] == ALLEN_CITATION
    assert side["created_utc"] and side["export"] == "image"
    assert side["image"]["width_px"] == 640 and side["image"]["transparent_background"] is True
    assert side["camera"] == {"preset": "dorsal"}
    assert side["display"]["energy_threshold"] == 3.0 and side["display"]["cmap"] == "magma"
    assert read_png_provenance(path) == side


def test_a_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    px = np.zeros((20, 30, 3), np.uint8)
    px[5:10, 5:10] = 200
    path = tmp_path / "shot.png"
    path.write_bytes(b"the previous image")

    def broken_save(self, fh, *args, **kwargs):
        fh.write(b"\x89PNG half an image")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(AllenViewerError, match="No space left"):
        write_png(path, px, {"experiments": []})
    monkeypatch.undo()
    assert path.read_bytes() == b"the previous image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot.png"]  # no temporary file left

    # the sidecar cannot be written (its name is taken by a folder): the PNG goes too
    (tmp_path / "other.png.json").mkdir()
    with pytest.raises(AllenViewerError, match="other.png.json"):
        write_png(tmp_path / "other.png", px, {"experiments": []})
    assert not (tmp_path / "other.png").exists()
    with pytest.raises(AllenViewerError, match="PNG"):
        write_png(tmp_path / "shot.jpg", px)


def test_cli_export_image(tmp_path, capsys):
    out = tmp_path / "lateral.png"
    rc = cli.main(["--offline", "export", "image", "Pdyn", "--out", str(out), "--size", "480x320",
                   "--view", "lateral", "--transparent", "--threshold", "2"])
    assert rc == 0, capsys.readouterr().err
    assert "480x320 lateral image of Pdyn" in capsys.readouterr().out
    with Image.open(out) as im:
        assert im.size == (480, 320) and im.mode == "RGBA"
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["camera"] == {"preset": "lateral"} and side["display"]["energy_threshold"] == 2.0
    before = out.read_bytes()
    assert cli.main(["--offline", "export", "image", "Pdyn", "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == before
    assert cli.main(["--offline", "export", "image", "Pdyn", "--out", str(out), "--size", "big"]) == 1
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]
