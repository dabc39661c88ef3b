"""Round three in the viewer (issue 18; docs/reliability.md, "Round three: hostile
environment"): the Open-session error banner goes once a later open works, and SIGINT
(Ctrl-C in the terminal) ends an idle window and a ``--screenshot`` run with one line and
exit 130, not a traceback from inside a Qt slot.  Data: the real embedded Pdyn grid."""
from __future__ import annotations

import contextlib
import io
import json
import signal

import pytest

from allen_viewer import cli
from allen_viewer.gui.session_views import open_session_file
from allen_viewer.state import ViewerState
from tests.gui.conftest import no_writes_under_the_real_home, window  # noqa: F401 - tests/gui/conftest.py

pytestmark = [pytest.mark.gui, pytest.mark.window(network="offline", size=(1200, 800), ready="atlas")]


def test_the_session_error_banner_goes_after_a_later_successful_open(qtbot, window, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2", encoding="utf-8")
    assert not open_session_file(window, bad)
    assert window.banner.isVisible() and window.banner.text.startswith("Could not open the session")
    good = tmp_path / "good.json"
    d = ViewerState().to_dict()
    d["experiment"] = {"id": 71717084, "gene": "Pdyn", "plane": "coronal"}
    good.write_text(json.dumps(d), encoding="utf-8")
    assert open_session_file(window, good)
    assert not window.banner.isVisible()


def _main(argv, before_loop) -> tuple[int, str]:
    """``cli.main(argv)`` in this process, ``before_loop()`` queued to run once Qt's loop runs."""
    from PySide6.QtCore import QTimer

    err = io.StringIO()
    QTimer.singleShot(0, before_loop)
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main([str(a) for a in argv])
    return code, err.getvalue()


def test_ctrl_c_during_a_screenshot_run_is_one_line_and_130(qtbot, window, tmp_path):
    shot = tmp_path / "shot.png"
    code, err = _main(["--offline", "--gene", "Pdyn", "--screenshot", shot],
                      lambda: signal.raise_signal(signal.SIGINT))
    assert code == 130, err
    assert err.strip() == "allen-viewer: interrupted", err
    assert list(tmp_path.iterdir()) == []


IDLE_THEN_CTRL_C = """
import os, signal, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from allen_viewer import cli
from allen_viewer.gui.app import ensure_app
from allen_viewer.gui.main_window import MainWindow

app = ensure_app()
poll = QTimer()
poll.setInterval(100)

def when_idle():  # the window shows its gene and is idle: Ctrl-C, as the terminal would send it
    for w in QApplication.topLevelWidgets():
        if isinstance(w, MainWindow) and w.isVisible() and w.grid is not None and not w.is_busy():
            poll.stop()
            os.kill(os.getpid(), signal.SIGINT)

poll.timeout.connect(when_idle)
QTimer.singleShot(0, poll.start)
sys.exit(cli.main(["--offline", "--gene", "Pdyn"]))
"""


def test_ctrl_c_in_the_terminal_of_an_idle_window_closes_it(tmp_path):
    """In a child process: the window's application quits for good, as the real one does."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    settings = tmp_path / "settings.ini"
    env = dict(os.environ, ALLEN_VIEWER_SETTINGS=str(settings), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    r = subprocess.run([sys.executable, "-c", IDLE_THEN_CTRL_C], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 130, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "allen-viewer: interrupted" and "Traceback" not in r.stderr, r.stderr
    assert "71717084" in settings.read_text(encoding="utf-8")  # closed as a window closes: its settings saved
