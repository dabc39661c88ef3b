"""The window's side of "one sidecar per output, nothing replaced unasked" (issue 18 items 1-2):
File > Export asks before replacing any of the export's files, naming them, and never
replaces a file at the sidecar's name that allen_viewer did not write; File > Save session
asks about the final name (``.json`` added before the question, not after it);
``--screenshot`` replaces its own sidecar only with ``--force`` and leaves the old
``STEM.json`` alone; two screenshots of one stem keep one sidecar each.

The dialogs are replaced by the test's answers (``ask_save_path``/``confirm_overwrite`` of
``window.exports``; ``QFileDialog.getSaveFileName``/``QMessageBox.question`` for the session).
"""
from __future__ import annotations

import json
import os

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from tests.faults.hostile import snapshot
from tests.gui import run_viewer

pytestmark = [pytest.mark.gui, pytest.mark.window(network="closed", size=(1400, 900), gene="Pdyn")]

FOREIGN = b'{"my": "notes"}\n'


class Answers:
    def __init__(self, exports):
        self.path = None
        self.replace = True
        self.asked: list[list] = []
        exports.ask_save_path = lambda caption, suggested, file_filter: self.path
        exports.confirm_overwrite = self._confirm
        exports.ask_volume = lambda available: "energy"

    def _confirm(self, existing):
        self.asked.append(list(existing))
        return self.replace


@pytest.fixture
def answers(window):
    window.banner.hide()
    return Answers(window.exports)


def test_export_never_replaces_a_foreign_json_at_the_sidecar_name(qtbot, window, answers, tmp_path):
    out = tmp_path / "v.csv"
    (tmp_path / "v.csv.json").write_bytes(FOREIGN)
    (tmp_path / "v.json").write_bytes(FOREIGN)  # the old sidecar name: not ours to touch either
    before = snapshot(tmp_path)
    answers.path = out
    with qtbot.waitSignal(window.exports.exportFailed, timeout=10_000) as blocker:
        window.exports.actions["voxels"].trigger()
    assert "v.csv.json" in blocker.args[0] and "not a sidecar written by allen_viewer" in blocker.args[0]
    assert answers.asked == []  # refused before any question: no answer could replace it
    assert snapshot(tmp_path) == before


def test_export_names_every_existing_file_before_replacing(qtbot, window, answers, tmp_path):
    out = tmp_path / "vol.mhd"
    answers.path = out
    (tmp_path / "vol.raw").write_bytes(b"a raw file of before")
    (tmp_path / "vol.json").write_bytes(FOREIGN)
    answers.replace = False
    with qtbot.assertNotEmitted(window.exports.exportFinished, wait=300):
        window.exports.actions["volume"].trigger()
    assert answers.asked == [[tmp_path / "vol.raw"]]
    assert (tmp_path / "vol.raw").read_bytes() == b"a raw file of before" and not out.exists()
    answers.replace = True
    with qtbot.waitSignal(window.exports.exportFinished, timeout=60_000) as blocker:
        window.exports.actions["volume"].trigger()
    assert blocker.args[0] == [out, tmp_path / "vol.mhd.json"]
    assert (tmp_path / "vol.raw").stat().st_size == 67 * 41 * 58 * 4  # replaced, as agreed
    answers.replace = False
    with qtbot.assertNotEmitted(window.exports.exportFinished, wait=300):
        window.exports.actions["volume"].trigger()
    assert answers.asked[-1] == [out, tmp_path / "vol.raw", tmp_path / "vol.mhd.json"]
    assert (tmp_path / "vol.json").read_bytes() == FOREIGN


def test_save_session_asks_about_the_final_name(qtbot, window, tmp_path, monkeypatch):
    target = tmp_path / "mine.json"
    target.write_text('{"the user": "own file"}')
    (tmp_path / "mine.json.json").write_bytes(FOREIGN)
    asked: list[str] = []
    answer = {"value": QMessageBox.StandardButton.No}
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(tmp_path / "mine"), "")))

    def question(parent, title, text, *args, **kwargs):
        asked.append(text)
        return answer["value"]

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    window.dialogs.save_session_dialog()  # typed "mine": the question is about mine.json
    assert len(asked) == 1 and str(target) in asked[0]
    assert target.read_text() == '{"the user": "own file"}'
    answer["value"] = QMessageBox.StandardButton.Yes
    window.dialogs.save_session_dialog()
    assert json.loads(target.read_text())["format"] == "allen_viewer.session"
    assert (tmp_path / "mine.json.json").read_bytes() == FOREIGN  # a session has no sidecar
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(tmp_path / "new"), "")))
    window.dialogs.save_session_dialog()  # nothing there: no question
    assert len(asked) == 2 and (tmp_path / "new.json").is_file()


def _run(args, tmp_path, cache):
    return run_viewer(["--offline", *args], tmp_path / "settings.ini", cache)


def test_screenshot_sidecars_are_its_own_and_replaced_only_with_force(tmp_path, qapp, tmp_path_factory):
    cache = tmp_path_factory.mktemp("shot_cache")
    shot, side, old = tmp_path / "s.png", tmp_path / "s.png.json", tmp_path / "s.json"
    old.write_bytes(FOREIGN)
    side.write_text(json.dumps({"export": "image", "software": "allen_viewer 0.2.0", "note": "before the format key"}))
    shot.write_bytes(b"an old screenshot")
    before = snapshot(tmp_path)
    r = _run(["--gene", "Pdyn", "--screenshot", str(shot)], tmp_path, cache)
    assert r.returncode == 1 and "--force" in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert snapshot(tmp_path) == before
    r = _run(["--gene", "Pdyn", "--screenshot", str(shot), "--force"], tmp_path, cache)
    assert r.returncode == 0, r.stderr
    assert "s.png.json" in r.stdout
    record = json.loads(side.read_text())
    assert record["format"] == "allen_viewer.sidecar" and "note" not in record and record["session"]
    assert shot.read_bytes().startswith(b"\x89PNG") and old.read_bytes() == FOREIGN
    # a second screenshot of the same stem, as JPEG: its own sidecar
    r = _run(["--session", str(shot), "--screenshot", str(tmp_path / "s.jpg")], tmp_path, cache)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "s.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert json.loads((tmp_path / "s.jpg.json").read_text())["session"]["experiment"]["id"] == 71717084
    assert json.loads(side.read_text()) == record and old.read_bytes() == FOREIGN
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_the_search_panels_csv_export_asks_about_both_files_and_keeps_foreign_ones(qapp, tmp_path, monkeypatch):
    from allen_viewer.errors import AllenViewerError
    from allen_viewer.gui.save_paths import ask_table_path

    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(tmp_path / "hits"), "")))
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda parent, title, text, *a, **k: asked.append(text) or
                                     QMessageBox.StandardButton.No))
    assert ask_table_path(None, "Export", "hits.csv") == tmp_path / "hits.csv" and asked == []  # nothing there
    (tmp_path / "hits.csv.json").write_bytes(FOREIGN)
    with pytest.raises(AllenViewerError, match="not a sidecar written by allen_viewer"):
        ask_table_path(None, "Export", "hits.csv")
    assert asked == [] and (tmp_path / "hits.csv.json").read_bytes() == FOREIGN
    (tmp_path / "hits.csv.json").write_text(json.dumps({"export": "search-correlated",
                                                        "software": "allen_viewer 0.2.0"}))
    (tmp_path / "hits.csv").write_text("rank\n")
    assert ask_table_path(None, "Export", "hits.csv") is None  # the answer was No
    assert len(asked) == 1 and str(tmp_path / "hits.csv") in asked[0] and str(tmp_path / "hits.csv.json") in asked[0]


def test_a_screenshot_keeps_the_session_file_at_its_old_sidecar_name(tmp_path, qapp, tmp_path_factory):
    """``--session fig.json --screenshot fig.png`` (issue 18: it replaced the session it opened):
    fig.json is read, never written; the picture's sidecar is fig.png.json."""
    from allen_viewer.state import ExperimentRef, ViewerState

    state = ViewerState()
    state.experiment = ExperimentRef(id=71717084, gene="Pdyn", plane="coronal")
    session = tmp_path / "fig.json"
    session.write_text(state.to_json())
    before = session.read_bytes()
    r = _run(["--session", str(session), "--screenshot", str(tmp_path / "fig.png")], tmp_path,
             tmp_path_factory.mktemp("fig_cache"))
    assert r.returncode == 0, r.stderr
    assert session.read_bytes() == before
    assert json.loads((tmp_path / "fig.png.json").read_text())["session"]["experiment"]["id"] == 71717084
