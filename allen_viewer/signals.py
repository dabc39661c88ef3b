"""SIGINT and SIGTERM end every command and the viewer the same way (docs/reliability.md).

The rule: a signal becomes an exception at the point the program is at, so every
``with`` block on the way out runs (the atomic writer removes its temporary file, a
movie's encoder is closed) and the command ends with one line and exit status 128 + the
signal number: ``allen-viewer: interrupted`` (SIGINT, 130) or ``allen-viewer: terminated``
(SIGTERM, 143).

* :func:`install` (the CLI, once in ``main``): SIGTERM raises :class:`Interrupted`, as
  SIGINT raises ``KeyboardInterrupt``; a signal the process inherited as ignored (a
  shell's background job ignores SIGINT) stays ignored, here and in :func:`on_signal`;
* :func:`exit_status` / :func:`message`: the status and the line for either exception;
* the viewer's event loop (Qt) cannot take an exception from a signal handler (it would be
  printed from inside a Qt slot and lost): :func:`on_signal` instead calls a callback that
  records the signal and asks the window to close (:mod:`allen_viewer.gui.app`).

* :func:`deferred`: a block during which a signal is held and raised once the block ends;
  around imports of compiled libraries (Qt, VTK, ffmpeg's wrapper), where an exception in
  the middle of their initialisation aborts the interpreter (``Fatal Python error:
  libshiboken/signature``, a segmentation fault) instead of ending it cleanly.

Qt-free; the API is these five names.
"""
from __future__ import annotations

import contextlib
import signal
from typing import Callable, Iterator

NAMES = {int(signal.SIGINT): "interrupted", int(signal.SIGTERM): "terminated"}


class Interrupted(BaseException):
    """A signal (SIGTERM; SIGINT is Python's ``KeyboardInterrupt``) ended the command.

    A ``BaseException``, like ``KeyboardInterrupt``, so ``except Exception`` blocks on the
    way out do not swallow it."""

    def __init__(self, signum: int):
        super().__init__(NAMES.get(int(signum), f"signal {int(signum)}"))
        self.signum = int(signum)


def _raise(signum, _frame) -> None:
    raise Interrupted(signum)


def install() -> None:
    """SIGTERM raises :class:`Interrupted` in the main thread (SIGINT keeps raising
    ``KeyboardInterrupt``).  Only from the main thread; elsewhere nothing is changed."""
    try:
        if signal.getsignal(signal.SIGTERM) != signal.SIG_IGN:  # an ignored signal stays ignored
            signal.signal(signal.SIGTERM, _raise)
        if signal.getsignal(signal.SIGINT) != signal.SIG_IGN:  # (a shell's background job: `cmd &`)
            signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread (main() called from a test's worker thread)
        pass


def exit_status(exc: BaseException | int) -> int:
    """128 + the signal number: 130 for SIGINT (``KeyboardInterrupt``), 143 for SIGTERM."""
    signum = exc if isinstance(exc, int) else getattr(exc, "signum", int(signal.SIGINT))
    return 128 + int(signum)


def message(exc: BaseException | int) -> str:
    """``interrupted`` (SIGINT) or ``terminated`` (SIGTERM): the word of the one line."""
    signum = exc if isinstance(exc, int) else getattr(exc, "signum", int(signal.SIGINT))
    return NAMES.get(int(signum), f"signal {int(signum)}")


def on_signal(callback: Callable[[int], None]) -> None:
    """SIGINT and SIGTERM call ``callback(signum)`` instead of raising (an event loop's way:
    the callback records the signal and quits the loop)."""
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) != signal.SIG_IGN:
                signal.signal(sig, lambda signum, _frame: callback(int(signum)))
    except ValueError:
        pass


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM during the block; a signal that came is raised at its end, through
    the handler in place before (so ``KeyboardInterrupt``/:class:`Interrupted` then)."""
    caught: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    try:
        before = {sig: signal.getsignal(sig) for sig in sigs}
        for sig in sigs:
            signal.signal(sig, lambda signum, _frame: caught.append(int(signum)))
    except ValueError:  # not the main thread: signals are not delivered here anyway
        yield
        return
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(caught[0])
