"""Normal runs print nothing on stderr: the OpenGL surface format is set once, before any
OpenGL context exists (``allen_viewer.gui.app.ensure_app``), so Qt has no warning to give
when each 3-D view is made.  Compare mode makes four views, and used to print Qt's
"Setting a new default format ..." warning three times.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui


def test_compare_screenshot_prints_nothing_on_stderr(tmp_path):
    shot = tmp_path / "compare.png"
    env = dict(os.environ, ALLEN_VIEWER_SETTINGS=str(tmp_path / "settings.ini"),
               ALLEN_VIEWER_CACHE=str(tmp_path / "cache"), ALLEN_VIEWER_OFFLINE="1")
    result = subprocess.run([sys.executable, "-m", "allen_viewer", "--gene", "Pdyn", "--compare", "Nrp1",
                             "--screenshot", str(shot)], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert result.stderr == ""
    assert "compare mode" in result.stdout


def test_the_default_surface_format_is_the_3d_views_format(qapp):
    """What ensure_app installs is what pyvistaqt asks for (desktop OpenGL 3.2 core)."""
    from PySide6.QtGui import QSurfaceFormat

    from allen_viewer.gui.app import surface_format

    fmt = surface_format()
    assert fmt.version() == (3, 2)
    assert fmt.profile() == QSurfaceFormat.OpenGLContextProfile.CoreProfile
    assert fmt.renderableType() == QSurfaceFormat.RenderableType.OpenGL
