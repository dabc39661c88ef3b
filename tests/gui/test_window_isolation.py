"""The GUI tests' windows never write to the real home folder: the module-scoped windows of
``tests/gui/conftest.py`` (made before any per-test fixture) keep their cache, settings and
meshes in the test run's temporary folders, Qt's and Mesa's paths included, and the audit
hook of ``tests/conftest.py`` that fails a GUI module writing under the real home does see
such a write."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from allen_viewer import config
from allen_viewer.render.meshes import mesh_cache_dir
from tests import conftest as root_conftest
from tests.conftest import in_real_home, real_home_writes

pytestmark = pytest.mark.gui

NETWORKS = [{"network": "closed"}, {"network": "offline"}, {"network": "fake_server"}]


def _under(path, variable: str) -> bool:
    return Path(path).resolve().is_relative_to(Path(os.environ[variable]).resolve())


def _temporary(path) -> bool:
    """In the run's isolated root or in pytest's temporary folders, never in the real home."""
    import tempfile

    inside = _under(path, "ALLEN_VIEWER_TEST_ROOT") or Path(path).resolve().is_relative_to(
        Path(tempfile.gettempdir()).resolve())
    return inside and not in_real_home(path)  # the rule for a home inside the temporary folder: tests/conftest.py


def test_the_guard_sees_a_write_under_the_real_home_and_nothing_else():
    real_home = Path(os.environ["ALLEN_VIEWER_TEST_REAL_HOME"])
    before = len(real_home_writes())
    probe = str(real_home / ".allen_viewer_isolation_probe")
    # audit events as open()/os.replace() would raise them; nothing is written
    sys.audit("open", probe, "r", os.O_RDONLY)
    sys.audit("open", str(Path(os.environ["ALLEN_VIEWER_TEST_ROOT"]) / "x"), "w", os.O_WRONLY)
    assert real_home_writes()[before:] == []
    try:
        sys.audit("open", probe, "w", os.O_WRONLY | os.O_CREAT)
        sys.audit("open", probe, None, os.O_RDWR)
        sys.audit("os.rename", str(Path(os.environ["ALLEN_VIEWER_TEST_ROOT"]) / "x"), probe, None, None)
        seen = real_home_writes()[before:]
        assert [event for event, _ in seen] == ["open", "open", "os.rename"]
        assert all(path == os.path.abspath(probe) for _, path in seen)
    finally:
        del root_conftest._REAL_HOME_WRITES[before:]  # the probe was never written


@pytest.mark.parametrize("window", NETWORKS, indirect=True, ids=[n["network"] for n in NETWORKS])
def test_module_windows_keep_cache_settings_and_meshes_out_of_the_real_home(window, qtbot):
    from PySide6.QtCore import QStandardPaths

    from allen_viewer.gui.settings import ViewerSettings

    before = len(real_home_writes())
    assert _temporary(window.data.cache.root)
    assert _temporary(window.settings.path)
    # the window was made before this test's own isolated cache: its outline mesh went to the
    # run's isolated cache (or came from there), never to the real one
    assert window.outline_mesh is not None
    assert list((Path(os.environ["ALLEN_VIEWER_TEST_ROOT"]) / "allen_viewer_cache" / "meshes").glob("*.vtp"))
    assert _temporary(config.cache_dir()) and _temporary(mesh_cache_dir())
    assert _temporary(ViewerSettings().path)  # the store a window without a settings file would use
    for location in (QStandardPaths.StandardLocation.CacheLocation,
                     QStandardPaths.StandardLocation.GenericCacheLocation,
                     QStandardPaths.StandardLocation.AppConfigLocation,
                     QStandardPaths.StandardLocation.GenericConfigLocation,
                     QStandardPaths.StandardLocation.AppDataLocation):
        assert _temporary(QStandardPaths.writableLocation(location)), location
    assert _temporary(os.environ["MESA_SHADER_CACHE_DIR"]) and _temporary(Path.home())
    # what the window writes lands where it should
    window.request_gene("Pdyn")
    qtbot.waitUntil(lambda: window.grid is not None and not window.is_busy(), timeout=60_000)
    window.save_settings()
    assert Path(window.settings.path).is_file() and _temporary(window.settings.path)
    assert real_home_writes()[before:] == []
