"""Pytest fixtures around the fake Allen server.

Import them into a test module explicitly (there is no shared conftest for them, except
``tests/gui/conftest.py``, which registers them for the GUI tests)::

    from tests.fake_allen.fixtures import allen_client, allen_env, fake_allen, fake_allen_data  # noqa: F401

* ``fake_allen_data``: the process-wide :class:`FakeAllenData` (tables, grids, Nissl stand-in);
* ``fake_allen``: a running :class:`FakeAllen` for one test (fresh faults and request log);
* ``allen_env``: the environment pointed at ``fake_allen`` (``ALLEN_API_URL``,
  ``ALLEN_DOWNLOAD_URL``), ``ALLEN_VIEWER_CACHE`` at ``tmp_path/"cache"``, offline mode off;
  yields the server;
* ``allen_client``: an :class:`AllenClient` for ``allen_env`` with fast retries
  (``backoff=0.01``, 3 tries, (2 s, 5 s) timeouts).
"""
from __future__ import annotations

import pytest

from allen_viewer.api.client import AllenClient
from tests.fake_allen.data import FakeAllenData
from tests.fake_allen.server import FakeAllen


@pytest.fixture(scope="session")
def fake_allen_data() -> FakeAllenData:
    return FakeAllenData.shared()


@pytest.fixture
def fake_allen(fake_allen_data):
    with FakeAllen(fake_allen_data) as server:
        yield server


@pytest.fixture
def allen_env(fake_allen, tmp_path, monkeypatch):
    monkeypatch.setenv("ALLEN_API_URL", fake_allen.api_url)
    monkeypatch.setenv("ALLEN_DOWNLOAD_URL", fake_allen.download_url)
    monkeypatch.setenv("ALLEN_VIEWER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ALLEN_VIEWER_OFFLINE", raising=False)
    for name in ("NO_PROXY", "no_proxy"):  # never send loopback requests through a proxy
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    return fake_allen


@pytest.fixture
def allen_client(allen_env):
    client = AllenClient(timeout=(2.0, 5.0), retries=3, backoff=0.01)
    yield client
    client.close()
