"""Two-gene comparison statistics against numpy."""
import numpy as np
import pytest

from allen_viewer import config
from allen_viewer.expression import compare
from allen_viewer.formats import grid_file as gf
from allen_viewer.expression.grid import load_grid
from allen_viewer.records import Experiment


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


def test_normalised_comparison_and_pseudocount():
    """compare_values on the real Pdyn and Nrp1 grids: percentile ranks lie in 0-1 over the
    in-brain voxels, z-scores have mean 0 and sd 1, and the log2 ratio uses the stated
    pseudocount (no infinities where a gene is 0)."""
    from allen_viewer import config
    from allen_viewer.expression.compare import LOG2_PSEUDOCOUNT, compare_values, scaled_energy
    from allen_viewer.expression.grid import load_grid
    from allen_viewer.records import Experiment

    res = config.resources_dir() / "grids"
    a = load_grid(res / "71717084.zip", Experiment(71717084, "Pdyn", "", None, "coronal"))
    b = load_grid(res / "74272479.zip", Experiment(74272479, "Nrp1", "", None, "coronal"))
    from tests import numpy_reference as ref

    p = scaled_energy(a, "percentile")[a.has_data]
    assert p.min() >= 0 and p.max() == pytest.approx(1.0) and abs(np.median(p) - 0.5) < 0.01
    z = scaled_energy(a, "zscore")[a.has_data].astype(np.float64)
    assert z.mean() == pytest.approx(0, abs=1e-6) and z.std() == pytest.approx(1, abs=1e-6)
    # every voxel against an independent numpy implementation over the raw file's values
    # (mid-ranks of ties through np.unique; z by hand), not only their summary statistics
    for grid, exp_id in ((a, 71717084), (b, 74272479)):
        has = ref.has_data(exp_id)
        np.testing.assert_array_equal(grid.has_data, has)
        values = ref.energy(exp_id)[has]
        np.testing.assert_allclose(scaled_energy(grid, "percentile")[has], ref.mid_ranks(values), rtol=0, atol=1e-6)
        np.testing.assert_allclose(scaled_energy(grid, "zscore")[has], ref.z_scores(values), rtol=1e-5, atol=1e-6)
        assert np.isnan(scaled_energy(grid, "percentile")[~has]).all()
        assert np.isnan(scaled_energy(grid, "zscore")[~has]).all()
    both = ref.has_data(71717084) & ref.has_data(74272479)
    expected = (ref.mid_ranks(ref.energy(71717084)[ref.has_data(71717084)]),
                ref.mid_ranks(ref.energy(74272479)[ref.has_data(74272479)]))
    pa, pb = np.full(both.shape, np.nan), np.full(both.shape, np.nan)
    pa[ref.has_data(71717084)], pb[ref.has_data(74272479)] = expected
    np.testing.assert_allclose(compare_values(a, b, "difference", "percentile")[both], (pa - pb)[both],
                               rtol=0, atol=2e-6)
    assert np.isnan(scaled_energy(a, "raw")[a.outside_brain]).all()  # never outside the brain
    both = a.has_data & b.has_data
    ratio = compare_values(a, b, "ratio", "raw")
    c = LOG2_PSEUDOCOUNT["raw"]
    expected = np.log2((a.energy[both].astype(np.float64) + c) / (b.energy[both] + c))
    np.testing.assert_allclose(ratio[both], expected, rtol=1e-5, atol=1e-5)
    assert np.isfinite(ratio[both]).all() and np.isnan(ratio[~both]).all()
    diff = compare_values(a, b, "difference", "percentile")[both]
    assert -1 <= diff.min() and diff.max() <= 1
    with pytest.raises(ValueError):
        compare_values(a, b, "ratio", "zscore")
