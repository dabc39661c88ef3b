"""``allen-viewer export movie``: the issue's done-means case (a 24-frame 480x360 GIF that
turns), an MP4 read back with ffmpeg, sidecars that reopen as sessions, and bad input as
one error line with nothing written.

Runs in process (``cli.main``) on the real embedded Pdyn experiment, offline."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest

from allen_viewer import cli
from allen_viewer.export import movie
from allen_viewer.state import read_session
from tests.export.test_movie import iou as _iou, silhouette as _silhouette

PDYN = 71717084


pytestmark = pytest.mark.usefixtures("no_anti_aliasing")  # tests/conftest.py


def _run(capsys, *args) -> tuple[int, str, str]:
    rc = cli.main(["--offline", "export", "movie", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_done_means_a_24_frame_gif_that_turns(tmp_path, capsys):
    out = tmp_path / "t.gif"
    rc, stdout, err = _run(capsys, "Pdyn", "--out", out, "--frames", 24, "--size", "480x360")
    assert rc == 0, err
    assert "480x360 24-frame turntable of Pdyn" in stdout and "t.gif.json" in stdout
    assert "allen-viewer: error" not in err and "frame/s" not in err  # no bar off a terminal
    frames = iio.imread(out, index=None, plugin="pillow", mode="RGB")
    assert frames.shape == (24, 360, 480, 3)
    diffs = [np.abs(frames[k].astype(int) - frames[(k + 1) % 24].astype(int)).mean() for k in range(24)]
    assert min(diffs) > 1.0  # every frame differs from the next (and the last from the first)
    # it turns smoothly and all the way round: the brain's silhouette changes a little from each
    # frame to the next, the last frame's is close to the first's, the far side's is not
    shapes = [_silhouette(f) for f in frames]
    assert min(_iou(shapes[k], shapes[(k + 1) % 24]) for k in range(24)) > 0.8
    near = min(_iou(shapes[0], shapes[1]), _iou(shapes[0], shapes[23]))
    assert near > 0.8 and max(_iou(shapes[0], shapes[k]) for k in range(6, 19)) < near - 0.05
    side = json.loads((tmp_path / "t.gif.json").read_text())
    assert side["export"] == "movie" and side["experiments"][0]["experiment_id"] == PDYN
    assert (side["movie"]["frames"], side["movie"]["width_px"], side["movie"]["height_px"]) == (24, 480, 360)
    assert side["movie"]["fps"] == pytest.approx(100 / 3) and side["movie"]["format"] == "gif"
    assert side["camera"]["preset"] == "oblique"
    assert side["display"]["threshold_rule"].startswith("90th percentile")
    # the sidecar embeds the session exactly as export image's does
    state = read_session(tmp_path / "t.gif.json")
    assert state.experiment.id == PDYN and state.camera.preset == "oblique"
    assert state.display.threshold_pinned is False and state.display.threshold_percentile == 90.0
    assert state.display.threshold == pytest.approx(side["display"]["energy_threshold"])


def test_clip_and_planes_reach_the_movie_and_its_sidecar(tmp_path, capsys):
    plain, cut = tmp_path / "plain.gif", tmp_path / "cut.gif"
    assert _run(capsys, "Pdyn", "--out", plain, "--frames", 2, "--size", "240x180", "--view", "dorsal")[0] == 0
    rc, _out, err = _run(capsys, "Pdyn", "--out", cut, "--frames", 2, "--size", "240x180", "--view", "dorsal",
                         "--clip", "left", "--planes", "--slices", "5000,4000,5700")
    assert rc == 0, err
    a = iio.imread(plain, index=0, plugin="pillow", mode="RGB").astype(int)
    b = iio.imread(cut, index=0, plugin="pillow", mode="RGB").astype(int)
    assert (np.abs(a - b).sum(axis=2) > 30).mean() > 0.05  # the first frame shows the cut and the planes
    side = json.loads((tmp_path / "cut.gif.json").read_text())
    assert side["figure"]["cut_away"] == "left" and side["figure"]["slice_planes"] is True
    state = read_session(tmp_path / "cut.gif.json")
    assert (state.cut_away, state.slice_planes, state.cursor_um) == ("left", True, (5000.0, 4000.0, 5700.0))


def test_mp4_reads_back_with_the_asked_frame_count(tmp_path, capsys):
    out = tmp_path / "t.mp4"
    rc, stdout, err = _run(capsys, PDYN, "--out", out, "--frames", 8, "--size", "201x151", "--fps", 24,
                           "--view", "lateral", "--threshold", 7.5)
    assert rc == 0, err
    assert "200x150 (rounded from 201x151: H.264 needs even sides)" in stdout and "at 24 fps" in stdout
    reader = iio2.get_reader(out, "FFMPEG")
    try:
        assert reader.count_frames() == 8
        assert reader.get_meta_data()["size"] == (200, 150)
    finally:
        reader.close()
    side = json.loads((tmp_path / "t.mp4.json").read_text())
    assert side["movie"]["codec"].startswith("H.264") and side["movie"]["fps"] == 24
    state = read_session(tmp_path / "t.mp4.json")
    assert state.display.threshold == 7.5 and state.display.threshold_pinned and state.camera.preset == "lateral"
    before = out.read_bytes()
    rc, _, err = _run(capsys, PDYN, "--out", out, "--frames", 2, "--size", "64x48")
    assert rc == 1 and "already exists; pass --force" in err and out.read_bytes() == before
    rc, _, err = _run(capsys, PDYN, "--out", out, "--frames", 2, "--size", "64x48", "--force")
    assert rc == 0 and out.read_bytes() != before


@pytest.mark.parametrize("args, words", [
    (("--frames", 0), "(--frames) must be a whole number from 2 to 3600, not 0"),
    (("--fps", "nan"), "(--fps) must be from 1 to 60"),
    (("--size", "9000x100"), "each side must be 16 to 4096 pixels"),
    (("--size", "huge"), "WIDTHxHEIGHT"),
    (("--threshold", -1), "--threshold must be at least 0"),
])
def test_bad_arguments_are_one_line_and_write_nothing(tmp_path, capsys, args, words):
    rc, stdout, err = _run(capsys, "Pdyn", "--out", tmp_path / "t.mp4", *args)
    assert rc == 1 and stdout == ""
    assert err.count("\n") == 1 and err.startswith("allen-viewer: error: ") and words in err
    assert list(tmp_path.iterdir()) == []


def test_bad_outputs_are_refused(tmp_path, capsys):
    rc, _, err = _run(capsys, "Pdyn", "--out", tmp_path / "t.avi")
    assert rc == 1 and "MP4 or GIF" in err
    folder = tmp_path / "t.gif"
    folder.mkdir()
    rc, _, err = _run(capsys, "Pdyn", "--out", folder, "--force")
    assert rc == 1 and "is a folder, not a regular file" in err
    target = tmp_path / "real.mp4"
    target.write_bytes(b"kept")
    (tmp_path / "link.mp4").symlink_to(target)
    rc, _, err = _run(capsys, "Pdyn", "--out", tmp_path / "link.mp4", "--force", "--frames", 2)
    assert rc == 1 and "symbolic link" in err and target.read_bytes() == b"kept"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_help_states_the_defaults_and_the_rounding_rule():
    result = subprocess.run([sys.executable, "-m", "allen_viewer", "export", "movie", "--help"],
                            capture_output=True, text=True, timeout=60)
    text = " ".join(result.stdout.split())
    assert result.returncode == 0 and result.stderr == ""
    w, h = movie.DEFAULT_MOVIE_SIZE
    assert f"default {w}x{h}" in text and f"default {movie.DEFAULT_FRAMES}" in text
    assert f"default {movie.DEFAULT_FPS}" in text and f"Largest side {movie.MAX_MOVIE_SIDE}" in text
    assert f"2 to {movie.MAX_FRAMES}" in text and f"1 to {movie.MAX_FPS} (GIF: {movie.MAX_GIF_FPS}" in text
    assert "rounded down to the next even number" in text and "--threshold-percentile" in text


def test_a_movie_redrawn_from_an_image_session(tmp_path, capsys):
    """``export movie --session F.png``: the still image's session turned (its threshold and
    camera); --no-caption; a gene beside --session is refused with one line."""
    from allen_viewer import cli as _cli

    still = tmp_path / "s.png"
    assert _cli.main(["--offline", "export", "image", "Pdyn", "--threshold", "12", "--view", "lateral",
                      "--size", "240x180", "--out", str(still)]) == 0
    capsys.readouterr()
    out = tmp_path / "t.gif"
    rc, stdout, err = _run(capsys, "--session", still, "--frames", 4, "--size", "240x180", "--no-caption",
                           "--out", out)
    assert rc == 0, err
    assert "240x180 4-frame turntable of Pdyn" in stdout and f"from the session {still}" in stdout
    side = json.loads((tmp_path / "t.gif.json").read_text())
    assert side["display"]["energy_threshold"] == 12.0
    assert side["session"]["camera"]["preset"] == "lateral"
    rc, stdout, err = _run(capsys, "Pdyn", "--session", still, "--out", tmp_path / "u.gif")
    assert rc != 0 and "Give either --session or an experiment, not both" in err
    assert not (tmp_path / "u.gif").exists()
