"""The store split by job (allen_viewer/library/layout.py, reader.py, writer.py): the layout
names every file the writer makes, a reader needs neither the writer's code nor its lock,
and library/store.py is only their public face.  Packing, reading back and crash safety
are in test_store.py.  Energies are GENERATED columns."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from allen_viewer.library import layout as layout_module
from allen_viewer.library import reader, store, writer
from allen_viewer.library.layout import (
    FORMAT,
    MANIFEST,
    ROW_FILES,
    RUNS_FILE,
    SEGMENTS_FILE,
    VOXELS_FILE,
)
from allen_viewer.library.reader import Library
from allen_viewer.library.writer import pack_rows
from tests.library import build_library, make_layout


@pytest.fixture(scope="module")
def layout(ontology):
    return make_layout(ontology)


def test_the_layout_names_every_file_the_writer_makes_and_their_sizes(tmp_path, layout):
    v = np.arange(layout.n_voxels, dtype=np.float32) % 5
    v[::3] = np.nan  # GENERATED: every third column without data, so each row has mask runs
    lib = build_library(tmp_path / "lib", layout, [(i, f"G{i}", "coronal", v * i) for i in (1, 2, 3)], chunk=2)
    named = {*ROW_FILES, RUNS_FILE, MANIFEST, VOXELS_FILE, SEGMENTS_FILE, ".lock"}
    assert {p.name for p in lib.root.iterdir()} == named
    manifest = json.loads((lib.root / MANIFEST).read_text())
    assert manifest["format"] == FORMAT and manifest["rows"] == 3
    widths = {"V": layout.n_voxels, "S": layout.n_segments, None: 1}
    for name, (dtype, kind) in ROW_FILES.items():
        assert (lib.root / name).stat().st_size == 3 * dtype.itemsize * widths[kind], name
    assert (lib.root / RUNS_FILE).stat().st_size == manifest["runs"] * 8 > 0


def test_a_reader_takes_no_lock_while_a_writer_holds_it(tmp_path, layout):
    v = np.ones(layout.n_voxels, np.float32)
    build_library(tmp_path / "lib", layout, [(1, "A", "coronal", v)])
    with Library(tmp_path / "lib").writer() as w:
        w.append(pack_rows(layout, [2], ["B"], ["sagittal"], (2 * v)[None]))
        during = Library(tmp_path / "lib").refresh()  # opened while the writer is still open
        assert during.ids.tolist() == [1, 2] and during.planes.tolist() == ["coronal", "sagittal"]


def test_reading_loads_no_writer_code():
    code = ("import sys, allen_viewer.library.reader\n"
            "print(sorted(m for m in sys.modules if m.startswith('allen_viewer.library.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "allen_viewer.library.reader" in out and "allen_viewer.library.writer" not in out


def test_the_store_module_is_a_face_over_layout_reader_and_writer():
    homes = (layout_module, reader, writer)
    for name in store.__all__:
        obj = getattr(store, name)
        assert any(getattr(m, name, None) is obj for m in homes), name
    assert store.Library is reader.Library and store.LibraryWriter is writer.LibraryWriter
    assert store.Layout is layout_module.Layout and store.pack_rows is writer.pack_rows
