"""Turntable movies (allen_viewer.export.movie): argument rules, the turn's geometry, the
frames, MP4/GIF files read back, sidecars, cancel and atomic writes.

Off-screen pyvista plotters, small sizes and few frames; the grid is the real embedded
Pdyn experiment (71717084)."""
from __future__ import annotations

import json
import os

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import pytest

from allen_viewer.errors import AllenViewerError, Cancelled
from allen_viewer.export import movie as movie_mod
from allen_viewer.export.image import render_scene
from allen_viewer.export.movie import (
    MAX_MOVIE_SIDE,
    export_movie,
    parse_movie_size,
    plan_movie,
    turn_pose,
    turntable_frames,
    turntable_poses,
)
from allen_viewer.render.layers import GRID_BOUNDS_UM, PRESETS, CameraPose, apply_camera_preset
from allen_viewer.state import read_session

PDYN = 71717084


pytestmark = pytest.mark.usefixtures("no_anti_aliasing")  # tests/conftest.py


def read_gif(path) -> np.ndarray:
    return iio.imread(path, index=None, plugin="pillow", mode="RGB")


# ---- arguments ----------------------------------------------------------------------------

def test_plan_checks_and_rounds(tmp_path):
    plan = plan_movie(tmp_path / "a.mp4", 24, 30, (481, 361))
    assert (plan.fmt, plan.size, plan.requested, plan.rounded) == ("mp4", (480, 360), (481, 361), True)
    assert plan.fps_written == 30
    gif = plan_movie(tmp_path / "a.GIF", 24, 30, (481, 361))
    assert (gif.fmt, gif.size, gif.rounded) == ("gif", (481, 361), False)
    assert gif.fps_written == pytest.approx(100 / 3)  # whole hundredths of a second a frame
    for kwargs, words in (({"frames": 0}, "--frames"), ({"frames": 1}, "--frames"), ({"frames": 3601}, "--frames"),
                          ({"frames": 2.5}, "--frames"), ({"fps": 0}, "--fps"), ({"fps": float("nan")}, "--fps"),
                          ({"fps": 61}, "--fps"), ({"size": (MAX_MOVIE_SIDE + 2, 100)}, "Movie size"),
                          ({"size": (8, 100)}, "Movie size")):
        with pytest.raises(AllenViewerError, match=words):
            plan_movie(tmp_path / "a.mp4", **{"frames": 10, "fps": 30, "size": (64, 48), **kwargs})
    with pytest.raises(AllenViewerError, match="--fps"):
        plan_movie(tmp_path / "a.gif", 10, 55, (64, 48))  # GIF: at most 50
    for name in ("a.avi", "a", "a.mp4.part"):
        with pytest.raises(AllenViewerError, match="MP4 or GIF"):
            plan_movie(tmp_path / name, 10, 30, (64, 48))
    assert parse_movie_size("640x480") == (640, 480)
    with pytest.raises(AllenViewerError, match="4096"):
        parse_movie_size("10000x480")


def test_mp4_without_ffmpeg_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "no-ffmpeg-here"))
    with pytest.raises(AllenViewerError, match="need the ffmpeg program.*write a .gif"):
        plan_movie(tmp_path / "a.mp4", 10, 30, (64, 48))
    plan_movie(tmp_path / "a.gif", 10, 30, (64, 48))  # a GIF needs only Pillow


def test_a_gif_too_large_for_memory_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(movie_mod, "physical_memory_bytes", lambda: 8 * 2**30)
    with pytest.raises(AllenViewerError, match="GiB of memory.*mp4"):
        plan_movie(tmp_path / "a.gif", 3600, 30, (1920, 1080))
    plan_movie(tmp_path / "a.mp4", 3600, 30, (1920, 1080))  # an MP4 streams: one frame at a time


# ---- the turn -----------------------------------------------------------------------------

def _direction(pose: CameraPose) -> np.ndarray:
    d = np.subtract(pose.position, pose.focal_point)
    return d / np.linalg.norm(d)


def test_turn_is_about_the_dorsal_ventral_axis_through_the_centre():
    centre = np.array([6600.0, 4000.0, 5700.0])
    start = CameraPose((6600.0, 2000.0, -20000.0), (6600.0, 4000.0, 5700.0), (0.0, -1.0, 0.0))
    quarter = turn_pose(start, centre, 90.0)
    # from the left side (-z), a quarter turn goes behind the brain (+x, posterior)
    xz = _direction(quarter)[[0, 2]]
    np.testing.assert_allclose(xz / np.linalg.norm(xz), [1.0, 0.0], atol=1e-9)
    half = turn_pose(start, centre, 180.0)
    np.testing.assert_allclose(_direction(half), _direction(start) * [1, 1, -1], atol=1e-9)  # the right side
    for deg in (37.0, 90.0, 200.0):
        p = turn_pose(start, centre, deg)
        assert p.position[1] == pytest.approx(start.position[1])  # the DV coordinate never changes
        assert np.hypot(p.position[0] - centre[0], p.position[2] - centre[2]) == pytest.approx(
            np.hypot(start.position[0] - centre[0], start.position[2] - centre[2]))
        np.testing.assert_allclose(p.focal_point, start.focal_point, atol=1e-6)  # on the axis: stays
        np.testing.assert_allclose(p.view_up, start.view_up, atol=1e-9)  # dorsal up stays up
    np.testing.assert_allclose(turn_pose(start, centre, 360.0).position, start.position, atol=1e-6)


def test_turntable_poses_start_at_the_view_and_fit_the_whole_turn():
    class Camera:  # the vtkCamera calls apply_camera_preset makes
        def GetViewAngle(self):
            return 30.0

        def SetFocalPoint(self, *v):
            self.focal = v

        def SetPosition(self, *v):
            self.position = v

        def SetViewUp(self, *v):
            self.up = v

        def SetParallelScale(self, s):
            pass

        def SetParallelProjection(self, on):
            pass

    cam = Camera()
    apply_camera_preset(cam, "oblique", GRID_BOUNDS_UM, 4 / 3)
    start = CameraPose(cam.position, cam.focal, cam.up, 30.0, 4 / 3)
    poses = turntable_poses(start, GRID_BOUNDS_UM, 8, 4 / 3)
    assert len(poses) == 8
    expected = np.asarray(PRESETS["oblique"][0]) / np.linalg.norm(PRESETS["oblique"][0])
    np.testing.assert_allclose(_direction(poses[0]), expected, atol=1e-9)  # starts at the preset
    preset_distance = np.linalg.norm(np.subtract(start.position, start.focal_point))
    distances = [np.linalg.norm(np.subtract(p.position, p.focal_point)) for p in poses]
    assert min(distances) == pytest.approx(max(distances))  # one distance all round
    assert distances[0] >= preset_distance - 1e-6  # far enough for the widest frame
    # consecutive frames are 45 degrees apart about the DV axis
    for a, b in zip(poses, poses[1:] + poses[:1]):
        da, db = _direction(a)[[0, 2]], _direction(b)[[0, 2]]
        cos = da @ db / np.linalg.norm(da) / np.linalg.norm(db)
        assert np.degrees(np.arccos(np.clip(cos, -1, 1))) == pytest.approx(45.0)
    kept = turntable_poses(start, GRID_BOUNDS_UM, 8, 4 / 3, fit=False)  # a pose keeps its distance
    assert np.linalg.norm(np.subtract(kept[3].position, kept[3].focal_point)) == pytest.approx(preset_distance)


def silhouette(frame: np.ndarray) -> np.ndarray:
    """Pixels that are not the background, in the middle of the frame (no caption, credit,
    marker), less the orientation words' glyphs (drawn in the margins since issue 21, they
    move around the brain from frame to frame): pixels on the line from the background to
    the words' colour."""
    from allen_viewer.render.layers import WORD_COLOR

    h, w = frame.shape[:2]
    core = frame[h // 6: h - h // 6, w // 5: w - w // 5].astype(int)
    shape = np.abs(core - core[0, 0]).sum(axis=2) > 30
    bg = core[0, 0].astype(float)
    d = np.asarray(WORD_COLOR) * 255.0 - bg
    t = np.clip(((core - bg) @ d) / (d @ d), 0.0, 1.0)
    on_word_line = np.linalg.norm(core - (bg + t[..., None] * d), axis=2) < 15
    return shape & ~(on_word_line & (t > 0.25))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two masks."""
    return float((a & b).sum() / (a | b).sum())


def test_frames_turn_the_scene(pdyn, outline):
    turn: dict = {}
    frames = list(turntable_frames(pdyn, outline, (160, 120), 4, view="lateral", turn=turn))
    assert len(frames) == 4 and all(f.shape == (120, 160, 3) for f in frames)
    for a, b in zip(frames, frames[1:]):
        assert np.abs(a.astype(int) - b.astype(int)).mean() > 2  # each frame shows a new side
    # frame 0 is the scene export image draws from the first pose
    first = turn["first_frame_camera"]
    pose = CameraPose(tuple(first["position_um"]), tuple(first["focal_point_um"]), tuple(first["view_up"]),
                      first["view_angle_deg"], 160 / 120)
    still = render_scene(pdyn, outline, (160, 120), pose=pose)
    assert np.abs(still.astype(int) - frames[0].astype(int)).mean() < 1.0
    # half a turn from the left side is the right side: the brain's outline, mirrored
    left, right = silhouette(frames[0]), silhouette(frames[2])
    assert iou(left, right[:, ::-1]) > 0.8 and iou(left, right[:, ::-1]) > iou(left, right)
    assert turn["degrees_per_frame"] == 90.0 and turn["fitted_to_the_whole_turn"] is True


# ---- files --------------------------------------------------------------------------------

def test_mp4_reads_back_with_its_frames_rounded_size_and_sidecar(pdyn, tmp_path):
    path = tmp_path / "turn.mp4"
    seen = []
    result = export_movie(pdyn, path, None, size=(161, 121), frames=6, fps=12, view="dorsal",
                          display={"threshold": 4.0}, threshold_rule="energy 4 (test)",
                          progress=lambda done, total: seen.append((done, total)))
    assert result["files"] == [path, tmp_path / "turn.mp4.json"] and result["rounded"] is True
    assert seen == [(k, 6) for k in range(1, 7)]
    reader = iio2.get_reader(path, "FFMPEG")
    try:
        meta = reader.get_meta_data()
        assert meta["codec"] == "h264" and meta["size"] == (160, 120) and meta["fps"] == 12
        assert reader.count_frames() == 6
        frames = [f for f in reader]
    finally:
        reader.close()
    assert len(frames) == 6 and frames[0].shape == (120, 160, 3)
    side = json.loads((tmp_path / "turn.mp4.json").read_text())
    m = side["movie"]
    assert side["export"] == "movie" and side["experiments"][0]["experiment_id"] == PDYN
    assert (m["format"], m["frames"], m["fps"], m["width_px"], m["height_px"]) == ("mp4", 6, 12, 160, 120)
    assert m["size_asked"] == {"width_px": 161, "height_px": 121} and "rounded down" in m["size_rule"]
    assert "H.264" in m["codec"] and m["duration_s"] == 0.5 and "ffmpeg" in m["encoder"]
    assert side["camera"]["preset"] == "dorsal" and side["camera"]["turn"]["degrees_per_frame"] == 60.0
    assert side["display"]["energy_threshold"] == 4.0 and side["display"]["threshold_rule"] == "energy 4 (test)"
    state = read_session(tmp_path / "turn.mp4.json")  # the session that drew it reopens
    assert state.experiment.id == PDYN and state.display.threshold == 4.0 and state.camera.preset == "dorsal"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_gif_keeps_its_size_and_frames(pdyn, tmp_path):
    path = tmp_path / "turn.gif"
    export_movie(pdyn, path, None, size=(97, 63), frames=5, fps=20)
    frames = read_gif(path)
    assert frames.shape == (5, 63, 97, 3)
    assert iio.immeta(path, index=0, plugin="pillow")["duration"] == 50  # 20 fps: 5 hundredths a frame
    side = json.loads((tmp_path / "turn.gif.json").read_text())
    assert side["movie"]["format"] == "gif" and side["movie"]["size_rule"] == "as asked"


def test_cancel_leaves_no_file_and_keeps_the_old_one(pdyn, tmp_path):
    path = tmp_path / "turn.mp4"
    path.write_bytes(b"the previous movie")
    done = []
    with pytest.raises(Cancelled):
        export_movie(pdyn, path, None, size=(64, 48), frames=10, progress=lambda d, t: done.append(d),
                     cancel=lambda: len(done) >= 2)
    assert done == [1, 2]
    assert path.read_bytes() == b"the previous movie"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["turn.mp4"]  # no temporary file, no sidecar


def test_a_failed_sidecar_removes_the_movie(pdyn, tmp_path):
    (tmp_path / "turn.gif.json").mkdir()  # the sidecar's name is taken by a folder
    with pytest.raises(AllenViewerError, match="turn.gif.json"):
        export_movie(pdyn, tmp_path / "turn.gif", None, size=(64, 48), frames=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["turn.gif.json"]


def test_a_failed_encoder_leaves_nothing(pdyn, tmp_path, monkeypatch):
    import subprocess

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(subprocess, "Popen", broken)  # ffmpeg cannot even start
    with pytest.raises(AllenViewerError, match="No space left"):
        export_movie(pdyn, tmp_path / "turn.mp4", None, size=(64, 48), frames=2)
    assert list(tmp_path.iterdir()) == []
