"""The window's composites and gene-set maps (issue 23): the state's mode drives a view with
the composite's or the score's layer; closing it goes back to one gene."""
import numpy as np
import pytest

from allen_viewer.expression import gene_sets as gs
from tests.gui.offline_window import offline_window, wait
from tests.library import NRP1, PDYN, real_grid


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory, ontology, reference_space, gene_index):
    with offline_window(tmp_path_factory, ontology, reference_space, gene_index, gene="Pdyn") as w:
        yield w


def test_menu_offers_both(window):
    texts = [a.text() for a in window.many_genes.actions.values()]
    assert texts == ["Composite of genes…", "Gene-set map…"]


def test_composite_follows_the_state_and_matches_the_mapping(window, gene_index, tmp_path):
    many = window.many_genes
    many.choose("composite", ["Pdyn", "Nrp1"])
    assert window.state.mode == "composite" and window.state.mode_experiments == (PDYN, NRP1)
    assert wait(lambda: many.view is not None and many.view.layer.has_content)
    layer = many.view.layer
    ranks = gs.percentile_ranks([real_grid(gene_index, PDYN), real_grid(gene_index, NRP1)])
    drawn = gs.composite_drawn(ranks, 0.9)
    assert layer.poly.n_points == int(drawn.sum())
    flat = np.asarray(layer.poly.point_data["grid_index"])
    rgb = gs.composite_rgb(ranks, gs.palette(2), 0.9).reshape(-1, 3)[flat]
    assert np.abs(np.asarray(layer.poly.point_data["rgb"]) / 255.0 - rgb).max() <= 0.5 / 255 + 1e-6
    assert [a.GetInput() for a in layer.legend[:2]] == ["Pdyn: green", "Nrp1: magenta"]
    # the slices show the same mapping: the colour where drawn, no colour elsewhere
    full = gs.composite_rgb(ranks, gs.palette(2), 0.9)
    ap, dv, ml = (int(round(c / 200.0)) for c in window.state.cursor_um)
    cor = many.view.slice_pixels["coronal"]
    assert cor.shape == (41, 58, 3)
    d = drawn[ap]
    assert d.any() and (~d).any()
    assert np.abs(cor[d] / 255.0 - full[ap][d]).max() <= 0.5 / 255 + 1e-6
    from allen_viewer.expression.brain import brain_mask
    from allen_viewer.render.gene_set_layers import SLICE_BRAIN
    from allen_viewer.render.layers import BACKGROUND

    grey = np.round(np.array(SLICE_BRAIN) * 255)
    bg = np.array([int(BACKGROUND[i:i + 2], 16) for i in (1, 3, 5)])
    inside = brain_mask()[ap]
    assert np.array_equal(cor[~d & inside], np.broadcast_to(grey, cor[~d & inside].shape))
    assert np.array_equal(cor[~d & ~inside], np.broadcast_to(bg, cor[~d & ~inside].shape))
    assert many.view.slice_pixels["sagittal"][:, :, :].shape == (41, 67, 3)
    assert many.view.slice_pixels["horizontal"].shape == (67, 58, 3)
    # a click reports each gene's energy and rank at the voxel
    pdyn_grid = real_grid(gene_index, PDYN)
    text = many.view.report((ap * 200.0, dv * 200.0, ml * 200.0))
    e = pdyn_grid.energy[ap, dv, ml]
    assert text.startswith(f"voxel AP {ap}, DV {dv}, ML {ml}: Pdyn energy ")
    assert (f"Pdyn energy {e:.3g}, rank {ranks[0][ap, dv, ml]:.3g}" in text) if e == e else "no data" in text
    from PySide6.QtTest import QTest

    QTest.qWait(300)  # the layout takes the slices' new sizes
    many.view.grab().save(str(tmp_path / "composite-window.png"))


def test_gene_set_map_then_close_back_to_one_gene(window, gene_index):
    many = window.many_genes
    many.choose("gene-set", ["Pdyn", "Nrp1"])
    assert wait(lambda: many.view is not None and many.view.mode == "gene-set" and many.view.layer.has_content)
    assert many.view.layer.title.startswith("gene-set score (mean percentile rank)")
    assert window.state.mode == "gene-set"
    many.view.close()
    assert wait(lambda: window.state.mode == "gene")
    assert many.view is None


def test_a_refused_set_changes_nothing(window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    shown = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: shown.append(a[2]))
    before = (window.state.mode, window.state.mode_experiments)
    window.many_genes.choose("gene-set", ["Pdyn"])
    assert shown and "one gene" in shown[0]
    assert (window.state.mode, window.state.mode_experiments) == before


def test_genes_like_this_set(window, gene_index, ontology):
    """The button runs the library search by the set: the rows match set_search's, which
    tests/library/test_gene_set_search.py checks against numpy (library: Pdyn, Nrp1 and
    GENERATED rows)."""
    from allen_viewer.library.gene_set_search import set_search
    from tests.library import build_library, make_layout

    layout = make_layout(ontology)
    pdyn = layout.columns(real_grid(gene_index, PDYN).energy)
    nrp1 = layout.columns(real_grid(gene_index, NRP1).energy)
    rng = np.random.default_rng(5)
    rows = [(PDYN, "Pdyn", "coronal", pdyn), (NRP1, "Nrp1", "coronal", nrp1)]
    for i in range(6):  # GENERATED
        v = (rng.random() * np.nan_to_num(pdyn) + rng.random() * np.nan_to_num(nrp1)
             + rng.random(layout.n_voxels).astype(np.float32)).astype(np.float32)
        v[rng.random(layout.n_voxels) < 0.05] = np.nan
        rows.append((2000 + i, f"Gen{i}", "coronal", v))
    library = build_library(window.data.cache.root / "library", layout, rows)
    many = window.many_genes
    many.choose("gene-set", ["Pdyn", "Nrp1"])
    assert wait(lambda: many.view is not None and many.view.mode == "gene-set" and many.view.like.isEnabled())
    assert "grids from the local library" in many.view.notes.text()
    many.view.like.click()
    assert wait(lambda: many.view.hits.count() == 6)
    expected = set_search(library, ontology, many.view.payload, top=50)
    assert [many.view.hits.item(i).text().split()[3] for i in range(6)] == [str(h.experiment_id) for h in expected]
    many.view.close()
    assert wait(lambda: window.state.mode == "gene")


def test_a_session_in_composite_mode_opens_the_view(window, tmp_path):
    from allen_viewer.state import read_session, write_session

    twin = window.state.copy()
    twin.mode, twin.mode_experiments = "composite", (NRP1, PDYN)
    again = read_session(write_session(tmp_path / "s.json", twin))
    window.state.update_from(again)
    many = window.many_genes
    assert wait(lambda: many.view is not None and many.view.layer.has_content)
    assert [a.GetInput() for a in many.view.layer.legend[:2]] == ["Nrp1: green", "Pdyn: magenta"]
    many.view.close()
    assert wait(lambda: window.state.mode == "gene")
