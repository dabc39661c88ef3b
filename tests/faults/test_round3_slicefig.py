"""Fault cases of ``export slice`` and ``export region-map`` (issue 22): outputs that must not
be written, file-system errors while writing, a section outside the brain, and the
no-display rule (no Qt, no pyplot).  Data: the embedded real Pdyn grid 71717084."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.hostile import EMBEDDED, assert_one_line_error, cli_run, no_space_for, snapshot

AT = "5200,4200,3800"
FIGURES = [("export", "slice", EMBEDDED, "--plane", "coronal", "--at", AT, "--labels"),
           ("export", "region-map", EMBEDDED, "--plane", "coronal", "--at", AT, "--depth", "5")]
IDS = ["slice", "region-map"]


@pytest.mark.parametrize("kind", ["fifo", "symlink", "folder"])
@pytest.mark.parametrize("argv", FIGURES, ids=IDS)
def test_special_outputs_are_refused_even_with_force(tmp_path, kind, argv):
    out = tmp_path / "fig.svg"
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "symlink":
        (tmp_path / "target.svg").write_text("precious\n")
        out.symlink_to(tmp_path / "target.svg")
    else:
        out.mkdir()
    before = snapshot(tmp_path)
    r = cli_run("--offline", *argv, "--out", out, "--force")
    assert_one_line_error(r, "not a regular file")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("argv", FIGURES, ids=IDS)
def test_no_space_while_writing_the_figure_is_one_line_and_leaves_nothing(tmp_path, argv):
    with no_space_for(".svg", "allen_viewer.io.atomic.atomic_write"):
        r = cli_run("--offline", *argv, "--out", tmp_path / "fig.svg")
    assert "Nothing was written" in assert_one_line_error(r, "Cannot write", "No space left")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", FIGURES, ids=IDS)
def test_a_sidecar_that_cannot_be_written_takes_the_figure_with_it(tmp_path, argv):
    with no_space_for(".json"):
        r = cli_run("--offline", *argv, "--out", tmp_path / "fig.pdf")
    assert_one_line_error(r, "No space left")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", FIGURES, ids=IDS)
def test_a_section_outside_the_brain_is_one_line(tmp_path, argv):
    argv = tuple("0,4200,3800" if a == AT else a for a in argv)
    r = cli_run("--offline", *argv, "--out", tmp_path / "fig.svg")
    assert_one_line_error(r, "does not cross the brain")
    assert list(tmp_path.iterdir()) == []


def test_figures_need_no_display_no_qt_and_no_pyplot(tmp_path):
    code = ("import sys; from allen_viewer.cli import main\n"
            f"assert main(['--offline', 'export', 'region-map', '{EMBEDDED}', '--plane', 'sagittal', '--at', '{AT}',"
            f" '--out', {str(tmp_path / 'r.pdf')!r}]) == 0\n"
            "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'matplotlib.pyplot', 'pyvistaqt'))))")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"  # no Qt, no pyplot module was imported
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
