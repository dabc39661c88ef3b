"""RequestChannel: results in the UI thread, progress, failures as messages, newest wins."""
from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread

from allen_viewer.errors import Cancelled, ServiceUnavailable
from allen_viewer.gui.workers import CancelToken, RequestChannel, error_message

pytestmark = pytest.mark.gui


@pytest.fixture
def channel(qtbot):
    ch = RequestChannel("test")
    yield ch
    ch.cancel_all()
    ch.pool.waitForDone(5000)


def _wait_until_idle(qtbot, ch, timeout=5000):
    """Until every task has delivered its last signal (succeeded/errored, in the UI thread,
    where the channel forgets it): after that no signal of any of them can come, so a
    negative check needs no further wait."""
    qtbot.waitUntil(lambda: ch.in_flight == 0, timeout=timeout)


def test_result_arrives_in_the_ui_thread_with_its_tag(qtbot, qapp, channel):
    seen = []
    worker_threads = []

    def job(progress, cancel):
        worker_threads.append(QThread.currentThread())
        return 42

    channel.resultReady.connect(lambda result, tag: seen.append((result, tag, QThread.currentThread())))
    with qtbot.waitSignal(channel.resultReady, timeout=5000):
        channel.submit(job, tag="answer")
    assert seen[0][:2] == (42, "answer")
    assert seen[0][2] is qapp.thread()
    assert worker_threads[0] is not qapp.thread()
    assert not channel.busy


def test_busy_changes_around_a_request(qtbot, channel):
    states = []
    channel.busyChanged.connect(states.append)
    release = threading.Event()
    with qtbot.waitSignal(channel.resultReady, timeout=5000):
        channel.submit(lambda p, c: release.wait(5) and "done")
        assert channel.busy
        release.set()
    assert states == [True, False]


def test_progress_is_forwarded_and_throttled(qtbot, channel):
    reports = []
    channel.progressed.connect(lambda done, total, tag: reports.append((done, total)))

    def job(progress, cancel):
        for i in range(1, 2001):
            progress(i, 2000)
        return "ok"

    with qtbot.waitSignal(channel.resultReady, timeout=5000):
        channel.submit(job)
    # progress and result are queued from the same worker in order: all progress is in
    assert reports, "no progress reached the UI thread"
    assert reports[-1] == (2000, 2000)  # the final step is always reported
    assert len(reports) < 200  # 2000 calls, throttled to a few per 50 ms
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)


def test_newer_request_wins_and_cancels_the_older(qtbot, channel):
    results, failures = [], []
    channel.resultReady.connect(lambda r, tag: results.append((r, tag)))
    channel.failed.connect(lambda msg, exc, tag: failures.append(msg))
    slow_saw_cancel = threading.Event()
    slow_started = threading.Event()

    def slow(progress, cancel):
        slow_started.set()
        for _ in range(300):
            if cancel():
                slow_saw_cancel.set()
                break
            time.sleep(0.01)
        return "slow"  # returned anyway: must be dropped

    def fast(progress, cancel):
        return "fast"

    channel.submit(slow, tag=1)
    assert slow_started.wait(5)
    with qtbot.waitSignal(channel.resultReady, timeout=5000):
        gen = channel.submit(fast, tag=2)
    assert gen == 2
    _wait_until_idle(qtbot, channel)
    assert slow_saw_cancel.is_set()
    assert results == [("fast", 2)]
    assert failures == []
    assert channel.dropped == 1


def test_stale_result_finishing_last_is_dropped(qtbot, channel):
    """The older request finishes after the newer one: its result must not win."""
    results = []
    channel.resultReady.connect(lambda r, tag: results.append(r))
    release_old = threading.Event()
    channel.submit(lambda p, c: release_old.wait(5) and "old", tag="old")
    with qtbot.waitSignal(channel.resultReady, timeout=5000):
        channel.submit(lambda p, c: "new", tag="new")
    release_old.set()
    _wait_until_idle(qtbot, channel)
    assert results == ["new"]


def test_failures_carry_the_message_to_show(qtbot, channel):
    got = []
    channel.failed.connect(lambda msg, exc, tag: got.append((msg, type(exc), tag)))

    def outage(progress, cancel):
        raise ServiceUnavailable("The Allen API answered with an HTML page instead of data.")

    with qtbot.waitSignal(channel.failed, timeout=5000):
        channel.submit(outage, tag="x")
    assert got == [("The Allen API answered with an HTML page instead of data.", ServiceUnavailable, "x")]
    assert not channel.busy


def test_a_bug_becomes_an_unexpected_error_message(qtbot, channel):
    got = []
    channel.failed.connect(lambda msg, exc, tag: got.append(msg))
    with qtbot.waitSignal(channel.failed, timeout=5000):
        channel.submit(lambda p, c: 1 / 0)
    assert got[0].startswith("Unexpected error (ZeroDivisionError")
    assert error_message(MemoryError()).startswith("Out of memory")


def test_cancel_reports_cancelled_not_failed(qtbot, channel):
    cancelled, failed = [], []
    channel.cancelled.connect(cancelled.append)
    channel.failed.connect(lambda *a: failed.append(a))
    started = threading.Event()

    def job(progress, cancel):
        started.set()
        while not cancel():
            time.sleep(0.01)
        raise Cancelled("Download")

    channel.submit(job, tag="nissl")
    assert started.wait(5)
    with qtbot.waitSignal(channel.cancelled, timeout=5000):
        channel.cancel()
    assert cancelled == ["nissl"] and failed == []


def test_cancel_all_silences_everything(qtbot, channel):
    signals = []
    for sig in (channel.resultReady, channel.failed, channel.cancelled):
        sig.connect(lambda *a: signals.append(a))
    release = threading.Event()
    channel.submit(lambda p, c: release.wait(5) and "late")
    channel.cancel_all()
    assert not channel.busy
    release.set()
    _wait_until_idle(qtbot, channel)
    assert signals == []


def test_cancel_token():
    token = CancelToken()
    assert not token() and not token.cancelled
    token.cancel()
    assert token() and token.cancelled
