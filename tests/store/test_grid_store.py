"""GridStore: embedded -> cache -> network, offline mode, quarantine and re-fetch."""
from __future__ import annotations

import threading

import pytest

from allen_viewer import config
from allen_viewer.api.client import AllenClient
from allen_viewer.errors import (
    AllenViewerError,
    Cancelled,
    CorruptDownload,
    Offline,
    UnknownExperiment,
)
from allen_viewer.formats.grid_file import read_grid_zip
from allen_viewer.store.cache import Cache
from allen_viewer.store.grid_store import GridStore
from tests.fake_allen.fixtures import allen_client, allen_env, fake_allen, fake_allen_data  # noqa: F401

PDYN_CORONAL, PDYN_SAGITTAL, NRP1_SAGITTAL = 71717084, 69782969, 79913171
GRID = "/grid_data/download/"


@pytest.fixture
def store(allen_client):
    return GridStore(Cache(), allen_client)


def test_locate(store):
    assert store.locate(PDYN_CORONAL) == "embedded"
    assert store.locate(PDYN_SAGITTAL) == "remote"
    store.zip_path(PDYN_SAGITTAL)
    assert store.locate(PDYN_SAGITTAL) == "cached"


def test_embedded_grids_need_no_network(store, fake_allen, monkeypatch):
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    path = store.zip_path(PDYN_CORONAL)
    assert path == config.resources_dir() / "grids" / f"{PDYN_CORONAL}.zip"
    assert fake_allen.requests == []
    assert store.cache.grids() == []
    assert store.locate(PDYN_CORONAL) == "embedded"


def test_an_energy_only_embedded_grid_is_upgraded_once_online(store, fake_allen):
    """The embedded Pdyn holds energy only: online, all three channels land in the cache,
    and that richer cached copy wins over the embedded one from then on."""
    path = store.zip_path(PDYN_CORONAL)
    assert path == store.cache.grid_path(PDYN_CORONAL)
    assert sorted(read_grid_zip(path).volumes) == ["density", "energy", "intensity"]
    assert [r.raw_query for r in fake_allen.requests_to(GRID)] == ["include=energy,intensity,density"]
    assert store.locate(PDYN_CORONAL) == "cached"
    assert GridStore(store.cache, store.client).zip_path(PDYN_CORONAL) == path  # a new process too
    assert len(fake_allen.requests_to(GRID)) == 1


def test_a_failed_upgrade_keeps_the_energy_only_grid(store, fake_allen):
    fake_allen.inject(GRID, "status", times=3, code=503)
    path = store.zip_path(PDYN_CORONAL)
    assert path == config.resources_dir() / "grids" / f"{PDYN_CORONAL}.zip"
    assert store.zip_path(PDYN_CORONAL) == path  # tried once per process, not on every load
    # one try, no retries: a grid the user already has never waits on a failing service
    assert len(fake_allen.requests_to(GRID)) == 1 and store.cache.grids() == []


def test_an_energy_only_cached_grid_is_upgraded(store, fake_allen):
    dest = store.cache.grid_path(PDYN_SAGITTAL)
    store.client.download_grid(PDYN_SAGITTAL, dest)  # an older version's energy-only download
    assert sorted(read_grid_zip(dest).volumes) == ["energy"]
    assert sorted(read_grid_zip(store.zip_path(PDYN_SAGITTAL)).volumes) == ["density", "energy", "intensity"]


def test_a_remote_grid_is_downloaded_once_into_the_cache(store, fake_allen):
    seen = []
    path = store.zip_path(PDYN_SAGITTAL, progress=lambda done, total: seen.append((done, total)))
    assert path == store.cache.grid_path(PDYN_SAGITTAL)
    assert sorted(read_grid_zip(path).volumes) == ["density", "energy", "intensity"]
    assert fake_allen.requests_to(GRID)[0].raw_query == "include=energy,intensity,density"
    assert seen and seen[-1][0] == path.stat().st_size
    assert store.zip_path(PDYN_SAGITTAL) == path
    assert len(fake_allen.requests_to(GRID)) == 1
    assert store.cache.grids() == [PDYN_SAGITTAL]


def test_two_threads_asking_at_once_download_once(store, fake_allen):
    fake_allen.inject(GRID, "delay", seconds=0.3)
    results, errors = [], []

    def fetch():
        try:
            results.append(store.zip_path(NRP1_SAGITTAL))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1
    assert len(fake_allen.requests_to(GRID)) == 1


def test_offline_without_a_local_copy(store, fake_allen, monkeypatch):
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    with pytest.raises(Offline, match=f"experiment {PDYN_SAGITTAL} is not embedded or cached"):
        store.zip_path(PDYN_SAGITTAL)
    assert store.zip_path(PDYN_CORONAL).is_file()  # embedded still works
    assert fake_allen.requests == []


def test_offline_with_a_cached_copy(store, fake_allen, monkeypatch):
    path = store.zip_path(PDYN_SAGITTAL)
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    assert store.zip_path(PDYN_SAGITTAL) == path
    assert store.locate(PDYN_SAGITTAL) == "cached"
    assert len(fake_allen.requests) == 1


def test_a_damaged_cache_entry_is_quarantined_and_fetched_again(store, fake_allen):
    path = store.cache.grid_path(PDYN_SAGITTAL)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    assert store.locate(PDYN_SAGITTAL) == "cached"  # cheap: not validated
    got = store.zip_path(PDYN_SAGITTAL)
    assert got == path and read_grid_zip(got).volumes["energy"].shape == (67, 41, 58)
    quarantined = [p.name for p in store.cache.quarantine_dir.iterdir() if p.suffix == ".zip"]
    assert len(quarantined) == 1 and quarantined[0].startswith(f"{PDYN_SAGITTAL}.")
    assert len(fake_allen.requests_to(GRID)) == 1


def test_a_damaged_cache_entry_offline(store, fake_allen, monkeypatch):
    path = store.cache.grid_path(PDYN_SAGITTAL)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    with pytest.raises(Offline, match="damaged and has been moved aside"):
        store.zip_path(PDYN_SAGITTAL)
    assert not path.exists() and fake_allen.requests == []


@pytest.mark.parametrize("fault", ["truncate", "corrupt", "traversal", "wrong_size"])
def test_a_damaged_download_leaves_nothing_in_the_cache(store, fake_allen, fault):
    fake_allen.inject(GRID, fault)
    with pytest.raises(CorruptDownload):
        store.zip_path(PDYN_SAGITTAL)
    assert store.cache.grids() == []
    assert [p.name for p in store.cache.grids_dir.iterdir()] == []
    assert store.zip_path(PDYN_SAGITTAL).is_file()  # the next try works


def test_unknown_experiment(store):
    with pytest.raises(UnknownExperiment):
        store.zip_path(42)
    assert store.cache.grids() == []


def test_cancel(store, fake_allen):
    with pytest.raises(Cancelled):
        store.zip_path(PDYN_SAGITTAL, cancel=lambda: True)
    assert store.cache.grids() == []


def test_an_unwritable_cache_is_a_clear_error(allen_env, allen_client, tmp_path, fake_allen):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    store = GridStore(Cache(blocker), allen_client)
    assert store.locate(PDYN_SAGITTAL) == "remote"
    with pytest.raises(AllenViewerError, match="cache folder .* cannot be written"):
        store.zip_path(PDYN_SAGITTAL)
    assert fake_allen.requests == []


def test_the_client_is_made_from_the_environment_when_not_given(allen_env):
    store = GridStore(Cache())
    assert store.zip_path(PDYN_SAGITTAL).is_file()
    assert isinstance(store.client, AllenClient) and store.client.api_url == allen_env.api_url
