"""``allen-viewer --gene ... --screenshot FILE.png``: a real process, as a user or a script runs it."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from tests.gui import run_viewer

pytestmark = pytest.mark.gui


def _run(args, tmp_path, **env):
    return run_viewer(args, tmp_path / "settings.ini", tmp_path / "cache", **env)


def _pixels(path) -> np.ndarray:
    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return arr[:, :img.width() * 3].reshape(img.height(), img.width(), 3).copy()  # img dies here


def test_screenshot_of_pdyn_offline(tmp_path, qapp):
    shot = tmp_path / "out" / "pdyn.png"
    result = _run(["--offline", "--gene", "Pdyn", "--screenshot", str(shot)], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Pdyn (coronal, 71717084)" in result.stdout
    assert shot.is_file()
    px = _pixels(shot)
    h, w, _ = px.shape
    assert (w, h) == (1600, 1000)
    # the 3-D view (dark background, upper middle) is in the picture, with coloured spheres in it
    scene = px[100:500, 500:1200].astype(int)
    assert (scene.std(axis=(0, 1)) > 10).all()
    saturation = scene.max(axis=2) - scene.min(axis=2)
    assert (saturation > 60).mean() > 0.02  # viridis spheres, not just a grey outline
    # screenshot runs never write the user's settings
    assert not (tmp_path / "settings.ini").exists()


def test_unknown_gene_fails_with_one_clear_line(tmp_path, qapp):
    shot = tmp_path / "never.png"
    result = _run(["--offline", "--gene", "Pdynn", "--screenshot", str(shot)], tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("allen-viewer: error: No ISH experiment for gene 'Pdynn'; did you mean Pdyn")
    assert not shot.exists()


def test_a_gene_that_cannot_be_fetched_offline_fails_cleanly(tmp_path, qapp):
    shot = tmp_path / "never.png"
    result = _run(["--gene", "Gad1", "--screenshot", str(shot)], tmp_path, ALLEN_VIEWER_OFFLINE="1")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("allen-viewer: error: ")
    assert "ffline" in lines[0] and "Gad1" in lines[0]
    assert not shot.exists()


def test_screenshot_with_a_structure_selected(tmp_path, qapp):
    """``--structure CP``: selected in the tree, outlined in the slices that cut through it."""
    shot = tmp_path / "cp.png"
    result = _run(["--offline", "--gene", "Pdyn", "--structure", "CP", "--screenshot", str(shot)], tmp_path)
    assert result.returncode == 0, result.stderr
    px = _pixels(shot)
    assert px.shape[:2] == (1000, 1600)
    # the highlight outline (yellow, OUTLINE_RGB) is drawn in the slice panes (the lower part of the window)
    from allen_viewer.gui.slice_view import OUTLINE_RGB

    lower = px[560:, 300:]
    assert np.all(lower == np.array(OUTLINE_RGB, dtype=np.uint8), axis=2).sum() > 300


def test_unknown_structure_fails_with_one_clear_line(tmp_path, qapp):
    result = _run(["--offline", "--gene", "Pdyn", "--structure", "CPX", "--screenshot", str(tmp_path / "x.png")],
                  tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("allen-viewer: error: ") and "CPX" in lines[0]
    assert not (tmp_path / "x.png").exists()


def test_screenshot_of_one_part_of_the_window(tmp_path, qapp):
    """``--part 3d`` saves the 3-D view alone, ``--part coronal`` the coronal pane, each with
    its session sidecar; an existing file is refused as for the whole window."""
    import json

    shot = tmp_path / "scene.png"
    result = _run(["--offline", "--gene", "Pdyn", "--screenshot", str(shot), "--part", "3d"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(the 3-D view) saved to" in result.stdout
    px = _pixels(shot)
    h, w, _ = px.shape
    assert w < 1600 and h < 1000 and w > 300 and h > 200  # a part of the 1600 x 1000 window
    saturation = px.max(axis=2).astype(int) - px.min(axis=2)
    assert (saturation > 60).mean() > 0.02  # the viridis spheres fill the view
    sidecar = json.loads((tmp_path / "scene.png.json").read_text())
    assert "3-D view" in json.dumps(sidecar) and sidecar["session"]["experiment"]["id"] == 71717084

    pane = tmp_path / "coronal.png"
    result = _run(["--offline", "--gene", "Pdyn", "--screenshot", str(pane), "--part", "coronal"], tmp_path)
    assert result.returncode == 0, result.stderr
    cor = _pixels(pane)
    ph, pw, _ = cor.shape
    assert pw < w * 1.5 and ph < 1000 and (pw, ph) != (w, h)
    key = cor[-20:].astype(int)  # the colour legend below the pane: its viridis ramp
    assert ((key.max(axis=2) - key.min(axis=2)) > 60).sum() > 500
    assert "coronal slice pane" in (tmp_path / "coronal.png.json").read_text()

    before = shot.read_bytes()
    again = _run(["--offline", "--gene", "Pdyn", "--screenshot", str(shot), "--part", "3d"], tmp_path)
    assert again.returncode != 0 and len(again.stderr.strip().splitlines()) == 1 and "Traceback" not in again.stderr
    assert shot.read_bytes() == before  # the user's file is never replaced without --force


def test_part_needs_a_screenshot(tmp_path):
    result = _run(["--offline", "--gene", "Pdyn", "--part", "3d"], tmp_path)
    assert result.returncode == 2 and "--part needs --screenshot" in result.stderr


def test_a_compare_screenshot_sidecar_carries_the_compare_options(tmp_path, qapp):
    """A session comparing Pdyn with Nrp1 on separate scales with a log2 ratio of ranks,
    screenshot from the command line: the sidecar's session has those options (issue 19)."""
    import json

    from allen_viewer.state import ExperimentRef, ViewerState, write_session

    state = ViewerState()
    state.experiment = ExperimentRef(71717084, "Pdyn", "coronal")
    state.compare_with = ExperimentRef(74272479, "Nrp1", "coronal")
    state.comparing = True
    state.compare_options.scale, state.compare_options.kind = "separate", "ratio"
    session = write_session(tmp_path / "cmp.json", state)
    shot = tmp_path / "cmp.png"
    result = _run(["--offline", "--session", str(session), "--screenshot", str(shot), "--part", "3d"], tmp_path)
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "cmp.png.json").read_text())["session"]
    assert saved["comparing"] is True and saved["compare_with"]["id"] == 74272479
    assert saved["compare_options"] == {"scale": "separate", "kind": "ratio", "normalise": "rank",
                                        "min_abs_fraction": 0.1}
    assert "3-D view (compare mode)" in (tmp_path / "cmp.png.json").read_text()


@pytest.mark.parametrize("figure", ["plain", "cut_planes"])
def test_a_3d_screenshot_redrawn_from_its_sidecar_is_the_same_picture(tmp_path, qapp, figure):
    """Issue 19's "Done means": ``--gene Pdyn --screenshot w.png --part 3d``, then ``export image
    --session w.png.json --size`` (w's size) ``--no-caption``: the same picture (mean absolute
    difference under 3 of 255), for a plain view and for a cut-away with slice planes.  The
    screenshot's sidecar records the window's text scale (1: on-screen sizes), which the export
    uses at that size."""
    import json

    from allen_viewer.state import ExperimentRef, ViewerState, write_session

    shot, out = tmp_path / "w.png", tmp_path / "e.png"
    if figure == "plain":
        args = ["--offline", "--gene", "Pdyn"]
    else:
        state = ViewerState(experiment=ExperimentRef(71717084, "Pdyn", "coronal"))
        state.cut_away, state.slice_planes = "anterior", True
        args = ["--offline", "--session", str(write_session(tmp_path / "cut.json", state))]
    result = _run([*args, "--screenshot", str(shot), "--part", "3d"], tmp_path)
    assert result.returncode == 0, result.stderr
    side = json.loads((tmp_path / "w.png.json").read_text())
    assert side["image"]["text_scale"] == 1.0
    assert (side["session"]["cut_away"], side["session"]["slice_planes"]) == \
        (("none", False) if figure == "plain" else ("anterior", True))
    window = _pixels(shot)
    h, w, _ = window.shape
    result = _run(["--offline", "export", "image", "--session", str(tmp_path / "w.png.json"), "--size", f"{w}x{h}",
                   "--no-caption", "--out", str(out)], tmp_path)
    assert result.returncode == 0, result.stderr
    export = _pixels(out)
    assert export.shape == window.shape
    diff = np.abs(export.astype(float) - window.astype(float)).mean()
    assert diff < 3.0, diff
    assert (window.max(axis=2).astype(int) - window.min(axis=2) > 60).mean() > 0.01  # spheres drawn, not empty
