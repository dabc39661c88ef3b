"""The library search panel: differential and correlation search over a small library (the
two real grids, Pdyn and Nrp1, plus GENERATED experiments with known answers), rows that load
a gene on click, Allen's service in the same table (the fake server), its outage, the empty
library, CSV export, cancel and "newest search wins"."""
from __future__ import annotations

from pathlib import Path

import csv
import json
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from allen_viewer.data import AtlasData
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.gui.library_search import (
    LibrarySearchPanel,
    SearchResultModel,
    seed_query,
)
from allen_viewer.gui.structure_completer import StructureListCompleter
from allen_viewer.library.results import CORR_COLUMNS, DIFF_COLUMNS
from allen_viewer.library.remote import remote_correlation, remote_differential
from allen_viewer.library.search import correlation_search, differential_search
from allen_viewer.library.store import Library
from allen_viewer.store.cache import Cache
from tests.library import NRP1, PDYN, build_library, make_layout, real_grid

pytestmark = pytest.mark.gui

# GENERATED experiments, with ids the gene index does not know (it starts at 3 and ends below 4e8)
TWICE, MIRROR, CP_HIGH, LEFT = 900_000_001, 900_000_002, 900_000_003, 900_000_004
MIXES = range(900_000_100, 900_000_106)


@pytest.fixture(scope="module")
def library_root(tmp_path_factory, ontology, gene_index):
    """A library of Pdyn, Nrp1 and generated experiments: Twice = 2 Pdyn + 1 (r = 1 with Pdyn),
    Mirror = max - Pdyn (r = -1), CPhigh = Nrp1 x 20 in CP, a left-hemisphere sagittal Pdyn
    look-alike and random mixtures of the two real grids."""
    assert not any(gene_index.has_id(i) for i in (TWICE, MIRROR, CP_HIGH, LEFT, *MIXES))
    layout = make_layout(ontology)
    pdyn = layout.columns(real_grid(gene_index, PDYN).energy)
    nrp1 = layout.columns(real_grid(gene_index, NRP1).energy)
    cp = layout.column_mask(layout.segment_mask(ontology.descendant_ids("CP")))
    ml = np.unravel_index(layout.voxels.astype(np.int64), GRID_SHAPE)[2]
    rng = np.random.default_rng(11)
    rows = [(PDYN, "Pdyn", "coronal", pdyn), (NRP1, "Nrp1", "coronal", nrp1),
            (TWICE, "Twice", "coronal", pdyn * 2 + 1),
            (MIRROR, "Mirror", "coronal", np.nanmax(pdyn) - pdyn),
            (CP_HIGH, "CPhigh", "coronal", np.where(cp, nrp1 * 20, nrp1)),
            (LEFT, "LeftPdyn", "sagittal",
             np.where(ml < 29, pdyn * 3 + rng.random(layout.n_voxels).astype(np.float32), np.nan))]
    for i in MIXES:
        a, b = rng.random(2)
        v = (a * np.nan_to_num(pdyn) + b * np.nan_to_num(nrp1) + rng.random(layout.n_voxels)).astype(np.float32)
        rows.append((i, f"Mix{i}", "coronal", v))
    root = tmp_path_factory.mktemp("libsearch") / "library"
    build_library(root, layout, rows)
    return root


def make_data(ontology, gene_index, cache, client=None) -> AtlasData:
    data = AtlasData(cache=Cache(cache), client=client)
    data.__dict__["ontology"] = ontology  # the session's, so no test loads them again
    data.__dict__["gene_index"] = gene_index
    return data


@pytest.fixture
def make_panel(qtbot, ontology, gene_index, library_root, tmp_path):
    def make(library=None, client=None) -> LibrarySearchPanel:
        data = make_data(ontology, gene_index, tmp_path / "cache", client)
        panel = LibrarySearchPanel(data, library=Library(library_root) if library is None else library)
        qtbot.addWidget(panel)
        panel.set_ontology(ontology)
        panel.resize(560, 600)
        panel.show()
        return panel

    return make


@pytest.fixture
def panel(make_panel):
    return make_panel()


def run(qtbot, panel, remote=None):
    req = panel.search(remote=remote)
    assert req is not None, panel.error_label.text()
    qtbot.waitUntil(lambda: not panel.busy, timeout=15000)
    return req


def differential(qtbot, panel, target="CP", contrast="Isocortex", remote=None):
    panel.set_mode("differential")
    panel.target_edit.setText(target)
    panel.contrast_edit.setText(contrast)
    return run(qtbot, panel, remote)


def column(panel, name):
    cols = panel.model.columns
    c = cols.index(name)
    return [panel.proxy.index(r, c).data() for r in range(panel.proxy.rowCount())]


def hits(panel, source=None):
    return panel.model.hits(source)


# ---------------------------------------------------------------------------- local searches


def test_differential_search_ranks_and_values_equal_the_library_search(qtbot, panel, library_root, ontology):
    assert panel.refresh_library_status() == 12
    assert panel.status_label.text() == "Library: 12 experiments of 12 genes."
    qtbot.mouseClick(panel.differential_button, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(panel.target_edit, "CP")
    qtbot.keyClicks(panel.contrast_edit, "Isocortex")
    with qtbot.waitSignal(panel.searchFinished, timeout=15000) as blocker:
        qtbot.mouseClick(panel.search_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["local"]
    expected = differential_search(Library(library_root), ontology, "CP", "Isocortex", top=50)
    got = hits(panel)
    assert got == expected  # the same hits, values and all
    assert [h.source for h in got] == ["local"] * len(expected)
    ids = [h.experiment_id for h in got]
    assert ids[0] == CP_HIGH  # Nrp1 x 20 in CP
    assert ids.index(PDYN) < ids.index(NRP1)  # Pdyn is striatal, Nrp1 cortical
    pdyn = next(h for h in got if h.experiment_id == PDYN)
    assert pdyn.fold_change > 1 > next(h for h in got if h.experiment_id == NRP1).fold_change
    # what the table shows
    assert panel.model.columns == SearchResultModel.DIFF_COLUMNS
    assert column(panel, "Gene")[:1] == ["CPhigh"]
    row = ids.index(PDYN)
    assert column(panel, "Id")[row] == str(PDYN)
    assert column(panel, "Fold")[row] == f"{pdyn.fold_change:.4g}"
    assert column(panel, "Target")[row] == f"{pdyn.target_mean:.4g}"
    assert column(panel, "Contrast")[row] == f"{pdyn.contrast_mean:.4g}"
    assert set(column(panel, "Source")) == {"local"}
    assert "Genes enriched in CP over Isocortex: 12 local rows" in panel.result_label.text()
    assert panel.export_button.isEnabled() and not panel.error_label.isVisible()


def test_plane_and_top_are_applied(qtbot, panel, library_root, ontology):
    panel.plane_combo.setCurrentIndex(panel.plane_combo.findData("sagittal"))
    differential(qtbot, panel)
    assert [h.experiment_id for h in hits(panel)] == [LEFT]
    panel.plane_combo.setCurrentIndex(0)
    panel.top_spin.setValue(3)
    differential(qtbot, panel, target="CP, ACB", contrast="Isocortex,HPF")
    assert hits(panel) == differential_search(Library(library_root), ontology, ["CP", "ACB"], "Isocortex,HPF", top=3)


def test_correlated_search_with_the_gene_on_show_as_seed(qtbot, panel, library_root, ontology, gene_index):
    pdyn = gene_index.by_id(PDYN)
    panel.set_seed(pdyn)
    assert panel.seed_edit.text() == pdyn.label and seed_query(pdyn.label) == str(PDYN)
    qtbot.mouseClick(panel.correlated_button, Qt.MouseButton.LeftButton)
    assert panel.mode == "correlation" and panel.forms.currentIndex() == 1
    run(qtbot, panel)
    got = hits(panel)
    assert got == correlation_search(Library(library_root), ontology, PDYN, top=50)
    assert got[0].experiment_id == TWICE and got[0].r == pytest.approx(1.0, abs=1e-6)
    assert got[-1].experiment_id == MIRROR and got[-1].r < -0.99999
    assert PDYN not in [h.experiment_id for h in got]  # the seed itself is left out
    assert panel.model.columns == SearchResultModel.CORR_COLUMNS
    assert column(panel, "r")[0] == f"{got[0].r:.4f}" and column(panel, "Voxels")[0] == f"{got[0].voxels:,}"
    assert f"correlated with {pdyn.label} over the whole brain" in panel.result_label.text()
    # a domain, and the seed typed as a symbol
    panel.seed_edit.setText("Nrp1")
    panel.domain_edit.setText("Isocortex")
    run(qtbot, panel)
    assert hits(panel) == correlation_search(Library(library_root), ontology, NRP1, domain="Isocortex", top=50)


def test_the_seed_follows_the_gene_on_show_until_the_user_types_one(qtbot, panel, gene_index):
    pdyn, nrp1 = gene_index.by_id(PDYN), gene_index.by_id(NRP1)
    panel.set_seed(pdyn)
    panel.set_seed(nrp1)
    assert panel.seed_edit.text() == nrp1.label
    panel.seed_edit.clear()
    qtbot.keyClicks(panel.seed_edit, "Penk")
    panel.set_seed(pdyn)
    assert panel.seed_edit.text() == "Penk"  # the user's choice is kept
    qtbot.mouseClick(panel.seed_shown_button, Qt.MouseButton.LeftButton)
    assert panel.seed_edit.text() == pdyn.label


def test_a_seed_outside_the_library_is_downloaded(qtbot, make_panel, allen_env, allen_client, library_root,
                                                  ontology, gene_index):
    sagittal = next(e for e in gene_index.exact_symbol("Pdyn") if e.id != PDYN)  # not in the library
    panel = make_panel(client=allen_client)
    panel.set_mode("correlation")
    panel.seed_edit.setText(str(sagittal.id))
    run(qtbot, panel)
    assert not panel.error_label.isVisible(), panel.error_label.text()
    grid = panel.data.load_grid(sagittal)  # in the cache now
    assert hits(panel) == correlation_search(Library(library_root), ontology, grid, top=50)
    assert f"the seed {sagittal.label} is not in the library; its grid was loaded" in panel.result_label.text()


def test_a_seed_that_cannot_be_loaded_says_why(qtbot, panel, gene_index, library_root, ontology):
    sagittal = next(e for e in gene_index.exact_symbol("Pdyn") if e.id != PDYN)
    panel.set_mode("correlation")
    panel.seed_edit.setText(sagittal.symbol + "x")
    run(qtbot, panel)
    assert "Library search:" in panel.error_label.text() and "Pdynx" in panel.error_label.text()
    panel.seed_edit.setText(str(sagittal.id))
    run(qtbot, panel)  # offline here (the API is a closed port): the download fails
    assert panel.error_label.isVisible() and panel.model.rowCount() == 0
    panel.seed_edit.setText(str(NRP1))
    run(qtbot, panel)
    assert hits(panel) == correlation_search(Library(library_root), ontology, NRP1, top=50)
    assert not panel.error_label.isVisible()


# ---------------------------------------------------------------------------- loading a gene


def test_a_click_on_a_row_loads_its_experiment(qtbot, panel, gene_index):
    differential(qtbot, panel)
    ids = [h.experiment_id for h in hits(panel)]
    view = panel.results
    rect = view.visualRect(panel.proxy.index(ids.index(NRP1), 2))
    with qtbot.waitSignal(panel.experimentActivated, timeout=1000) as blocker:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args[0] == gene_index.by_id(NRP1)
    # Enter on the current row
    view.setCurrentIndex(panel.proxy.index(ids.index(PDYN), 0))
    with qtbot.waitSignal(panel.experimentActivated, timeout=1000) as blocker:
        qtbot.keyClick(view, Qt.Key.Key_Return)
    assert blocker.args[0].id == PDYN and blocker.args[0].symbol == "Pdyn"
    # a generated experiment is not in the gene index: nothing to load, and the panel says so
    rect = view.visualRect(panel.proxy.index(ids.index(CP_HIGH), 2))
    with qtbot.assertNotEmitted(panel.experimentActivated):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert "not in the gene index" in panel.result_label.text()


def test_sorting_by_a_column_keeps_clicks_on_the_right_row(qtbot, panel, gene_index):
    differential(qtbot, panel)
    header = panel.results.horizontalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=_header_center(panel, 2))
    genes = column(panel, "Gene")
    assert genes == sorted(genes, key=str.lower)
    assert panel.experiment_at(genes.index("Nrp1")) == gene_index.by_id(NRP1)
    rect = panel.results.visualRect(panel.proxy.index(genes.index("Nrp1"), 2))
    with qtbot.waitSignal(panel.experimentActivated, timeout=1000) as blocker:
        qtbot.mouseClick(panel.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args[0].id == NRP1
    # a new search goes back to rank order
    differential(qtbot, panel)
    assert column(panel, "#")[:3] == ["1", "2", "3"]


def _header_center(panel, section):
    header = panel.results.horizontalHeader()
    return QPoint(header.sectionViewportPosition(section) + header.sectionSize(section) // 2, header.height() // 2)


def test_the_row_on_show_is_bold(qtbot, panel, gene_index):
    differential(qtbot, panel)
    panel.set_seed(gene_index.by_id(PDYN))
    fonts = {h.experiment_id: panel.model.data(panel.model.index(r, 2), Qt.ItemDataRole.FontRole)
             for r, h in enumerate(hits(panel))}
    assert fonts[PDYN] is not None and fonts[PDYN].bold()
    assert fonts[NRP1] is None


# ---------------------------------------------------------------------------- Allen's service


def test_allen_rows_join_the_same_table(qtbot, make_panel, allen_env, allen_client, ontology, gene_index):
    allen_env.search_ids = [PDYN, NRP1]
    panel = make_panel(client=allen_client)
    qtbot.mouseClick(panel.remote_check, Qt.MouseButton.LeftButton, pos=QPoint(6, panel.remote_check.height() // 2))
    assert panel.remote_check.isChecked()
    panel.target_edit.setText("CP")
    panel.contrast_edit.setText("Isocortex")
    qtbot.mouseClick(panel.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.busy, timeout=15000)
    allen = hits(panel, "allen")
    assert allen == remote_differential(allen_client, [672], [315], top=50)
    assert [h.experiment_id for h in allen] == [PDYN, NRP1]
    assert len(hits(panel, "local")) == 12
    sources = column(panel, "Source")
    assert sources.count("Allen") == 2 and sources.count("local") == 12
    crit = allen_env.requests_to("/api/v2/data/query.json")[0].criteria
    assert "service::mouse_differential" in crit and "[structures2$eq672]" in crit  # the target is CP
    # Allen's numbers are close to the library's: the same grids
    local = {h.experiment_id: h for h in hits(panel, "local")}
    for h in allen:
        assert h.fold_change == pytest.approx(local[h.experiment_id].fold_change, rel=1e-5)
    row = len(local)  # the first Allen row (model order: local, then Allen)
    assert column(panel, "Target")[row].endswith(" Σ")  # Allen sends sums
    tip = panel.model.data(panel.model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
    assert "Allen rank 1" in tip and f"local rank {local[PDYN].rank}" in tip
    assert "Allen's service: 2 rows" in panel.remote_label.text()
    assert "12 local rows" in panel.result_label.text() and "2 rows from Allen" in panel.result_label.text()
    # an Allen row loads its gene too
    rect = panel.results.visualRect(panel.proxy.index(row, 2))
    with qtbot.waitSignal(panel.experimentActivated, timeout=1000) as blocker:
        qtbot.mouseClick(panel.results.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args[0].id == PDYN

    # the correlated search, seed = the gene on show
    panel.set_seed(gene_index.by_id(PDYN))
    panel.set_mode("correlation")
    run(qtbot, panel)
    assert hits(panel, "allen") == remote_correlation(allen_client, PDYN, [997], top=50)
    assert hits(panel, "allen")[0].experiment_id == PDYN  # the service lists the seed itself
    assert hits(panel, "local")[0].experiment_id == TWICE
    crit = allen_env.requests_to("/api/v2/data/query.json")[-1].criteria
    assert crit.startswith("service::mouse_correlation[set$eq'mouse'][row$eq71717084][structures$eq997]")


@pytest.mark.parametrize("how", ["outage", "offline"])
def test_when_the_service_is_down_the_local_rows_stay(qtbot, make_panel, allen_env, allen_client, monkeypatch,
                                                      how):
    if how == "outage":
        allen_env.inject("/api/v2/data/query.json", "html", times=20)
    else:
        monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    panel = make_panel(client=allen_client)
    panel.remote_check.setChecked(True)
    differential(qtbot, panel)
    assert len(hits(panel, "local")) == 12 and hits(panel, "allen") == []
    assert panel.remote_label.isVisible()
    text = panel.remote_label.text()
    assert text.startswith("Allen's service could not be used; the local results are shown.")
    assert ("HTML page" if how == "outage" else "Offline mode") in text
    assert not panel.error_label.isVisible()  # the library search itself is fine
    assert "12 local rows" in panel.result_label.text() and "no rows from Allen" in panel.result_label.text()
    # unticked, the service is not asked and its message goes away
    asked = len(allen_env.requests_to("/api/v2/data/query.json"))
    panel.remote_check.setChecked(False)
    differential(qtbot, panel)
    assert len(allen_env.requests_to("/api/v2/data/query.json")) == asked
    assert not panel.remote_label.isVisible() and len(hits(panel)) == 12


# ---------------------------------------------------------------------------- library state, errors


def test_an_empty_library_says_how_to_fill_it(qtbot, make_panel, tmp_path, ontology):
    missing = make_panel(library=Library(tmp_path / "nothing"))
    assert missing.refresh_library_status() == 0
    assert "library is empty" in missing.status_label.text()
    assert "allen-viewer library sync" in missing.status_label.text()
    differential(qtbot, missing)
    assert missing.model.rowCount() == 0
    assert "holds no experiments" in missing.error_label.text() and "library sync" in missing.error_label.text()
    created = Library(tmp_path / "created")
    with created.writer(make_layout(ontology)):
        pass  # a library with no rows yet
    panel = make_panel(library=lambda: Library(tmp_path / "created"))
    assert panel.refresh_library_status() == 0 and "library is empty" in panel.status_label.text()


def test_form_and_structure_errors_are_shown(qtbot, panel):
    panel.set_mode("differential")
    panel.target_edit.clear()
    assert panel.search() is None
    assert panel.error_label.text() == "Give the target structures (e.g. CP)."
    assert not panel.busy
    differential(qtbot, panel, target="CPX")
    assert "CPX" in panel.error_label.text() and panel.model.rowCount() == 0
    panel.set_mode("correlation")
    panel.seed_edit.clear()
    assert panel.search() is None and "seed" in panel.error_label.text()
    panel.seed_edit.setText(str(PDYN))
    panel.domain_edit.setText("Isocortex, Nope")
    run(qtbot, panel)
    assert "Nope" in panel.error_label.text()


def test_a_newer_search_wins_and_cancel_drops_the_result(qtbot, make_panel, library_root, ontology):
    gate = threading.Event()
    gate_timed_out = []

    def slow_library():
        if threading.current_thread() is not threading.main_thread():
            # the first search waits until the second one was submitted; had the UI thread
            # waited for this worker, gate.set() would never come and the wait would time out
            gate_timed_out.append(not gate.wait(30))
        return Library(library_root)

    panel = make_panel(library=slow_library)
    panel.target_edit.setText("Isocortex")
    panel.contrast_edit.setText("CP")
    panel.search()
    panel.target_edit.setText("CP")
    panel.contrast_edit.setText("Isocortex")
    panel.search()
    gate.set()
    qtbot.waitUntil(lambda: not panel.busy and panel.local_channel.in_flight == 0, timeout=15000)
    assert hits(panel) == differential_search(Library(library_root), ontology, "CP", "Isocortex", top=50)
    assert panel.local_channel.dropped == 1
    # cancel
    gate.clear()
    panel.search()
    assert panel.cancel_button.isEnabled()
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    gate.set()
    qtbot.waitUntil(lambda: not panel.busy, timeout=15000)
    assert panel.model.rowCount() == 0 and "library search cancelled" in panel.result_label.text()
    assert gate_timed_out and not any(gate_timed_out)  # the UI thread never waited for the slow library
    assert not panel.cancel_button.isEnabled()


def test_structure_fields_complete_the_last_acronym(qtbot, panel):
    completer = panel.contrast_completer
    assert isinstance(completer, StructureListCompleter)
    qtbot.keyClicks(panel.contrast_edit, "CP, Isoc")
    assert completer.completionPrefix() == "Isoc"
    assert completer.currentCompletion() == "Isocortex"
    completer.insert("Isocortex")
    assert panel.contrast_edit.text() == "CP, Isocortex"
    panel.target_edit.clear()
    qtbot.keyClicks(panel.target_edit, "ac")
    assert completer is not panel.target_completer
    assert panel.target_completer.currentCompletion().lower().startswith("ac")
    panel.target_completer.insert("ACB")
    assert panel.target_edit.text() == "ACB"


# ---------------------------------------------------------------------------- export


def test_export_writes_the_cli_columns(qtbot, make_panel, allen_env, allen_client, tmp_path):
    allen_env.search_ids = [PDYN, NRP1]
    panel = make_panel(client=allen_client)
    differential(qtbot, panel, remote=True)
    out = tmp_path / "cp.csv"
    assert panel.export_csv(out) == 14
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == DIFF_COLUMNS
    first = hits(panel)[0]
    assert rows[1][:5] == ["1", str(first.experiment_id), first.symbol, first.plane, repr(first.fold_change)]
    assert [r[-1] for r in rows[1:]] == ["local"] * 12 + ["allen"] * 2
    allen_row = rows[13]
    assert allen_row[5] == "" and float(allen_row[9]) > 0  # Allen: sums, no means
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["export"] == "search-differential" and side["target"] == ["CP"] and side["remote"] is True
    assert side["library"]["experiments"] == 12 and side["rows"] == 14
    assert not list(tmp_path.glob(".*.part"))  # written atomically

    panel.set_seed(panel.data.gene_index.by_id(PDYN))
    panel.set_mode("correlation")
    run(qtbot, panel, remote=False)
    panel.export_csv(out)
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == CORR_COLUMNS and rows[1][1] == str(TWICE)
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["seed_experiment_id"] == PDYN and side["domain"] == ["root"]
