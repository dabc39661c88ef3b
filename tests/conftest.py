"""Shared fixtures.

Every test runs with its own empty cache directory and with the Allen URLs pointed at a
closed loopback port, so no test can touch the internet or the user's real cache; tests
that need a service start the fake Allen server (``tests/fake_allen``) and point the URLs
at it.  The ontology and the reference space are loaded once per session (about 2 s).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from allen_viewer import config
from allen_viewer.atlas.ontology import Ontology
from allen_viewer.atlas.reference_space import ReferenceSpace
from allen_viewer.store.gene_index import GeneIndex

CLOSED_PORT_URL = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused

# Where the whole run's "home" lives: set before any fixture (module- and session-scoped ones
# included) and before Qt, Mesa or matplotlib start, so nothing a test does - nor Qt's own caches,
# Mesa's shader cache or the mesh cache of a module-scoped window - lands in the real home folder.
_ISOLATED_ROOT: Path | None = None
_ISOLATED_VARIABLES = ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                       "MPLCONFIGDIR", "MESA_SHADER_CACHE_DIR", "ALLEN_VIEWER_CACHE", "ALLEN_VIEWER_SETTINGS")
ISOLATED_VARIABLES = _ISOLATED_VARIABLES

# Writes this process makes under the real home folder (Python's own file operations, seen by an
# audit hook installed in pytest_configure); tests/gui/conftest.py fails any GUI module that adds one.
# Writes from C++ (Qt, VTK, Mesa) are not seen: test_isolation.py checks where those libraries write.
_WRITE_EVENTS = frozenset({"open", "os.rename", "os.mkdir", "os.remove", "os.rmdir", "os.symlink", "os.link",
                           "os.truncate", "shutil.copyfile", "shutil.rmtree", "shutil.move"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_REAL_HOME_WRITES: list[tuple[str, str]] = []


def real_home_writes() -> list[tuple[str, str]]:
    """``(event, path)`` of every write under the real home folder seen so far in this run."""
    return list(_REAL_HOME_WRITES)


def _folder(path) -> str:
    return os.path.normcase(os.path.abspath(os.fsdecode(path))).rstrip(os.sep) + os.sep


def _home_rule(real_home: Path, allowed: list[Path]) -> tuple[str, tuple[str, ...], bool]:
    """``(home, exempt, hidden_only)`` for the real home folder (containers often set HOME to
    the temporary folder, or inside it; docs/reliability.md):

    * an allowed folder that holds the home (the temporary folder, for HOME=/tmp/h) would
      exempt the whole home: it is dropped from the exempt folders;
    * when the home *is* the temporary folder (HOME=/tmp), the run's own temporary files lie in
      it too, so only its hidden entries (``.cache``, ``.config``, ``.anything``: where
      programs keep a user's files) count as the home's."""
    home = _folder(real_home)
    exempt = tuple(f for f in (_folder(p) for p in allowed) if not home.startswith(f))
    hidden_only = _folder(Path(real_home).resolve()) == _folder(Path(tempfile.gettempdir()).resolve())
    return home, exempt, hidden_only


def in_real_home(path) -> bool:
    """Whether ``path`` lies in the real home folder by the rule of :func:`_home_rule` (never in
    the run's isolated root)."""
    home, _, hidden_only = _home_rule(Path(os.environ["ALLEN_VIEWER_TEST_REAL_HOME"]).resolve(), [])
    text = _folder(Path(path).resolve())
    if not text.startswith(home):
        return False
    if _ISOLATED_ROOT is not None and text.startswith(_folder(_ISOLATED_ROOT.resolve())):
        return False
    return not hidden_only or text[len(home):].startswith(".")


def _watch_real_home(real_home: Path, allowed: list[Path]) -> None:
    """Record file writes under ``real_home`` outside the ``allowed`` folders (the isolated root,
    the temporary folder, the checkout, the Python installation, where __pycache__ goes), by
    the rule of :func:`_home_rule`."""
    home, exempt, hidden_only = _home_rule(real_home, allowed)
    if home == os.sep:  # a home at the file-system root: every path would count
        return

    def hook(event, args):
        if event not in _WRITE_EVENTS:
            return
        if event == "open":
            path, mode, flags = args
            if mode is not None:
                if not any(c in mode for c in "wax+"):
                    return
            elif not (flags or 0) & _WRITE_FLAGS:
                return
            paths = (path,)
        elif event in ("os.rename", "os.symlink", "os.link", "shutil.copyfile", "shutil.move"):
            paths = args[:2]
        else:
            paths = args[:1]
        for p in paths:
            if isinstance(p, int):
                continue
            try:
                text = os.path.normcase(os.path.abspath(os.fsdecode(p)))
            except (TypeError, ValueError):
                continue
            if ((text + os.sep).startswith(home) and not (text + os.sep).startswith(exempt)
                    and (not hidden_only or text[len(home):].startswith("."))):
                _REAL_HOME_WRITES.append((event, text))

    sys.addaudithook(hook)


_WORKER_DISPLAY: subprocess.Popen | None = None
WORKER_SCREEN = "1920x1080x24"  # tools/run_tests.sh's xvfb-run screen


def _start_worker_display() -> subprocess.Popen | None:
    """A virtual display of this pytest-xdist worker's own (``Xvfb -displayfd``: the server
    picks a free number), so that two workers' windows never lie over each other on one
    screen: the pointer a test moves (``qtbot.mouseMove``: hover, clicks) and which window
    is on top are then its own.  None (the inherited display kept) without Xvfb or a display."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None or not os.environ.get("DISPLAY"):
        return None

    def die_with_the_worker():  # Linux: SIGTERM to Xvfb when this worker process ends
        try:
            import ctypes
            import signal

            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    read_end, write_end = os.pipe()
    # -s 0: no screen saver (the server's default starts one after 10 idle minutes; a worker
    # runs longer than that, and nothing on a test's screen should change by itself)
    proc = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", WORKER_SCREEN, "-nolisten", "tcp",
                             "-s", "0"],
                            pass_fds=(write_end,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=die_with_the_worker)
    os.close(write_end)
    with os.fdopen(read_end) as fh:
        number = fh.readline().strip()
    if not number.isdigit():
        proc.kill()
        proc.wait()
        return None
    os.environ["DISPLAY"] = f":{number}"
    os.environ.pop("XAUTHORITY", None)  # xvfb-run's cookie is for its own display
    return proc


def pytest_configure(config):
    global _ISOLATED_ROOT, _WORKER_DISPLAY
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        # run as a shell's background job (`run_tests.sh &`), which starts with SIGINT ignored and
        # passes that on to every child: the Ctrl-C tests' programs would never see their signal
        # (an ignored signal stays ignored, allen_viewer/signals.py); a handled one is default again
        # in a child, as in a terminal
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # pytest-xdist (tools/run_tests.sh): each worker process has a root of its own; a worker
    # inherits the environment of the controller, which already points HOME at the controller's
    # root, so the real home is the one the controller recorded
    worker = getattr(config, "workerinput", None) is not None
    if worker:
        _WORKER_DISPLAY = _start_worker_display()
    real_home = os.environ["ALLEN_VIEWER_TEST_REAL_HOME"] if worker else str(Path.home())
    _ISOLATED_ROOT = Path(tempfile.mkdtemp(prefix="allen_viewer_tests_"))
    os.environ["ALLEN_VIEWER_TEST_ROOT"] = str(_ISOLATED_ROOT)
    os.environ["ALLEN_VIEWER_TEST_REAL_HOME"] = real_home
    for name in _ISOLATED_VARIABLES:
        if name == "ALLEN_VIEWER_SETTINGS":
            os.environ[name] = str(_ISOLATED_ROOT / "settings" / "allen_viewer.ini")
            continue
        folder = _ISOLATED_ROOT / name.lower()
        folder.mkdir()
        os.environ[name] = str(folder)
    os.environ["ALLEN_API_URL"] = CLOSED_PORT_URL
    os.environ["ALLEN_DOWNLOAD_URL"] = CLOSED_PORT_URL + "/informatics-archive/current-release"
    # hypothesis keeps its files here, not in a .hypothesis folder of the checkout
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = str(_ISOLATED_ROOT / "hypothesis")
    import site

    allowed = [_ISOLATED_ROOT, Path(tempfile.gettempdir()), Path(str(config.rootpath)), Path(sys.prefix),
               Path(sys.base_prefix), Path(sys.exec_prefix), Path(site.getusersitepackages())]
    if config.option.basetemp:
        allowed.append(Path(config.option.basetemp))
    _watch_real_home(Path(os.environ["ALLEN_VIEWER_TEST_REAL_HOME"]), allowed)


# The modules that take longest, longest first (a full run's JUnit report read by
# tools/module_times.py).  Under pytest-xdist (tools/run_tests.sh: --dist loadfile, a module
# whole in one worker) the workers start with these, so no long module is left to run alone
# at the end; a module not named keeps its place in the collection.  The order only schedules
# the run: it never changes what a test checks, and a plain run keeps pytest's own order.
SLOW_MODULES = (
    "tests/export/test_sidecars.py",
    "tests/gui/test_screenshot_cli.py",
    "tests/faults/test_round3_hostile.py",
    "tests/faults/test_faults.py",
    "tests/faults/test_round3_servers.py",
    "tests/gui/test_sessions.py",
    "tests/gui/test_load.py",
    "tests/faults/test_hostile_servers.py",
    "tests/faults/test_hostile_gui.py",
    "tests/library/test_commands.py",
    "tests/gui/test_scene_session_export.py",
    "tests/gui/test_main_window.py",
    "tests/export/test_session_export.py",
    "tests/export/test_figures21.py",
    "tests/gui/test_sidecars_gui.py",
    "tests/export/test_gene_set_exports.py",
    "tests/atlas/test_labels_cache.py",
    "tests/gui/test_compare_view.py",
    "tests/gui/test_first_run.py",
    "tests/test_channels_online.py",
    "tests/gui/test_scenarios_25.py",
    "tests/test_movie_cli.py",
    "tests/faults/test_hostile_library.py",
    "tests/faults/test_hostile_outputs.py",
)


# Modules whose tests start with the 25 µm labels cache file in their empty cache (the
# ``warm_atlas_cache`` marker, fixture ``warm_labels25``): they run many exports and check
# files, sidecars and messages, never the first run's decoding of the annotation.
WARM_ATLAS_MODULES = (
    "tests/export/test_sidecars.py",
    "tests/faults/test_hostile_outputs.py",
    "tests/faults/test_round3_hostile.py",
    "tests/faults/test_round3_outputs.py",
    "tests/faults/test_round3_servers.py",
    "tests/faults/test_round3_slicefig.py",
    "tests/test_movie_cli.py",
)


def pytest_collection_modifyitems(session, config, items):
    for item in items:
        if item.nodeid.split("::", 1)[0] in WARM_ATLAS_MODULES:
            item.add_marker(pytest.mark.warm_atlas_cache)
    if getattr(config, "workerinput", None) is None:
        return
    rank = {module: i for i, module in enumerate(SLOW_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))  # stable: a module's order kept


def pytest_unconfigure(config):
    if _WORKER_DISPLAY is not None:
        _WORKER_DISPLAY.terminate()
        _WORKER_DISPLAY.wait(timeout=30)
    if _ISOLATED_ROOT is not None:
        shutil.rmtree(_ISOLATED_ROOT, ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_environment(request, tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.mktemp("cache")
    if request.node.get_closest_marker("warm_atlas_cache") is not None:
        seed = request.getfixturevalue("warm_labels25")
        (cache / "atlas").mkdir()
        os.link(seed, cache / "atlas" / seed.name)
    monkeypatch.setenv("ALLEN_VIEWER_CACHE", str(cache))
    monkeypatch.setenv("ALLEN_API_URL", CLOSED_PORT_URL)
    monkeypatch.setenv("ALLEN_DOWNLOAD_URL", CLOSED_PORT_URL + "/informatics-archive/current-release")
    monkeypatch.delenv("ALLEN_VIEWER_OFFLINE", raising=False)
    return cache


@pytest.fixture(scope="module", autouse=True)
def no_window_outlives_its_module():
    """After each module (its own windows closed first): hide any top-level widget still shown.

    Under pytest-xdist a worker runs modules in another order than a plain run; a window a
    module left on screen could then lie over a later module's widget, which is not exposed
    and never paints (a slice pane's render count stayed 0).  Hidden, not closed: a close
    could ask a question and wait."""
    yield
    widgets = sys.modules.get("PySide6.QtWidgets")
    app = widgets.QApplication.instance() if widgets is not None else None
    if app is None:
        return
    for w in app.topLevelWidgets():
        if w.isVisible():
            w.hide()
    app.processEvents()


@pytest.fixture(scope="session")
def ontology() -> Ontology:
    return Ontology.load(config.resources_dir() / "structure_graph_1.json")


@pytest.fixture(scope="session")
def _warm_atlas_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("warm_atlas")


@pytest.fixture(scope="session")
def reference_space(ontology, _warm_atlas_folder) -> ReferenceSpace:
    """The reference space as the app loads it: the 25 µm labels decoded once per process into
    a cache folder of the run's own and memory-mapped read-only from there."""
    res = config.resources_dir()
    return ReferenceSpace.load(ontology, res / "annotation_25.nrrd", res / "P56_Mouse_gridAnnotation.zip",
                               cache_dir=_warm_atlas_folder)


@pytest.fixture(scope="session")
def warm_labels25(reference_space, _warm_atlas_folder) -> Path:
    """The 25 µm labels cache file (``labels25-<key>.npy``) that :func:`reference_space` made
    with the app's own code (:meth:`ReferenceSpace.load` with a cache folder).

    A test marked ``pytest.mark.warm_atlas_cache`` finds it in its empty cache's ``atlas/``
    (a hard link: the app only maps it read-only, and replaces a damaged one atomically, so
    the shared file is never written), so each command it runs maps the labels instead of
    decoding the 27 MB NRRD again (about 4 s a run on the 2-core machine).  For modules
    whose tests check exports, sidecars and messages, not the first run's decoding: that is
    checked cold in tests/atlas/test_labels_cache.py and tests/gui/test_load_order.py."""
    (path,) = _warm_atlas_folder.glob("labels25-*.npy")
    return path


@pytest.fixture(scope="session")
def gene_index() -> GeneIndex:
    return GeneIndex.load(config.resources_dir() / "gene_index.tsv.gz")


PDYN_CORONAL = 71717084
"""The real embedded Pdyn coronal experiment (resources/grids/71717084.zip)."""


@pytest.fixture(scope="module")
def pdyn(gene_index):
    """The real Pdyn coronal grid (embedded resource), loaded once per module."""
    from allen_viewer.expression.grid import load_grid

    return load_grid(config.resources_dir() / "grids" / f"{PDYN_CORONAL}.zip", gene_index.by_id(PDYN_CORONAL))


@pytest.fixture(scope="module")
def outline(reference_space):
    """The brain outline mesh (CCF um) built from the embedded annotation, not the mesh cache."""
    from allen_viewer.render.meshes import brain_outline

    return brain_outline(reference_space, use_cache=False)


@pytest.fixture(scope="module")
def no_anti_aliasing():
    """pyvista's anti-aliasing off for a module (``pytest.mark.usefixtures("no_anti_aliasing")``),
    so off-screen pictures are the same on every machine; restored afterwards."""
    import pyvista as pv

    previous = pv.global_theme.anti_aliasing
    pv.global_theme.anti_aliasing = None
    yield
    pv.global_theme.anti_aliasing = previous
