"""GUI tests, and the one helper their command-line runs share."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_viewer(args, settings: Path, cache: Path, **env) -> subprocess.CompletedProcess:
    """``python -m allen_viewer ARGS`` in a process of its own, as a user or a script runs it:
    the settings file and cache given, the Allen service addresses closed (nothing may need the
    network), ``env`` on top; text output captured."""
    full_env = dict(os.environ)
    full_env.update({"ALLEN_VIEWER_SETTINGS": str(settings), "ALLEN_VIEWER_CACHE": str(cache),
                     "ALLEN_API_URL": "http://127.0.0.1:9",
                     "ALLEN_DOWNLOAD_URL": "http://127.0.0.1:9/informatics-archive/current-release"})
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "allen_viewer", *args], capture_output=True, text=True,
                          env=full_env, timeout=240)
