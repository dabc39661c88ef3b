"""The searches as specs and their use cases (``allen_viewer.library.searches``), without Qt:
over a small library of the two real grids (Pdyn, Nrp1) and GENERATED experiments, and
against the fake Allen server."""
from __future__ import annotations

import numpy as np
import pytest

from allen_viewer.errors import AllenViewerError, Cancelled, UnknownGene, UnknownStructure
from allen_viewer.library import searches
from allen_viewer.library.remote import remote_correlation, remote_differential
from allen_viewer.library.results import CORR_COLUMNS, DIFF_COLUMNS
from allen_viewer.library.search import correlation_search, differential_search
from allen_viewer.library.searches import (
    CORRELATION,
    DIFFERENTIAL,
    GENE,
    ID,
    PLANE,
    RANK,
    SOURCE,
    SPECS,
    STRUCTURES,
    Column,
    FormField,
    SearchSpec,
    remote_seed,
    resolve_seed,
    run_local,
    run_remote,
    seed_query,
    spec_of,
)
from allen_viewer.library.store import Library, LibraryError
from tests.fake_allen.fixtures import allen_client, allen_env, fake_allen, fake_allen_data  # noqa: F401
from tests.library import NRP1, PDYN, atlas_data, build_library, make_layout, real_grid

# GENERATED experiments (ids the gene index does not know)
TWICE, MIRROR, CP_HIGH = 900_000_001, 900_000_002, 900_000_003


@pytest.fixture(scope="module")
def library_root(tmp_path_factory, ontology, gene_index):
    """Pdyn and Nrp1 (real), Twice = 2 Pdyn + 1, Mirror = max - Pdyn, CPhigh = Nrp1 x 20 in CP."""
    layout = make_layout(ontology)
    pdyn = layout.columns(real_grid(gene_index, PDYN).energy)
    nrp1 = layout.columns(real_grid(gene_index, NRP1).energy)
    cp = layout.column_mask(layout.segment_mask(ontology.descendant_ids("CP")))
    rows = [(PDYN, "Pdyn", "coronal", pdyn), (NRP1, "Nrp1", "coronal", nrp1),
            (TWICE, "Twice", "coronal", pdyn * 2 + 1), (MIRROR, "Mirror", "coronal", np.nanmax(pdyn) - pdyn),
            (CP_HIGH, "CPhigh", "coronal", np.where(cp, nrp1 * 20, nrp1))]
    root = tmp_path_factory.mktemp("searches") / "library"
    build_library(root, layout, rows)
    return root


@pytest.fixture
def library(library_root):
    return Library(library_root)


@pytest.fixture
def data(ontology, gene_index, tmp_path):
    return atlas_data(ontology, gene_index, tmp_path / "cache")


# ---------------------------------------------------------------------------- the specs


def test_every_spec_describes_its_form_table_and_rows(data, library):
    assert [s.kind for s in SPECS] == ["differential", "correlation"]
    requests = {"differential": DIFFERENTIAL.request(target="CP", contrast="Isocortex"),
                "correlation": CORRELATION.request(seed=str(PDYN))}
    for spec in SPECS:
        assert spec_of(spec.kind) is spec
        names = [f.name for f in spec.fields]
        assert len(set(names)) == len(names) and names
        titles = spec.titles
        assert len(set(titles)) == len(titles)
        assert titles[:3] == ("#", "Source", "Gene") and titles[-2:] == ("Plane", "Id")
        outcome = run_local(data, library, requests[spec.kind])
        assert outcome.hits
        rows = spec.csv_rows(outcome.hits)
        assert all(len(r) == len(spec.csv_columns) for r in rows)
        assert all(len(spec.print_row(r)) == len(spec.print_columns) for r in rows)
        first = outcome.hits[0]
        cells = [c.cell(first) for c in spec.columns]
        assert all(isinstance(text, str) and text for text, _value in cells)
        assert cells[0] == ("1", 1) and cells[-1] == (str(first.experiment_id), first.experiment_id)
    assert DIFFERENTIAL.csv_columns == DIFF_COLUMNS and CORRELATION.csv_columns == CORR_COLUMNS
    assert DIFFERENTIAL.titles == ("#", "Source", "Gene", "Fold", "Target", "Contrast", "Plane", "Id")
    assert CORRELATION.titles == ("#", "Source", "Gene", "r", "Voxels", "Plane", "Id")
    with pytest.raises(ValueError, match="no search kind 'spatial'"):
        spec_of("spatial")


def test_requests_parse_the_form_and_say_what_is_missing():
    req = DIFFERENTIAL.request(target="CP, ACB ,", contrast=["Isocortex"], plane="coronal", top=7)
    assert req.kind == "differential" and req.spec is DIFFERENTIAL
    assert req["target"] == ("CP", "ACB") and req["contrast"] == ("Isocortex",)
    assert (req.plane, req.top) == ("coronal", 7)
    assert req.describe() == "Genes enriched in CP, ACB over Isocortex, coronal only"
    assert DIFFERENTIAL.heading(req).startswith("Genes enriched in CP,ACB over Isocortex (fold change")
    assert DIFFERENTIAL.file_stem(req) == "diff-CP-ACB"
    with pytest.raises(AllenViewerError, match=r"^Give the target structures \(e\.g\. CP\)\.$"):
        DIFFERENTIAL.request(target=" , ", contrast="Isocortex", validate=True)
    with pytest.raises(AllenViewerError, match="Give the contrast structures"):
        DIFFERENTIAL.request(target="CP", validate=True)
    req = CORRELATION.request(seed="Pdyn (coronal, 71717084)", min_overlap=30, validate=True)
    assert req["seed"] == "Pdyn (coronal, 71717084)" and req["domain"] == () and req["min_overlap"] == 30
    assert req.describe() == "Experiments correlated with Pdyn (coronal, 71717084) over the whole brain"
    assert CORRELATION.file_stem(req) == f"corr-{PDYN}"
    with pytest.raises(AllenViewerError, match="Give a seed experiment"):
        CORRELATION.request(seed="  ", validate=True)
    assert CORRELATION.request(seed="").get("seed") == ""  # not validated: the search says it


def test_records_are_what_the_cli_sidecar_writes(gene_index):
    lib = {"root": "/x", "experiments": 5}
    req = DIFFERENTIAL.request(target="CP", contrast="Isocortex,HPF", top=9)
    assert DIFFERENTIAL.record(req, None, True, lib) == {
        "target": ["CP"], "contrast": ["Isocortex", "HPF"], "plane": None, "top": 9, "remote": True,
        "library": lib, "method": searches.DIFF_METHOD}
    req = CORRELATION.request(seed="Pdyn", domain="Isocortex", plane="coronal", min_overlap=30)
    record = CORRELATION.record(req, gene_index.by_id(PDYN), False, lib)
    assert record["seed"] == gene_index.by_id(PDYN).label and record["seed_experiment_id"] == PDYN
    assert record["domain"] == ["Isocortex"] and record["min_voxels"] == 30 and "fewer than 30" in record["method"]
    record = CORRELATION.record(CORRELATION.request(seed="Nope"), None, False, lib)
    assert (record["seed"], record["seed_experiment_id"], record["domain"]) == ("Nope", None, ["root"])
    assert record["min_voxels"] == searches.MIN_OVERLAP


# ---------------------------------------------------------------------------- local searches


def test_run_local_is_the_library_search(data, library, ontology, gene_index):
    out = run_local(data, library, DIFFERENTIAL.request(target="CP", contrast="Isocortex", top=3))
    assert out.hits == differential_search(library, ontology, "CP", "Isocortex", top=3)
    assert out.source == "local" and out.hits[0].experiment_id == CP_HIGH
    assert out.library_record == {"root": str(library.root), "experiments": 5,
                                  "precision": library.manifest["precision"]}
    assert out.library_genes == 5 and out.seed is None and out.note == "" and out.elapsed_s > 0
    out = run_local(data, library, CORRELATION.request(seed="Pdyn", domain="Isocortex", plane="coronal"))
    assert out.hits == correlation_search(library, ontology, PDYN, domain="Isocortex", plane="coronal")
    assert out.hits[0].experiment_id == TWICE and out.hits[-1].experiment_id == MIRROR
    # the experiments a click can load: those the gene index knows
    assert set(out.experiments) == {NRP1} and out.experiments[NRP1] == gene_index.by_id(NRP1)
    assert out.seed == gene_index.by_id(PDYN)
    assert out.note == f"Pdyn has 2 experiments; the seed is coronal {PDYN} (type an id to choose)"
    with pytest.raises(AllenViewerError, match="at least 1000000 are needed"):  # min_overlap reaches the search
        run_local(data, library, CORRELATION.request(seed=str(PDYN), min_overlap=10**6))


def test_run_local_refuses_what_it_cannot_search(data, library, tmp_path):
    with pytest.raises(LibraryError, match=r"holds no experiments yet; fill it first\.$"):
        run_local(data, Library(tmp_path / "none"), DIFFERENTIAL.request(target="CP", contrast="Isocortex"),
                  how_to_fill="fill it first")
    with pytest.raises(UnknownStructure, match="Nope"):
        run_local(data, library, CORRELATION.request(seed="Pdyn", domain="Isocortex, Nope"))
    with pytest.raises(Cancelled):
        run_local(data, library, DIFFERENTIAL.request(target="CP", contrast="Isocortex"), cancel=lambda: True)
    heard = []
    with pytest.raises(Cancelled):  # the seed is chosen (and heard), then the search is cancelled
        calls = iter([False, True])
        run_local(data, library, CORRELATION.request(seed=str(NRP1)), cancel=lambda: next(calls),
                  on_seed=heard.append)
    assert [s.value for s in heard] == [NRP1]


# ---------------------------------------------------------------------------- seeds


def test_one_rule_chooses_the_seed(data, library, gene_index):
    pdyn = gene_index.by_id(PDYN)
    assert seed_query(pdyn.label) == str(PDYN) and seed_query(" Pdyn ") == "Pdyn"
    for text in (str(PDYN), pdyn.label, "pdyn"):
        seed = resolve_seed(data, library, text)
        assert (seed.value, seed.experiment) == (PDYN, pdyn) and seed.in_library
    assert resolve_seed(data, library, "Pdyn").candidates == 2  # coronal (in the library) and sagittal
    generated = resolve_seed(data, library, str(TWICE))  # in the library, not in the gene index
    assert (generated.value, generated.experiment, generated.note()) == (TWICE, None, "")
    with pytest.raises(AllenViewerError, match="Give a seed experiment"):
        resolve_seed(data, library, " ")
    with pytest.raises(AllenViewerError, match="900000999 is neither in the library nor in the gene index"):
        resolve_seed(data, library, "900000999")
    with pytest.raises(UnknownGene, match="Pdynx"):
        resolve_seed(data, library, "Pdynx")
    # Allen's service is asked about the same experiment, without loading anything
    assert remote_seed(data, lambda: library, "Pdyn") == (PDYN, pdyn)
    assert remote_seed(data, lambda: pytest.fail("an id needs no library"), str(TWICE)) == (TWICE, None)


def test_a_seed_outside_the_library_is_loaded(allen_client, ontology, gene_index, library, tmp_path):
    data = atlas_data(ontology, gene_index, tmp_path / "cache", allen_client)
    sagittal = next(e for e in gene_index.exact_symbol("Pdyn") if e.id != PDYN)
    seed = resolve_seed(data, library, str(sagittal.id))
    assert seed.experiment == sagittal and not seed.in_library
    assert seed.value.experiment == sagittal and seed.value.energy.shape == (67, 41, 58)
    assert seed.note() == f"the seed {sagittal.label} is not in the library; its grid was loaded"
    # a symbol whose library holds none of its experiments: the default one is loaded
    empty = Library(tmp_path / "empty")
    seed = resolve_seed(data, empty, "Pdyn")
    assert seed.experiment.id == PDYN and not seed.in_library and seed.candidates == 2
    assert seed.note().startswith(f"Pdyn has 2 experiments; the seed is coronal {PDYN} (type an id to choose); "
                                  f"the seed {seed.experiment.label} is not in the library")


# ---------------------------------------------------------------------------- Allen's service


def test_run_remote_sends_the_same_search(allen_env, allen_client, ontology, gene_index, library, tmp_path):
    allen_env.search_ids = [PDYN, NRP1]
    data = atlas_data(ontology, gene_index, tmp_path / "cache", allen_client)
    out = run_remote(data, lambda: library, DIFFERENTIAL.request(target="CP", contrast="Isocortex", top=5))
    assert out.source == "allen" and out.hits == remote_differential(allen_client, [672], [315], top=5)
    assert [h.experiment_id for h in out.hits] == [PDYN, NRP1]
    assert set(out.experiments) == {PDYN, NRP1} and out.library_record == {}
    out = run_remote(data, lambda: library, CORRELATION.request(seed="Pdyn", domain="Isocortex"))
    assert out.seed == gene_index.by_id(PDYN)
    assert out.hits == remote_correlation(allen_client, PDYN, [315], top=50)
    crit = allen_env.requests_to("/api/v2/data/query.json")[-1].criteria
    assert f"[row$eq{PDYN}][structures$eq315]" in crit
    # a seed chosen already (by the local search) is sent as it is
    nrp1 = gene_index.by_id(NRP1)
    assert run_remote(data, lambda: library, CORRELATION.request(seed="Pdyn"), seed=nrp1).seed == nrp1
    assert f"[row$eq{NRP1}][structures$eq997]" in allen_env.requests_to("/api/v2/data/query.json")[-1].criteria
    with pytest.raises(UnknownStructure):
        run_remote(data, lambda: library, DIFFERENTIAL.request(target="CPX", contrast="Isocortex"))


# ---------------------------------------------------------------------------- a new search


class MeanInSpec(SearchSpec):
    """A search the viewer does not have: experiments ranked by fold change of one region
    over the whole brain.  Made only of the spec's parts, to show that a new search is one spec."""

    kind = "mean-in"
    title = "Region"
    export = "search-mean-in"
    fields = (FormField("region", "Region", STRUCTURES, missing="Give a region."),)
    columns = (RANK, SOURCE, GENE, Column("Fold", lambda h: (f"{h.fold_change:.3g}", h.fold_change)), PLANE, ID)
    csv_columns = ["rank", "experiment_id", "fold_change"]
    print_columns = [("rank", 4), ("id", 10), ("fold", 8)]

    def summary(self, request, seed=None):
        return f"Experiments by {', '.join(request['region'])} over the brain"

    def csv_rows(self, hits):
        return [[h.rank, h.experiment_id, h.fold_change] for h in hits]

    def search_local(self, data, library, request, progress, cancel, on_seed):
        return differential_search(library, data.ontology, list(request["region"]), "root",
                                   plane=request.plane, top=request.top), None


def test_a_new_search_is_one_spec(data, library, ontology):
    spec = MeanInSpec()
    req = spec.request(region="CP", top=2, validate=True)
    out = run_local(data, library, req)
    assert out.hits == differential_search(library, ontology, "CP", "root", top=2)
    assert spec.csv_rows(out.hits)[0] == [1, PDYN, out.hits[0].fold_change]  # Pdyn is striatal
    assert [c.cell(out.hits[0])[0] for c in spec.columns][:3] == ["1", "local", "Pdyn"]
    assert req.describe() == "Experiments by CP over the brain"
    assert spec.heading(req) == "Experiments by CP over the brain:"
    assert spec.record(req, None, False, {"experiments": 5}) == {
        "region": ["CP"], "plane": None, "top": 2, "remote": False, "library": {"experiments": 5}}
    with pytest.raises(AllenViewerError, match="^Allen's service offers no region search.$"):
        run_remote(data, lambda: library, req)
    with pytest.raises(UnknownStructure):
        run_local(data, library, spec.request(region="CPX"))
    with pytest.raises(AllenViewerError, match="Give a region"):
        spec.request(region="", validate=True)
