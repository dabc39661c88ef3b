"""Each pytest-xdist worker gets a virtual display of its own (tests/conftest.py
``_start_worker_display``), so two workers' windows never share one screen and one pointer."""
from __future__ import annotations

import os
import socket

import pytest

from tests import conftest as root_conftest


def test_a_worker_display_is_a_new_xvfb_with_its_own_number(monkeypatch):
    monkeypatch.setenv("DISPLAY", os.environ.get("DISPLAY") or ":65000")  # a display to replace (restored after)
    monkeypatch.setenv("XAUTHORITY", "/nonexistent/xvfb-run-cookie")
    before = os.environ["DISPLAY"]
    proc = root_conftest._start_worker_display()
    assert proc is not None, "Xvfb did not start (tools/run_tests.sh installs the xvfb package)"
    try:
        number = os.environ["DISPLAY"].lstrip(":")
        assert number.isdigit() and os.environ["DISPLAY"] != before
        assert "XAUTHORITY" not in os.environ
        with socket.socket(socket.AF_UNIX) as s:  # the server listens on its own socket
            s.connect(f"/tmp/.X11-unix/X{number}")
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_no_display_no_worker_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    assert root_conftest._start_worker_display() is None
    assert "DISPLAY" not in os.environ


@pytest.mark.gui
def test_this_process_display_is_the_workers_own_under_xdist(request):
    """Under xdist the worker's DISPLAY is not the one xvfb-run gave the controller."""
    worker = getattr(request.config, "workerinput", None) is not None
    assert (root_conftest._WORKER_DISPLAY is not None) is (worker and root_conftest.shutil.which("Xvfb") is not None)
