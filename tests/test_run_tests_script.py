"""tools/run_tests.sh never prompts for a password: without root and without a password-less
``sudo -n`` it stops at once, naming the Debian packages to install.

Runs the real script with stand-ins for ``id``, ``dpkg-query``, ``sudo`` and ``apt-get`` first
on PATH (each records its call), so nothing is installed and no test suite is started.  With
everything installed, stand-ins for ``nproc``, ``xvfb-run`` and ``python3`` show how pytest is
started (pytest-xdist workers, one module per worker) and what its exit status becomes.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

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


def _run_pytest_stage(tmp_path: Path, pytest_status: int, cpus: int, args=(), env_extra=None):
    """The script with every Debian package installed, pip a no-op and pytest a stand-in that
    records its arguments and exits ``pytest_status``; ``nproc`` says ``cpus``."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_dir.mkdir(parents=True)
    scripts = {
        "id": 'echo 0',                                        # root: nothing to ask
        "dpkg-query": 'echo "install ok installed"',           # everything installed
        "nproc": f'echo {cpus}',
        "xvfb-run": f'echo "xvfb-run $1 $2 $3" >> {log}; shift 3; exec "$@"',  # -a -s "<screen>" command...
        "python3": (f'echo "python3 $*" >> {log}; '
                    f'if [ "$2" = "pytest" ]; then exit {pytest_status}; fi; exit 0'),
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PYTHON="python3")
    env.pop("ALLEN_VIEWER_TEST_WORKERS", None)
    env.update(env_extra or {})
    proc = subprocess.run(["bash", str(REPO / "tools" / "run_tests.sh"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    pytest_calls = [line for line in log.read_text().splitlines() if line.startswith("python3 -m pytest")]
    return proc, pytest_calls


def test_two_workers_one_module_each_and_the_callers_arguments_last(tmp_path):
    proc, calls = _run_pytest_stage(tmp_path, 0, cpus=2, args=("-q", "-x"))
    assert proc.returncode == 0, proc.stderr
    assert calls == ["python3 -m pytest -p no:cacheprovider -n 2 --dist loadfile --no-loadscope-reorder -q -x"]


def test_one_cpu_runs_without_workers_and_the_variable_sets_them(tmp_path):
    proc, calls = _run_pytest_stage(tmp_path / "one", 0, cpus=1)
    assert proc.returncode == 0 and " -n 0 " in calls[0]
    proc, calls = _run_pytest_stage(tmp_path / "var", 0, cpus=16, env_extra={"ALLEN_VIEWER_TEST_WORKERS": "3"})
    assert proc.returncode == 0 and " -n 3 " in calls[0]


@pytest.mark.parametrize("status, expected", [(5, 1), (1, 1), (2, 2)])
def test_no_test_collected_fails_and_other_statuses_pass_through(tmp_path, status, expected):
    proc, calls = _run_pytest_stage(tmp_path, status, cpus=2)
    assert len(calls) == 1
    assert proc.returncode == expected
    assert ("collected no tests; that is a failure" in proc.stderr) is (status == 5)
