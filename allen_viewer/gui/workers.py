"""Background work for the GUI: thread-pool tasks with progress, cancel and "newest wins".

Everything that touches the disk or the network (loading the atlas, fetching a grid,
downloading the Nissl volume, extracting a surface mesh) runs in a :class:`QThreadPool`
through a :class:`RequestChannel`.  A channel stands for one kind of request ("the grid
the window shows", "the surface of structure 672"):

* :meth:`RequestChannel.submit` runs ``fn(progress, cancel)`` in the pool, where
  ``progress(done, total)`` reports bytes or steps (``total`` may be ``None``) and
  ``cancel()`` returns True once the request should stop (pass both to
  :class:`~allen_viewer.data.AtlasData`);
* every submit bumps the channel's *generation* and cancels the request still in flight,
  and results, failures and progress of an older generation are dropped in the UI thread,
  so a newer request always wins however the two finish;
* results arrive as Qt signals in the thread of the channel (the UI thread), so slots may
  touch widgets.

Failures are delivered as the message to show: ``str(error)`` for an
:class:`~allen_viewer.errors.AllenViewerError`, and a one-line "unexpected error" (with the
traceback logged) for anything else.  Cancellation is reported separately and is not a
failure.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from allen_viewer.errors import AllenViewerError, Cancelled

log = logging.getLogger(__name__)

Progress = Callable[[int, "int | None"], None]
Cancel = Callable[[], bool]
Job = Callable[[Progress, Cancel], Any]

PROGRESS_INTERVAL_S = 0.05
"""Progress is forwarded to the UI thread at most this often (plus the final step)."""

_pool: QThreadPool | None = None
_alive: set = set()
"""Tasks submitted and not yet finished: keeps them (and their signal objects) alive even
when the channel that submitted them is destroyed (a window closed mid-download)."""


def shared_pool() -> QThreadPool:
    """The viewer's own thread pool (not Qt's global one), sized for I/O-bound work.

    Downloads spend most of their time waiting, and a request that has been cancelled may
    still sit in a blocking read until its next chunk, so the pool has more threads than
    this machine has cores.
    """
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(max(6, QThreadPool.globalInstance().maxThreadCount()))
        _pool.setExpiryTimeout(30_000)
    return _pool


class CancelToken:
    """A thread-safe cancel flag; calling it answers "should I stop?"."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def __call__(self) -> bool:
        return self._event.is_set()


def error_message(exc: BaseException) -> str:
    """The sentence to show for an exception that ended a request."""
    from allen_viewer.sanitize import clean_text

    if isinstance(exc, AllenViewerError):
        return clean_text(exc, 1000)  # one line, no escape codes, bounded (docs/reliability.md)
    if isinstance(exc, MemoryError):
        return "Out of memory; close other programs and try again."
    return f"Unexpected error ({type(exc).__name__}: {clean_text(exc, 200)}); see the log for details."


class _TaskSignals(QObject):
    """Signals a task emits from its worker thread (delivered queued to the channel)."""

    progressed = Signal(int, object, object)  # generation, done, total (None when unknown)
    succeeded = Signal(int, object)  # generation, result
    errored = Signal(int, object)  # generation, exception


class _Task(QRunnable):
    """Runs one job in the pool and reports through :class:`_TaskSignals`."""

    def __init__(self, job: Job, generation: int, token: CancelToken, signals: _TaskSignals):
        super().__init__()
        self.job = job
        self.generation = generation
        self.token = token
        self.signals = signals
        self._last_progress = 0.0

    def _emit(self, signal_name: str, *args) -> None:
        try:
            getattr(self.signals, signal_name).emit(*args)
        except RuntimeError:  # the receiving side is gone (application shutting down)
            self.token.cancel()

    def _progress(self, done: int, total: int | None = None) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if final or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self._emit("progressed", self.generation, int(done), total)

    def run(self) -> None:  # in a pool thread
        try:
            if self.token():
                raise Cancelled("Request")
            result = self.job(self._progress, self.token)
            if self.token():
                raise Cancelled("Request")
        except BaseException as exc:  # noqa: BLE001 - every failure goes to the UI as a message
            if not isinstance(exc, AllenViewerError):
                log.exception("background task failed")
            self._emit("errored", self.generation, exc)
        else:
            self._emit("succeeded", self.generation, result)
        finally:
            _alive.discard(self)


class RequestChannel(QObject):
    """One kind of background request, where the newest request always wins.

    Signals (all in the channel's thread, for the current generation only):

    ``started(tag)``: a request was submitted; ``progressed(done, total, tag)``: bytes or
    steps so far (``total`` None when unknown); ``resultReady(result, tag)``: it finished;
    ``failed(message, exception, tag)``: it failed with a message fit to show;
    ``cancelled(tag)``: it was cancelled by :meth:`cancel` (a request overtaken by a newer
    one is cancelled silently); ``busyChanged(bool)``: whether a request is in flight.

    ``tag`` is whatever the caller passed to :meth:`submit` (e.g. the Experiment), so slots
    know what the result is for.
    """

    started = Signal(object)
    progressed = Signal(int, object, object)
    resultReady = Signal(object, object)
    failed = Signal(str, object, object)
    cancelled = Signal(object)
    busyChanged = Signal(bool)

    def __init__(self, name: str, pool: QThreadPool | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.pool = pool or shared_pool()
        self._generation = 0
        self._token: CancelToken | None = None
        self._tag: Any = None
        self._busy = False
        self._in_flight: dict[int, tuple[_Task, _TaskSignals]] = {}
        self.dropped = 0
        """How many results/failures of overtaken requests were dropped (for tests and logs)."""

    # ---- state ----------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Number of the newest request (0 before the first)."""
        return self._generation

    @property
    def busy(self) -> bool:
        """True while the newest request has not finished."""
        return self._busy

    @property
    def tag(self) -> Any:
        """The tag of the newest request."""
        return self._tag

    @property
    def in_flight(self) -> int:
        """Tasks of this channel still running or queued, overtaken ones included."""
        return len(self._in_flight)

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    # ---- requests -------------------------------------------------------------------------

    def submit(self, job: Job, tag: Any = None) -> int:
        """Run ``job(progress, cancel)`` in the pool; cancel the request in flight.

        Returns the new generation number.
        """
        if self._token is not None:
            self._token.cancel()
        self._generation += 1
        gen = self._generation
        token = CancelToken()
        self._token = token
        self._tag = tag
        signals = _TaskSignals()
        conn = Qt.ConnectionType.QueuedConnection
        signals.progressed.connect(self._on_progress, conn)
        signals.succeeded.connect(self._on_success, conn)
        signals.errored.connect(self._on_error, conn)
        task = _Task(job, gen, token, signals)
        task.setAutoDelete(False)
        self._in_flight[gen] = (task, signals)
        _alive.add(task)
        self._set_busy(True)
        self.started.emit(tag)
        self.pool.start(task)
        return gen

    def cancel(self) -> None:
        """Cancel the request in flight (its ``cancelled`` signal follows when it stops)."""
        if self._token is not None and self._busy:
            self._token.cancel()

    def cancel_all(self) -> None:
        """Cancel and forget everything: no signal of any request submitted so far will come."""
        if self._token is not None:
            self._token.cancel()
        self._generation += 1  # every task in flight is now stale
        self._token = None
        self._set_busy(False)

    # ---- results (UI thread) --------------------------------------------------------------

    def _finish(self, gen: int) -> bool:
        """Forget task ``gen``; True when it is the current request."""
        self._in_flight.pop(gen, None)
        if gen != self._generation:
            self.dropped += 1
            return False
        self._token = None
        self._set_busy(False)
        return True

    @Slot(int, object, object)
    def _on_progress(self, gen: int, done: int, total) -> None:
        if gen == self._generation and self._busy:
            self.progressed.emit(done, total, self._tag)

    @Slot(int, object)
    def _on_success(self, gen: int, result) -> None:
        if self._finish(gen):
            self.resultReady.emit(result, self._tag)

    @Slot(int, object)
    def _on_error(self, gen: int, exc) -> None:
        if not self._finish(gen):
            return
        if isinstance(exc, Cancelled):
            self.cancelled.emit(self._tag)
        else:
            self.failed.emit(error_message(exc), exc, self._tag)


def wait_for_pool(timeout_ms: int = 5000) -> bool:
    """Wait for the shared pool's tasks to end (at shutdown); False on timeout."""
    if _pool is None:
        return True
    return _pool.waitForDone(timeout_ms)
