"""Bulk sync against the fake Allen server: parallel fetch, resume, failures, and a real
SIGKILL in the middle of a ``library sync`` run."""
import importlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import allen_viewer
from allen_viewer.errors import Cancelled, Offline
from allen_viewer.expression.grid import load_grid
from allen_viewer.formats.grid_file import read_grid_zip
from allen_viewer.library.store import Library
from allen_viewer.library.sync import (
    clean_stale_parts,
    library_status,
    read_gene_list,
    select_experiments,
    sync,
)
from allen_viewer.records import Experiment
from allen_viewer.store.cache import Cache
from tests.fake_allen.fixtures import allen_client, allen_env, fake_allen, fake_allen_data  # noqa: F401
from tests.library import PDYN, f16

GRID = "/grid_data/download/"
sync_mod = importlib.import_module("allen_viewer.library.sync")  # the package exports the function sync


@pytest.fixture
def generated(gene_index):
    """Experiments whose grids the fake GENERATES (not embedded), sagittal and coronal."""
    sag = [e for e in gene_index.experiments if e.plane == "sagittal"][:40:5]
    cor = [e for e in gene_index.experiments if e.plane == "coronal" and e.id != PDYN][:20:5]
    return sorted(sag + cor, key=lambda e: e.id)


def grid_requests(fake):
    return [int(r.path.rsplit("/", 1)[1]) for r in fake.requests_to(GRID)]


def check_library_matches_cache(library: Library, cache: Cache, gene_index):
    """Every row equals its cached (or embedded) grid at float16 precision; no duplicates."""
    library.refresh()
    assert len(set(library.ids.tolist())) == len(library)
    layout = library.layout
    for row, exp_id in enumerate(library.ids.tolist()):
        path = cache.grid_path(exp_id)
        if not path.is_file():
            path = Path(allen_viewer.__file__).parent.parent / "resources" / "grids" / f"{exp_id}.zip"
        grid = load_grid(path, gene_index.by_id(exp_id))
        cols = layout.columns(grid.energy)
        assert np.array_equal(library.has_data(row), ~np.isnan(cols)), exp_id
        assert np.array_equal(library.values(row), f16(cols), equal_nan=True), exp_id


def test_sync_fetches_in_parallel_packs_and_reports_progress(allen_env, allen_client, gene_index, ontology,
                                                             generated):
    calls = []
    wanted = [gene_index.by_id(PDYN)] + generated
    report = sync(wanted, client=allen_client, ontology=ontology, workers=3,
                  progress=lambda *a: calls.append(a))
    assert report.requested == len(wanted) and report.packed == len(wanted) and report.already == 0
    assert report.downloaded == len(generated) and not report.failed and report.stopped is None
    assert sorted(grid_requests(allen_env)) == sorted(e.id for e in generated)  # Pdyn is embedded
    assert calls[0] == (0, len(wanted), 0) and calls[-1] == (len(wanted), len(wanted), 0)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))
    cache = Cache()
    library = Library(cache.root / "library")
    assert sorted(library.refresh().ids.tolist()) == sorted(e.id for e in wanted)
    assert sorted(cache.grids()) == sorted(e.id for e in generated)  # what the viewer reads too
    check_library_matches_cache(library, cache, gene_index)
    planes = dict(zip(library.ids.tolist(), library.planes))
    assert all(planes[e.id] == e.plane for e in wanted)


def test_resume_fetches_only_what_is_missing(allen_env, allen_client, ontology, generated, gene_index):
    first, rest = generated[:4], generated[4:]
    sync(first, client=allen_client, ontology=ontology)
    cache = Cache()
    # one more grid already in the cache (e.g. opened in the viewer) but not in the library
    allen_client.download_grid(rest[0].id, cache.grid_path(rest[0].id))
    allen_env.reset()
    report = sync(generated, client=allen_client, ontology=ontology)
    assert report.already == 4 and report.packed == len(rest) and report.downloaded == len(rest) - 1
    assert sorted(grid_requests(allen_env)) == sorted(e.id for e in rest[1:])
    check_library_matches_cache(Library(cache.root / "library"), cache, gene_index)
    allen_env.reset()
    again = sync(generated, client=allen_client, ontology=ontology)
    assert again.already == len(generated) and again.packed == 0 and grid_requests(allen_env) == []


def test_failures_are_reported_and_fetched_on_the_next_run(allen_env, allen_client, ontology, generated,
                                                           gene_index):
    bad = generated[2].id
    allen_env.inject(f"{GRID}{bad}", "status", times=10, code=503)
    unknown = Experiment(id=1, symbol="Nope", name="", entrez_id=None, plane="coronal")  # the fake answers 404
    report = sync(generated + [unknown], client=allen_client, ontology=ontology)
    assert set(report.failed) == {bad, 1}
    assert "HTTP 503" in report.failed[bad] and "No adult-mouse ISH experiment with id 1" in report.failed[1]
    assert report.packed == len(generated) - 1
    allen_env.clear_faults()
    report = sync(generated, client=allen_client, ontology=ontology)
    assert report.packed == 1 and not report.failed
    status = library_status(Library(Cache().root / "library"), gene_index, Cache())
    assert status["library_experiments"] == len(generated) and status["last_sync"]["missing"] == []


def test_a_damaged_cached_grid_is_quarantined_and_fetched_again(allen_env, allen_client, ontology, generated):
    cache = Cache()
    victim = generated[0]
    cache.grid_path(victim.id).parent.mkdir(parents=True, exist_ok=True)
    cache.grid_path(victim.id).write_bytes(b"PK\x03\x04 not really a zip")
    report = sync(generated[:2], client=allen_client, ontology=ontology)
    assert report.downloaded == 2 and not report.failed
    assert any(p.name.startswith(f"{victim.id}.") for p in cache.quarantine_dir.iterdir())
    read_grid_zip(cache.grid_path(victim.id))


def test_going_offline_stops_the_run_and_keeps_what_arrived(allen_env, allen_client, ontology, generated,
                                                            gene_index, monkeypatch):
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    with pytest.raises(Offline):
        sync([gene_index.by_id(PDYN)] + generated, client=allen_client, ontology=ontology, workers=1)
    assert Library(Cache().root / "library").refresh().ids.tolist() == [PDYN]  # the embedded grid was packed


def test_many_failures_in_a_row_stop_the_run(allen_env, allen_client, ontology, generated, monkeypatch):
    monkeypatch.setattr(sync_mod, "GIVE_UP_AFTER", 3)
    allen_env.inject(GRID, "html", times=1000)
    report = sync(generated, client=allen_client, ontology=ontology, workers=1)
    assert "3 downloads in a row failed" in report.stopped and len(report.failed) == 3
    assert report.packed == 0


def test_cancel_keeps_the_committed_rows(allen_env, allen_client, ontology, generated):
    done = []
    with pytest.raises(Cancelled):
        sync(generated, client=allen_client, ontology=ontology, workers=1, commit_rows=1,
             progress=lambda d, t, f: done.append(d), cancel=lambda: len(done) > 3)
    rows = len(Library(Cache().root / "library").refresh())
    assert 1 <= rows < len(generated)


def test_density_is_downloaded_when_asked(allen_env, allen_client, ontology, generated):
    cache = Cache()
    allen_client.download_grid(generated[0].id, cache.grid_path(generated[0].id))  # cached without density
    report = sync(generated[:2], client=allen_client, ontology=ontology, density=True)
    assert report.downloaded == 2  # the energy-only cached grid is fetched again, with density
    assert all(r.query.get("include") == ["energy,density"] for r in allen_env.requests_to(GRID)[1:])
    library = Library(cache.root / "library").refresh()
    assert library.table["has_density"].all()
    assert not np.isnan(library.seg("density")).all()
    assert "density" in read_grid_zip(cache.grid_path(generated[0].id)).volumes


def test_selection_and_gene_lists(gene_index, tmp_path):
    chosen, unknown = select_experiments(gene_index, genes=["Pdyn", "nrp1", "Nope"], queries=["74272479", "1"])
    assert {e.symbol for e in chosen} == {"Pdyn", "Nrp1"} and unknown == ["Nope", "1"]
    assert [e.id for e in chosen] == sorted(e.id for e in chosen)
    coronal, _ = select_experiments(gene_index, genes=["Pdyn", "Nrp1"], plane="coronal")
    assert sorted(e.id for e in coronal) == [PDYN, 74272479]
    everything, _ = select_experiments(gene_index, everything=True)
    assert len(everything) == len(gene_index)
    sagittal, _ = select_experiments(gene_index, plane="sagittal")
    assert len(sagittal) == sum(e.plane == "sagittal" for e in gene_index.experiments)
    path = tmp_path / "genes.txt"
    path.write_text("symbol\nPdyn\n# a comment\nNrp1*, Gad1\n\n")
    assert read_gene_list(path) == ["Pdyn", "Nrp1", "Gad1"]


def test_stale_partial_downloads_are_removed(tmp_path):
    cache = Cache(tmp_path)
    cache.grids_dir.mkdir(parents=True)
    old, new = cache.grids_dir / ".5.zip.abc.part", cache.grids_dir / ".6.zip.def.part"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert clean_stale_parts(cache) == 1
    assert not old.exists() and new.exists()


# ---------------------------------------------------------------------------- a real SIGKILL


def _committed_rows(root: Path) -> int:
    import json

    try:
        return json.loads((root / "manifest.json").read_text())["rows"]
    except (OSError, ValueError):
        return 0


def _check_after_kill(cache: Cache, library_root: Path, gene_index):
    for exp_id in cache.grids():  # every entry is a whole, valid zip
        read_grid_zip(cache.grid_path(exp_id))
    if (library_root / "manifest.json").is_file():
        check_library_matches_cache(Library(library_root), cache, gene_index)


def test_sync_killed_with_sigkill_resumes_and_leaves_nothing_corrupt(allen_env, gene_index):
    ids = [e.id for e in gene_index.experiments if e.plane == "sagittal"][:60]
    cache = Cache()
    root = cache.root / "library"
    cmd = [sys.executable, "-m", "allen_viewer", "library", "sync", *map(str, ids), "--workers", "2"]
    allen_env.inject(GRID, "delay", times=10_000, seconds=0.15)

    def run_until(condition, limit=60.0):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        end = time.monotonic() + limit
        try:
            while time.monotonic() < end and proc.poll() is None and not condition():
                time.sleep(0.02)
            assert proc.poll() is None, "the sync finished before it could be killed: " + proc.stderr.read().decode()
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # kill 1: after a first commit, while later grids are downloaded but not yet committed
    run_until(lambda: _committed_rows(root) > 0 and len(cache.grids()) > _committed_rows(root) + 2)
    first = _committed_rows(root)
    assert 0 < first < len(ids)
    _check_after_kill(cache, root, gene_index)
    # kill 2: in the next run, a few downloads later (more in flight, maybe a commit going on)
    cached = len(cache.grids())
    run_until(lambda: len(cache.grids()) >= cached + 3)
    _check_after_kill(cache, root, gene_index)
    cached_before = set(cache.grids())
    # the last run completes, fetching only what is missing
    allen_env.reset()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{len(ids)} requested" in done.stdout and "0 failed" in done.stdout
    refetched = set(grid_requests(allen_env))
    assert not refetched & cached_before and refetched == set(ids) - cached_before
    library = Library(root).refresh()
    assert sorted(library.ids.tolist()) == sorted(ids)
    _check_after_kill(cache, root, gene_index)
