"""Gene sets and composites (issue 23): ranks, scores, n_genes, the structure table of a
score and the two places the grids come from, against plain numpy on the real embedded grids
(Pdyn 71717084, Nrp1 74272479) and on GENERATED grids with their own has-data masks."""
import csv
import json
import math

import numpy as np
import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.expression import gene_sets as gs
from allen_viewer.expression.brain import brain_mask
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.records import Experiment
from tests.library import NRP1, PDYN, atlas_data, build_library, make_layout, real_grid


def numpy_ranks(energy: np.ndarray, has: np.ndarray) -> np.ndarray:
    """Mid-ranks 0..1 over the voxels with data (plain numpy: each value's count of smaller
    values plus half its ties, by searching the sorted values)."""
    out = np.full(energy.shape, np.nan)
    v = energy[has].astype(np.float64)
    ordered = np.sort(v)
    below = np.searchsorted(ordered, v, side="left")
    ties = np.searchsorted(ordered, v, side="right") - below
    out[has] = (below + (ties - 1) / 2.0) / (v.size - 1)
    return out


def numpy_score(rank_list, k):
    stack = np.stack(rank_list)
    n = np.sum(~np.isnan(stack), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(stack, axis=0) / n
    mean[n < math.ceil(k / 2)] = np.nan
    return mean, n


def generated_grids(n=4, seed=11):
    """GENERATED grids (not Allen data): smooth random fields with ties (rounded values),
    each with its own has-data mask (random missing sections; the odd ones one hemisphere)."""
    rng = np.random.default_rng(seed)
    brain = brain_mask()
    shape = brain.shape
    ap, dv, ml = np.indices(shape)
    grids = []
    for i in range(n):
        c = rng.uniform([10, 5, 10], [55, 35, 48])
        field = np.exp(-((ap - c[0]) ** 2 + (dv - c[1]) ** 2 + (ml - c[2]) ** 2) / rng.uniform(50, 300))
        energy = np.round(field * 5 + rng.random(shape) * 0.5, 2).astype(np.float32)  # rounding makes ties
        has = rng.random(shape) > 0.05
        has &= ~np.isin(ap, rng.integers(0, 67, 4))
        plane = "coronal"
        if i % 2:
            has &= ml < 29
            plane = "sagittal"
        exp = Experiment(900000 + i, f"Gen{i}", "GENERATED grid", None, plane)
        grids.append(ExpressionGrid(exp, np.where(has, energy, np.nan), has, in_brain=brain))
    return grids


@pytest.fixture(scope="module")
def real(gene_index):
    return [real_grid(gene_index, PDYN), real_grid(gene_index, NRP1)]


# ---------------------------------------------------------------------------- input


def test_parse_gene_set_text_and_comments():
    assert gs.parse_gene_set("Pdyn, Nrp1\n# a comment\n\nPenk  # trailing\n71717084\tDrd1") == [
        "Pdyn", "Nrp1", "Penk", "71717084", "Drd1"]


@pytest.mark.parametrize("members, message", [
    ([], "is empty"),
    (["Pdyn"], "names one gene"),
    (["Pdyn", "pdyn", "PDYN"], "names one gene"),
    ([f"G{i}" for i in range(501)], "at most 500"),
    (["Pdyn", "NoSuchGene1"], "resolves to 1 experiment"),
    (["NoSuchGene1", "NoSuchGene2"], "resolves to 0 experiment"),
    (["Pdyn", "71717084"], "resolves to 1 experiment"),  # the symbol and its id: one experiment
])
def test_refused_sets(gene_index, members, message):
    with pytest.raises(AllenViewerError, match=message) as info:
        gs.resolve_gene_set(gene_index, members)
    assert "\n" not in str(info.value)


def test_noted_duplicates_unknown_and_sagittal(gene_index):
    sag = next(e for e in gene_index.experiments if e.plane == "sagittal"
               and all(x.plane == "sagittal" for x in gene_index.experiments_of(e.symbol)))
    s = gs.resolve_gene_set(gene_index, ["Pdyn", "Nrp1", "71717084", "NoSuchGene1", sag.symbol])
    assert s.ids == [PDYN, NRP1, sag.id] and s.k == 3
    assert s.duplicates == ["71717084"] and s.unknown == ["NoSuchGene1"]
    assert len(s.notes) == 3 and all("\n" not in n for n in s.notes)
    assert "duplicates" in s.notes[0] and "NoSuchGene1" in s.notes[1] and sag.symbol in s.notes[2]


def test_set_file_that_is_not_text(tmp_path):
    p = tmp_path / "set.txt"
    p.write_bytes(b"Pdyn\x00Nrp1\n")
    with pytest.raises(AllenViewerError, match="not a text file"):
        gs.read_gene_set_file(p)
    p.write_text("# my set\nPdyn\nNrp1, Penk\n", encoding="utf-8")
    assert gs.read_gene_set_file(p) == ["Pdyn", "Nrp1", "Penk"]


# ---------------------------------------------------------------------------- definitions


def test_ranks_match_numpy_on_real_and_generated_grids(real):
    grids = real + generated_grids()
    ranks = gs.percentile_ranks(grids)
    for g, r in zip(grids, ranks):
        expected = numpy_ranks(g.energy, g.has_data)
        assert np.array_equal(np.isnan(r), ~g.has_data)
        np.testing.assert_allclose(r[g.has_data], expected[g.has_data], atol=1e-6)
        assert r[g.has_data].min() == pytest.approx(0.0, abs=1e-6) or np.unique(g.energy[g.has_data]).size < \
            g.has_data.sum()
        assert np.nanmax(r) <= 1.0


@pytest.mark.parametrize("which", ["real", "generated", "mixed"])
def test_score_and_n_genes_match_numpy(real, which):
    gen = generated_grids(5, seed=3)
    grids = {"real": real, "generated": gen, "mixed": real + gen[:3]}[which]
    ranks = gs.percentile_ranks(grids)
    k = len(grids)
    expected, n = numpy_score([numpy_ranks(g.energy, g.has_data) for g in grids], k)
    got = gs.score(ranks, k)
    assert np.array_equal(gs.n_genes(ranks), n)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], atol=1e-6)
    assert gs.min_genes(k) == math.ceil(k / 2)
    assert not np.any(~np.isnan(got) & ~brain_mask())  # only in-brain voxels have a score
    if which == "generated":  # the one-hemisphere grids leave voxels below ceil(k/2)
        assert np.any(brain_mask() & (n > 0) & (n < gs.min_genes(k)) & np.isnan(got))


def test_composite_mapping_matches_numpy(real):
    ranks = gs.percentile_ranks(real)
    colors = gs.palette(2)
    rgb = gs.composite_rgb(ranks, colors, 0.9)
    drawn = gs.composite_drawn(ranks, 0.9)
    r0, r1 = (np.nan_to_num(r, nan=-1) for r in ranks)
    assert np.array_equal(drawn, (r0 >= 0.9) | (r1 >= 0.9))
    b0, b1 = np.clip((r0 - 0.9) / 0.1, 0, 1), np.clip((r1 - 0.9) / 0.1, 0, 1)
    expected = np.clip(b0[..., None] * np.array([0, 1, 0]) + b1[..., None] * np.array([1, 0, 1]), 0, 1)
    np.testing.assert_allclose(rgb, expected, atol=1e-5)
    assert [name for name, _ in gs.palette(3, "colour-blind")] == ["orange", "sky blue", "reddish purple"]
    with pytest.raises(AllenViewerError):
        gs.palette(4)


# ---------------------------------------------------------------------------- where the grids come from


@pytest.fixture(scope="module")
def layout(ontology):
    return make_layout(ontology)


def test_library_path_with_an_empty_grid_cache_agrees_with_the_grid_path(tmp_path, ontology, gene_index, layout,
                                                                            real, monkeypatch):
    lib = build_library(tmp_path / "library", layout,
                        [(PDYN, "Pdyn", "coronal", layout.columns(real[0].energy)),
                         (NRP1, "Nrp1", "coronal", layout.columns(real[1].energy))])
    data = atlas_data(ontology, gene_index, tmp_path / "cache")
    s = gs.resolve_gene_set(gene_index, ["Pdyn", "Nrp1"])

    def no_grids(*a, **k):
        raise AssertionError("the fast path read a grid")

    monkeypatch.setattr(data, "load_grid", no_grids)
    fast = gs.score_map(data, s, lib)
    assert fast.source == gs.LIBRARY
    assert not any((tmp_path / "cache").rglob("*.zip"))
    monkeypatch.undo()
    from allen_viewer.library.store import Library

    slow = gs.score_map(data, s, Library(tmp_path / "no-library"))
    assert slow.source == gs.GRIDS
    assert np.array_equal(np.isnan(fast.score), np.isnan(slow.score))
    assert np.nanmax(np.abs(fast.score - slow.score)) < 1e-3
    assert np.array_equal(fast.n_genes, slow.n_genes)
    expected, _ = numpy_score([numpy_ranks(g.energy, g.has_data) for g in real], 2)
    np.testing.assert_allclose(slow.score[~np.isnan(expected)], expected[~np.isnan(expected)], atol=1e-6)
    assert fast.record()["grids_from"] == "library" and slow.record()["grids_from"] == "grids"
    assert [e["experiment_id"] for e in slow.record()["gene_set"]["experiments"]] == [PDYN, NRP1]


def test_generated_library_path_matches_numpy(tmp_path, ontology, gene_index, layout):
    grids = generated_grids(4, seed=5)
    lib = build_library(tmp_path / "library", layout,
                        [(g.id, g.gene, g.plane, layout.columns(g.energy)) for g in grids])
    data = atlas_data(ontology, gene_index, tmp_path / "cache")
    s = gs.GeneSet([g.experiment for g in grids], [g.gene for g in grids])
    m = gs.score_map(data, s, lib)
    assert m.source == gs.LIBRARY
    f16 = [np.where(g.has_data, g.energy.astype(np.float16).astype(np.float64), np.nan) for g in grids]
    expected, n = numpy_score([numpy_ranks(e, g.has_data) for e, g in zip(f16, grids)], 4)
    assert np.array_equal(m.n_genes, n)
    np.testing.assert_allclose(m.score[~np.isnan(expected)], expected[~np.isnan(expected)], atol=1e-6)
    assert np.array_equal(np.isnan(m.score), np.isnan(expected))


# ---------------------------------------------------------------------------- tables


def test_structure_table_of_a_score(tmp_path, ontology, gene_index, reference_space, real):
    from allen_viewer.export.gene_sets import SCORE_STRUCTURE_COLUMNS, export_score_structures, export_score_voxels

    ranks = gs.percentile_ranks(real)
    s = gs.GeneSet([g.experiment for g in real], ["Pdyn", "Nrp1"])
    m = gs.ScoreMap(s, ranks, gs.score(ranks, 2), gs.n_genes(ranks), gs.GRIDS)
    out = tmp_path / "s.csv"
    n = export_score_structures(m, reference_space, out)
    rows = {r["acronym"]: r for r in csv.DictReader(out.open())}
    assert n == len(rows) and list(next(iter(rows.values()))) == SCORE_STRUCTURE_COLUMNS
    expected, _ = numpy_score([numpy_ranks(g.energy, g.has_data) for g in real], 2)
    for acr in ("root", "CP", "Isocortex", "HPF", "ACB"):
        mask = reference_space.grid_mask(ontology.get(acr)) & ~np.isnan(expected)
        assert int(rows[acr]["voxels_with_score"]) == int(mask.sum())
        assert float(rows[acr]["mean_score"]) == pytest.approx(expected[mask].mean(), abs=1e-6)
        left = mask.copy()
        left[:, :, 29:] = False
        assert int(rows[acr]["voxels_with_score_left"]) == int(left.sum())
        assert float(rows[acr]["mean_score_left"]) == pytest.approx(expected[left].mean(), abs=1e-6)
    side = json.loads((tmp_path / "s.csv.json").read_text())
    assert [e["experiment_id"] for e in side["experiments"]] == [PDYN, NRP1]
    assert side["grids_from"] == "grids" and side["gene_set"]["k"] == 2

    vox = tmp_path / "v.csv"
    nv = export_score_voxels(m, reference_space, vox)
    assert nv == int((~np.isnan(expected)).sum())
    _, n_expected = numpy_score([numpy_ranks(g.energy, g.has_data) for g in real], 2)
    for row in csv.DictReader(vox.open()):
        ap, dv, ml = int(row["ap"]), int(row["dv"]), int(row["ml"])
        assert float(row["score"]) == pytest.approx(expected[ap, dv, ml], abs=1e-6)
        assert int(row["n_genes"]) == n_expected[ap, dv, ml]
    assert list(row) == ["ap", "dv", "ml", "x_um", "y_um", "z_um", "score", "n_genes", "structure_id",
                         "structure_acronym", "structure_name", "hemisphere", "in_brain"]
