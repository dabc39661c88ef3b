"""Picking in depth (Qt-free): the highest-energy drawn sphere on a click's ray.

The real Pdyn grid (embedded in resources/grids) and the real annotation; the camera is the
oblique preset fitted as the 3-D view fits it, and the ray is the one through the centre of
the view (camera position -> focal point).
"""
from __future__ import annotations

import numpy as np
import pytest
from vtkmodules.vtkRenderingCore import vtkCamera

from allen_viewer import config
from allen_viewer.expression.grid import load_grid
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.render.layers import apply_camera_preset, build_expression_points, sphere_radius_um
from allen_viewer.render.meshes import brain_outline
from allen_viewer.render.picking import ray_hits, strongest_on_ray

PDYN = 71717084


# ---- the rule on made-up voxels (generated data) -------------------------------------------

def test_the_strongest_voxel_on_the_ray_wins_not_the_nearest():
    centres = np.array([[0.0, 0, 200], [0, 0, 400], [0, 0, 600], [0, 600, 400]])
    radii = np.array([50.0, 50, 50, 50])
    energy = np.array([1.0, 7.0, 3.0, 99.0])  # the 99 is off the ray
    ids, t = ray_hits(centres, radii, (0, 0, 0), (0, 0, 2.0))
    assert ids.tolist() == [0, 1, 2] and np.allclose(t, [200, 400, 600])
    assert strongest_on_ray(centres, radii, energy, (0, 0, 0), (0, 0, 1)) == (1, 400.0)


def test_ties_go_to_the_nearest_and_nan_never_wins():
    centres = np.array([[0.0, 0, 600], [0, 0, 200], [0, 0, 400]])
    radii = np.full(3, 50.0)
    assert strongest_on_ray(centres, radii, np.array([4.0, 4.0, 4.0]), (0, 0, 0), (0, 0, 1))[0] == 1
    assert strongest_on_ray(centres, radii, np.array([np.nan, 2.0, 1.0]), (0, 0, 0), (0, 0, 1))[0] == 1


def test_a_ray_through_the_cell_between_small_spheres_still_picks_the_voxel():
    centres = np.array([[0.0, 0, 400]])
    small = np.array([10.0])
    # 60 µm beside the centre: misses the 10 µm sphere, crosses the 200 µm cell
    assert strongest_on_ray(centres, small, [1.0], (0, 60, 0), (0, 0, 1)) == (0, 400.0)
    assert strongest_on_ray(centres, small, [1.0], (0, 60, 0), (0, 0, 1), cell_um=None) is None
    # 120 µm beside it: outside the cell; a sphere bigger than the cell (size scale > 1) still counts
    assert strongest_on_ray(centres, small, [1.0], (0, 120, 0), (0, 0, 1)) is None
    assert strongest_on_ray(centres, np.array([150.0]), [1.0], (0, 120, 0), (0, 0, 1)) == (0, 400.0)
    # diagonally past the cube's edge: the slab test, not a bounding sphere
    assert strongest_on_ray(centres, small, [1.0], (95, 95, 0), (0, 0, 1)) == (0, 400.0)
    assert strongest_on_ray(centres, small, [1.0], (105, 95, 0), (0, 0, 1)) is None


def test_a_ray_that_points_away_picks_nothing():
    centres = np.array([[0.0, 0, 400]])
    radii = np.array([50.0])
    assert strongest_on_ray(centres, radii, [1.0], (0, 0, 0), (0, 0, -1)) is None  # behind the camera
    assert strongest_on_ray(centres, radii, [1.0], (0, 0, 0), (0, 1, 0)) is None  # across, beside it
    with pytest.raises(ValueError):
        ray_hits(centres, radii, (0, 0, 0), (0, 0, 0))


# ---- the real data: the centre of Pdyn's oblique view ---------------------------------------

@pytest.fixture(scope="module")
def pdyn(gene_index):
    return load_grid(config.resources_dir() / "grids" / f"{PDYN}.zip", gene_index.by_id(PDYN))


@pytest.fixture(scope="module")
def centre_ray(reference_space):
    """The ray through the centre of the oblique view in a 640 x 480 window (the aspect the
    3-D view tests use), fitted to the brain outline as the view fits it."""
    outline = brain_outline(reference_space, use_cache=False)
    pts = np.asarray(outline.points)
    cam = vtkCamera()
    apply_camera_preset(cam, "oblique", outline.bounds, 640 / 480, pts[:: max(1, len(pts) // 4000)])
    origin = np.array(cam.GetPosition())
    direction = np.array(cam.GetFocalPoint()) - origin
    return origin, direction / np.linalg.norm(direction)


def _under(ontology, structure_id: int, acronym: str) -> bool:
    return structure_id in ontology.descendant_ids(acronym)


def _grid_structure(reference_space, um) -> int:
    """Allen's 200 µm grid annotation at a voxel centre (µm): the voxel's own structure."""
    i, j, k = np.rint(np.asarray(um) / 200.0).astype(int)
    return int(reference_space.grid_structure_ids()[i, j, k])


def test_centre_of_pdyns_oblique_view_at_threshold_1_picks_striatum_not_cortex(
        pdyn, centre_ray, reference_space, ontology):
    origin, direction = centre_ray
    points = build_expression_points(pdyn, threshold=1.0)
    centres = np.asarray(points.points)
    radii = np.asarray(points["radius"])
    hit = strongest_on_ray(centres, radii, np.asarray(points["energy"]), origin, direction)
    assert hit is not None
    picked = centres[hit[0]]
    sid = _grid_structure(reference_space, picked)
    assert _under(ontology, sid, "STR"), ontology.by_id(sid).acronym
    # it is the strongest voxel with energy >= 1 on the whole line of sight, counted with numpy
    ids, _t = ray_hits(centres, radii, origin, direction)
    energies = np.asarray(points["energy"])[ids]
    assert float(np.asarray(points["energy"])[hit[0]]) == float(energies.max())

    # what the old rule (the nearest sphere) gave: a cortical voxel on the brain's surface
    ids, _t = ray_hits(centres, radii, origin, direction, cell_um=None)
    nearest = _grid_structure(reference_space, centres[ids[0]])
    assert _under(ontology, nearest, "Isocortex"), ontology.by_id(nearest).acronym


def test_striatum_is_what_pdyns_data_say(pdyn, centre_ray, reference_space, ontology):
    """Not an artifact of the rule or the labels: Pdyn (prodynorphin, a marker of striatal
    projection neurons) is much stronger in the striatum than in the cortex, and along the
    centre ray (every cell it crosses, whatever the threshold) the strongest voxel is labelled
    striatum, and the striatal voxels on it are stronger on average than the others."""
    grid_ids = reference_space.grid_structure_ids()
    assert grid_ids.shape == GRID_SHAPE
    in_str = np.isin(grid_ids, list(ontology.descendant_ids("STR"))) & pdyn.has_data
    in_ctx = np.isin(grid_ids, list(ontology.descendant_ids("Isocortex"))) & pdyn.has_data
    assert in_str.sum() > 1000 and in_ctx.sum() > 1000
    assert float(np.mean(pdyn.energy[in_str])) > 2.5 * float(np.mean(pdyn.energy[in_ctx]))

    origin, direction = centre_ray
    ijk = np.argwhere(pdyn.has_data)
    ids, _t = ray_hits(ijk * 200.0, np.zeros(len(ijk)), origin, direction)  # every cell crossed
    energies = pdyn.energy[tuple(ijk[ids].T)]
    on_ray = ijk[ids]
    striatal = np.array([_under(ontology, int(grid_ids[tuple(v)]), "STR") for v in on_ray])
    assert striatal[int(np.argmax(energies))]
    assert 0 < striatal.sum() < len(striatal)
    assert float(energies[striatal].mean()) > 2.0 * float(energies[~striatal].mean())
