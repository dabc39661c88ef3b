"""Measuring the GUI under load: event-loop lateness, resident memory, gene switching.

Shared by ``tests/gui/test_load.py`` (which asserts bounds) and ``benchmarks/gui_load.py``
(which prints the figures):

* :class:`LoopLatency` -- a precise 10 ms QTimer in the UI thread; each tick records how
  much later than due it fired.  While background work runs, a responsive window keeps
  that lateness small; a UI thread blocked for 300 ms shows as one 290 ms tick.
* :func:`rss_mb` -- this process's resident set size, from ``/proc/self/statm`` (falls back
  to the peak RSS from :mod:`resource` where there is no ``/proc``); :func:`settled_rss_mb`
  measures it after garbage collection and, on glibc, ``malloc_trim(0)``: glibc keeps
  freed heap pages resident (and raises its mmap threshold once large blocks are freed, so
  later ones come from the heap), which shows as a one-off step of 5 to 30 MB at a random
  moment of a switching run; trimmed, RSS is the memory still in use, and what a leak
  grows.
* :func:`switch_genes` -- gene switches through the window's real path: the gene search
  panel's ``experimentActivated`` signal, the window's grid request channel, the scene and
  the slice panes, each switch waited for until the window shows the new grid.
* :func:`sync_job` / :func:`library_sync_available` -- a library sync (if
  :mod:`allen_viewer.library.sync` exists) as a job for a :class:`RequestChannel`.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import importlib.util
import os
import statistics
import time
from dataclasses import dataclass

from PySide6.QtCore import QElapsedTimer, QObject, Qt, QTimer

from allen_viewer.gui.app import wait_until


def rss_mb() -> float:
    """Resident memory of this process in MB (10^6 bytes)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):  # no /proc: the peak instead (KB on Linux, bytes on macOS)
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class LatencySummary:
    ticks: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    over_100ms: int

    def line(self) -> str:
        return (f"{self.ticks} ticks over {self.seconds:.1f} s: lateness p50 {self.p50_ms:.1f} ms, "
                f"p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms, "
                f"{self.over_100ms} ticks later than 100 ms")


class LoopLatency(QObject):
    """Event-loop lateness, sampled by a precise ``interval_ms`` timer in the UI thread."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.lateness_ms: list[float] = []
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._clock = QElapsedTimer()
        self._last_ns = 0
        self._started = 0.0
        self._stopped = 0.0

    def start(self) -> None:
        self.lateness_ms.clear()
        self._clock.start()
        self._last_ns = self._clock.nsecsElapsed()
        self._started = time.monotonic()
        self._timer.start()

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        late = (now - self._last_ns) / 1e6 - self.interval_ms
        self.lateness_ms.append(max(0.0, late))
        self._last_ns = now

    def stop(self) -> LatencySummary:
        self._timer.stop()
        self._stopped = time.monotonic()
        return self.summary()

    def summary(self) -> LatencySummary:
        xs = self.lateness_ms
        return LatencySummary(len(xs), (self._stopped or time.monotonic()) - self._started,
                              percentile(xs, 50), percentile(xs, 95), percentile(xs, 99),
                              max(xs) if xs else 0.0, sum(x > 100 for x in xs))


def switch_genes(app, window, experiments, count: int, timeout_s: float = 30.0) -> list[float]:
    """``count`` gene switches cycling through ``experiments``, each through the search
    panel's ``experimentActivated`` (what Enter or a double-click in the list emits) and
    waited for until the window shows it; returns each switch's seconds."""
    times = []
    for n in range(count):
        exp = experiments[n % len(experiments)]
        t0 = time.perf_counter()
        window.search_panel.experimentActivated.emit(exp)
        if not wait_until(app, lambda: window.grid is not None and window.grid.id == exp.id
                          and not window.grid_channel.busy, timeout_s):
            raise TimeoutError(f"switch {n} to {exp.label} did not finish in {timeout_s:.0f} s")
        times.append(time.perf_counter() - t0)
    return times


def expression_actor_names(window) -> list[str]:
    """Names of the expression (sphere) actors in the main 3-D scene's renderer."""
    return [name for name in window.scene.plotter.renderer.actors if str(name).startswith("expression_")]


def malloc_trim() -> bool:
    """Give the C heap's free pages back to the system (glibc ``malloc_trim(0)``); False
    where there is no such call."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
    return True


def settled_rss_mb(app, trim: bool = True) -> float:
    """RSS after garbage collection and a few event-loop passes (deferred deletes run), and
    with ``trim`` after :func:`malloc_trim` (the memory in use, without the free heap)."""
    for _ in range(3):
        app.processEvents()
        gc.collect()
    if trim:
        malloc_trim()
    return rss_mb()


def library_sync_available() -> bool:
    """True when :mod:`allen_viewer.library.sync` exists (the whole-genome library)."""
    try:
        return importlib.util.find_spec("allen_viewer.library.sync") is not None
    except ImportError:
        return False


def sync_job(experiments, root, api_url: str, ontology, workers: int | None = None):
    """A ``job(progress, cancel)`` that syncs ``experiments`` into a library under ``root``
    (its own cache there) from ``api_url``; returns the sync report."""
    from allen_viewer.api.client import AllenClient
    from allen_viewer.library.store import Library
    from allen_viewer.library.sync import DEFAULT_WORKERS, sync
    from allen_viewer.store.cache import Cache

    def job(progress, cancel):
        with AllenClient(api_url, timeout=(5.0, 30.0), retries=3, backoff=0.05) as client:
            return sync(experiments, library=Library(root / "library"), cache=Cache(root), client=client,
                        ontology=ontology, workers=workers or DEFAULT_WORKERS,
                        progress=lambda done, total, _failed: progress(done, total), cancel=cancel)

    return job


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
