"""LoadedData without Qt: fields, events (identity, not equality), grids, swapping."""
from __future__ import annotations

import gc
import subprocess
import sys
import weakref

import numpy as np
import pytest

from allen_viewer import config
from allen_viewer.expression.grid import load_grid
from allen_viewer.loaded_data import FIELDS, LoadedData

PDYN, NRP1 = 71717084, 74272479


@pytest.fixture(scope="module")
def grids(gene_index):
    res = config.resources_dir() / "grids"
    return {i: load_grid(res / f"{i}.zip", gene_index.by_id(i)) for i in (PDYN, NRP1)}


def test_every_field_starts_empty_and_nothing_is_loaded():
    loaded = LoadedData()
    assert all(getattr(loaded, name) is None for name in FIELDS)
    assert not loaded.atlas_loaded and loaded.grids == {} and loaded.grids_on_show(True) == []
    assert repr(loaded) == "LoadedData(nothing)"


def test_setting_a_field_emits_new_and_old_once_per_object():
    loaded = LoadedData()
    seen = []
    loaded.events.nissl.connect(lambda new, old: seen.append((new, old)))
    first = np.zeros((4, 3, 2), np.uint8)
    loaded.nissl = first
    loaded.nissl = first  # the same object again: no event
    assert len(seen) == 1 and seen[0][0] is first and seen[0][1] is None
    # an equal array that is another object is a new volume: an event, and no element-wise
    # comparison (which would raise "truth value of an array is ambiguous")
    second = first.copy()
    loaded.nissl = second
    assert len(seen) == 2 and seen[1][0] is second and seen[1][1] is first
    loaded.nissl = None
    assert seen[-1] == (None, second)


def test_all_relays_every_field_by_name(gene_index):
    loaded = LoadedData()
    names = []
    loaded.events.all.connect(lambda info: names.append(info.signal.name))
    loaded.index = gene_index
    loaded.outline_mesh = object()
    loaded.index = gene_index
    assert names == ["index", "outline_mesh"]


def test_a_subscriber_to_space_finds_the_ontology_set(ontology, reference_space):
    loaded = LoadedData()
    found = []
    loaded.events.space.connect(lambda space, _old: found.append((space, loaded.ontology, loaded.atlas_loaded)))
    loaded.ontology = ontology  # what the loaders do: ontology first, then the space
    loaded.space = reference_space
    assert found == [(reference_space, ontology, True)]


def test_grids_by_id_and_on_show(grids):
    loaded = LoadedData()
    loaded.grid = grids[PDYN]
    assert loaded.grids == {PDYN: grids[PDYN]}
    loaded.compare_grid = grids[NRP1]
    assert loaded.grids == {PDYN: grids[PDYN], NRP1: grids[NRP1]}
    assert [g.id for g in loaded.grids_on_show(False)] == [PDYN]
    assert [g.id for g in loaded.grids_on_show(True)] == [PDYN, NRP1]


def test_swap_grids_changes_b_then_a(grids):
    loaded = LoadedData()
    loaded.grid, loaded.compare_grid = grids[PDYN], grids[NRP1]
    order = []
    loaded.events.compare_grid.connect(lambda new, old: order.append(("compare_grid", new.id, old.id)))
    loaded.events.grid.connect(lambda new, old: order.append(("grid", new.id, old.id, loaded.compare_grid.id)))
    loaded.swap_grids()
    assert order == [("compare_grid", PDYN, NRP1), ("grid", NRP1, PDYN, PDYN)]
    assert loaded.grid is grids[NRP1] and loaded.compare_grid is grids[PDYN]


def test_a_dropped_holder_keeps_no_subscriber_alive():
    class View:
        def __init__(self):
            self.got = []

        def on_grid(self, new, old):
            self.got.append(new)

    loaded = LoadedData()
    view = View()
    loaded.events.grid.connect(view.on_grid)
    loaded.grid = "a"
    assert view.got == ["a"]
    ref = weakref.ref(view)
    del view  # psygnal holds bound methods weakly: the holder does not keep a view alive
    gc.collect()
    assert ref() is None
    loaded.grid = "b"  # and setting a field later does not fail on the dead subscriber
    assert len(loaded.events.grid) == 0


def test_the_module_imports_no_qt_and_no_vtk():
    code = ("import sys, allen_viewer.loaded_data, allen_viewer.state; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'vtkmodules', 'pyvista')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
