"""The gene search panel: type-ahead, sources, activation by keyboard and mouse, recent list."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from allen_viewer.gui.gene_search import ExperimentTableModel, GeneSearchPanel

pytestmark = pytest.mark.gui

PDYN_CORONAL = 71717084
PDYN_SAGITTAL = 69782969
NRP1 = 74272479


@pytest.fixture
def panel(qtbot, gene_index):
    located = []

    def locator(experiment_id):
        located.append(experiment_id)
        return {PDYN_CORONAL: "embedded", NRP1: "embedded", PDYN_SAGITTAL: "cached"}.get(experiment_id, "remote")

    w = GeneSearchPanel()
    qtbot.addWidget(w)
    w.set_locator(locator)
    w.set_index(gene_index)
    w.located = located
    w.show()
    return w


def _column(panel, col):
    m = panel.model
    return [m.data(m.index(r, col)) for r in range(m.rowCount())]


def test_disabled_until_the_index_is_there(qtbot):
    w = GeneSearchPanel()
    qtbot.addWidget(w)
    assert not w.search_box.isEnabled()
    assert "Loading" in w.search_box.placeholderText()


def test_typing_a_prefix_lists_experiments_with_plane_id_and_source(qtbot, panel):
    qtbot.keyClicks(panel.search_box, "Pdy")
    genes = _column(panel, 0)
    assert genes[:2] == ["Pdyn", "Pdyn"]
    assert _column(panel, 1)[:2] == ["coronal", "sagittal"]
    assert _column(panel, 2)[:2] == [str(PDYN_CORONAL), str(PDYN_SAGITTAL)]
    assert _column(panel, 3)[:2] == ["embedded", "cached"]
    assert all(g.lower().startswith("pdy") for g in genes)
    assert panel.count_label.text().endswith("experiments")
    # the first row is selected, so Enter opens it
    assert panel.current_experiment().id == PDYN_CORONAL


def test_enter_in_the_search_box_activates_the_selected_row(qtbot, panel):
    qtbot.keyClicks(panel.search_box, "Pdy")
    with qtbot.waitSignal(panel.experimentActivated, timeout=1000) as blocker:
        qtbot.keyClick(panel.search_box, Qt.Key.Key_Return)
    assert blocker.args[0].id == PDYN_CORONAL


def test_down_arrow_then_enter_picks_the_next_row(qtbot, panel):
    qtbot.keyClicks(panel.search_box, "Pdyn")
    qtbot.keyClick(panel.search_box, Qt.Key.Key_Down)
    with qtbot.waitSignal(panel.experimentActivated, timeout=1000) as blocker:
        qtbot.keyClick(panel.search_box, Qt.Key.Key_Return)
    assert blocker.args[0].id == PDYN_SAGITTAL and blocker.args[0].plane == "sagittal"


def test_double_click_loads_a_row(qtbot, panel):
    qtbot.keyClicks(panel.search_box, "Pdyn")
    view = panel.results
    rect = view.visualRect(panel.model.index(1, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # Qt 6 QTest needs it
    got = []
    panel.experimentActivated.connect(got.append)
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: len(got) > 0, timeout=5000)
    assert [e.id for e in got] == [PDYN_SAGITTAL]


@pytest.mark.parametrize("query, expected", [
    ("18610", PDYN_CORONAL),  # Entrez id of Pdyn
    (str(NRP1), NRP1),  # experiment id
    ("prodynorph", PDYN_CORONAL),  # a gene-name word, typed halfway
    ("nrp1", NRP1),  # case-insensitive symbol
])
def test_search_by_entrez_id_experiment_id_and_name(qtbot, panel, query, expected):
    qtbot.keyClicks(panel.search_box, query)
    ids = [int(x) for x in _column(panel, 2)]
    assert expected in ids[:3]


def test_no_match_says_so(qtbot, panel):
    qtbot.keyClicks(panel.search_box, "zzzqqq")
    assert panel.model.rowCount() == 0
    assert panel.count_label.text() == "No experiment matches."
    with qtbot.assertNotEmitted(panel.experimentActivated):
        qtbot.keyClick(panel.search_box, Qt.Key.Key_Return)


def test_sources_are_asked_lazily_and_refreshed(qtbot, panel):
    qtbot.keyClicks(panel.search_box, "Pdyn")
    first = list(panel.located)
    assert set(first) >= {PDYN_CORONAL, PDYN_SAGITTAL}
    panel.model.data(panel.model.index(0, 3))
    assert panel.located == first  # remembered, not asked again
    panel.refresh_sources()
    panel.model.data(panel.model.index(0, 3))
    assert len(panel.located) > len(first)


def test_remote_experiments_say_remote(qtbot, panel):
    qtbot.keyClicks(panel.search_box, "Gad1")
    sources = _column(panel, 3)
    assert sources and set(sources) == {"remote"}  # the CLI's word (`search`), one vocabulary


def test_recent_genes_are_one_click_away(qtbot, panel, gene_index):
    recent = [gene_index.by_id(NRP1), gene_index.by_id(PDYN_CORONAL)]
    panel.set_recent(recent)
    assert panel.recent.count() == 2
    assert panel.recent.item(0).text().startswith("Nrp1")
    assert "embedded" in panel.recent.item(0).text()
    rect = panel.recent.visualItemRect(panel.recent.item(1))
    got = []
    panel.experimentActivated.connect(got.append)
    qtbot.mouseClick(panel.recent.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: len(got) > 0, timeout=5000)
    assert [e.id for e in got] == [PDYN_CORONAL]
    assert panel.recent_experiments() == recent


def test_model_without_locator_reports_unknown(gene_index):
    m = ExperimentTableModel()
    m.set_experiments(gene_index.search("Pdyn"))
    assert m.data(m.index(0, 3)) == "unknown"
    assert m.rowCount() == 2 and m.columnCount() == 4
    assert m.headerData(0, Qt.Orientation.Horizontal) == "Gene"


def test_empty_box_lists_the_experiments_of_the_gene_on_show(qtbot, panel, gene_index):
    panel.set_shown(gene_index.by_id(PDYN_CORONAL))
    assert [int(x) for x in _column(panel, 2)] == [PDYN_CORONAL, PDYN_SAGITTAL]
    assert "Pdyn" in panel.count_label.text()
    bold = [panel.model.data(panel.model.index(r, 0), Qt.ItemDataRole.FontRole) for r in range(2)]
    assert bold[0] is not None and bold[0].bold() and bold[1] is None
    qtbot.keyClicks(panel.search_box, "Nrp")
    assert _column(panel, 0)[0] == "Nrp1"
    panel.search_box.clear()
    assert [int(x) for x in _column(panel, 2)] == [PDYN_CORONAL, PDYN_SAGITTAL]
