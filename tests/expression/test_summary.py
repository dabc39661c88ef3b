"""Structure summaries against direct numpy computations."""
import numpy as np

from allen_viewer import config
from allen_viewer.expression.grid import load_grid
from allen_viewer.expression.summary import summarize
from allen_viewer.records import Experiment

PDYN = Experiment(71717084, "Pdyn", "prodynorphin", 18610, "coronal")


def test_summary_matches_numpy(reference_space, ontology):
    g = load_grid(config.resources_dir() / "grids" / "71717084.zip", PDYN)
    raw = g.energy.copy()
    for acr in ("root", "CP", "CB", "MOp5"):
        ids = [s.id for s in ontology.descendants(acr)]
        mask = np.isin(reference_space.grid_annotation, ids)
        valid = mask & g.has_data
        s = summarize(g, reference_space, acr)
        assert s.voxels == mask.sum() and s.voxels_with_data == valid.sum()
        if valid.any():
            assert np.isclose(s.mean_energy, raw[valid].astype(np.float64).mean())
        else:
            assert np.isnan(s.mean_energy)
        assert np.isnan(s.mean_density) and np.isnan(s.mean_intensity)  # energy-only download


def test_pdyn_biology(reference_space):
    """Pdyn (prodynorphin) is a striatal marker: CP above cerebellum and isocortex."""
    g = load_grid(config.resources_dir() / "grids" / "71717084.zip", PDYN)
    cp = summarize(g, reference_space, "CP").mean_energy
    assert cp > summarize(g, reference_space, "CB").mean_energy
    assert cp > summarize(g, reference_space, "Isocortex").mean_energy
    assert cp > 5
