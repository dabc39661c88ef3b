"""The CCFv3 reference space on the embedded real annotation volumes."""
import numpy as np
import pytest

from allen_viewer.atlas import reference_space as rs
from allen_viewer.errors import CorruptData


def test_shapes_and_orientation(reference_space, ontology):
    assert reference_space.labels25.shape == (528, 320, 456)
    assert reference_space.grid_annotation.shape == (67, 41, 58)
    # PIR: the olfactory bulb is anterior (small AP) of the cerebellum; isocortex dorsal of thalamus
    def centroid(acr):
        return np.argwhere(reference_space.mask25(acr)[::4, ::4, ::4]).mean(axis=0) * 4
    assert centroid("MOB")[0] < 100 < 400 < centroid("CB")[0]
    assert centroid("Isocortex")[1] < centroid("TH")[1]


def test_every_annotation_id_is_in_the_ontology(reference_space, ontology):
    ids = reference_space.label_ids[np.unique(reference_space.labels25)]
    # the same set of ids as the annotation file read by SimpleITK (not the code's reader)
    import SimpleITK as sitk

    from allen_viewer import config

    image = sitk.ReadImage(str(config.resources_dir() / "annotation_25.nrrd"))
    raw = sitk.GetArrayViewFromImage(image)  # a view: ``image`` must stay alive while it is used
    assert sorted(int(i) for i in ids) == sorted(int(i) for i in np.unique(raw))
    del raw, image
    assert all(int(i) == 0 or int(i) in ontology for i in ids)
    grid_ids = np.unique(reference_space.grid_annotation)
    assert all(int(i) == 0 or int(i) in ontology for i in grid_ids)


def test_compact_labels_round_trip(reference_space):
    from allen_viewer import config

    raw = rs.read_nrrd_volume(config.resources_dir() / "annotation_25.nrrd")
    sl = np.s_[200:260, 100:140, 150:300]
    assert np.array_equal(reference_space.label_ids[reference_space.labels25[sl]], raw[sl])


def test_compact_labels_reject_unknown_ids():
    ids = np.array([0, 5, 70000], dtype=np.uint32)
    ok = rs.compact_labels(np.array([[[0, 5, 70000]]], dtype=np.uint32), ids)
    assert ok.tolist() == [[[0, 1, 2]]]
    with pytest.raises(CorruptData):
        rs.compact_labels(np.array([[[6]]], dtype=np.uint32), ids)
    with pytest.raises(CorruptData):
        rs.compact_labels(np.array([[[70001]]], dtype=np.uint32), ids)


def test_grid_brain_mask_agrees_with_25um_annotation(reference_space):
    a = reference_space.labels25[::8, ::8, ::8] > 0  # 25 µm voxel 8i lies at 200 i µm
    b = reference_space.grid_brain_mask[: a.shape[0], : a.shape[1], : a.shape[2]]
    dice = 2 * (a & b).sum() / (a.sum() + b.sum())
    assert dice > 0.95


def test_structure_masks_include_descendants(reference_space, ontology):
    striatum = reference_space.mask25("STR")
    cp = reference_space.mask25("CP")
    assert cp.sum() > 0 and not (cp & ~striatum).any() and striatum.sum() > cp.sum()
    assert reference_space.grid_mask("CP").sum() > 1000
    # a leaf's mask is exactly its own label
    leaf_id = 672
    assert np.array_equal(cp, reference_space.label_ids[reference_space.labels25] == leaf_id)
    root = reference_space.grid_mask("root")
    assert np.array_equal(root, reference_space.grid_brain_mask)


def test_mask_of_structure_the_25um_and_grid_masks_agree(reference_space):
    for acr in ("CP", "CB", "Isocortex"):
        a = reference_space.mask25(acr)[::8, ::8, ::8]
        b = reference_space.grid_mask(acr)[: a.shape[0], : a.shape[1], : a.shape[2]]
        assert 2 * (a & b).sum() / (a.sum() + b.sum()) > 0.8, acr


def test_coordinate_conversions():
    assert rs.grid_to_um([1, 2, 3]).tolist() == [200, 400, 600]
    assert rs.um_to_grid([210, 390, 600]).tolist() == [1, 2, 3]
    assert rs.um_to_grid([-500, 99999, 0]).tolist() == [0, 40, 0]
    assert rs.um_to_grid([-500, 0, 0], clip=False).tolist() == [-2, 0, 0]
    assert rs.ccf25_to_um([8, 0, 1]).tolist() == [200, 0, 25]
    assert rs.um_to_ccf25([200, 12.4, 13]).tolist() == [8, 0, 1]
    assert rs.grid_to_ccf25([1, 2, 3]).tolist() == [8, 16, 24]
    assert rs.ccf25_to_grid([8, 16, 27]).tolist() == [1, 2, 3]


def test_structure_at_a_point(reference_space):
    cp = np.argwhere(reference_space.mask25("CP"))[0]
    s = reference_space.structure_at_um(rs.ccf25_to_um(cp))
    assert s.acronym == "CP"
    assert reference_space.structure_at_um([0, 0, 0]) is None


def test_broken_volumes_are_rejected(tmp_path):
    bad = tmp_path / "a.nrrd"
    bad.write_bytes(b"NRRD0004\nnot really\n")
    with pytest.raises(CorruptData):
        rs.read_nrrd_volume(bad)
    with pytest.raises(CorruptData):
        rs.read_grid_annotation(tmp_path / "missing.zip")
