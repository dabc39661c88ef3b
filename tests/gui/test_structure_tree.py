"""The structure tree: a correct tree model over the whole ontology, filtering, checkboxes, selection."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QIcon

from allen_viewer.gui.structure_tree import (
    StructureFilterProxy,
    StructureIdRole,
    StructureTreeModel,
    StructureTreePanel,
)

pytestmark = pytest.mark.gui

CP = 672  # Caudoputamen
STR = 477  # Striatum, CP's grandparent
ROOT = 997


@pytest.fixture(autouse=True)
def _app(qapp):
    """Swatches are pixmaps: they need the QApplication even for model-only tests."""
    return qapp


@pytest.fixture
def panel(qtbot, ontology):
    w = StructureTreePanel()
    qtbot.addWidget(w)
    w.set_ontology(ontology)
    w.resize(400, 700)
    w.show()
    return w


def _walk(model, parent=QModelIndex()):
    for row in range(model.rowCount(parent)):
        idx = model.index(row, 0, parent)
        yield idx
        yield from _walk(model, idx)


def test_model_passes_qt_model_tester(qtmodeltester, ontology):
    model = StructureTreeModel(ontology)
    qtmodeltester.check(model, force_py=True)


def test_every_structure_appears_once_in_graph_order(ontology):
    model = StructureTreeModel(ontology)
    ids = [idx.data(StructureIdRole) for idx in _walk(model)]
    assert len(ids) == len(ontology) == len(set(ids))
    assert ids == [s.id for s in ontology]  # depth-first in graph order, as the Allen atlas lists them
    root = model.index(0, 0)
    assert root.data() == "root" and model.index(0, 1).data() == "root"
    assert not model.parent(root).isValid()


def test_index_of_round_trips_through_parent(ontology):
    model = StructureTreeModel(ontology)
    idx = model.index_of(CP)
    assert idx.data() == "CP" and model.index(idx.row(), 1, idx.parent()).data() == "Caudoputamen"
    path = []
    while idx.isValid():
        path.append(idx.data(StructureIdRole))
        idx = model.parent(idx)
    assert path[::-1] == ontology.by_id(CP).path
    assert not model.index_of(123456789).isValid()


def test_colour_swatch_is_the_atlas_colour(ontology):
    model = StructureTreeModel(ontology)
    icon = model.index_of(CP).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon)
    color = icon.pixmap(12, 12).toImage().pixelColor(6, 6)
    assert (color.red(), color.green(), color.blue()) == ontology.by_id(CP).color
    assert model.index_of(CP, 1).data(Qt.ItemDataRole.DecorationRole) is None


def test_checkbox_toggles_visibility(ontology):
    model = StructureTreeModel(ontology)
    changes = []
    model.visibilityChanged.connect(lambda sid, vis: changes.append((sid, vis)))
    idx = model.index_of(CP)
    assert model.flags(idx) & Qt.ItemFlag.ItemIsUserCheckable
    assert not model.flags(model.index_of(CP, 1)) & Qt.ItemFlag.ItemIsUserCheckable
    assert idx.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    assert model.setData(idx, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert idx.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    model.setData(idx, Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)  # no change, no signal
    model.setData(idx, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert changes == [(CP, True), (CP, False)]
    assert model.visible_ids() == set()


def test_filter_keeps_matches_and_their_ancestors(ontology):
    model = StructureTreeModel(ontology)
    proxy = StructureFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("caudopu")
    shown = [idx.data(StructureIdRole) for idx in _walk(proxy)]
    assert CP in shown
    assert set(ontology.by_id(CP).path) <= set(shown)  # ancestors kept so CP stays in place
    matches = [sid for sid in shown if "caudopu" in ontology.by_id(sid).name.lower()]
    assert set(shown) == set(matches) | {a for m in matches for a in ontology.by_id(m).path}
    proxy.set_filter_text("cp")  # acronym, case-insensitive
    assert CP in [idx.data(StructureIdRole) for idx in _walk(proxy)]
    proxy.set_filter_text("")
    assert len(list(_walk(proxy))) == len(ontology)


def test_filter_box_filters_the_view(qtbot, panel):
    qtbot.keyClicks(panel.filter_box, "Caudoputamen")
    idx = panel.proxy.mapFromSource(panel.model.index_of(CP))
    assert idx.isValid()
    assert panel.tree.visualRect(idx).isValid()  # expanded down to it
    assert panel.proxy.mapFromSource(panel.model.index_of(512)).isValid() is False  # Cerebellum hidden


def test_clicking_a_row_selects_the_structure(qtbot, panel):
    qtbot.keyClicks(panel.filter_box, "Caudoputamen")
    idx = panel.proxy.mapFromSource(panel.model.index_of(CP))
    rect = panel.tree.visualRect(idx)
    with qtbot.waitSignal(panel.structureSelected, timeout=1000) as blocker:
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [CP]
    assert panel.selected_id() == CP


def test_clicking_the_checkbox_reports_visibility(qtbot, panel):
    qtbot.keyClicks(panel.filter_box, "Caudoputamen")
    idx = panel.proxy.mapFromSource(panel.model.index_of(CP))
    panel.tree.scrollTo(idx)
    rect = panel.tree.visualRect(idx)
    # the check box sits at the start of the cell, left of the swatch
    pos = rect.topLeft() + type(rect.topLeft())(10, rect.height() // 2)
    with qtbot.waitSignal(panel.visibilityChanged, timeout=1000) as blocker:
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == [CP, True]
    assert panel.visible_ids() == {CP}


def test_select_structure_reveals_it_and_survives_filtering(qtbot, panel):
    got = []
    panel.structureSelected.connect(got.append)
    panel.select_structure(CP)
    assert got == [CP]
    cur = panel.tree.currentIndex()
    assert cur.data(StructureIdRole) == CP
    assert panel.tree.visualRect(cur).isValid()
    qtbot.keyClicks(panel.filter_box, "striatum")  # STR matches, CP does not: selection is kept
    assert got == [CP] and panel.selected_id() == CP
    panel.select_structure(CP)  # hidden by the filter: the filter is dropped to show it
    assert panel.filter_box.text() == ""
    assert panel.tree.currentIndex().data(StructureIdRole) == CP
    panel.select_structure(None)
    assert got == [CP, None] and panel.selected_id() is None


def test_summary_area_shows_html(panel):
    panel.set_summary("<b>CP</b> mean energy 3.2")
    assert "mean energy 3.2" in panel.summary.text()
