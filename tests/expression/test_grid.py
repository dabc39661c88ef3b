"""ExpressionGrid: -1 becomes an explicit no-data mask, never zero."""
import numpy as np
import pytest

from allen_viewer import config
from allen_viewer.errors import CorruptData
from allen_viewer.formats import grid_file as gf
from allen_viewer.expression.grid import load_grid
from allen_viewer.records import Experiment

PDYN = Experiment(71717084, "Pdyn", "prodynorphin", 18610, "coronal")


def test_pdyn_no_data_is_masked_not_zero():
    g = load_grid(config.resources_dir() / "grids" / "71717084.zip", PDYN)
    assert g.energy.shape == (67, 41, 58)
    assert (~g.has_data_anywhere).sum() == 60307
    assert np.isnan(g.energy[~g.has_data_anywhere]).all() and not np.isnan(g.energy[g.has_data_anywhere]).any()
    assert g.intensity is None and g.density is None and g.available == ["energy"]
    assert g.reference_space_id == 9 and g.gene == "Pdyn" and g.plane == "coronal"
    assert g.covered_hemispheres() == "both"


def test_pdyn_counts_only_in_brain_voxels():
    """Figures from an independent numpy reading of the real files (energy.raw != -1, and
    gridAnnotation.raw > 0): 99,019 voxels with data, 60,556 in the brain, 38,463 outside."""
    g = load_grid(config.resources_dir() / "grids" / "71717084.zip", PDYN)
    assert int(g.has_data_anywhere.sum()) == 99019
    assert int(g.has_data.sum()) == 60556 and int(g.outside_brain.sum()) == 38463
    assert int(g.in_brain.sum()) == 62529
    cov = g.coverage()
    assert (cov["voxels_with_data"], cov["voxels_with_data_outside_brain"]) == (60556, 38463)
    assert (cov["voxels_left"], cov["voxels_right"]) == (30524, 30032)
    assert g.energy_only and g.reference_space_id == 9


def test_has_data_comes_from_energy_not_intensity(tmp_path):
    """An older Allen file carries intensity > 0 where energy and density are -1: no data."""
    exp = Experiment(3, "Gen3", "generated", None, "coronal")
    energy = np.full(gf.GRID_SHAPE, 2.0, np.float32)
    energy[30:] = -1
    density = np.where(energy >= 0, 0.25, -1).astype(np.float32)
    intensity = np.full(gf.GRID_SHAPE, 8.0, np.float32)  # values everywhere, also where density is -1
    path = tmp_path / "old.zip"
    gf.write_grid_zip(path, {"energy": energy, "intensity": intensity, "density": density})
    g = load_grid(path, exp)
    assert not g.has_data_anywhere[30:].any() and np.isnan(g.intensity[30:]).all()
    assert g.reference_space_id == 9  # no data_set.xml: from the plane


def _generated(tmp_path, right_half_missing=False, with_extra=True):
    """Generated grid (not Allen data): energy = AP index / 10, -1 in a corner (and the right half)."""
    ap = np.arange(67, dtype=np.float32)[:, None, None]
    energy = np.broadcast_to(ap / 10, gf.GRID_SHAPE).copy()
    energy[:5] = -1
    if right_half_missing:
        energy[:, :, 29:] = -1
    vols = {"energy": energy}
    if with_extra:
        vols["density"] = np.where(energy >= 0, 0.5, -1).astype(np.float32)
        vols["intensity"] = np.where(energy >= 0, 2.0, -1).astype(np.float32)
    path = tmp_path / "gen.zip"
    gf.write_grid_zip(path, vols)
    return path


def test_sagittal_coverage_and_all_three_volumes(tmp_path):
    exp = Experiment(1, "Gen1", "generated", None, "sagittal")
    g = load_grid(_generated(tmp_path, right_half_missing=True), exp)
    assert g.covered_hemispheres() == "left"
    assert g.hemisphere_coverage()["right"] == 0
    assert g.available == ["energy", "intensity", "density"]
    assert np.isnan(g.density[~g.has_data_anywhere]).all()
    first_ap = int(np.argwhere(g.has_data)[:, 0].min())  # energy = AP index / 10
    assert first_ap >= 5 and g.coverage()["energy_min"] == pytest.approx(first_ap / 10)


def test_other_negative_values_are_corrupt(tmp_path):
    energy = np.zeros(gf.GRID_SHAPE, np.float32)
    energy[0, 0, 0] = -2
    path = tmp_path / "neg.zip"
    gf.write_grid_zip(path, {"energy": energy})
    with pytest.raises(CorruptData, match="negative"):
        load_grid(path, Experiment(2, "X", "", None, "coronal"))


def test_grid_of_another_experiment_is_refused():
    with pytest.raises(CorruptData, match="belongs to experiment 71717084"):
        load_grid(config.resources_dir() / "grids" / "71717084.zip", Experiment(5, "X", "", None, "coronal"))
