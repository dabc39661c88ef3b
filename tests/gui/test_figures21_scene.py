"""The viewer's 3-D view and issue 21: the parallel presets carry a 1 mm scale bar, turning
away from a preset returns to perspective and drops it, the oblique view stays perspective,
and the projection goes into the session."""
from __future__ import annotations

import numpy as np
import pytest

from allen_viewer.gui.scene3d import ExpressionScene
from allen_viewer.render.meshes import brain_outline


@pytest.fixture(scope="module")
def outline(reference_space):
    return brain_outline(reference_space, use_cache=False)


@pytest.fixture
def scene(qtbot, outline):
    s = ExpressionScene()
    qtbot.addWidget(s)
    s.resize(640, 480)
    s.show()
    qtbot.waitExposed(s)
    s.set_brain_outline(outline)
    yield s
    s.close_scene()


@pytest.mark.parametrize("preset", ["dorsal", "lateral", "anterior"])
def test_a_preset_is_parallel_with_a_1_mm_bar_until_turned(scene, preset):
    scene.camera_preset(preset)
    scene.render()
    cam = scene.plotter.camera
    assert scene.parallel_projection
    _, h = scene.plotter.render_window.GetSize()
    assert scene.scale_bar_px == pytest.approx(1000.0 * h / (2.0 * cam.GetParallelScale()), abs=1.0)
    assert scene.scale_bar_px > 0
    cam.Zoom(1.5)  # zooming keeps the projection; the bar follows the scale
    scene.render()
    assert scene.parallel_projection
    assert scene.scale_bar_px == pytest.approx(1000.0 * h / (2.0 * cam.GetParallelScale()), abs=1.0)
    cam.Azimuth(12.0)  # turning away from the preset: perspective, no bar
    scene.render()
    assert not scene.parallel_projection and scene.scale_bar_px == 0
    pose = scene.camera_pose()
    assert not pose.parallel


def test_the_oblique_view_stays_perspective(scene):
    scene.camera_preset("dorsal")
    scene.camera_preset("oblique")
    scene.render()
    assert not scene.parallel_projection and scene.scale_bar_px == 0


def test_a_parallel_pose_reapplies_with_its_scale(scene):
    scene.camera_preset("lateral")
    pose = scene.camera_pose()
    assert pose.parallel and pose.parallel_scale > 0
    scene.camera_preset("oblique")
    scene.set_camera_pose(pose)
    scene.render()
    assert scene.parallel_projection
    assert scene.plotter.camera.GetParallelScale() == pytest.approx(pose.parallel_scale)
    np.testing.assert_allclose(scene.plotter.camera.GetDirectionOfProjection(),
                               np.subtract(pose.focal_point, pose.position) /
                               np.linalg.norm(np.subtract(pose.focal_point, pose.position)), atol=1e-9)
