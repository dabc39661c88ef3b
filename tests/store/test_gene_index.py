"""The embedded gene index: all adult-mouse ISH experiments, searchable for type-ahead."""
import pytest

from allen_viewer.errors import CorruptData, UnknownExperiment, UnknownGene
from allen_viewer.records import Experiment
from allen_viewer.store.gene_index import GeneIndex, experiments_from_rma_rows, read_gene_index, write_gene_index


def test_covers_the_whole_atlas(gene_index):
    rows = _index_rows()  # the file read by csv, not by the code under test
    assert len(gene_index) == len(rows) == len({r["id"] for r in rows})
    assert len(rows) > 26000  # the whole atlas (26,078 when this was written), not a sample
    assert len(gene_index.symbols) == len({r["symbol"] for r in rows})
    assert sorted(e.id for e in gene_index.experiments) == sorted(int(r["id"]) for r in rows)
    planes = {e.plane for e in gene_index.experiments}
    assert planes == {"coronal", "sagittal"}
    assert not any(e.symbol.endswith("*") for e in gene_index.experiments)


def test_symbol_prefix_is_case_insensitive_and_ranks_exact_first(gene_index):
    hits = gene_index.search("pdy")
    assert hits[0].symbol == "Pdyn"
    assert {e.id for e in hits if e.symbol == "Pdyn"} == {71717084, 69782969}
    assert gene_index.search("PDYN")[0].symbol == "Pdyn"


def test_search_by_entrez_id_experiment_id_and_name_words(gene_index):
    assert {e.id for e in gene_index.search("18610")} >= {71717084, 69782969}
    assert [e.id for e in gene_index.search("71717084")] == [71717084]
    assert gene_index.search("prodynorph")[0].symbol == "Pdyn"
    assert "Nrp1" in {e.symbol for e in gene_index.search("neuropilin 1")}


def test_plane_filter_and_limit(gene_index):
    hits = gene_index.search("Pdyn", plane="sagittal")
    assert [e.id for e in hits] == [69782969]
    assert len(gene_index.search("a", limit=7)) == 7


def test_old_symbol_is_an_alias(gene_index):
    # ABI_genes.csv calls 69113518 '0610007C21Rik'; the current symbol is Atraid
    e = gene_index.by_id(69113518)
    assert e.symbol == "Atraid" and e.alias == "0610007C21Rik"
    assert gene_index.resolve("0610007C21Rik").id == 69113518


def test_resolve_prefers_coronal(gene_index):
    assert gene_index.resolve("Pdyn").id == 71717084
    assert gene_index.resolve("pdyn").plane == "coronal"
    # the rule, checked against the index file read by hand: a gene with a coronal
    # experiment resolves to it (Stard8 has one coronal and one sagittal); a gene with
    # several experiments, all sagittal, to its lowest id
    rows = _index_rows()
    stard8 = [r for r in rows if r["symbol"] == "Stard8"]
    assert sorted(r["plane"] for r in stard8) == ["coronal", "sagittal"]
    coronal = [int(r["id"]) for r in stard8 if r["plane"] == "coronal"]
    assert gene_index.resolve("Stard8").id == coronal[0]
    assert gene_index.resolve("Stard8").plane == "coronal"
    by_symbol: dict[str, list[dict]] = {}
    for r in rows:
        by_symbol.setdefault(r["symbol"], []).append(r)
    sagittal_only = sorted(s for s, rs in by_symbol.items()
                           if len(rs) >= 2 and all(r["plane"] == "sagittal" for r in rs))
    assert sagittal_only, "the index has genes with several sagittal experiments and no coronal one"
    for symbol in sagittal_only[:20]:
        assert gene_index.resolve(symbol).id == min(int(r["id"]) for r in by_symbol[symbol])
    assert gene_index.resolve("69782969").plane == "sagittal"


def _index_rows() -> list[dict]:
    """The embedded gene index's rows, parsed with the csv module (not the code under test)."""
    import csv
    import gzip

    from allen_viewer import config

    with gzip.open(config.resources_dir() / "gene_index.tsv.gz", "rt", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_unknown_gene_and_id(gene_index):
    with pytest.raises(UnknownGene) as err:
        gene_index.resolve("Pdym")
    assert "Pdyn" in err.value.suggestions and "Pdyn" in str(err.value)
    with pytest.raises(UnknownExperiment):
        gene_index.resolve("2")
    assert gene_index.search("zzzzqqq") == []


def test_round_trip_and_corruption(tmp_path):
    exps = [Experiment(1, "Aa", "gene a", 5, "coronal"), Experiment(2, "Bb", "gene b", None, "sagittal", "Old")]
    path = tmp_path / "idx.tsv.gz"
    write_gene_index(exps, path)
    assert read_gene_index(path) == exps
    (tmp_path / "bad.tsv.gz").write_bytes(b"not gzip")
    with pytest.raises(CorruptData):
        GeneIndex.load(tmp_path / "bad.tsv.gz")


def test_from_rma_rows():
    rows = [{"id": 7, "plane_of_section_id": 2, "genes": [{"acronym": "Pdyn*", "name": "prodynorphin", "entrez_id": 18610}]},
            {"id": 8, "plane_of_section": {"id": 1, "name": "coronal"}, "genes": [{"acronym": "X", "name": "", "entrez_id": None}]},
            {"id": 9, "genes": []}]
    exps = experiments_from_rma_rows(rows)
    assert [(e.id, e.symbol, e.plane, e.entrez_id) for e in exps] == [(7, "Pdyn", "sagittal", 18610), (8, "X", "coronal", None)]
