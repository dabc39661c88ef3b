"""The region x gene matrix agrees with the structure export of each gene."""
import csv
import math

import numpy as np
import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.expression.summary import summarize_all
from allen_viewer.export.tables import export_structures
from allen_viewer.export.library_tables import write_matrix_csv
from allen_viewer.library.matrix import region_gene_matrix
from allen_viewer.library.store import LibraryError
from tests import numpy_reference as ref
from tests.library import NRP1, PDYN, build_library, make_layout, real_grid

PDYN_SAGITTAL = 69782969  # Pdyn's other experiment in the gene index


@pytest.fixture(scope="module")
def layout(ontology):
    return make_layout(ontology)


@pytest.fixture(scope="module")
def real_library(tmp_path_factory, layout, gene_index):
    rows = [(i, gene_index.by_id(i).symbol, "coronal", layout.columns(real_grid(gene_index, i).energy))
            for i in (PDYN, NRP1)]
    return build_library(tmp_path_factory.mktemp("lib") / "library", layout, rows)


def read_export(path):
    with open(path, newline="") as fh:
        return {int(r["structure_id"]): r for r in csv.DictReader(fh)}


def test_matrix_of_the_real_genes_matches_their_structure_export(real_library, reference_space, ontology,
                                                                 gene_index, tmp_path):
    matrix, missing = region_gene_matrix(real_library, ontology)
    assert missing == [] and matrix.genes == ["Nrp1", "Pdyn"]
    assert matrix.experiments == {"Nrp1": [NRP1], "Pdyn": [PDYN]}
    for exp_id, gene in ((PDYN, "Pdyn"), (NRP1, "Nrp1")):
        export_structures(real_grid(gene_index, exp_id), reference_space, tmp_path / f"{gene}.csv")
        export = read_export(tmp_path / f"{gene}.csv")
        column = matrix.column(gene)
        assert column.keys() == export.keys()  # the same structures have data
        for sid, row in export.items():
            assert column[sid] == pytest.approx(float(row["mean_energy"]), rel=1e-6), row["acronym"]
    voxels = {s.id: int(v) for s, v in zip(matrix.structures, matrix.voxels)}
    assert voxels[997] == int(ref.brain().sum())
    # every cell against plain numpy over the raw files: the mean energy of the structure's
    # (and its descendants') in-brain voxels with data, NaN where it has none
    for gene, exp_id in (("Pdyn", PDYN), ("Nrp1", NRP1)):
        column = matrix.column(gene)
        for s in matrix.structures:
            expected = ref.mean_energy(exp_id, s.acronym)
            if np.isnan(expected):
                assert s.id not in column or np.isnan(column[s.id]), (gene, s.acronym)
            else:
                assert column[s.id] == pytest.approx(expected, rel=1e-5), (gene, s.acronym)
    for s in matrix.structures:
        assert voxels[s.id] == int((ref.structure_mask(s.acronym) & ref.brain()).sum()), s.acronym
    summaries = {s.structure.id: s for s in summarize_all(real_grid(gene_index, PDYN), reference_space)}
    assert all(voxels[sid] == summaries[sid].voxels for sid in voxels)


def test_matrix_csv_and_structure_selection(real_library, ontology, tmp_path):
    matrix, _ = region_gene_matrix(real_library, ontology, depth=3, genes=["pdyn", "Nrp1", "Nope*"])
    assert matrix.genes == ["Pdyn", "Nrp1"] and all(s.depth <= 3 for s in matrix.structures)
    path = tmp_path / "m.csv"
    assert write_matrix_csv(matrix, path) == len(matrix.structures)
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["structure_id", "acronym", "name", "depth", "voxels", "Pdyn", "Nrp1"]
    assert rows[1][:2] == ["997", "root"] and float(rows[1][5]) == pytest.approx(matrix.values[0, 0])
    picked, missing = region_gene_matrix(real_library, ontology, structures=["CP", "Isocortex", "root"],
                                         genes=["Pdyn", "Nope"])
    assert [s.acronym for s in picked.structures] == ["CP", "Isocortex", "root"] and missing == ["Nope"]
    with pytest.raises(LibraryError, match="None of the genes"):
        region_gene_matrix(real_library, ontology, genes=["Nope"])
    with pytest.raises(AllenViewerError, match="combine"):
        region_gene_matrix(real_library, ontology, combine="max")


def test_combination_rules_and_density(layout, ontology, reference_space, gene_index, tmp_path):
    """Pdyn with a coronal and a sagittal experiment (the sagittal one GENERATED, with density)."""
    real = real_grid(gene_index, PDYN)
    rng = np.random.default_rng(3)
    energy = np.where(real.has_data, real.energy * 0.5 + 1.0, np.nan).astype(np.float32)
    energy[:, :, 29:] = np.nan  # sagittal: the left hemisphere
    density = np.where(np.isnan(energy), np.nan, rng.random(energy.shape)).astype(np.float32)
    sag = ExpressionGrid(experiment=gene_index.by_id(PDYN_SAGITTAL), energy=energy, has_data=~np.isnan(energy),
                         density=density)
    lib = build_library(tmp_path / "lib", layout, [
        (PDYN, "Pdyn", "coronal", layout.columns(real.energy)),
        (PDYN_SAGITTAL, "Pdyn", "sagittal", layout.columns(energy), layout.columns(density))])
    coronal_only = {s.structure.id: s for s in summarize_all(real, reference_space)}
    sagittal_only = {s.structure.id: s for s in summarize_all(sag, reference_space)}

    preferred, _ = region_gene_matrix(lib, ontology)
    assert preferred.experiments == {"Pdyn": [PDYN]}
    mean, _ = region_gene_matrix(lib, ontology, combine="mean")
    assert mean.experiments == {"Pdyn": [PDYN, PDYN_SAGITTAL]}
    for i, s in enumerate(mean.structures):
        a, b = coronal_only[s.id].mean_energy, sagittal_only[s.id].mean_energy
        expected = np.nanmean([a, b]) if not (math.isnan(a) and math.isnan(b)) else math.nan
        assert mean.values[i, 0] == pytest.approx(expected, rel=1e-6, nan_ok=True), s.acronym
        assert preferred.values[i, 0] == pytest.approx(a, rel=1e-6, nan_ok=True)

    dens, _ = region_gene_matrix(lib, ontology, value="density", combine="mean")
    for i, s in enumerate(dens.structures):  # the coronal experiment has no density: only the sagittal counts
        assert dens.values[i, 0] == pytest.approx(sagittal_only[s.id].mean_density, rel=1e-6, nan_ok=True)
    no_dens, _ = region_gene_matrix(lib, ontology, value="density")
    assert np.all(np.isnan(no_dens.values))
