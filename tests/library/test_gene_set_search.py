"""Search by a gene set (issue 23): the library's experiments ranked by Pearson r with the
set's score map, checked against plain numpy; the set's own genes are left out.  The library
holds the real Pdyn and Nrp1 grids and GENERATED experiments with their own has-data masks."""
import csv
import json

import numpy as np
import pytest

from allen_viewer import cli
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.io.sidecars import sidecar_path
from tests.expression.test_gene_sets import numpy_ranks
from tests.library import NRP1, PDYN, build_library, f16, make_layout, real_grid


@pytest.fixture(scope="module")
def layout(ontology):
    return make_layout(ontology)


@pytest.fixture(scope="module")
def rows(layout, gene_index):
    """(id, symbol, plane, float32 columns with NaN): Pdyn, Nrp1 (real) and GENERATED rows."""
    rng = np.random.default_rng(23)
    pdyn = layout.columns(real_grid(gene_index, PDYN).energy)
    nrp1 = layout.columns(real_grid(gene_index, NRP1).energy)
    ap, _, ml = np.unravel_index(layout.voxels.astype(np.int64), GRID_SHAPE)
    out = [(PDYN, "Pdyn", "coronal", pdyn), (NRP1, "Nrp1", "coronal", nrp1),
           (555, "Pdyn", "sagittal", np.where(ml < 29, pdyn, np.nan))]  # GENERATED: a second "Pdyn" experiment
    for i in range(12):  # GENERATED mixtures, each with its own missing sections
        a, b = rng.random(2)
        v = (a * np.nan_to_num(pdyn) + b * np.nan_to_num(nrp1)
             + rng.random(layout.n_voxels).astype(np.float32) * rng.uniform(0.1, 3)).astype(np.float32)
        missing = np.isin(ap, rng.integers(0, 67, 5)) | (rng.random(layout.n_voxels) < 0.02)
        if i % 4 == 0:
            missing |= ml >= 29
        v[missing] = np.nan
        out.append((1000 + i, f"Mix{i}", "sagittal" if i % 4 == 0 else "coronal", v))
    return out


@pytest.fixture
def library(isolated_environment, layout, rows):
    return build_library(isolated_environment / "library", layout, rows)


def numpy_set_r(layout, rows, domain=None, min_overlap=50):
    """r of every row with the Pdyn+Nrp1 score over the voxels where both have data (library precision)."""
    ranks = []
    for _, _, _, v in rows[:2]:
        x = f16(v).astype(np.float64)
        ranks.append(numpy_ranks(x, ~np.isnan(x)))
    stack = np.stack(ranks)
    n = np.sum(~np.isnan(stack), axis=0)
    score = np.nansum(stack, axis=0) / np.maximum(n, 1)
    score[n < 1] = np.nan
    seed = f16(score).astype(np.float64)
    out = {}
    for exp_id, _, _, v in rows:
        y = f16(v).astype(np.float64)
        m = ~np.isnan(seed) & ~np.isnan(y) & (True if domain is None else domain)
        out[exp_id] = (np.corrcoef(seed[m], y[m])[0, 1] if m.sum() >= min_overlap else np.nan, int(m.sum()))
    return out


def test_set_search_ranks_by_r_and_leaves_out_the_sets_genes(capsys, tmp_path, library, layout, rows):
    out = tmp_path / "hits.csv"
    code = cli.main(["--offline", "search-correlated", "--gene-set", "Pdyn,Nrp1", "--top", "100", "--out", str(out)])
    text, err = capsys.readouterr()
    assert code == 0, err
    hits = list(csv.DictReader(out.open()))
    ref = numpy_set_r(layout, rows)
    ids = [int(h["experiment_id"]) for h in hits]
    assert PDYN not in ids and NRP1 not in ids and 555 not in ids  # every experiment of the set's genes
    expected = sorted((i for i in ref if i not in (PDYN, NRP1, 555)), key=lambda i: (-ref[i][0], i))
    assert ids == expected
    for h in hits:
        r, n = ref[int(h["experiment_id"])]
        assert float(h["r"]) == pytest.approx(r, abs=1e-5) and int(h["voxels"]) == n
    assert [int(h["rank"]) for h in hits] == list(range(1, len(hits) + 1))
    assert list(hits[0]) == ["rank", "experiment_id", "gene", "plane", "r", "voxels", "source"]
    side = json.loads(sidecar_path(out).read_text())
    assert side["export"] == "search-correlated" and side["grids_from"] == "library"
    assert [e["experiment_id"] for e in side["gene_set"]["experiments"]] == [PDYN, NRP1]


def test_set_search_over_a_domain(capsys, library, layout, rows, ontology):
    code = cli.main(["--offline", "search-correlated", "--gene-set", "Pdyn,Nrp1", "--domain", "Isocortex",
                     "--top", "3"])
    text, err = capsys.readouterr()
    assert code == 0, err
    dom = layout.column_mask(layout.segment_mask(ontology.descendant_ids("Isocortex")))
    ref = numpy_set_r(layout, rows, dom)
    best = sorted((i for i in ref if i not in (PDYN, NRP1, 555)), key=lambda i: (-ref[i][0], i))[:3]
    printed = [int(line.split()[1]) for line in text.splitlines()[2:5]]
    assert printed == best


@pytest.mark.parametrize("argv, message", [
    (["--gene-set", "Pdyn,Nrp1", "--remote"], "no gene-set search"),
    (["--gene-set", "Pdyn,Nrp1", "--remote-only"], "no gene-set search"),
    (["Pdyn", "--gene-set", "Pdyn,Nrp1"], "not both"),
    (["--gene-set", "Pdyn"], "names one gene"),
    ([], "Give a seed"),
])
def test_set_search_refusals(capsys, tmp_path, library, argv, message):
    code = cli.main(["--offline", "search-correlated", *argv, "--out", str(tmp_path / "x.csv")])
    _, err = capsys.readouterr()
    assert code == 1 and message in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())
