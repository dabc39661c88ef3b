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
from allen_viewer.gui.state_binding import open_session_file
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


def test_ctrl_c_in_the_terminal_of_an_idle_window_closes_it(qtbot, window, tmp_path):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from allen_viewer.gui.main_window import MainWindow

    poll = QTimer()
    poll.setInterval(100)

    def when_idle() -> None:  # the new window has its gene and is idle: press Ctrl-C
        for w in QApplication.topLevelWidgets():
            if isinstance(w, MainWindow) and w is not window and w.isVisible() and w.grid is not None \
                    and not w.is_busy():
                poll.stop()
                signal.raise_signal(signal.SIGINT)

    poll.timeout.connect(when_idle)
    code, err = _main(["--offline", "--gene", "Pdyn"], poll.start)
    poll.stop()
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "allen-viewer: interrupted" and "Traceback" not in err, err
    assert not [w for w in QApplication.topLevelWidgets()
                if isinstance(w, MainWindow) and w is not window and w.isVisible()]
