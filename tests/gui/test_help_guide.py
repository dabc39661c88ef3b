"""Help > User guide (F1) opens the guide installed with the package in the web browser."""
from __future__ import annotations

import pytest
from PySide6.QtGui import QDesktopServices, QKeySequence

pytestmark = pytest.mark.gui


def test_help_user_guide_opens_the_rendered_guide(make_window, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    w = make_window(network="offline", size=None, restore_layout=False, notices=False)
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
    assert w.dialogs.open_user_guide() is False
    assert w.banner.kind == "error" and "Could not start a web browser" in w.banner.text
