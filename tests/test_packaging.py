"""Packaging: the wheel carries the embedded data and every module; the desktop files are sound.

Fast checks only: the PyInstaller build itself is exercised by ``.ci/package.sh``
(packaging/build.sh + packaging/smoke_test.sh), not here.
"""
from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
RESOURCES = REPO / "resources"
SCRIPTS = ("build.sh", "smoke_test.sh", "install-desktop-entry.sh")


def _source_files(root: Path) -> set[str]:
    """Files under ``root`` (posix paths relative to it), without Python caches."""
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in {".pyc", ".pyo"}
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """A wheel built with ``pip wheel --no-deps`` from a copy of the sources (the checkout is not touched)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for name in ("allen_viewer", "resources", "docs"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    out = tmp / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q",
         "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"pip wheel failed:\n{proc.stdout}\n{proc.stderr}"
    wheels = list(out.glob("allen_viewer-*.whl"))
    assert len(wheels) == 1, wheels
    with zipfile.ZipFile(wheels[0]) as zf:
        yield zf


def test_wheel_carries_every_resource_file(wheel):
    prefix = "allen_viewer/resources/"
    in_wheel = {n[len(prefix):] for n in wheel.namelist() if n.startswith(prefix) and not n.endswith("/")}
    expected = _source_files(RESOURCES)
    assert expected - in_wheel == set(), "resources/ files missing from the wheel (pyproject package-data?)"
    assert "NOTICE" in in_wheel
    assert "structure_graph_1.json" in in_wheel
    assert any(n.startswith("grids/") for n in in_wheel)
    for rel in ("NOTICE", "structure_graph_1.json"):
        assert wheel.getinfo(prefix + rel).file_size == (RESOURCES / rel).stat().st_size


def test_wheel_carries_every_module(wheel):
    """Each allen_viewer/**/*.py is in the wheel: pyproject lists the packages by hand."""
    names = set(wheel.namelist())
    expected = {f"allen_viewer/{rel}" for rel in _source_files(REPO / "allen_viewer") if rel.endswith(".py")}
    missing = sorted(expected - names)
    assert not missing, f"modules missing from the wheel (add their package to pyproject.toml): {missing}"


def test_wheel_carries_the_user_guide_and_its_pictures(wheel):
    """``allen-viewer guide`` finds the guide in an installed wheel: allen_viewer/docs/."""
    import re

    names = set(wheel.namelist())
    guide = (REPO / "docs" / "user-guide.md").read_text(encoding="utf-8")
    pictures = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", guide)
    assert len(pictures) >= 6
    for rel in ["user-guide.md", "library.md", *pictures]:
        assert f"allen_viewer/docs/{rel}" in names, f"{rel} is not in the wheel (pyproject package-data)"
        assert wheel.getinfo(f"allen_viewer/docs/{rel}").file_size == (REPO / "docs" / rel).stat().st_size
    assert "allen_viewer/docs/design.md" not in names  # the developers' notes stay out


def test_wheel_declares_the_command(wheel):
    entry_points = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points).decode())
    assert parser["console_scripts"]["allen-viewer"].strip() == "allen_viewer.cli:main"


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(PACKAGING / "allen-viewer.desktop", encoding="utf-8")
    assert parser.sections() == ["Desktop Entry"]
    return parser["Desktop Entry"]


def test_desktop_file_has_the_required_keys():
    entry = _desktop_entry()
    for key in ("Type", "Name", "Comment", "Exec", "Icon", "Terminal", "Categories", "Keywords"):
        assert entry.get(key, "").strip(), f"{key}= is missing or empty"
    assert entry["Type"] == "Application"
    assert entry["Terminal"] == "false"
    assert entry["Exec"].split()[0] == "allen-viewer"
    assert entry["Exec"].split()[1:] in ([], ["%F"], ["%f"])
    categories = entry["Categories"]
    assert categories.endswith(";")
    assert {"Science", "Biology", "Education"} <= set(categories.split(";"))
    assert entry["Keywords"].endswith(";")


def test_desktop_icon_exists():
    icon = _desktop_entry()["Icon"]
    assert "/" not in icon and not icon.endswith((".png", ".svg")), "Icon= is a theme name, not a path"
    svg = PACKAGING / "icons" / f"{icon}.svg"
    png = PACKAGING / "icons" / f"{icon}.png"
    assert svg.is_file() and b"<svg" in svg.read_bytes()
    head = png.read_bytes()[:33]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    assert (width, height) == (256, 256)


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_file_validates():
    proc = subprocess.run(["desktop-file-validate", "--no-hints", str(PACKAGING / "allen-viewer.desktop")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", SCRIPTS)
def test_packaging_scripts_are_executable(name):
    path = PACKAGING / name
    assert path.is_file()
    assert os.access(path, os.X_OK), f"chmod +x packaging/{name}"
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    # a fresh clone gets the mode git recorded
    if shutil.which("git"):
        proc = subprocess.run(["git", "ls-files", "-s", f"packaging/{name}"], cwd=REPO,
                              capture_output=True, text=True)
        if proc.returncode == 0 and proc.stdout.strip():
            assert proc.stdout.split()[0] == "100755", f"git update-index --chmod=+x packaging/{name}"


def test_spec_bundles_resources_where_config_finds_them(tmp_path):
    """The frozen app keeps allen_viewer/resources next to the allen_viewer package, as the wheel does.

    PyInstaller sets a frozen module's ``__file__`` to ``_internal/allen_viewer/config.pyc``; the
    spec puts the data in ``_internal/allen_viewer/resources``; config.resources_dir() must find it.
    """
    spec = (PACKAGING / "allen_viewer.spec").read_text()
    assert 'Path("allen_viewer/resources")' in spec
    package = tmp_path / "_internal" / "allen_viewer"
    (package / "resources").mkdir(parents=True)
    (package / "resources" / "structure_graph_1.json").write_text("{}")
    shutil.copy2(REPO / "allen_viewer" / "config.py", package / "config.py")
    module_spec = importlib.util.spec_from_file_location("frozen_layout_config", package / "config.py")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    assert module.resources_dir() == (package / "resources").resolve()
