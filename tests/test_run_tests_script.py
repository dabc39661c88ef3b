"""tools/run_tests.sh never prompts for a password: without root and without a password-less
``sudo -n`` it stops at once, naming the Debian packages to install.

Runs the real script with stand-ins for ``id``, ``dpkg-query``, ``sudo`` and ``apt-get`` first
on PATH (each records its call), so nothing is installed and no test suite is started.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _shims(tmp_path: Path, sudo_ok: bool) -> tuple[Path, Path]:
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir()
    scripts = {
        "id": 'echo 1000',                                     # not root
        "dpkg-query": 'exit 1',                                # nothing installed
        "sudo": f'echo "sudo $*" >> {log}; ' + ('shift; "$@"' if sudo_ok else 'exit 1'),
        "apt-get": f'echo "apt-get $*" >> {log}; exit 100',    # would install: refuses here
        "python3": f'echo "python3 $*" >> {log}; exit 3',      # pip/pytest must not be reached
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    return bin_dir, log


def _run(tmp_path: Path, sudo_ok: bool):
    bin_dir, log = _shims(tmp_path, sudo_ok)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PYTHON="python3")
    proc = subprocess.run(["bash", str(REPO / "tools" / "run_tests.sh")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return proc, (log.read_text() if log.exists() else "")


def test_without_sudo_it_names_the_packages_and_stops(tmp_path):
    proc, calls = _run(tmp_path, sudo_ok=False)
    assert proc.returncode == 1
    assert "cannot be installed without a password" in proc.stderr
    for package in ("xvfb", "xauth", "libgl1-mesa-dri", "libxcb-cursor0"):
        assert package in proc.stderr
    assert "sudo -n true" in calls  # asked without a prompt
    assert "apt-get" not in calls and "python3" not in calls


def test_a_failing_install_names_the_packages_too(tmp_path):
    proc, calls = _run(tmp_path, sudo_ok=True)
    assert proc.returncode == 1
    assert "sudo -n apt-get update" in calls
    assert "apt-get could not install" in proc.stderr and "xvfb" in proc.stderr
    assert "python3" not in calls
