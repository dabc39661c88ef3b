"""The Qt-free :class:`~allen_viewer.render.scene.Scene` (issue 19 item 4) on off-screen plotters:
its named layers, a state drawn with :meth:`Scene.show_state`, the preset kept fitted when the
view is resized, the caption layer, the linked cameras of the compare view
(:mod:`allen_viewer.render.camera_link`) and the two-gene slice colours
(:mod:`allen_viewer.render.two_gene_slices`).  Expected values by plain numpy from the
embedded Pdyn (71717084) and Nrp1 (74272479) grids."""
from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from allen_viewer.loaded_data import LoadedData
from allen_viewer.render.camera_link import CameraLink
from allen_viewer.render.scene import Scene
from allen_viewer.render.slice_images import GRID_MAPS, PLANES
from allen_viewer.render.two_gene_slices import COLOR_A, COLOR_B, TwoGeneSliceLayers
from allen_viewer.state import ExperimentRef, ViewerState
from tests import numpy_reference as ref

pytestmark = pytest.mark.usefixtures("no_anti_aliasing")

PDYN, NRP1 = 71717084, 74272479


@pytest.fixture(scope="module")
def nrp1(gene_index):
    from allen_viewer import config
    from allen_viewer.expression.grid import load_grid

    return load_grid(config.resources_dir() / "grids" / f"{NRP1}.zip", gene_index.by_id(NRP1))


@pytest.fixture
def scene():
    s = Scene(pv.Plotter(off_screen=True, window_size=(320, 240)))
    yield s
    s.close()


def test_the_scene_holds_one_named_layer_each(scene):
    assert list(scene.layers) == ["outline", "structures", "cursor", "expression", "planes", "caption"]
    assert scene.layers["expression"] is scene.layer


def test_show_state_draws_the_states_voxels_cut_and_camera(scene, pdyn, outline, reference_space, gene_index):
    state = ViewerState(experiment=ExperimentRef.of(gene_index.by_id(PDYN)))
    state.display.threshold = ref.percentile(PDYN, 75.0)
    state.display.size_scale = 1.5
    state.cut_away = "right"
    state.camera.preset = "dorsal"
    loaded = LoadedData()
    loaded.grid, loaded.space, loaded.outline_mesh = pdyn, reference_space, outline
    scene.show_state(state, loaded)
    data = scene.layer_data()
    energy, has = ref.energy(PDYN), ref.has_data(PDYN)
    ml_um = 200.0 * np.arange(energy.shape[2])[None, None, :]
    kept = has & (energy >= state.display.threshold) & (ml_um <= 5700.0)  # "right" hides ML > the midline
    np.testing.assert_array_equal(np.sort(data["voxel_ids"]), np.flatnonzero(kept.ravel()))
    assert data["cut"] == "right" and data["camera"]["parallel"]  # the dorsal preset is parallel
    assert scene.preset == "dorsal"
    radii = data["radii_um"] / 1.5  # the size scale multiplies every radius
    assert radii.max() <= 100.0 + 1e-3  # the strongest voxels fill their 200 um cell
    assert data["cursor"] is not None  # the window draws its cursor; so does a session's scene


def test_a_preset_stays_fitted_when_the_view_is_resized_unless_the_camera_moved(scene, outline):
    scene.set_outline(outline)
    scene.camera_preset("oblique")
    scene.plotter.window_size = (480, 240)
    assert scene.refit() and scene.size == (480, 240)
    fitted = scene.camera_pose()
    other = Scene(pv.Plotter(off_screen=True, window_size=(480, 240)))
    try:
        other.set_outline(outline)
        other.camera_preset("oblique")
        assert other.camera_pose().position == fitted.position  # as one fitted at that size
    finally:
        other.close()
    scene.plotter.camera.Azimuth(20)  # the user turned it: the preset no longer holds
    scene.plotter.window_size = (320, 240)
    assert not scene.refit()


def test_the_caption_layer_is_a_band_the_preset_leaves_free(scene):
    assert scene.layers["caption"].band_px is None and scene.margins()[2] < 0.3
    scene.set_caption("Pdyn\nlateral view")
    band = scene.layers["caption"].band_px
    assert band == pytest.approx(1.25 * 16 * 2)
    scene.set_caption("", credit=False)
    assert scene.layers["caption"]._actors == []


def test_linked_cameras_follow_and_render_when_asked():
    scenes = [Scene(pv.Plotter(off_screen=True, window_size=(64, 64))) for _ in range(3)]
    followed = []
    link = CameraLink(scenes, on_follow=lambda: followed.append(1))
    try:
        scenes[0].camera_preset("lateral")
        for s in scenes[1:]:
            assert s.plotter.camera.GetPosition() == scenes[0].plotter.camera.GetPosition()
            assert s.plotter.camera.GetParallelProjection() == 1
        assert followed
        link.render_pending()
        assert link.renders == 2  # the two followers, once each
        link.render_pending()
        assert link.renders == 2
    finally:
        link.close()
        for s in scenes:
            s.close()


def test_two_gene_slice_levels_and_colours(pdyn, nrp1, reference_space):
    layers = TwoGeneSliceLayers()
    layers.space = reference_space
    layers.set_grids(pdyn, nrp1, shared=False)
    ea, eb = ref.energy(PDYN), ref.energy(NRP1)
    ha, hb = ref.has_data(PDYN), ref.has_data(NRP1)
    vmax_a = float(np.percentile(ea[ha], 99.0))
    vmax_b = float(np.percentile(eb[hb], 99.0))
    assert (layers.vmax, layers.vmax_b) == pytest.approx((vmax_a, vmax_b), rel=1e-6)
    plane = PLANES["coronal"]
    index = 5200 // 25
    la, lb, has = layers.levels(plane, index)
    g = GRID_MAPS[0][index]
    # the 200 um grid section under the slice, (DV, ML): each gene's energy over its saturation
    np.testing.assert_allclose(la, np.where(ha[g], np.clip(ea[g] / vmax_a, 0, 1), 0), rtol=1e-6)
    np.testing.assert_allclose(lb, np.where(hb[g], np.clip(eb[g] / vmax_b, 0, 1), 0), rtol=1e-6)
    np.testing.assert_array_equal(has, ha[g] | hb[g])
    layers.set_grids(pdyn, nrp1, shared=True)
    assert layers.vmax == layers.vmax_b == pytest.approx(max(vmax_a, vmax_b), rel=1e-6)
    assert (COLOR_A + COLOR_B == 255).all()  # both at full energy: white
