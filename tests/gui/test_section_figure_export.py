"""The window's vector figures: a slice pane's context menu *Export slice (SVG/PDF/PNG)…* and
File > Export > Region map…, through the same core functions as the CLI.  The dialogs are
replaced by the test's answers (``ask_*`` are the only places the user is asked)."""
from __future__ import annotations

import json

import pytest
from defusedxml import ElementTree

from allen_viewer.io.sidecars import sidecar_path

pytestmark = [pytest.mark.gui, pytest.mark.window(network="closed", size=(1400, 900), gene="Pdyn")]

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def answers(window):
    exports = window.exports
    window.banner.hide()
    given = {"path": None}
    exports.ask_save_path = lambda caption, suggested, file_filter: given["path"]
    exports.confirm_overwrite = lambda existing: True
    exports.figures.ask_slice_options = lambda labels, background, nissl: {"labels": True, "background": "none"}
    exports.figures.ask_region_options = lambda available: {"plane": "coronal", "depth": 5, "structures": None,
                                                            "value": "energy"}
    return given


def test_pane_context_menu_exports_the_slice_through_the_cursor(qtbot, window, answers, tmp_path):
    answers["path"] = tmp_path / "slice"  # no suffix: .svg is added
    menu = window.slices.context_menu("coronal")
    action = next(a for a in menu.actions() if a.objectName() == "exportSliceFigure_coronal")
    assert action.text() == "Export slice (SVG/PDF/PNG)…"
    with qtbot.waitSignal(window.exports.exportFinished, timeout=120_000) as blocker:
        action.trigger()
    out = tmp_path / "slice.svg"
    assert blocker.args[0] == [out, sidecar_path(out)]
    side = json.loads(sidecar_path(out).read_text())
    cursor = [float(v) for v in window.slices.cursor_um()]
    assert side["figure"]["plane"] == "coronal" and side["figure"]["at_um"] == pytest.approx(cursor)
    assert side["figure"]["background"] == "none" and side["display"]["cmap"] == window.state.display.cmap
    root = ElementTree.parse(out).getroot()
    assert any(g.get("id", "").startswith("label_") for g in root.iter(f"{SVG}g"))


def test_file_export_region_map(qtbot, window, answers, tmp_path):
    window.exports.update_enabled()
    assert window.exports.actions["region_map"].isEnabled()
    answers["path"] = tmp_path / "regions.pdf"
    with qtbot.waitSignal(window.exports.exportFinished, timeout=120_000):
        window.exports.actions["region_map"].trigger()
    out = tmp_path / "regions.pdf"
    assert out.read_bytes().startswith(b"%PDF")
    side = json.loads(sidecar_path(out).read_text())
    assert side["export"] == "region map" and side["figure"]["depth"] == 5 and side["painted"]
