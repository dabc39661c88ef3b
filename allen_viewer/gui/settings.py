"""What the viewer remembers between runs, kept in a QSettings store.

* the window's geometry and dock layout (``saveGeometry``/``saveState``) and its splitters;
* the last experiment shown and the recently viewed ones (newest first, experiment ids);
* the expression display settings (threshold, sphere size, colour map, opacity);
* which background the slice panes show (annotation or Nissl);
* whether the user answered "Don't ask again" to the first-run offer of the Nissl download.

A ``read_only`` store (used by ``--screenshot``) reads the user's settings but never
writes them.

Where it lives: a file given to :class:`ViewerSettings` (tests use a temporary one), else
the file named by ``ALLEN_VIEWER_SETTINGS`` (an INI path), else the platform's usual
QSettings location for organisation/application ``allen_viewer``.  A settings file that is
not a regular file (a FIFO, a folder, a device) is never opened (a FIFO would hang the
viewer): one warning line, the defaults, nothing saved (:func:`not_a_settings_file`).
"""
from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "allen_viewer"
APPLICATION = "allen_viewer"
MAX_RECENT = 12
DEFAULT_GENE = "Pdyn"


def default_settings_file() -> Path | None:
    """Where QSettings keeps ``allen_viewer``'s settings on Linux and other X11 systems
    (``$XDG_CONFIG_HOME/allen_viewer/allen_viewer.conf``); None elsewhere (macOS keeps a plist
    that QSettings reads itself, Windows the registry)."""
    if sys.platform in ("darwin", "win32"):
        return None
    from PySide6.QtCore import QStandardPaths

    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base) / ORGANIZATION / f"{APPLICATION}.conf" if base else None


def not_a_settings_file(path: Path | None) -> str | None:
    """Why ``path`` cannot be the settings file (it exists and is not a regular file: a FIFO,
    a device, a folder), or None.  Such a file is never opened: reading a FIFO blocks forever."""
    if path is None:
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # not there yet (made on the first save), or unreadable: QSettings copes
    if stat.S_ISREG(mode):
        return None
    kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a folder" if stat.S_ISDIR(mode) else
            "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file")
    return (f"the settings file {path} is {kind}, not a regular file; it is ignored, the viewer starts with "
            "its defaults and saves no settings this run (move it away, or set ALLEN_VIEWER_SETTINGS to a file)")


class ViewerSettings:
    """Typed accessors over a :class:`QSettings` store (see the module docstring)."""

    def __init__(self, path: Path | str | None = None, read_only: bool = False):
        self.read_only = read_only
        """When True nothing is written (scripted runs such as ``--screenshot``)."""
        path = path or os.environ.get("ALLEN_VIEWER_SETTINGS") or None
        problem = not_a_settings_file(Path(path) if path else default_settings_file())
        if problem:  # a FIFO would hang QSettings' first read: run on defaults, save nothing
            print(f"allen-viewer: warning: {problem}", file=sys.stderr)
            self.read_only = True
            path = Path(tempfile.gettempdir()) / f"allen_viewer-unused-settings-{os.getpid()}.ini"
        if path:
            self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.qsettings = QSettings(ORGANIZATION, APPLICATION)

    @property
    def path(self) -> str:
        return self.qsettings.fileName()

    def sync(self) -> None:
        if not self.read_only:
            self.qsettings.sync()

    def _set(self, key: str, value) -> None:
        if not self.read_only:
            self.qsettings.setValue(key, value)

    # ---- window layout --------------------------------------------------------------------

    def window_geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def window_state(self) -> QByteArray | None:
        value = self.qsettings.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def splitter_state(self, name: str) -> QByteArray | None:
        value = self.qsettings.value(f"window/splitter_{name}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def save_layout(self, geometry: QByteArray, state: QByteArray, splitters: dict[str, QByteArray]) -> None:
        self._set("window/geometry", geometry)
        self._set("window/state", state)
        for name, value in splitters.items():
            self._set(f"window/splitter_{name}", value)

    # ---- genes ----------------------------------------------------------------------------

    @property
    def last_experiment(self) -> int | None:
        """Id of the experiment shown last, or None."""
        value = self.qsettings.value("genes/last_experiment")
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    @property
    def recent_experiments(self) -> list[int]:
        """Ids of recently viewed experiments, newest first."""
        value = self.qsettings.value("genes/recent", "")
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        ids = []
        for part in str(value or "").split(","):
            part = part.strip()
            if part.isdigit() and int(part) not in ids:
                ids.append(int(part))
        return ids[:MAX_RECENT]

    def remember_experiment(self, experiment_id: int) -> list[int]:
        """Make an experiment the last one and the newest recent one; return the recent ids."""
        ids = [int(experiment_id)] + [i for i in self.recent_experiments if i != int(experiment_id)]
        ids = ids[:MAX_RECENT]
        self._set("genes/last_experiment", int(experiment_id))
        self._set("genes/recent", ",".join(str(i) for i in ids))
        return ids

    # ---- display --------------------------------------------------------------------------

    def display(self) -> dict:
        """Saved expression display settings (only the keys that were saved)."""
        out: dict = {}
        for key, kind in (("threshold", float), ("size_scale", float), ("opacity", float), ("cmap", str),
                          ("threshold_percentile", float), ("threshold_pinned", _as_bool), ("color_by", str)):
            value = self.qsettings.value(f"display/{key}")
            if value in (None, ""):
                continue
            try:
                out[key] = kind(value)
            except (TypeError, ValueError):
                continue
        return out

    def save_display(self, values: dict) -> None:
        # threshold_percentile / threshold_pinned: the per-gene threshold rule (a percentile
        # of each gene's in-brain energies, unless an absolute energy is pinned)
        for key in ("threshold", "size_scale", "opacity", "cmap", "threshold_percentile", "threshold_pinned",
                    "color_by"):
            if key in values and values[key] is not None:
                self._set(f"display/{key}", values[key])

    @property
    def background(self) -> str:
        """``"annotation"`` or ``"nissl"``: what the slice panes should show under the overlay."""
        value = str(self.qsettings.value("slices/background", "annotation"))
        return value if value in ("annotation", "nissl") else "annotation"

    @background.setter
    def background(self, value: str) -> None:
        self._set("slices/background", value)

    # ---- sessions ---------------------------------------------------------------------------

    @property
    def session_folder(self) -> str:
        """The folder of the last session saved or opened ("" before any): where *Open
        session…* and *Save session…* start (issue 25)."""
        return str(self.qsettings.value("sessions/last_folder", "") or "")

    @session_folder.setter
    def session_folder(self, value: str) -> None:
        self._set("sessions/last_folder", str(value))

    # ---- first run --------------------------------------------------------------------------

    @property
    def nissl_offer_declined(self) -> bool:
        """True once the user answered "Don't ask again" to the offer of the Nissl download."""
        value = self.qsettings.value("first_run/nissl_offer_declined", False)
        return str(value).strip().lower() in ("1", "true", "yes")

    @nissl_offer_declined.setter
    def nissl_offer_declined(self, value: bool) -> None:
        self._set("first_run/nissl_offer_declined", bool(value))


def _as_bool(value) -> bool:
    """QSettings gives booleans back as ``"true"``/``"false"`` strings from INI files."""
    if isinstance(value, str):
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise ValueError(value)
    return bool(value)
