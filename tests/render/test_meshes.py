"""Surface meshes from the 25 µm annotation: geometry in CCF µm, the disk cache, edge cases."""
from __future__ import annotations

import numpy as np
import pytest

from allen_viewer.render import meshes as surfaces
from allen_viewer.atlas.reference_space import ANNOTATION_SPACING_UM
from allen_viewer.render.meshes import (
    brain_outline,
    mask_surface,
    mesh_cache_path,
    structure_surface,
)

CP = 672
MO1 = 107  # "Somatomotor areas, Layer 1": in the ontology, no voxels in the 2017 annotation
TSPD = 1051  # a leaf drawn with a single 25 µm voxel


def _mask_bounds_um(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != ax))) for ax in range(3)]
    lo = np.array([i[0] for i in idx]) * ANNOTATION_SPACING_UM
    hi = np.array([i[-1] for i in idx]) * ANNOTATION_SPACING_UM
    return lo, hi


def test_block_sum_counts_voxels_per_block_including_ragged_edges():
    rng = np.random.default_rng(1)
    mask = rng.random((13, 10, 7)) < 0.4
    for f in (1, 2, 3, 4):
        got = surfaces._block_sum(mask, f)
        padded = np.zeros([-(-n // f) * f for n in mask.shape], bool)
        padded[:13, :10, :7] = mask
        a, b, c = (n // f for n in padded.shape)
        want = padded.reshape(a, f, b, f, c, f).sum(axis=(1, 3, 5))
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("block", [1, 2, 4])
def test_mask_surface_of_a_ball_is_in_micrometres_at_the_right_place(block):
    # a ball of radius 600 µm centred at 25 µm voxel (40, 30, 50) = (1000, 750, 1250) µm
    a, b, c = np.ogrid[:80, :60, :100]
    centre_vox = np.array([40, 30, 50])
    radius_um = 600.0
    r2 = ((a - 40) ** 2 + (b - 30) ** 2 + (c - 50) ** 2) * ANNOTATION_SPACING_UM ** 2
    mask = r2 <= radius_um ** 2
    mesh = mask_surface(mask, block=block)
    assert mesh is not None and mesh.n_open_edges == 0
    centre_um = centre_vox * ANNOTATION_SPACING_UM
    dist = np.linalg.norm(np.asarray(mesh.points) - centre_um, axis=1)
    assert abs(dist.mean() - radius_um) < 0.5 * block * ANNOTATION_SPACING_UM + 10
    np.testing.assert_allclose(np.asarray(mesh.center), centre_um, atol=15)
    assert "Normals" in mesh.point_data
    # normals point outwards
    outward = np.einsum("ij,ij->i", np.asarray(mesh.point_data["Normals"]), np.asarray(mesh.points) - centre_um)
    assert (outward > 0).mean() > 0.99


def test_mask_surface_of_an_empty_mask_is_none():
    assert mask_surface(np.zeros((10, 10, 10), bool)) is None


def test_brain_outline_lies_on_the_brain_mask_bounds(reference_space):
    mesh = brain_outline(reference_space)
    lo, hi = _mask_bounds_um(reference_space.brain_mask25)
    b = np.array(mesh.bounds)
    # within the mask's voxel-centre bounds give or take one 100 µm contouring block
    tol = surfaces.OUTLINE_BLOCK * ANNOTATION_SPACING_UM
    assert np.all(b[0::2] >= lo - tol) and np.all(b[1::2] <= hi + tol)
    # and not shrunk: every side reaches to within a block of the mask's extent
    assert np.all(b[0::2] <= lo + tol) and np.all(b[1::2] >= hi - tol)
    assert mesh.n_open_edges == 0
    assert 10_000 < mesh.n_points < 200_000


def test_mesh_is_cached_then_reused(reference_space, monkeypatch):
    path = mesh_cache_path(CP)
    assert not path.exists()
    first = structure_surface(reference_space, CP)
    assert path.is_file() and path.parent.name == "meshes" and "672" in path.name
    assert not list(path.parent.glob("*.part"))

    def no_meshing(*args, **kwargs):
        raise AssertionError("the cached mesh should have been used")

    monkeypatch.setattr(surfaces, "mask_surface", no_meshing)
    again = structure_surface(reference_space, CP)
    assert again.n_points == first.n_points and again.n_cells == first.n_cells
    np.testing.assert_allclose(np.asarray(again.points), np.asarray(first.points), rtol=0, atol=1e-3)
    assert surfaces.KEY_ARRAY not in again.field_data


def test_cached_file_is_a_plain_vtp_that_vtk_reads(reference_space):
    import pyvista as pv

    mesh = structure_surface(reference_space, TSPD)
    other = pv.read(mesh_cache_path(TSPD))
    assert other.n_points == mesh.n_points


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped_byte", "other_key", "empty_file"])
def test_corrupt_cache_entry_is_regenerated(reference_space, damage):
    good = brain_outline(reference_space)
    path = mesh_cache_path(997)
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x00not a vtp file\xff" * 100)
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "flipped_byte":  # same length, header and trailer intact
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:])
    elif damage == "empty_file":
        path.write_bytes(b"")
    else:  # a valid mesh file of another structure under this name
        structure_surface(reference_space, TSPD)
        path.write_bytes(mesh_cache_path(TSPD).read_bytes())
    mesh = brain_outline(reference_space)
    assert mesh.n_points == good.n_points
    # the entry was rewritten and is valid again
    assert surfaces._read_mesh(path, surfaces.mesh_key(997)) is not None


def test_structure_without_voxels_is_none(reference_space):
    assert not reference_space.mask25(MO1).any()
    assert structure_surface(reference_space, MO1) is None
    assert structure_surface(reference_space, "MO1") is None
    assert not mesh_cache_path(MO1).exists()


def test_caudoputamen_surface_matches_its_mask(reference_space):
    mesh = structure_surface(reference_space, "CP")
    lo, hi = _mask_bounds_um(reference_space.mask25(CP))
    b = np.array(mesh.bounds)
    tol = surfaces.STRUCTURE_BLOCK * ANNOTATION_SPACING_UM
    assert np.all(np.abs(b[0::2] - lo) <= tol) and np.all(np.abs(b[1::2] - hi) <= tol)
    # CP is bilateral: points on both sides of the midline (ML 5700 µm)
    z = np.asarray(mesh.points)[:, 2]
    assert (z < 5000).any() and (z > 6400).any()


def test_a_one_voxel_structure_still_gets_a_surface(reference_space):
    mask = reference_space.mask25(TSPD)
    assert mask.sum() == 1
    mesh = structure_surface(reference_space, TSPD)
    assert mesh is not None and mesh.n_points > 0
    voxel_um = np.argwhere(mask)[0] * ANNOTATION_SPACING_UM
    np.testing.assert_allclose(np.asarray(mesh.center), voxel_um, atol=ANNOTATION_SPACING_UM)


def test_root_structure_is_the_outline(reference_space):
    assert structure_surface(reference_space, 997).n_points == brain_outline(reference_space).n_points
