"""The Qt-free use cases (allen_viewer/model): expected values computed with plain numpy from
the real files (tests/numpy_reference.py: the embedded Pdyn grid, the 200 µm annotation)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.model.describe import NO_SELECTION, describe_point, position_text, summary_text
from allen_viewer.model.genes import resolve, session_threshold, swapped, threshold_for
from allen_viewer.model.structures import focus_point_um
from allen_viewer.model.texts import comparing_text, fmt, grid_loaded_text, offline_note_text, window_title
from allen_viewer.state import DisplayState, ExperimentRef, ViewerState
from tests import numpy_reference as ref

PDYN = 71717084


def test_the_model_runs_without_qt_vtk_or_pyvista():
    code = ("import sys\n"
            "from allen_viewer import config\n"
            "from allen_viewer.atlas.ontology import Ontology\n"
            "from allen_viewer.atlas.reference_space import ReferenceSpace\n"
            "from allen_viewer.model import describe, genes, screenshot, session, steps, structures, texts\n"
            "res = config.resources_dir()\n"
            "onto = Ontology.load(res / 'structure_graph_1.json')\n"
            "space = ReferenceSpace.load(onto, res / 'annotation_25.nrrd', res / 'P56_Mouse_gridAnnotation.zip')\n"
            "print(describe.describe_point((5200.0, 4200.0, 3800.0), space))\n"
            "print(structures.focus_point_um(space, onto.get('CP')) is not None)\n"
            "from allen_viewer.expression.grid import load_grid\n"
            "from allen_viewer.store.gene_index import GeneIndex\n"
            "index = GeneIndex.load(res / 'gene_index.tsv.gz')\n"
            "grid = load_grid(res / 'grids' / '71717084.zip', index.by_id(71717084))\n"
            "print(texts.grid_loaded_text(grid, 'embedded'), describe.summary_text(onto.get('CP').id, onto, space, grid))\n"
            "s = session.SessionWaits(); print(s.pending)\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'vtkmodules', 'pyvista', 'pyvistaqt')]\n"
            "print('BAD', ','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "BAD "
    assert "CP — Caudoputamen" in out or "Caudoputamen" in out


def _voxel(mask: np.ndarray) -> tuple[int, int, int]:
    """The first voxel (in C order) of ``mask``."""
    return tuple(int(v) for v in np.argwhere(mask)[0])


def test_describe_point_gives_the_values_of_the_voxel_there(reference_space, pdyn):
    with_data = ref.has_data(PDYN)
    i, j, k = _voxel(with_data & (ref.energy(PDYN) > 0))
    um = np.array([i, j, k]) * 200.0
    text = describe_point(um, reference_space, pdyn)
    assert f"Pdyn: energy {float(ref.energy(PDYN)[i, j, k]):.3g}, " in text
    assert position_text(um) in text
    s = reference_space.structure_at_um(um)
    assert text.startswith(f"{s.acronym} — {s.name}")
    # an in-brain voxel without data: "no data", never a number
    i, j, k = _voxel(ref.brain() & (ref.energy(PDYN) == -1))
    text = describe_point(np.array([i, j, k]) * 200.0, reference_space, pdyn)
    assert "energy no data" in text
    for name in ("intensity", "density"):  # a channel the download lacks is n/a, one it has "no data"
        assert f"{name} {'no data' if pdyn.volume(name) is not None else 'n/a'}" in text


def test_describe_point_outside_the_brain_without_a_gene_and_without_the_atlas(reference_space):
    um = (0.0, 0.0, 0.0)
    assert ref.annotation()[0, 0, 0] == 0
    assert describe_point(um, reference_space) == f"outside the brain   |   {position_text(um)}   |   no gene loaded"
    assert describe_point(um) == "AP 0.00, DV 0.00, ML 0.00 mm"
    assert describe_point(um, reference_space, None, "A 1, B 2").endswith("|   A 1, B 2")


def test_summary_text_gives_the_structure_mean_energy_and_coverage(reference_space, ontology, pdyn):
    cp = ontology.get("CP")
    text = summary_text(cp.id, ontology, reference_space, pdyn)
    in_cp = ref.structure_mask("CP") & ref.brain()
    with_data = in_cp & ref.has_data(PDYN)
    assert f"mean energy {ref.mean_energy(PDYN, 'CP'):.3g}" in text
    assert f"voxels with data {int(with_data.sum()):,} / {int(in_cp.sum()):,}" in text
    assert text.startswith(f"<b>CP</b> — {cp.name}<br>Pdyn (coronal, {PDYN}):")
    assert summary_text(None, ontology, reference_space, pdyn) == NO_SELECTION
    assert summary_text(cp.id, ontology, reference_space, None).endswith("No gene loaded.")
    assert summary_text(cp.id, ontology, None, pdyn).endswith("Loading the atlas…")


def test_going_to_a_structure_puts_the_cursor_in_its_left_part_nearest_the_centre(reference_space, ontology):
    cp = ontology.get("CP")
    labels = np.asarray(reference_space.label_ids)[reference_space.labels25]  # Allen ids at 25 µm
    mask = np.isin(labels, np.fromiter(ref.descendant_ids("CP"), np.int64))
    ijk = np.argwhere(mask)
    left = ijk[ijk[:, 2] < labels.shape[2] // 2]
    centre = left.mean(axis=0)
    expected = left[np.argmin(((left - centre) ** 2).sum(axis=1))] * 25.0
    um = focus_point_um(reference_space, cp)
    np.testing.assert_allclose(um, expected)
    assert um[2] < labels.shape[2] * 25.0 / 2  # the left hemisphere
    assert reference_space.structure_id_at_um(um) in ref.descendant_ids("CP")


def test_the_threshold_rule_for_a_gene_opened(pdyn):
    display = DisplayState(threshold=3.5, threshold_percentile=75.0, threshold_pinned=False)
    assert threshold_for(pdyn, display) == pytest.approx(ref.percentile(PDYN, 75.0))
    display.threshold_pinned = True
    assert threshold_for(pdyn, display) == 3.5


def test_a_session_threshold_is_restored_only_for_its_own_gene_or_when_pinned():
    display = DisplayState(threshold=2.0, threshold_pinned=False)
    assert session_threshold(display, PDYN, None) == 2.0  # the session's own gene
    assert session_threshold(display, PDYN, PDYN) == 2.0
    assert session_threshold(display, 74272479, PDYN) is None  # another gene: the rule
    display.threshold_pinned = True
    assert session_threshold(display, 74272479, PDYN) == 2.0


def test_requesting_a_gene_resolves_symbols_and_refuses_unknown_ones():
    from allen_viewer.data import AtlasData

    data = AtlasData()
    exp = resolve(data, PDYN)
    assert exp.id == PDYN and exp.symbol == "Pdyn"
    assert resolve(data, exp) is exp
    with pytest.raises(AllenViewerError):
        resolve(data, "NoSuchGeneXyz")


def test_swapping_a_comparison_exchanges_the_genes():
    state = ViewerState()
    a, b = ExperimentRef(PDYN, "Pdyn", "coronal"), ExperimentRef(74272479, "Nrp1", "coronal")
    state.experiment, state.compare_with = a, b
    assert swapped(state) == (b, a)


def test_the_summary_texts(pdyn):
    text = grid_loaded_text(pdyn, "embedded")
    assert text.endswith("from embedded data.")
    text = grid_loaded_text(pdyn, "embedded", "colour shows energy: this download has energy only")
    assert text.endswith("from embedded data. Colour shows energy: this download has energy only.")
    assert text.startswith(f"{pdyn.experiment.label}: {int(ref.has_data(PDYN).sum()):,} voxels with data in the "
                           "brain")
    assert ", energy only, from embedded data." in text  # the embedded download is energy only
    assert window_title() == "Allen Viewer"
    assert window_title(pdyn, offline=True) == f"Allen Viewer — Pdyn (coronal, {PDYN}) [offline]"
    assert window_title(pdyn, pdyn, comparing=False) == f"Allen Viewer — Pdyn (coronal, {PDYN})"
    assert " vs Pdyn" in window_title(pdyn, pdyn, comparing=True)
    assert comparing_text(pdyn, pdyn, float("nan"), 1234).endswith("r = n/a over 1,234 in-brain voxels with data "
                                                                    "in both.")
    note = offline_note_text("", ["Nrp1", "Pdyn"], 1)
    assert "(the Allen API cannot be reached)" in note and "Nrp1 and Pdyn, and the 1 experiment in the cache" in note
    assert "Nrp1, Pdyn and Penk" in offline_note_text("x<y", ["Nrp1", "Pdyn", "Penk"], 0)
    assert "x&lt;y" in offline_note_text("x<y", [], 0)
    assert fmt(float("nan")) == "n/a" and fmt(None) == "n/a" and fmt(1234.5) == "1.23e+03"
