"""Structures for figures, Qt-free: per-structure styles in the state and its session format,
the surface colour rule, and where the slice panes write acronyms."""
from __future__ import annotations

import json

import numpy as np
import pytest

from allen_viewer.atlas.slice_labels import (
    MIN_LABEL_PIXELS,
    interior_depth,
    label_groups,
    label_structure,
    slice_labels,
)
from allen_viewer.errors import AllenViewerError
from allen_viewer.render.structure_style import (
    DEFAULT_SURFACE_OPACITY,
    DIMMED_FLOOR,
    DIMMED_FRACTION,
    HIGHLIGHT_OPACITY,
    NEUTRAL_SURFACE_RGB,
    shown_opacity,
    surface_color,
    surface_opacity,
)
from allen_viewer.state import SESSION_VERSION, StructureStyle, ViewerState, read_session

CP, TH = 672, 549


# ---- the state ---------------------------------------------------------------------------

def test_set_structure_style_keeps_what_is_not_named_and_drops_empty_styles():
    state = ViewerState()
    seen = []
    state.events.structure_styles.connect(lambda new, old: seen.append(new))
    state.set_structure_style(CP, color=(255, 140, 0))
    state.set_structure_style(CP, opacity=0.5)
    state.set_structure_style(TH, opacity=1.0)
    assert state.structure_styles == (StructureStyle(TH, None, 1.0), StructureStyle(CP, (255, 140, 0), 0.5))
    assert state.structure_style(CP).color == (255, 140, 0) and state.structure_style(315) is None
    state.set_structure_style(CP, color=None)
    assert state.structure_style(CP) == StructureStyle(CP, None, 0.5)
    state.set_structure_style(CP, opacity=None)
    assert state.structure_style(CP) is None and len(seen) == 5
    with pytest.raises(ValueError):
        state.set_structure_style(CP, color=(0, 0, 256))
    with pytest.raises(ValueError):
        state.set_structure_style(CP, opacity=0.0)
    assert state.structure_style(CP) is None  # nothing changed by a refused value


def test_styles_and_labels_round_trip_through_a_session_file(tmp_path):
    from allen_viewer.state import write_session

    state = ViewerState()
    state.set_structure_style(CP, color=(10, 20, 30), opacity=0.75)
    state.set_structure_style(TH, opacity=0.2)
    state.structure_labels = True
    path = write_session(tmp_path / "s.json", state)
    data = json.loads(path.read_text())
    assert data["version"] == SESSION_VERSION >= 2
    assert data["structure_styles"] == [{"id": TH, "color": None, "opacity": 0.2},
                                        {"id": CP, "color": [10, 20, 30], "opacity": 0.75}]
    again = read_session(path)
    assert again.structure_styles == state.structure_styles and again.structure_labels is True
    twin = ViewerState()
    twin.update_from(again)
    assert twin.structure_styles == state.structure_styles and twin.structure_labels


def test_a_version_1_session_still_opens_with_the_defaults():
    data = ViewerState().to_dict()
    data["version"] = 1
    for key in ("structure_styles", "structure_labels", "cut_away", "slice_planes", "mode", "mode_experiments"):
        data.pop(key)
    from tests.test_figures_state import drop_v4_keys

    drop_v4_keys(data)
    state = ViewerState.from_dict(data)
    assert state.structure_styles == () and state.structure_labels is False
    data["structure_labels"] = True  # not a key of version 1
    with pytest.raises(AllenViewerError, match="unknown key 'structure_labels'"):
        ViewerState.from_dict(data, "old.json")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("structure_styles"), "missing key 'structure_styles'"),
    (lambda d: d.update(structure_labels="yes"), "structure_labels: expected true or false"),
    (lambda d: d.update(structure_styles={}), "structure_styles: expected a JSON array"),
    (lambda d: d.update(structure_styles=[{"id": 1, "color": None}]), "missing key 'structure_styles\\[0\\].opacity'"),
    (lambda d: d.update(structure_styles=[{"id": 1, "color": [1, 2], "opacity": None}]),
     r"structure_styles\[0\].color: expected an array of 3"),
    (lambda d: d.update(structure_styles=[{"id": 1, "color": [1, 2, 300], "opacity": None}]),
     r"structure_styles\[0\].color\[2\]: 300 is out of range"),
    (lambda d: d.update(structure_styles=[{"id": 1, "color": [1, 2, 1.5], "opacity": None}]),
     r"structure_styles\[0\].color\[2\]: expected a whole number"),
    (lambda d: d.update(structure_styles=[{"id": 1, "color": None, "opacity": 0}]),
     r"structure_styles\[0\].opacity: 0 is out of range"),
    (lambda d: d.update(structure_styles=[{"id": 1, "color": None, "opacity": 0.5},
                                          {"id": 1, "color": None, "opacity": 0.2}]),
     r"structure_styles\[1\].id: 1 has a style already"),
])
def test_bad_styles_give_one_clear_message(mutate, message):
    data = ViewerState().to_dict()
    mutate(data)
    with pytest.raises(AllenViewerError, match=message) as info:
        ViewerState.from_dict(data, "s.json")
    assert "\n" not in str(info.value)


def test_a_style_that_sets_nothing_is_not_kept():
    data = ViewerState().to_dict()
    data["structure_styles"] = [{"id": 5, "color": None, "opacity": None}]
    assert ViewerState.from_dict(data).structure_styles == ()


# ---- the colour rule ---------------------------------------------------------------------

def test_surface_colour_rule():
    atlas = (152, 214, 249)
    assert surface_color(atlas) == atlas  # no gene: the atlas colour
    assert surface_color(atlas, None, expression_shown=True) == NEUTRAL_SURFACE_RGB
    chosen = StructureStyle(CP, (255, 0, 0), None)
    assert surface_color(atlas, chosen, True) == surface_color(atlas, chosen, False) == (255, 0, 0)
    assert surface_color(atlas, StructureStyle(CP, None, 0.5), True) == NEUTRAL_SURFACE_RGB
    assert surface_opacity(None) == DEFAULT_SURFACE_OPACITY and surface_opacity(StructureStyle(CP, None, 0.9)) == 0.9
    assert shown_opacity(0.3, True, False) == HIGHLIGHT_OPACITY and shown_opacity(1.0, True, False) == 1.0
    assert shown_opacity(0.3, False, True) == pytest.approx(max(0.3 * DIMMED_FRACTION, DIMMED_FLOOR))
    assert shown_opacity(1.0, False, True) == pytest.approx(1.0 * DIMMED_FRACTION)
    assert shown_opacity(0.1, False, True) == pytest.approx(0.1)  # the floor never raises a faint choice
    assert shown_opacity(0.5, False, False) == 0.5


def test_the_neutral_colour_is_in_none_of_the_colour_maps():
    """At least 40 (0-255) away, in RGB, from every colour of every colour map offered."""
    import matplotlib

    from allen_viewer.state import CMAPS

    for name in CMAPS:
        lut = matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255
        assert np.min(np.linalg.norm(lut - np.array(NEUTRAL_SURFACE_RGB), axis=1)) > 40, name


# ---- slice labels ------------------------------------------------------------------------

def test_layers_are_labelled_by_their_area(ontology):
    assert label_structure(ontology.by_acronym("SSp-ul4")).acronym == "SSp-ul"
    assert label_structure(ontology.by_acronym("CA1sp")).acronym == "CA1"
    assert label_structure(ontology.by_acronym("CP")).acronym == "CP"


def test_interior_depth_and_the_label_sits_inside_a_curved_structure(ontology):
    """Generated: a C-shaped structure whose centroid lies outside it."""
    img = np.zeros((60, 60), dtype=np.int32)
    img[10:50, 10:20] = 1  # the C's back
    img[10:20, 10:50] = 1
    img[40:50, 10:50] = 1
    img[25:35, 30:40] = 2  # a small square in the C's mouth
    depth = interior_depth(img)
    assert depth[0, 0] == 0 and depth[10, 10] == 0 and depth[15, 30] == 4
    group = np.array([0, 1, 2])
    ids = np.array([0, ontology.by_acronym("CP").id, ontology.by_acronym("TH").id])
    labels = slice_labels(img, group, ids, ontology, min_pixels=50)
    assert [lab.acronym for lab in labels] == ["CP", "TH"]  # largest first
    cp = labels[0]
    assert img[cp.row, cp.col] == 1 and cp.area == int((img == 1).sum())
    assert slice_labels(img, group, ids, ontology, min_pixels=101)[-1].acronym == "CP"  # TH: 100 pixels


def test_a_real_coronal_slice_labels_the_caudoputamen_inside_it(reference_space, ontology):
    from allen_viewer.gui.slice_view import PLANES

    group, ids = label_groups(ontology, reference_space.label_ids)
    plane = PLANES["coronal"]
    labels2d = plane.take(reference_space.labels25, 208)  # AP 5.2 mm, through the striatum
    labels = slice_labels(labels2d, group, ids, ontology)
    by = {lab.acronym: lab for lab in labels}
    assert "CP" in by and all(lab.area >= MIN_LABEL_PIXELS for lab in labels)
    cp = by["CP"]
    at = int(reference_space.label_ids[labels2d[cp.row, cp.col]])
    assert at == CP
    assert not any(ontology.by_id(lab.structure_id).name.lower().count("layer") for lab in labels)
    assert "root" not in by
    horizontal = PLANES["horizontal"].take(reference_space.labels25, 104)  # has voxels labelled only "root"
    assert (reference_space.label_ids[horizontal] == ontology.root.id).sum() >= MIN_LABEL_PIXELS
    assert "root" not in {lab.acronym for lab in slice_labels(horizontal, group, ids, ontology)}
