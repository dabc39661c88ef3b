"""Differential and correlation search on a small library: the two real grids plus
GENERATED experiments with known answers, checked against a direct numpy computation."""
import numpy as np
import pytest

from allen_viewer.errors import AllenViewerError, ServiceUnavailable, UnknownStructure
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.library import remote
from allen_viewer.library.search import (
    correlation_search,
    differential_search,
    structure_label_ids,
)
from allen_viewer.library.store import Library, LibraryError
from tests.fake_allen.fixtures import allen_client, allen_env, fake_allen, fake_allen_data  # noqa: F401
from tests.library import NRP1, PDYN, build_library, f16, make_layout, real_grid

TWICE, MIRROR, LEFT, SPARSE, FLAT, CP_HIGH, NO_CONTRAST, NO_TARGET = range(1, 9)


@pytest.fixture(scope="module")
def layout(ontology):
    return make_layout(ontology)


@pytest.fixture(scope="module")
def cols(layout, ontology):
    ap, _, ml = np.unravel_index(layout.voxels.astype(np.int64), GRID_SHAPE)

    def structure(acronym):
        return layout.column_mask(layout.segment_mask(ontology.descendant_ids(acronym)))

    return {"ap": ap, "ml": ml, "CP": structure("CP"), "Isocortex": structure("Isocortex"),
            "ACB": structure("ACB")}


@pytest.fixture(scope="module")
def rows(layout, cols, gene_index):
    """(id, symbol, plane, float32 columns with NaN) of every experiment of the library."""
    rng = np.random.default_rng(7)
    pdyn = layout.columns(real_grid(gene_index, PDYN).energy)
    nrp1 = layout.columns(real_grid(gene_index, NRP1).energy)
    left = cols["ml"] < 29
    out = [(PDYN, "Pdyn", "coronal", pdyn), (NRP1, "Nrp1", "coronal", nrp1)]
    out.append((TWICE, "Twice", "coronal", pdyn * 2 + 1))
    out.append((MIRROR, "Mirror", "coronal", np.nanmax(pdyn) - pdyn))
    v = pdyn * 3 + rng.random(layout.n_voxels).astype(np.float32)  # r about 0.9995 with Pdyn
    out.append((LEFT, "LeftPdyn", "sagittal", np.where(left, v, np.nan)))
    sparse = np.full(layout.n_voxels, np.nan, np.float32)
    keep = np.flatnonzero(~np.isnan(pdyn))[::2000][:30]
    sparse[keep] = pdyn[keep]
    out.append((SPARSE, "Sparse", "coronal", sparse))
    out.append((FLAT, "Flat", "coronal", np.full(layout.n_voxels, 2.0, np.float32)))
    cp_high = np.where(cols["CP"], nrp1 * 20, nrp1)
    out.append((CP_HIGH, "CPhigh", "coronal", cp_high))
    out.append((NO_CONTRAST, "NoContrast", "coronal", np.where(cols["Isocortex"], 0.0, pdyn + 1).astype(np.float32)))
    out.append((NO_TARGET, "NoTarget", "coronal", np.where(cols["CP"], np.nan, nrp1)))
    for i in range(24):  # GENERATED mixtures with realistic masks
        a, b = rng.random(2)
        v = (a * np.nan_to_num(pdyn) + b * np.nan_to_num(nrp1)
             + rng.random(layout.n_voxels).astype(np.float32) * rng.uniform(0.1, 5)).astype(np.float32)
        plane = "sagittal" if i % 3 == 0 else "coronal"
        missing = rng.random(layout.n_voxels) < 0.01
        if plane == "sagittal":
            missing |= ~left | (cols["ml"] == rng.integers(0, 29))
        else:
            missing |= np.isin(cols["ap"], rng.integers(0, 67, 3))
        v[missing] = np.nan
        out.append((100 + i, f"Mix{i}", plane, v))
    return out


@pytest.fixture(scope="module")
def library(tmp_path_factory, layout, rows):
    return build_library(tmp_path_factory.mktemp("lib") / "library", layout, rows)


def numpy_r(rows, seed_values, domain, min_overlap=50):
    """Pearson r of each row with the seed over domain voxels where both have data, at
    float16 precision, computed directly (float64)."""
    seed = f16(seed_values).astype(np.float64)
    out = []
    for _, _, _, values in rows:
        y = f16(values).astype(np.float64)
        m = domain & ~np.isnan(seed) & ~np.isnan(y)
        if m.sum() < min_overlap or np.ptp(y[m]) == 0:
            out.append((np.nan, int(m.sum())))
            continue
        out.append((np.corrcoef(seed[m], y[m])[0, 1], int(m.sum())))
    return out


def numpy_fold(rows, target, contrast):
    out = []
    for _, _, _, values in rows:
        v = values.astype(np.float64)
        t, c = v[target & ~np.isnan(v)], v[contrast & ~np.isnan(v)]
        if not len(t) or not len(c):
            out.append((np.nan, np.nan, np.nan))
            continue
        tm, cm = t.mean(), c.mean()
        out.append((np.inf if cm == 0 and tm > 0 else tm / cm, tm, cm))
    return out


def ranked(rows, scores, exclude=()):
    """Ids ordered by score descending (ties by id), NaN and ``exclude`` left out."""
    items = [(s, r[0]) for r, s in zip(rows, scores) if not np.isnan(s) and r[0] not in exclude]
    return [i for s, i in sorted(items, key=lambda t: (-t[0], t[1]))]


# ---------------------------------------------------------------------------- correlation


def test_correlation_matches_numpy_in_ranking_and_value(library, rows, ontology, layout):
    hits = correlation_search(library, ontology, PDYN, top=None)
    ref = numpy_r(rows, rows[0][3], np.ones(layout.n_voxels, bool))
    by_id = {r[0]: v for r, v in zip(rows, ref)}
    assert [h.experiment_id for h in hits] == ranked(rows, [v[0] for v in ref], exclude={PDYN})
    for h in hits:
        assert h.r == pytest.approx(by_id[h.experiment_id][0], abs=1e-6)
        assert h.voxels == by_id[h.experiment_id][1]
        assert h.source == "local"
    # known answers
    assert hits[0].experiment_id == TWICE and hits[0].symbol == "Twice" and hits[0].r > 0.99999
    assert hits[-1].experiment_id == MIRROR and hits[-1].r < -0.99999
    ids = [h.experiment_id for h in hits]
    assert SPARSE not in ids and FLAT not in ids and PDYN not in ids  # too little overlap, constant, the seed
    left = next(h for h in hits if h.experiment_id == LEFT)
    assert left.r > 0.999 and left.plane == "sagittal"
    assert left.voxels == np.sum(~np.isnan(rows[0][3]) & ~np.isnan(rows[4][3]))  # the pair's own overlap


@pytest.mark.parametrize("domain", ["Isocortex", "CP,ACB", "HPF"])
def test_correlation_over_a_domain(library, rows, ontology, layout, domain, cols):
    hits = correlation_search(library, ontology, NRP1, domain=domain, top=None)
    dom = layout.column_mask(layout.segment_mask(structure_label_ids(ontology, domain.split(","))))
    ref = numpy_r(rows, rows[1][3], dom)
    by_id = {r[0]: v for r, v in zip(rows, ref)}
    assert [h.experiment_id for h in hits] == ranked(rows, [v[0] for v in ref], exclude={NRP1})
    for h in hits:
        assert h.r == pytest.approx(by_id[h.experiment_id][0], abs=1e-6)
        assert h.voxels == by_id[h.experiment_id][1]


def test_sagittal_seed_correlates_over_its_hemisphere(library, rows, ontology, layout):
    hits = correlation_search(library, ontology, LEFT, top=None)
    ref = numpy_r(rows, rows[4][3], np.ones(layout.n_voxels, bool))
    by_id = {r[0]: v[0] for r, v in zip(rows, ref)}
    # Pdyn and Twice (2 Pdyn + 1) tie in exact arithmetic; only float16 rounding parts them,
    # so the order must agree with numpy up to swaps within 1e-6
    assert sorted(h.experiment_id for h in hits) == sorted(ranked(rows, [v[0] for v in ref], exclude={LEFT}))
    scores = [by_id[h.experiment_id] for h in hits]
    assert all(a >= b - 1e-6 for a, b in zip(scores, scores[1:]))
    assert all(h.r == pytest.approx(by_id[h.experiment_id], abs=1e-6) for h in hits)
    assert {h.experiment_id: h.r for h in hits}[PDYN] > 0.999
    assert max(h.voxels for h in hits) <= np.sum(~np.isnan(rows[4][3]))


@pytest.mark.parametrize("coverage", [0.3, 0.6, 0.97])
def test_seeds_with_scattered_missing_voxels(library, rows, ontology, layout, coverage):
    """Seeds covering less or more than half of each segment take the other code paths
    (voxels read one by one, or segment sums with corrections); all must agree with numpy."""
    rng = np.random.default_rng(int(coverage * 100))
    seed = rows[1][3].copy()
    seed[rng.random(layout.n_voxels) > coverage] = np.nan
    seed[cols_left(layout)] = np.where(rng.random() < 0.5, seed[cols_left(layout)], np.nan)
    hits = correlation_search(library, ontology, seed, top=None)
    ref = numpy_r(rows, seed, np.ones(layout.n_voxels, bool))
    by_id = {r[0]: v for r, v in zip(rows, ref)}
    assert sorted(h.experiment_id for h in hits) == sorted(ranked(rows, [v[0] for v in ref]))
    for h in hits:
        assert h.r == pytest.approx(by_id[h.experiment_id][0], abs=1e-6)
        assert h.voxels == by_id[h.experiment_id][1]


def cols_left(layout):
    return np.unravel_index(layout.voxels.astype(np.int64), GRID_SHAPE)[2] < 29


def test_plane_top_minimum_overlap_and_the_seed_itself(library, rows, ontology):
    sag = correlation_search(library, ontology, PDYN, plane="sagittal", top=None)
    assert sag and all(h.plane == "sagittal" for h in sag)
    assert [h.experiment_id for h in correlation_search(library, ontology, PDYN, top=3)] == \
        [h.experiment_id for h in correlation_search(library, ontology, PDYN, top=None)][:3]
    with_seed = correlation_search(library, ontology, PDYN, include_seed=True, top=2)
    assert with_seed[0].experiment_id == PDYN and with_seed[0].r == pytest.approx(1.0, abs=1e-6)
    loose = correlation_search(library, ontology, PDYN, min_overlap=20, top=None)
    assert SPARSE in [h.experiment_id for h in loose]


def test_a_seed_from_outside_the_library_is_taken_at_library_precision(library, rows, ontology, gene_index):
    real = real_grid(gene_index, PDYN)
    other = gene_index.by_id(79913171)  # Nrp1 sagittal: not in this library
    outside = ExpressionGrid(experiment=other, energy=real.energy, has_data=real.has_data)
    hits = {h.experiment_id: h.r for h in correlation_search(library, ontology, outside, top=None)}
    inside = {h.experiment_id: h.r for h in correlation_search(library, ontology, PDYN, top=None)}
    assert hits.pop(PDYN) == pytest.approx(1.0, abs=1e-6)  # not the seed's row any more, so it is listed
    assert hits.keys() == inside.keys()
    assert all(hits[k] == pytest.approx(inside[k], abs=1e-6) for k in hits)


def test_correlation_errors(library, ontology, layout, tmp_path):
    with pytest.raises(LibraryError, match="not in the library"):
        correlation_search(library, ontology, 123456789)
    with pytest.raises(UnknownStructure):
        correlation_search(library, ontology, PDYN, domain="NoSuchThing")
    with pytest.raises(AllenViewerError, match="only 30 voxels"):
        correlation_search(library, ontology, SPARSE)
    empty_grid = {int(i) for i in np.unique(layout.segments["label"])}
    no_voxels = next(s for s in ontology if not (ontology.descendant_ids(s) & empty_grid))
    with pytest.raises(AllenViewerError, match="no voxels in the 200 um grid"):
        correlation_search(library, ontology, PDYN, domain=no_voxels.acronym)
    empty = Library(tmp_path / "empty")
    with empty.writer(layout):
        pass
    with pytest.raises(LibraryError, match="holds no experiments"):
        correlation_search(empty.refresh(), ontology, PDYN)


# ---------------------------------------------------------------------------- differential


def test_differential_matches_numpy(library, rows, ontology, cols):
    hits = differential_search(library, ontology, "CP", "Isocortex", top=None)
    ref = numpy_fold(rows, cols["CP"], cols["Isocortex"])
    by_id = {r[0]: v for r, v in zip(rows, ref)}
    assert [h.experiment_id for h in hits] == ranked(rows, [v[0] for v in ref])
    assert hits[0].experiment_id == NO_CONTRAST and hits[0].fold_change == np.inf and hits[0].contrast_mean == 0
    assert hits[1].experiment_id == CP_HIGH
    assert NO_TARGET not in [h.experiment_id for h in hits]
    for h in hits[1:]:
        fold, tm, cm = by_id[h.experiment_id]
        assert h.fold_change == pytest.approx(fold, rel=1e-6)
        assert h.target_mean == pytest.approx(tm, rel=1e-6) and h.contrast_mean == pytest.approx(cm, rel=1e-6)
    pdyn = next(h for h in hits if h.experiment_id == PDYN)
    assert pdyn.target_voxels == np.sum(cols["CP"] & ~np.isnan(rows[0][3]))
    assert pdyn.contrast_voxels == np.sum(cols["Isocortex"] & ~np.isnan(rows[0][3]))


def test_differential_with_several_structures_and_a_plane(library, rows, ontology, cols):
    hits = differential_search(library, ontology, ["CP", "ACB"], "Isocortex,HPF", plane="coronal", top=5)
    target = cols["CP"] | cols["ACB"]
    contrast = library.layout.column_mask(library.layout.segment_mask(
        structure_label_ids(ontology, ["Isocortex", "HPF"])))
    coronal = [r for r in rows if r[2] == "coronal"]
    ref = numpy_fold(coronal, target, contrast)
    assert [h.experiment_id for h in hits] == ranked(coronal, [v[0] for v in ref])[:5]
    assert all(h.plane == "coronal" for h in hits)


def test_differential_errors(library, ontology):
    with pytest.raises(UnknownStructure):
        differential_search(library, ontology, "CPX", "Isocortex")
    with pytest.raises(AllenViewerError, match="No structures"):
        differential_search(library, ontology, "", "Isocortex")


# ---------------------------------------------------------------------------- Allen's services


def test_service_criteria_and_rows_are_normalised():
    assert remote.differential_criteria([672], [315], "coronal", num_rows=10) == (
        "service::mouse_differential[set$eq'mouse_coronal'][structures1$eq315][structures2$eq672]"
        "[start_row$eq0][num_rows$eq10]")
    assert remote.correlation_criteria(71717084, [997]) == (
        "service::mouse_correlation[set$eq'mouse'][row$eq71717084][structures$eq997][start_row$eq0][num_rows$eq50]")
    rows = [{"id": "1", "gene-symbol": "A", "plane-of-section": "coronal", "fold-change": "3.5",
             "target-sum": "10", "contrast-sum": "2"},
            {"id": "2", "gene_symbol": "B", "plane_of_section": "2", "fold_change": "1.5"},
            {"id": "x", "fold-change": "9"}, {"id": "3", "fold-change": ""}]
    hits = remote.normalise_differential(rows)
    assert [(h.experiment_id, h.symbol, h.plane, h.fold_change, h.source) for h in hits] == [
        (1, "A", "coronal", 3.5, "allen"), (2, "B", "sagittal", 1.5, "allen")]
    assert hits[0].target_sum == 10.0 and hits[0].target_mean is None
    assert [h.experiment_id for h in remote.normalise_differential(rows, plane="sagittal")] == [2]
    corr = remote.normalise_correlation([{"id": "5", "gene-symbol": "C", "r": "0.25"}, {"id": "6", "r": "nan?"}])
    assert [(h.experiment_id, h.r, h.rank) for h in corr] == [(5, 0.25, 1)]


# Hand-written rows in the services' real format (hyphenated keys, string values, in the
# service's rank order; fields from the Allen API documentation, copied here: tests never
# read ../shared).  Values are made up for the test.
DIFFERENTIAL_ROWS = [
    {"id": "71717084", "gene-id": "18376", "entrez-id": "18610", "gene-symbol": "Pdyn",
     "plane-of-section": "coronal", "fold-change": "8.4135", "target-sum": "5123.5", "contrast-sum": "1710.25"},
    {"id": "79591671", "gene-id": "13347", "entrez-id": "13488", "gene-symbol": "Drd1",
     "plane-of-section": "sagittal", "fold-change": "6.02", "target-sum": "2011.0", "contrast-sum": "650.5"},
    {"id": "74272479", "gene-id": "18186", "entrez-id": "18186", "gene-symbol": "Nrp1",
     "plane-of-section": "coronal", "fold-change": "0.5", "target-sum": "100", "contrast-sum": "400"},
]
CORRELATION_ROWS = [
    {"id": "71717084", "gene-symbol": "Pdyn", "plane-of-section": "coronal", "r": "1.0"},
    {"id": "79591671", "gene-symbol": "Drd1", "plane-of-section": "sagittal", "r": "0.8512"},
    {"id": "74272479", "gene-symbol": "Nrp1", "plane-of-section": "coronal", "r": "-0.1203"},
]


def _serve(monkeypatch, rows):
    from tests.fake_allen import services

    def answer(fake, criteria):
        return {"success": True, "id": 0, "start_row": 0, "num_rows": len(rows), "total_rows": len(rows),
                "msg": [dict(r) for r in rows]}

    monkeypatch.setattr(services, "answer", answer)


def test_remote_searches_read_the_services_rows_in_their_order(allen_client, fake_allen, monkeypatch):
    _serve(monkeypatch, DIFFERENTIAL_ROWS)
    far = remote.remote_differential(allen_client, [672], [315], top=50)
    assert [(h.rank, h.experiment_id, h.symbol, h.plane, h.fold_change, h.source) for h in far] == [
        (1, 71717084, "Pdyn", "coronal", 8.4135, "allen"), (2, 79591671, "Drd1", "sagittal", 6.02, "allen"),
        (3, 74272479, "Nrp1", "coronal", 0.5, "allen")]
    assert (far[0].target_sum, far[0].contrast_sum) == (5123.5, 1710.25)
    crit = fake_allen.requests_to("/api/v2/data/query.json")[-1].criteria
    assert crit.startswith("service::mouse_differential[set$eq'mouse'][structures1$eq315][structures2$eq672]")
    _serve(monkeypatch, CORRELATION_ROWS)
    far = remote.remote_correlation(allen_client, PDYN, [997], top=50)
    assert [(h.rank, h.experiment_id, h.symbol, h.r) for h in far] == [
        (1, 71717084, "Pdyn", 1.0), (2, 79591671, "Drd1", 0.8512), (3, 74272479, "Nrp1", -0.1203)]
    coronal = remote.remote_correlation(allen_client, PDYN, [997], plane="coronal", top=50)
    crit = fake_allen.requests_to("/api/v2/data/query.json")[-1].criteria
    assert crit.startswith("service::mouse_correlation[set$eq'mouse_coronal'][row$eq71717084]")
    assert [h.experiment_id for h in coronal] == [71717084, 74272479]  # a sagittal row kept out


def test_remote_searches_against_the_fake_give_ranked_hits(allen_client, fake_allen, fake_allen_data, ontology,
                                                            gene_index):
    """Through the fake's own search services (which compute over its grids, unlike Allen's
    service and its fixed subset of voxels): the format and the order, not the values."""
    ids = [PDYN, NRP1] + [e.id for e in gene_index.experiments if e.symbol in ("Gad1", "Penk")]
    fake_allen.search_ids = ids
    cp, iso = ontology.get("CP").id, ontology.get("Isocortex").id
    far = remote.remote_differential(allen_client, [cp], [iso], top=100)
    assert far and {h.experiment_id for h in far} <= set(ids)
    assert [h.rank for h in far] == list(range(1, len(far) + 1))
    folds = [h.fold_change for h in far]
    assert folds == sorted(folds, reverse=True) and all(np.isfinite(folds))
    assert all(h.source == "allen" and h.plane in ("coronal", "sagittal") and h.symbol for h in far)
    far = remote.remote_correlation(allen_client, PDYN, [997], top=100)
    rs = [h.r for h in far]
    assert far[0].experiment_id == PDYN and rs[0] == pytest.approx(1.0)  # the seed with itself
    assert rs == sorted(rs, reverse=True) and all(-1.0 <= r <= 1.0 + 1e-12 for r in rs)
    assert [h.rank for h in far] == list(range(1, len(far) + 1))
    coronal = remote.remote_correlation(allen_client, PDYN, [997], plane="coronal", top=100)
    assert {h.plane for h in coronal} == {"coronal"}


def test_remote_search_when_the_service_is_down(allen_client, fake_allen):
    fake_allen.inject("/api/v2/data/query.json", "html", times=10)
    with pytest.raises(ServiceUnavailable, match="HTML page"):
        remote.remote_differential(allen_client, [672], [315])
    fake_allen.reset()
    fake_allen.inject("/api/v2/data/query.json", "failure_envelope", msg="Data Access error: no such set")
    with pytest.raises(ServiceUnavailable, match="no such set"):
        remote.remote_correlation(allen_client, PDYN, [997])
