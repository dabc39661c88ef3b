"""The library search panel is drawn from the search specs: a spec it has never seen gets its
own radio button, form, table columns and CSV, with no change to the panel (the small library
of tests/library/test_searches.py: two real grids and GENERATED experiments)."""
from __future__ import annotations

from pathlib import Path

import csv
import json

import pytest
from PySide6.QtCore import Qt

from allen_viewer.gui.library_search import LibrarySearchPanel
from allen_viewer.library.search import differential_search
from allen_viewer.library.searches import SPECS
from allen_viewer.library.store import Library
from tests.library import PDYN, atlas_data
from tests.library.test_searches import MeanInSpec, library_root  # noqa: F401

pytestmark = pytest.mark.gui


def test_a_new_spec_is_a_new_form_and_table(qtbot, ontology, gene_index, library_root, tmp_path):  # noqa: F811
    spec = MeanInSpec()
    panel = LibrarySearchPanel(atlas_data(ontology, gene_index, tmp_path / "cache"), library=Library(library_root),
                               specs=(*SPECS, spec))
    qtbot.addWidget(panel)
    panel.set_ontology(ontology)
    panel.show()
    assert list(panel.mode_buttons) == ["differential", "correlation", "mean-in"]
    assert panel.forms.count() == 3 and panel.mode == "differential"
    qtbot.mouseClick(panel.mode_buttons["mean-in"], Qt.MouseButton.LeftButton)
    assert panel.mode == "mean-in" and panel.forms.currentIndex() == 2
    assert panel.region_edit.objectName() == "librarySearchRegion" and panel.region_edit.isVisible()
    assert panel.search() is None and panel.error_label.text() == "Give a region."
    panel.region_completer.insert("CP")
    assert panel.region_edit.text() == "CP"
    panel.top_spin.setValue(3)
    with qtbot.waitSignal(panel.searchFinished, timeout=15000):
        panel.search(remote=False)
    expected = differential_search(Library(library_root), ontology, "CP", "root", top=3)
    assert panel.model.hits() == expected and expected[0].experiment_id == PDYN
    assert panel.model.columns == ("#", "Source", "Gene", "Fold", "Plane", "Id")
    assert panel.proxy.index(0, 3).data() == f"{expected[0].fold_change:.3g}"
    assert panel.result_label.text().startswith("Experiments by CP over the brain: 3 local rows")
    out = tmp_path / "m.csv"
    assert panel.export_csv(out) == 3
    with out.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == spec.csv_columns and rows[1][:2] == ["1", str(PDYN)]
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["export"] == "search-mean-in" and side["region"] == ["CP"] and side["library"]["experiments"] == 5
    # Allen's service has no such search: the panel says so and keeps the local rows
    panel.search(remote=True)
    qtbot.waitUntil(lambda: not panel.busy, timeout=15000)
    assert "Allen's service offers no region search." in panel.remote_label.text()
    assert len(panel.model.hits("local")) == 3
    # the other forms are still there, unchanged
    panel.set_mode("correlation")
    assert panel.seed_edit.isVisible() and not panel.region_edit.isVisible()
