"""The named scene layers (render/scene_layers.py), cut-aways (render/cuts.py) and slice planes.

Qt-free: plain off-screen pyvista plotters (anti-aliasing off).  The slice-plane test images
below are GENERATED (a colour per pixel position), to check the planes' orientation.
"""
from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv

from allen_viewer.atlas.reference_space import ANNOTATION_SHAPE
from allen_viewer.formats.grid_file import GRID_SHAPE, GRID_SPACING_UM
from allen_viewer.render.cuts import CUT_AWAYS, GRID_CENTRE_UM, MIDLINE_UM, FigureOptions, cut_away
from allen_viewer.render.layers import ExpressionLayer
from allen_viewer.render.scene_layers import (
    CursorLayer,
    OutlineLayer,
    SlicePlanesLayer,
    StructuresLayer,
    clip_surface,
    slice_plane_mesh,
)
from allen_viewer.render.slice_images import PLANES, slice_layers_for

PDYN = 71717084


pytestmark = pytest.mark.usefixtures("no_anti_aliasing")  # tests/conftest.py


@pytest.fixture()
def plotter():
    p = pv.Plotter(off_screen=True, window_size=(200, 150))
    yield p
    p.close()


def test_hemisphere_cuts_follow_the_grid_ml_index():
    """left = grid ML index 0-28, right = 29-57 (CCF +z is right)."""
    centres = np.zeros((GRID_SHAPE[2], 3))
    centres[:, 2] = np.arange(GRID_SHAPE[2]) * GRID_SPACING_UM
    left, right = cut_away("left"), cut_away("right")
    assert np.flatnonzero(~left.keep(centres)).tolist() == list(range(29))  # removed: the left hemisphere
    assert np.flatnonzero(~right.keep(centres)).tolist() == list(range(29, 58))
    assert MIDLINE_UM == 5700.0 and left.normal == (0.0, 0.0, 1.0)


def test_slice_relative_cuts_sit_at_the_slices():
    at = (5000.0, 3000.0, 4000.0)
    assert (cut_away("anterior", at).axis, cut_away("anterior", at).position_um) == (0, 5000.0)
    assert cut_away("dorsal", at).keep(np.array([[0, 2900.0, 0], [0, 3100.0, 0]])).tolist() == [False, True]
    assert cut_away("ventral", at).keep(np.array([[0, 2900.0, 0], [0, 3100.0, 0]])).tolist() == [True, False]
    assert cut_away("sagittal-right", at).keep(np.array([[0, 0, 3900.0], [0, 0, 4100.0]])).tolist() == [True, False]
    assert cut_away("posterior").position_um == GRID_CENTRE_UM[0]  # default: the grid's centre
    assert cut_away("none") is None and cut_away(None) is None
    with pytest.raises(ValueError):
        cut_away("middle")
    with pytest.raises(ValueError):
        FigureOptions(clip="middle")
    assert set(CUT_AWAYS) >= {"none", "left", "right"}


def test_clip_surface_keeps_one_side_and_closes_it_with_a_cut_face():
    sphere = pv.Sphere(radius=1000.0, center=(0, 0, MIDLINE_UM), theta_resolution=40, phi_resolution=40)
    body, face = clip_surface(sphere, cut_away("left"))
    assert body.bounds[4] >= MIDLINE_UM - 1e-3 and body.bounds[5] == pytest.approx(MIDLINE_UM + 1000, abs=1)
    assert face is not None and face.n_cells > 0
    assert np.allclose(np.asarray(face.points)[:, 2], MIDLINE_UM)  # the face lies in the cut plane
    assert face.area == pytest.approx(np.pi * 1000.0 ** 2, rel=0.02)
    assert clip_surface(sphere, None) == (sphere, None)


def test_expression_layer_drops_the_cut_hemisphere(plotter, pdyn):
    layer = ExpressionLayer(plotter)
    layer.set_display(threshold=1.0)
    layer.set_data(pdyn)
    k = np.asarray(layer.poly.points)[:, 2] / GRID_SPACING_UM
    n_all = layer.poly.n_points
    assert (k <= 28).any() and (k >= 29).any()
    layer.set_cut(cut_away("left"))
    k = np.asarray(layer.poly.points)[:, 2] / GRID_SPACING_UM
    assert k.min() >= 29 and 0 < layer.poly.n_points < n_all
    assert set(layer.poly.point_data.keys()) >= {"grid_index", "energy", "color_value", "radius"}
    flat = np.asarray(layer.poly.point_data["grid_index"])
    assert np.array_equal(np.unravel_index(flat, GRID_SHAPE)[2], k.astype(int))  # arrays stay with their points
    layer.set_cut(None)
    assert layer.poly.n_points == n_all
    layer.detach()


def test_outline_structures_and_cursor_layers_set_data_cut_and_detach(plotter):
    mesh = pv.Sphere(radius=2000.0, center=(5000.0, 4000.0, MIDLINE_UM))
    outline, structures, cursor = OutlineLayer(plotter), StructuresLayer(plotter), CursorLayer(plotter)
    outline.set_data(mesh)
    # crosses the midline (5700) like the outline; wholly right of z = 5200
    structures.set_data(672, pv.Sphere(radius=1000.0, center=(5000.0, 4000.0, 6200.0)), (10, 200, 30))
    cursor.set_data((5000.0, 4000.0, 5000.0))
    assert len(outline.actors) == 1 and structures.ids == [672] and len(cursor._actors) == 2
    for layer in (outline, structures, cursor):
        layer.set_cut(cut_away("left"))
    assert len(outline.actors) == 2  # the outline and its cut face
    assert outline.actor.GetMapper().GetInput().GetBounds()[4] >= MIDLINE_UM - 1e-3
    assert len(structures.actors) == 2 and cursor.position is not None and len(cursor._actors) == 2
    structures.set_cut(cut_away("sagittal-right", (0, 0, 5100.0)))  # the structure lies wholly right: gone
    assert structures.actors == [] and structures.ids == [672]  # still asked for, drawn again uncut
    structures.set_cut(None)
    structures.set_highlight(672)
    from allen_viewer.render.structure_style import HIGHLIGHT_OPACITY

    assert structures.opacity(672) == pytest.approx(HIGHLIGHT_OPACITY)  # a light shell (issue 21)
    n_props = plotter.renderer.GetViewProps().GetNumberOfItems()
    overlay = cursor._overlay  # the cursor is drawn over the scene, in a renderer of its own
    assert overlay.GetLayer() == 1 and overlay.GetActiveCamera() is plotter.renderer.GetActiveCamera()
    assert overlay.GetViewProps().GetNumberOfItems() == 2
    for layer in (outline, structures, cursor):
        layer.detach()
    assert plotter.renderer.GetViewProps().GetNumberOfItems() == n_props - 2 - 1
    assert overlay.GetViewProps().GetNumberOfItems() == 0
    assert outline.actors == [] and structures.actors == [] and cursor._actors == []


@pytest.mark.parametrize("name", list(PLANES))
def test_a_slice_plane_puts_each_pixel_at_its_voxel(name):
    """A generated image whose pixel (r, c) has colour (r % 256, c % 256, 7): the cell centred
    on the voxel of that pixel carries that colour, in CCF µm (voxel index x 25)."""
    plane = PLANES[name]
    rows, cols = plane.image_shape
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    image = np.stack([r % 256, c % 256, np.full_like(r, 7)], axis=2).astype(np.uint8)
    index = 100
    mesh = slice_plane_mesh(image, name, index)
    assert mesh.n_cells == rows * cols
    centres = np.asarray(mesh.cell_centers().points)
    colours = np.asarray(mesh.cell_data["rgb"])
    assert np.allclose(centres[:, plane.axis], index * 25.0)
    vox_r = np.rint(centres[:, plane.rows] / 25.0).astype(int)
    vox_c = np.rint(centres[:, plane.cols] / 25.0).astype(int)
    assert np.array_equal(colours[:, 0], vox_r % 256) and np.array_equal(colours[:, 1], vox_c % 256)
    # only the pixels asked for; a cut drops a side
    brain = np.zeros((rows, cols), bool)
    brain[10:20, 30:35] = True
    assert slice_plane_mesh(image, name, index, brain).n_cells == 50
    if plane.axis != 2:
        half = slice_plane_mesh(image, name, index, None, cut_away("left"))
        assert np.asarray(half.cell_centers().points)[:, 2].min() >= MIDLINE_UM
    else:
        assert slice_plane_mesh(image, name, 200, None, cut_away("left")) is None  # 5000 µm: left of the midline
        assert slice_plane_mesh(image, name, 300, None, cut_away("left")).n_cells == rows * cols


def test_slice_planes_layer_draws_the_panes_images_inside_the_brain(plotter, reference_space, pdyn):
    source = slice_layers_for(reference_space, pdyn)
    layer = SlicePlanesLayer(plotter)
    layer.set_data(source, GRID_CENTRE_UM)
    assert sorted(layer.shown) == sorted(PLANES)
    assert layer.indices == {"coronal": 264, "horizontal": 160, "sagittal": 228}
    coronal = layer.meshes_by_plane["coronal"]
    image = source.render(PLANES["coronal"], 264)
    brain = PLANES["coronal"].take(reference_space.labels25, 264) > 0
    assert coronal.GetNumberOfCells() == int(brain.sum())
    colours = {tuple(v) for v in np.asarray(coronal.cell_data["rgb"])[:2000]}
    assert colours <= {tuple(v) for v in image[brain]}
    before = layer.actors_by_plane["sagittal"]
    layer.set_positions((GRID_CENTRE_UM[0] + 500, GRID_CENTRE_UM[1], GRID_CENTRE_UM[2]))
    assert layer.indices["coronal"] == 284 and layer.actors_by_plane["sagittal"] is before  # only the moved one
    layer.set_cut(cut_away("right"))
    assert "sagittal" in layer.shown  # at the midline: kept
    layer.detach()
    assert layer.shown == []
    assert ANNOTATION_SHAPE[0] // 2 == 264
