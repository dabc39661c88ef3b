"""Round two, category 6: a damaged library store (docs/reliability.md).

A small library is built in the test's cache from the two real embedded grids (Pdyn
71717084, Nrp1 74272479) plus GENERATED rows, then damaged on purpose: a manifest that is
valid JSON of the wrong shape, tables overwritten with random bytes, NaN or infinite
values.  ``library status`` must name the damage, searches and ``matrix`` refuse (and
write nothing), ``library sync`` says exactly what to delete.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from allen_viewer.errors import CorruptData
from allen_viewer.library.integrity import full_problems
from allen_viewer.library.store import Library
from allen_viewer.store.cache import Cache
from tests.faults.hostile import assert_one_line_error, cli_run, no_space_for, snapshot
from tests.library import NRP1, PDYN, build_library, make_layout, real_and_generated_rows


@pytest.fixture(scope="module")
def layout(ontology):
    return make_layout(ontology)


@pytest.fixture
def library(layout, gene_index) -> Library:
    root = Cache().root / "library"
    rows = real_and_generated_rows(layout, gene_index, generated=6, seed=11, first_id=900000)
    return build_library(root, layout, rows, chunk=3)


def _scribble(path: Path, seed: int = 5, offset: int = 0, n: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    n = len(data) - offset if n is None else n
    data[offset:offset + n] = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def _set_float(path: Path, dtype: str, value: float, every: int = 101) -> None:
    a = np.fromfile(path, dtype=dtype)
    a[::every] = value
    a.tofile(path)


DAMAGE = {
    "manifest-is-a-list": (lambda root: (root / "manifest.json").write_text("[1, 2, 3]\n"), "manifest.json"),
    "manifest-wrong-types": (lambda root: (root / "manifest.json").write_text(json.dumps(
        {**json.loads((root / "manifest.json").read_text()), "rows": "many"})), "manifest.json"),
    "manifest-deep-json": (lambda root: (root / "manifest.json").write_text("[" * 100_000 + "]" * 100_000),
                           "manifest"),
    "rows-random-bytes": (lambda root: _scribble(root / "rows.bin"), "rows.bin"),
    "runs-random-bytes": (lambda root: _scribble(root / "runs.i32"), "runs.i32"),
    "seg-energy-nan": (lambda root: _set_float(root / "seg_energy.f32", "<f4", np.nan), "seg_energy.f32"),
    "seg-q-inf": (lambda root: _set_float(root / "seg_q.f32", "<f4", np.inf), "seg_q.f32"),
    "energy-inf": (lambda root: _set_float(root / "energy.f16", "<f2", np.inf, every=7), "energy.f16"),
    "energy-nan": (lambda root: _set_float(root / "energy.f16", "<f2", np.nan, every=7), "energy.f16"),
    "energy-negative": (lambda root: _set_float(root / "energy.f16", "<f2", -3.0, every=7), "energy.f16"),
}
QUICK = {k for k in DAMAGE if not k.startswith("energy-")}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_library_status_names_the_damage(library, name):
    damage, file = DAMAGE[name]
    damage(library.root)
    r = cli_run("--offline", "library", "status")
    line = assert_one_line_error(r, "damaged", file, "Delete the folder", str(library.root))
    assert "library sync" in line


@pytest.mark.parametrize("name", list(DAMAGE))
def test_searches_and_matrix_refuse_a_damaged_library(library, name, tmp_path):
    damage, file = DAMAGE[name]
    damage(library.root)
    before = snapshot(library.root)
    out = tmp_path / "m.csv"
    cases = [("matrix", "--depth", "3", "--out", out),
             ("search-correlated", str(PDYN), "--out", out)]
    if name in QUICK:  # the differential search reads only the per-structure tables
        cases.append(("search-differential", "--target", "CP", "--contrast", "Isocortex", "--out", out))
    for argv in cases:
        r = cli_run("--offline", *argv)
        if name not in QUICK and argv[0] == "matrix":
            # matrix reads the per-structure sums, which hold the original float32 grids and
            # are intact here; energy.f16 damage is not in its numbers (status names it)
            assert r.code == 0, r.err
            out.unlink()
            Path(f"{out}.json").unlink()
            continue
        assert_one_line_error(r, "damaged", file)
        assert not out.exists() and not Path(f"{out}.json").exists()
    assert snapshot(library.root) == before  # the searches changed nothing


@pytest.mark.parametrize("name", list(DAMAGE))
def test_sync_says_exactly_what_to_delete(library, name):
    damage, file = DAMAGE[name]
    damage(library.root)
    before = snapshot(library.root)
    r = cli_run("--offline", "library", "sync", str(PDYN))
    assert_one_line_error(r, "damaged", file, f"Delete the folder {library.root}")
    after = snapshot(library.root)
    after.pop(".lock", None)
    before.pop(".lock", None)
    assert after == before


def test_after_deleting_the_folder_sync_rebuilds_it(library):
    _scribble(library.root / "rows.bin")
    import shutil

    shutil.rmtree(library.root)
    r = cli_run("--offline", "library", "sync", str(PDYN), str(NRP1))
    assert r.code == 0, r.err
    assert len(Library(library.root).refresh()) == 2
    assert cli_run("--offline", "library", "status").code == 0


def test_an_intact_library_has_no_problems(library):
    assert full_problems(library) == []
    assert cli_run("--offline", "library", "status").code == 0


def test_opening_a_damaged_library_raises_corrupt_data(library):
    _scribble(library.root / "runs.i32")
    with pytest.raises(CorruptData, match="runs.i32"):
        Library(library.root).refresh()


def test_damage_at_the_end_of_a_table_is_found_too(library):
    path = library.root / "rows.bin"
    _scribble(path, offset=os.path.getsize(path) - 64, n=64)  # the last row only
    with pytest.raises(CorruptData, match="rows.bin"):
        Library(library.root).refresh()



ENERGY_DAMAGE = {"energy-inf": np.inf, "energy-nan": np.nan, "energy-negative": -3.0}
AT = (5400.0, 3000.0, 2000.0)


@pytest.mark.parametrize("name", list(ENERGY_DAMAGE))
def test_the_spatial_search_refuses_damaged_energy(library, name, tmp_path):
    """search-spatial and the Spatial dock's two calls (spatial_correlation, enriched_at_seed)
    read energy.f16 too: inf, NaN or a negative value there is refused with the search's one
    line, never turned into an r or a ratio."""
    from allen_viewer.library.spatial import enriched_at_seed, seed_column, seed_voxel, spatial_correlation

    damage, file = DAMAGE[name]
    column = seed_column(library, seed_voxel(AT))
    assert np.isfinite(spatial_correlation(library, AT, plane="all", min_overlap=3).r).any()  # intact: works
    assert enriched_at_seed(library, column, plane="all")
    damage(library.root)
    out = tmp_path / "r.csv"
    before = snapshot(library.root)
    r = cli_run("--offline", "search-spatial", "--at", "5400,3000,2000", "--plane", "all", "--min-overlap", "3",
                "--out", out)
    assert_one_line_error(r, "damaged", file, "Delete the folder")
    assert not out.exists() and not Path(f"{out}.json").exists()
    assert snapshot(library.root) == before
    with pytest.raises(CorruptData, match=file):
        spatial_correlation(Library(library.root).refresh(), AT, plane="all", min_overlap=3)
    # the enrichment list reads the seed's column only: damage it there, in every row
    energy = np.fromfile(library.root / "energy.f16", dtype="<f2")
    energy.reshape(-1, library.layout.n_voxels)[:, column] = ENERGY_DAMAGE[name]
    energy.tofile(library.root / "energy.f16")
    with pytest.raises(CorruptData, match=file):
        enriched_at_seed(Library(library.root).refresh(), column, plane="all")


SPATIAL = ("--offline", "search-spatial", "--at", "5400,3000,2000", "--plane", "all", "--min-overlap", "3")


@pytest.mark.parametrize("suffix", [".csv", ".nrrd"])
def test_a_spatial_map_whose_sidecar_fails_is_removed_too(library, tmp_path, suffix):

    with no_space_for(".json"):
        r = cli_run(*SPATIAL, "--out", tmp_path / f"r{suffix}")
    assert_one_line_error(r, "No space left")
    assert list(tmp_path.iterdir()) == []  # the map went with its sidecar


def test_spatial_nrrd_write_errors_are_one_line(library, tmp_path):
    from unittest import mock

    import allen_viewer.io.atomic as atomic_module  # the writer export/spatial.py goes through

    with mock.patch.object(atomic_module.tempfile, "mkstemp", side_effect=OSError(28, os.strerror(28))):
        r = cli_run(*SPATIAL, "--out", tmp_path / "r.nrrd")
    assert_one_line_error(r, "Cannot write", "No space left", "Nothing was written")
    assert list(tmp_path.iterdir()) == []


def test_a_spatial_nrrd_with_a_250_byte_name_is_written(library, tmp_path):
    """The temporary name is cut as export/volume.py cuts it; ".{250-byte stem}.XXXXXXXX.nrrd"
    would pass the file system's 255-byte limit."""
    out = tmp_path / ("x" * 245 + ".nrrd")
    r = cli_run(*SPATIAL, "--out", out)
    assert r.code == 0, r.err
    assert out.is_file() and Path(f"{out}.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, Path(f"{out}.json").name])
