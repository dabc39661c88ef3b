"""The GUI tests' shared fixtures: main windows and fake Allen servers, built one way.

Every module under ``tests/gui`` gets these without importing anything (``tests/faults/
test_hostile_gui.py`` imports ``window`` from here).  Wait with pytest-qt, never with a
hand-made loop: ``qtbot.waitUntil(lambda: ..., timeout=ms)`` for a condition,
``with qtbot.waitSignal(sig, timeout=ms) as blocker:`` for a signal.

Windows
-------
``window`` (module scope)
    One :class:`MainWindow` for all the tests of a module (building one costs 2-5 s): shown,
    waited on until ready, closed after the module.  How it is built comes from the module's
    ``pytest.mark.window(**spec)`` (``pytestmark = [pytest.mark.gui, pytest.mark.window(
    network="offline", notices=False)]``), or from an indirect parametrisation
    (``@pytest.mark.parametrize("window", [{"network": "offline"}, {"network": "fake_server"}],
    indirect=True)``: one window per spec); nothing given means :class:`WindowSpec`'s defaults.
``make_window`` (function scope)
    ``make_window(**spec) -> MainWindow``: more windows for one test (a second run of the
    viewer, one that is never shown ...), in that test's ``tmp_path`` (``cache`` and
    ``settings`` are names there unless absolute, so two calls share them); closed after
    the test (``make_window.close_window(w)`` closes one sooner).  The defaults are the
    module's (or the test's) ``pytest.mark.window``, except that nothing is waited for
    unless ``ready`` says so.

The spec (:class:`WindowSpec`, keyword arguments of both):

``network``  ``"closed"`` (default): the client talks to a closed loopback port, every request
             is refused at once, so the window finds itself offline; ``"offline"``:
             ``ALLEN_VIEWER_OFFLINE=1`` while the window lives (offline mode, embedded data and
             cache only; any other network makes the module window with the variable unset,
             while ``make_window`` leaves the test's environment as it is); ``"env"``: a
             client made from ``ALLEN_API_URL``/``ALLEN_DOWNLOAD_URL`` as they are when the
             window is made (``allen_env``'s server); any other word is
             the name of a fixture whose value has ``api_url`` and ``download_url`` (the
             module's ``fake_server``, ``tests/faults``' ``hostile``).
``api_url``, ``download_url``  a client for these URLs instead (``download_url`` defaults to
             ``api_url + "/informatics-archive/current-release"``, the fake server's layout).
``timeout``, ``retries``, ``backoff``, ``limits``  the client's (defaults: (1, 1) s and no
             retry for ``closed``, else (2, 10) s, 2 tries, 0.01 s backoff).
``preload``  the session-scoped fixtures (``ontology``, ``reference_space``, ``gene_index``)
             handed to ``AtlasData`` so the window does not load them again (the worker
             would load the same embedded files); ``()`` loads everything for real.
``size``     ``(width, height)`` to show the window at; ``None``: never shown.
``notices``, ``restore_layout``  passed to :class:`MainWindow`.
``cache``, ``settings``  the cache folder and the settings INI file (relative to the
             window's temporary folder unless absolute).
``gene``     a query to load as soon as the window is shown (the grid is waited for).
``ready``    ``"idle"`` (the module window's default: gene index, atlas and outline mesh
             loaded, nothing in flight), ``"atlas"`` (index and atlas loaded), ``"none"``
             (``make_window``'s default).
``timeout_ms`` how long ``ready`` may take.

Data
----
``grids`` (module scope): the real embedded grids of Pdyn (71717084) and Nrp1 (74272479) by id.

Fake servers
------------
``fake_server`` (module scope): a running :class:`FakeAllen` shared by the module
(``NO_PROXY`` set so loopback requests never meet a proxy); ``server`` (function scope):
the same server, ``reset()`` (faults and request log) before and after the test.
``fake_allen_data``, ``fake_allen``, ``allen_env`` and ``allen_client`` (one fresh server per
test, the environment pointed at it) come from ``tests/fake_allen/fixtures.py``.

Isolation
---------
``tests/conftest.py``'s ``pytest_configure`` points ``HOME``, the XDG folders, Mesa's shader
cache and the app's cache and settings at one temporary folder before any fixture runs, so
the module-scoped windows (made before the per-test fixtures) are isolated too; every window
made here checks that first (:func:`assert_isolated`), keeps its cache and settings in a
temporary folder, and every GUI module ends with a check that the process wrote nothing
under the real home folder (``real_home_writes``; ``tests/gui/test_window_isolation.py``).
"""
from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.conftest import CLOSED_PORT_URL, ISOLATED_VARIABLES, real_home_writes
from tests.fake_allen.fixtures import allen_client, allen_env, fake_allen, fake_allen_data  # noqa: F401
from tests.fake_allen.server import FakeAllen

CLOSED_DOWNLOAD_URL = CLOSED_PORT_URL + "/informatics-archive/current-release"
PRELOADED = ("ontology", "reference_space", "gene_index")


@dataclass(frozen=True)
class WindowSpec:
    """How a test window is made (see the module docstring for each field)."""

    network: str = "closed"
    api_url: str | None = None
    download_url: str | None = None
    timeout: tuple[float, float] | None = None
    retries: int | None = None
    backoff: float = 0.01
    limits: object | None = None
    preload: tuple[str, ...] = PRELOADED
    size: tuple[int, int] | None = (1600, 1000)
    notices: bool = True
    restore_layout: bool = True
    cache: str | Path = "cache"
    settings: str | Path = "settings.ini"
    gene: str | int | None = None
    ready: str = "none"
    timeout_ms: int = 60_000


def assert_isolated() -> None:
    """Fail unless the home, XDG, Mesa, cache and settings variables point into the test
    run's own temporary folder (``tests/conftest.py``), never under the real home."""
    root = Path(os.environ["ALLEN_VIEWER_TEST_ROOT"]).resolve()
    real_home = Path(os.environ["ALLEN_VIEWER_TEST_REAL_HOME"]).resolve()
    for name in ISOLATED_VARIABLES:
        value = os.environ.get(name)
        assert value, f"{name} is not set: the test run is not isolated"
        path = Path(value).resolve()
        assert path.is_relative_to(root) or path.is_relative_to(Path(tempfile.gettempdir()).resolve()), (name, path)
        assert not path.is_relative_to(real_home) or path.is_relative_to(root), (name, path)


def window_ready(w, ready: str) -> bool:
    if ready == "none":
        return True
    loaded = w.index is not None and w.space is not None
    if ready == "atlas":
        return loaded and not w.atlas_channel.busy
    if ready == "idle":
        return loaded and w.outline_mesh is not None and not w.is_busy()
    raise ValueError(f"unknown ready state {ready!r}")


class WindowFactory:
    """Makes windows from :class:`WindowSpec` s in ``folder`` and closes them all at the end."""

    def __init__(self, request, qtbot, folder: Path, defaults: WindowSpec, module_scoped: bool = False):
        self.request = request
        self.module_scoped = module_scoped
        self.qtbot = qtbot
        self.folder = folder
        self.defaults = defaults
        self.windows = []
        self.stack = ExitStack()

    def __call__(self, spec: WindowSpec | None = None, **overrides):
        import pyvista as pv

        from allen_viewer.api.client import AllenClient
        from allen_viewer.data import AtlasData
        from allen_viewer.gui.main_window import MainWindow
        from allen_viewer.gui.settings import ViewerSettings
        from allen_viewer.store.cache import Cache

        spec = replace(spec or self.defaults, **overrides)
        assert_isolated()
        pv.global_theme.anti_aliasing = None
        if spec.network == "offline":  # for the window's whole life
            self.stack.enter_context(pytest.MonkeyPatch.context()).setenv("ALLEN_VIEWER_OFFLINE", "1")
        client = self._client(spec, AllenClient)
        data = AtlasData(cache=Cache(self.folder / spec.cache), client=client)
        data.__dict__.update({name: self.request.getfixturevalue(name) for name in spec.preload})
        with pytest.MonkeyPatch.context() as mp:
            if self.module_scoped and spec.network != "offline":
                # made before the per-test isolation runs: an ALLEN_VIEWER_OFFLINE left behind by an
                # earlier in-process `cli.main(["--offline", ...])` must not make this window offline
                mp.delenv("ALLEN_VIEWER_OFFLINE", raising=False)
            w = MainWindow(data, ViewerSettings(self.folder / spec.settings), restore_layout=spec.restore_layout,
                           notices=spec.notices)
        self.windows.append(w)
        if spec.size is not None:
            w.resize(*spec.size)
            with self.qtbot.waitExposed(w):
                w.show()
        if spec.gene is not None:
            w.request_gene(spec.gene)
        self.qtbot.waitUntil(lambda: window_ready(w, spec.ready) and (spec.gene is None or w.grid is not None),
                             timeout=spec.timeout_ms)
        return w

    def _client(self, spec: WindowSpec, client_class):
        closed = spec.network == "closed" and spec.api_url is None
        timeout = spec.timeout or ((1.0, 1.0) if closed else (2.0, 10.0))
        retries = spec.retries if spec.retries is not None else (0 if closed else 2)
        options = dict(timeout=timeout, retries=retries, backoff=spec.backoff)
        if spec.limits is not None:
            options["limits"] = spec.limits
        if spec.api_url is not None:
            download_url = spec.download_url or spec.api_url + "/informatics-archive/current-release"
            return client_class(spec.api_url, download_url, **options)
        if closed:
            return client_class(CLOSED_PORT_URL, CLOSED_DOWNLOAD_URL, **options)
        if spec.network == "offline":
            return None  # AtlasData's own client: offline mode never uses it
        if spec.network == "env":
            return client_class(**options)
        server = self.request.getfixturevalue(spec.network)
        return client_class(server.api_url, server.download_url, **options)

    def close_window(self, w) -> None:
        """Close ``w`` now (as the user would) rather than after the test."""
        import shiboken6

        if w in self.windows:
            self.windows.remove(w)
        if shiboken6.isValid(w):
            w.close()
            w.deleteLater()

    def close(self) -> None:
        for w in reversed(list(self.windows)):
            self.close_window(w)
        self.qtbot.wait(50)
        self.stack.close()


def _spec_of(request, **defaults) -> WindowSpec:
    spec = WindowSpec(**defaults)
    marker = request.node.get_closest_marker("window")
    if marker is not None:
        spec = replace(spec, **marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None:
        spec = replace(spec, **param) if isinstance(param, dict) else param
    return spec


@pytest.fixture(scope="module")
def window(request, qapp, tmp_path_factory):
    """The module's shared window (see the module docstring)."""
    from pytestqt.qtbot import QtBot

    factory = WindowFactory(request, QtBot(request), tmp_path_factory.mktemp("window"),
                            _spec_of(request, ready="idle"), module_scoped=True)
    try:
        yield factory()
    finally:
        factory.close()


@pytest.fixture
def make_window(request, qapp, qtbot, tmp_path):
    """``make_window(**spec) -> MainWindow``, closed after the test (see the module docstring)."""
    factory = WindowFactory(request, qtbot, tmp_path, _spec_of(request, ready="none"))
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def grids(gene_index):
    """The real embedded grids, ``{71717084: Pdyn, 74272479: Nrp1}``, loaded once per module."""
    from allen_viewer import config
    from allen_viewer.expression.grid import load_grid

    res = config.resources_dir() / "grids"
    return {eid: load_grid(res / f"{eid}.zip", gene_index.by_id(eid)) for eid in (71717084, 74272479)}


@pytest.fixture(scope="module")
def fake_server(fake_allen_data):  # noqa: F811 - the shared FakeAllenData
    """A fake Allen server for the whole module (reset it, or use ``server``, between tests)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ("NO_PROXY", "no_proxy"):  # never send loopback requests through a proxy
            mp.setenv(name, "127.0.0.1,localhost")
        with FakeAllen(fake_allen_data) as srv:
            yield srv


@pytest.fixture
def server(fake_server):
    """The module's fake server with no faults and an empty request log, before and after the test."""
    fake_server.reset()
    yield fake_server
    fake_server.reset()


@pytest.fixture(scope="module", autouse=True)
def no_writes_under_the_real_home():
    """Fail the module if anything in this process wrote under the real home folder."""
    before = len(real_home_writes())
    yield
    written = real_home_writes()[before:]
    assert not written, f"wrote under the real home folder: {written[:5]}"

