"""The test run never writes to the real home folder: every place the app, Qt or Mesa would
write to is redirected, before any fixture runs (tests/conftest.py's ``pytest_configure``), into
one temporary folder."""
from __future__ import annotations

import os
from pathlib import Path

from allen_viewer import config


def _inside(path: Path | str, root_variable: str) -> bool:
    return Path(path).resolve().is_relative_to(Path(os.environ[root_variable]).resolve())


def _isolated(path: Path | str) -> bool:
    return _inside(path, "ALLEN_VIEWER_TEST_ROOT")


def _in_real_home(path: Path | str) -> bool:
    from tests.conftest import in_real_home

    return in_real_home(path)  # also when HOME is the temporary folder (tests/conftest.py's rule)


def test_home_and_user_folders_are_redirected():
    assert _isolated(Path.home())
    for name in ("XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "MESA_SHADER_CACHE_DIR", "MPLCONFIGDIR"):
        assert _isolated(os.environ[name]), name


def test_app_cache_and_settings_stay_out_of_the_real_home():
    assert not _in_real_home(config.cache_dir())
    assert _isolated(os.environ["ALLEN_VIEWER_SETTINGS"])


def test_qt_standard_paths_are_redirected(qapp):
    from PySide6.QtCore import QStandardPaths

    for location in (QStandardPaths.StandardLocation.CacheLocation,
                     QStandardPaths.StandardLocation.GenericCacheLocation,
                     QStandardPaths.StandardLocation.AppConfigLocation,
                     QStandardPaths.StandardLocation.AppDataLocation):
        assert _isolated(QStandardPaths.writableLocation(location)), location
