"""``allen-viewer --help`` and argument errors import no heavy module.

The rule (docs/design.md, "Start-up cost"): the cli/ package and the modules it imports at the
top (errors, config, io.guard, library.defaults) use the standard library only;
numpy, requests, SimpleITK, Qt, VTK and pyvista are imported inside the command functions.
Each case runs in a fresh interpreter and reads ``-X importtime``'s list of every module
imported, so an import added anywhere on the way fails here.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = {"numpy", "requests", "SimpleITK", "PySide6", "shiboken6", "vtkmodules", "vtk", "pyvista", "pyvistaqt",
         "superqt", "PIL", "tqdm", "defusedxml"}


def _imported(args: list[str]) -> tuple[subprocess.CompletedProcess, set[str]]:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "allen_viewer", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    assert "allen_viewer.cli" in modules  # -X importtime did report
    return proc, modules


def _heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_help_imports_no_heavy_module():
    proc, modules = _imported(["--help"])
    assert proc.returncode == 0
    assert "usage: allen-viewer" in proc.stdout
    assert _heavy(modules) == set()
    assert {f"allen_viewer.cli.{group}" for group in ("experiments", "export", "library", "tissue", "gene_sets",
                                                       "viewing")} <= modules  # every group registered, cheaply


@pytest.mark.parametrize("args", [
    ["export", "image", "--help"],
    ["library", "sync", "--help"],
    ["matrix", "--help"],
    ["export", "image", "Pdyn"],                       # --out missing
    ["search"],                                        # TEXT missing
    ["--screenshot", "x.png"],                         # --screenshot without --gene
    ["export", "volume", "1", "--out", "v.nrrd", "--volume", "nope"],  # a bad choice
], ids=lambda a: " ".join(a))
def test_sub_help_and_argument_errors_import_no_heavy_module(args):
    proc, modules = _imported(args)
    assert proc.returncode in (0, 2), proc.stderr[-2000:]
    if proc.returncode == 2:
        assert "allen-viewer" in proc.stderr and "error:" in proc.stderr
    assert _heavy(modules) == set()


def test_a_command_still_imports_what_it_needs():
    """The check above can fail: a real command does import numpy (through the core)."""
    proc, modules = _imported(["--offline", "info", "Pdyn"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "numpy" in modules
