"""Help > User guide (F1) opens the guide installed with the package in the web browser."""
from __future__ import annotations

import pytest
import pyvista as pv
from PySide6.QtGui import QDesktopServices, QKeySequence

from allen_viewer.data import AtlasData
from allen_viewer.gui.main_window import MainWindow
from allen_viewer.gui.settings import ViewerSettings
from allen_viewer.store.cache import Cache

pytestmark = pytest.mark.gui


def test_help_user_guide_opens_the_rendered_guide(qapp, qtbot, tmp_path, monkeypatch, ontology, reference_space,
                                                  gene_index):
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    pv.global_theme.anti_aliasing = None
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    data = AtlasData(cache=Cache(tmp_path / "cache"))
    data.__dict__.update(ontology=ontology, reference_space=reference_space, gene_index=gene_index)
    w = MainWindow(data, ViewerSettings(tmp_path / "settings.ini"), restore_layout=False, notices=False)
    try:
        action = w.guide_action
        help_menu = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Help")
        assert action in help_menu.actions()
        assert action.shortcut() == QKeySequence(QKeySequence.StandardKey.HelpContents)
        action.trigger()
        assert len(opened) == 1 and opened[0].endswith("guide/user-guide.html")
        with open(opened[0], encoding="utf-8") as fh:
            assert "allen_viewer user guide" in fh.read()
        assert "user guide" in w.status_text
        monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
        assert w.open_user_guide() is False
        assert w.banner.kind == "error" and "Could not start a web browser" in w.banner.text
    finally:
        w.close()
        w.deleteLater()
