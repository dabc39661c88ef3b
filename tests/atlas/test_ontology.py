"""The structure ontology, loaded from the embedded real structure graph."""
import json

import pytest

from allen_viewer.atlas.ontology import Ontology
from allen_viewer.errors import CorruptData, UnknownStructure


def test_unwraps_the_extra_root_and_counts_all_structures(ontology):
    assert ontology.root.id == 997 and ontology.root.acronym == "root"
    assert ontology.root.parent is None and ontology.root.depth == 0
    assert len(ontology) == 1327


def test_lookup_by_id_and_case_insensitive_acronym(ontology):
    cp = ontology.by_acronym("cp")
    assert cp.id == 672 and cp.name == "Caudoputamen"
    assert ontology.by_id(672) is cp and ontology.get("672") is cp and ontology.get("CP") is cp
    assert cp.color_hex == "98D6F9" and cp.color == (0x98, 0xD6, 0xF9)


def test_parent_children_depth_and_path(ontology):
    cp = ontology.by_acronym("CP")
    assert cp.path == [997, 8, 567, 623, 477, 485, 672]
    assert cp.depth == len(cp.path) - 1
    assert cp.parent.acronym == "STRd" and cp in cp.parent.children
    assert [s.id for s in ontology.ancestors(cp)] == cp.path[:-1]


def test_descendants_include_self_and_every_level(ontology):
    cb = ontology.by_acronym("CB")
    desc = ontology.descendants(cb)
    assert desc[0] is cb
    ids = {s.id for s in desc}
    # every descendant's path passes through CB, and nothing else does
    assert ids == {s.id for s in ontology if cb.id in s.path}
    leaf = next(s for s in desc if not s.children)
    assert ontology.descendants(leaf) == [leaf]
    assert cb not in ontology.descendants(cb, include_self=False)


def test_names_keep_commas_and_colours_keep_leading_zeros(ontology):
    # pitfalls of "cleaned" exports: commas stripped, leading zeros lost
    assert ontology.by_acronym("FRP").name == "Frontal pole, cerebral cortex"
    assert any(s.color_hex.startswith("0") for s in ontology)


def test_search_by_acronym_prefix_and_name_words(ontology):
    assert ontology.search("caudoput")[0].acronym == "CP"
    hits = [s.acronym for s in ontology.search("dentate gyrus")]
    assert "DG" in hits
    assert ontology.search("") == []


def test_unknown_acronym_suggests_close_ones(ontology):
    with pytest.raises(UnknownStructure) as err:
        ontology.by_acronym("CPP")
    assert "CP" in err.value.suggestions and "CPP" in str(err.value)


def test_malformed_graphs_are_rejected(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(CorruptData):
        Ontology.load(bad)
    with pytest.raises(CorruptData):
        Ontology.from_json({"success": True, "msg": []})
    dup = {"id": 997, "acronym": "root", "name": "root", "children": [
        {"id": 8, "acronym": "grey", "name": "g", "children": []},
        {"id": 8, "acronym": "grey2", "name": "g2", "children": []}]}
    with pytest.raises(CorruptData):
        Ontology.from_json({"msg": [dup]})


def test_plain_service_envelope_without_wrapper(ontology, tmp_path):
    # the real service answers msg=[root 997] with no wrapper node
    from allen_viewer import config

    wrapped = json.loads((config.resources_dir() / "structure_graph_1.json").read_text())
    root = wrapped["msg"][0]["children"][0]
    assert root["id"] == 997
    plain = Ontology.from_json({"success": True, "msg": [root]})
    assert len(plain) == len(ontology)
