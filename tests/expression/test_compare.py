"""Two-gene comparison statistics against numpy."""
import numpy as np
import pytest

from allen_viewer import config
from allen_viewer.expression import compare
from allen_viewer.formats import grid_file as gf
from allen_viewer.expression.grid import load_grid
from allen_viewer.store.gene_index import Experiment


def test_pearson_edge_cases():
    assert np.isnan(compare.pearson(np.array([1.0, 2.0]), np.array([1.0, 2.0])))  # too few voxels
    assert np.isnan(compare.pearson(np.ones(5), np.arange(5.0)))  # no variance
    x = np.arange(10.0)
    assert compare.pearson(x, 3 * x + 1) == pytest.approx(1.0)


def test_coronal_vs_generated_sagittal_uses_only_the_shared_hemisphere(tmp_path):
    pdyn = load_grid(config.resources_dir() / "grids" / "71717084.zip",
                     Experiment(71717084, "Pdyn", "", None, "coronal"))
    # generated "sagittal" grid: Pdyn's own energy on the left half, -1 on the right
    energy = np.where(pdyn.has_data, pdyn.energy, -1).astype(np.float32)
    energy[:, :, 29:] = -1
    gf.write_grid_zip(tmp_path / "s.zip", {"energy": energy})
    sag = load_grid(tmp_path / "s.zip", Experiment(1, "Gen", "generated", None, "sagittal"))
    assert compare.correlation(pdyn, sag) == pytest.approx(1.0)
    diff = compare.difference(pdyn, sag)
    assert np.isnan(diff[:, :, 29:]).all() and np.nanmax(np.abs(diff)) == 0
    ratio = compare.difference(pdyn, sag, "ratio")
    both = pdyn.has_data & sag.has_data & (sag.energy > 0)
    assert np.allclose(ratio[both], 1.0) and np.isnan(ratio[~both]).all()
    with pytest.raises(ValueError):
        compare.difference(pdyn, sag, "log")
