"""Is there a display to open a window on?  Asked before ``QApplication`` exists.

Qt's failure to connect to a display is a ``qFatal``: the process aborts (core dump) with a
hint about ``libxcb-cursor0`` that is usually wrong, and Python cannot catch it.  So
:func:`display_problem` looks first, cheaply (well under a second):

* ``QT_QPA_PLATFORM`` names a platform other than ``xcb``/``wayland`` (``offscreen``,
  ``vnc``, ...): the user chose it; nothing is checked;
* ``WAYLAND_DISPLAY`` set: its socket (``$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY``, or the path
  itself) accepts a connection;
* ``DISPLAY`` set: ``XOpenDisplay`` of libX11 (through ctypes, as Qt would) opens it; without
  libX11 a local display's socket (``/tmp/.X11-unix/X<n>``) must accept a connection;
* on macOS and Windows there is always a display.

It returns the one line to print (:data:`NO_DISPLAY`), or ``None`` when a window can open.
Imports no Qt.
"""
from __future__ import annotations

import os
import socket
import sys

NO_DISPLAY = ("no display found{why}; for images without a display use the `allen-viewer export` commands "
              "(off screen), or run the viewer under `xvfb-run -a allen-viewer ...`")


_OPEN: list = []
"""The probe's X connection, left open for the life of the process: an X server resets when
its last client disconnects (Xvfb under ``xvfb-run`` does), and Qt's own connection, made
a moment later, then fails (qFatal) while it does."""


def _connects(path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2.0)
            s.connect(path)
        return True
    except OSError:
        return False


def _wayland_ok(name: str) -> bool:
    path = name if os.path.isabs(name) else os.path.join(os.environ.get("XDG_RUNTIME_DIR", ""), name)
    return bool(path) and _connects(path)


def _x11_ok(name: str) -> bool:
    import ctypes
    import ctypes.util

    lib = ctypes.util.find_library("X11")
    if lib:
        try:
            x11 = ctypes.CDLL(lib)
            x11.XOpenDisplay.restype = ctypes.c_void_p
            x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
            handle = x11.XOpenDisplay(name.encode())
        except (OSError, AttributeError):
            handle = None
        else:
            if handle:
                _OPEN.append(handle)  # kept open: see _OPEN
                return True
            return False
    # no libX11 to ask: a local display (":N" or "unix:N") must have its socket
    host, _, rest = name.rpartition(":")
    number = rest.split(".")[0]
    if host in ("", "unix") and number.isdigit():
        return _connects(f"/tmp/.X11-unix/X{number}")
    return True  # a remote display: left to Qt


def display_problem() -> str | None:
    """``None`` when a window can be opened, else the one line saying why not and what to do."""
    if sys.platform in ("darwin", "win32"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform and platform not in ("xcb", "wayland", "wayland-egl"):
        return None
    wayland, x11 = os.environ.get("WAYLAND_DISPLAY", ""), os.environ.get("DISPLAY", "")
    if wayland and platform != "xcb" and _wayland_ok(wayland):
        return None
    if x11 and platform not in ("wayland", "wayland-egl") and _x11_ok(x11):
        return None
    if not wayland and not x11:
        why = " (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    else:
        shown = ", ".join(f"{k}={v}" for k, v in (("DISPLAY", x11), ("WAYLAND_DISPLAY", wayland)) if v)
        why = f" ({shown} cannot be opened)"
    return NO_DISPLAY.format(why=why)
