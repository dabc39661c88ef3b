"""The ``allen-viewer`` command: a thin layer over the core.

``allen-viewer`` alone opens the viewer; subcommands search, fetch and describe
experiments without a display.  A user's mistake (unknown gene, no network, a corrupt
file) prints one line ``allen-viewer: error: ...`` and exits 1; a traceback means a bug.
"""
from __future__ import annotations

import errno
import os
import sys

from allen_viewer.config import PROG
from allen_viewer.errors import AllenViewerError


def _robust_streams() -> None:
    """Text that the terminal's encoding cannot show (PYTHONIOENCODING=ascii and a non-ASCII
    file name) is written escaped (``\\u00e9``), never a UnicodeEncodeError after the work."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass


def _stdout_failure() -> OSError | None:
    """Flush standard output; the error when it cannot take the text (a closed pipe, a full
    disk), after which it is pointed at the null device so Python's own flush at exit stays
    quiet."""
    try:
        sys.stdout.flush()
        return None
    except OSError as exc:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
        return exc


def _stdout_status(code: int) -> int:
    """``code``, unless standard output failed: a reader that stopped early (``| head -1``)
    ends the command quietly with 141 (as SIGPIPE would); any other failure (``> /dev/full``)
    is one line and exit 1."""
    exc = _stdout_failure()
    if exc is None:
        return code
    if isinstance(exc, BrokenPipeError):
        return 141
    print(f"{PROG}: error: cannot write to standard output ({exc.strerror or exc})", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    import signal

    from allen_viewer import signals

    _robust_streams()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signals.install()
    try:
        return _stdout_status(_main(argv))
    except BrokenPipeError:
        return _stdout_status(141)
    except OSError as exc:  # raised while printing: standard output (every file the commands write turns its
        # OSError into one line naming the file, io/guard.py), or else a bug shown as such
        if exc.errno not in (errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EDQUOT) or exc.filename is not None:
            raise
        _stdout_failure()
        print(f"{PROG}: error: cannot write to standard output ({exc.strerror or exc})", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, TypeError):
                pass


def _main(argv: list[str] | None = None) -> int:
    from allen_viewer import signals
    from allen_viewer.cli.parser import build_parser
    from allen_viewer.cli.viewing import check_viewing_options, cmd_gui

    parser = build_parser()
    args = parser.parse_args(argv)
    check_viewing_options(parser, args)
    func = getattr(args, "func", cmd_gui)
    previous_offline = os.environ.get("ALLEN_VIEWER_OFFLINE")
    if args.offline:
        os.environ["ALLEN_VIEWER_OFFLINE"] = "1"
    try:
        from allen_viewer.arguments import check_arguments

        check_arguments(args)  # blank ids, non-ASCII digits, NaN thresholds, negative counts
        return func(args)
    except AllenViewerError as exc:
        from allen_viewer.sanitize import clean_text

        print(f"{PROG}: error: {clean_text(exc, 1000)}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, signals.Interrupted) as exc:  # one line, 130 or 143 (allen_viewer/signals.py)
        print(f"{PROG}: {signals.message(exc)}", file=sys.stderr)
        return signals.exit_status(exc)
    finally:  # --offline lasts for this command only (main() is also called in-process)
        if previous_offline is None:
            os.environ.pop("ALLEN_VIEWER_OFFLINE", None)
        else:
            os.environ["ALLEN_VIEWER_OFFLINE"] = previous_offline
