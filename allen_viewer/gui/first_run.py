"""First run: is the network there, and the offer of the Nissl download.

How "offline" is decided (also in ``docs/user-guide.md``):

* ``ALLEN_VIEWER_OFFLINE=1`` or ``--offline``: offline by request.  Nothing is sent, and
  nothing is probed.
* otherwise one cheap probe at start-up, in a worker thread (the window is up and usable
  meanwhile): a single ``HEAD`` request to the API host (``ALLEN_API_URL``, by default
  ``https://api.brain-map.org``), no retries, :data:`PROBE_TIMEOUT_S` seconds to connect
  and to answer.  Any HTTP answer, whatever its status, means the host is reachable
  (online); no connection, a failed name lookup or no answer in time means offline.
  Later events correct it: a grid downloaded from the API means online again, a download
  that fails with "cannot reach" means offline.

Being offline never blocks anything: the embedded genes (Pdyn, Nrp1), the atlas and
everything in the cache work as usual; a gene that needs a download says why it failed.

:func:`probe_network` is Qt-free.  :class:`NoticeBar` is the non-modal strip above the
views that carries the offer of the Nissl download ("Download (136 MB)", "Not now",
"Don't ask again") and the offline note ("Retry", dismiss); :class:`FirstRun` (made by the
main window) decides when they show, keeps ``state.network`` and loads the Nissl volume.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from allen_viewer import config
from allen_viewer.errors import Offline
from allen_viewer.model.texts import offline_note_text

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0
"""Seconds the start-up probe waits to connect, and again for the answer."""


@dataclass(frozen=True)
class ProbeResult:
    """What the start-up probe found: ``online``, a sentence saying why, and how long it took."""

    online: bool
    detail: str
    elapsed_s: float
    host: str


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0]


def probe_network(api_url: str, timeout: float = PROBE_TIMEOUT_S,
                  session: requests.Session | None = None) -> ProbeResult:
    """One ``HEAD`` request to ``api_url``: online when the host answers at all.

    Never raises: every failure is an offline result whose ``detail`` says what happened.
    Proxies set in the environment are used, as for every other request of the viewer.
    """
    host = _host(api_url)
    url = api_url.rstrip("/") + "/"
    t0 = time.monotonic()
    try:
        resp = (session or requests).head(url, timeout=(timeout, timeout), allow_redirects=False)
        resp.close()
    except requests.exceptions.Timeout:
        return ProbeResult(False, f"{host} did not answer within {timeout:g} s", time.monotonic() - t0, host)
    except requests.exceptions.ConnectionError as exc:
        text = str(exc).lower()
        why = ("its name could not be resolved" if ("name or service" in text or "getaddrinfo" in text
                                                    or "name resolution" in text or "nodename" in text)
               else "the connection was refused" if "refused" in text
               else "it could not be reached")
        return ProbeResult(False, f"{host}: {why}", time.monotonic() - t0, host)
    except (requests.exceptions.RequestException, OSError, ValueError) as exc:
        return ProbeResult(False, f"{host} could not be asked ({type(exc).__name__})", time.monotonic() - t0, host)
    elapsed = time.monotonic() - t0
    return ProbeResult(True, f"{host} answered (HTTP {resp.status_code}) in {elapsed:.2f} s", elapsed, host)


class NoticeBar(QFrame):
    """A non-modal strip above the views: a message, a few buttons, and a dismiss button.

    ``buttons``: ``(key, text, tool_tip)`` triples; a click emits ``clicked(key)`` (the bar
    stays until its owner hides it).  The ✕ button hides the bar and emits
    ``clicked("dismiss")``.
    """

    clicked = Signal(str)

    STYLE = ("#{name} {{ background:#1d3a5a; border:1px solid #36a; }} "
             "#{name} QLabel {{ color:#e9f3ff; }}")

    def __init__(self, name: str, buttons: list[tuple[str, str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self.setStyleSheet(self.STYLE.format(name=name))
        self.label = QLabel(self)
        self.label.setObjectName(f"{name}Text")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        self.buttons: dict[str, QPushButton] = {}
        for key, text, tip in buttons:
            button = QPushButton(text, self)
            button.setObjectName(f"{name}_{key}")
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, k=key: self.clicked.emit(k))
            layout.addWidget(button)
            self.buttons[key] = button
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self._dismiss)
        layout.addWidget(self.close_button)
        self.hide()

    def _dismiss(self) -> None:
        self.hide()
        self.clicked.emit("dismiss")

    def show_text(self, html: str) -> None:
        self.label.setText(html)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text()


def nissl_offer_bar(size_text: str, parent: QWidget | None = None) -> NoticeBar:
    """The offer of the Nissl download: "Download (136 MB)", "Not now", "Don't ask again"."""
    bar = NoticeBar("nisslOffer", [
        ("download", f"Download ({size_text})",
         "Download the 25 µm Nissl volume into the cache in the background (progress and Cancel in the "
         "status bar); an interrupted download resumes next time"),
        ("later", "Not now", "Hide this for now; Atlas > Download the Nissl volume does it any time"),
        ("never", "Don't ask again", "Never offer it again (Atlas > Download the Nissl volume still does it)"),
    ], parent)
    bar.show_text(
        f"<b>Nissl background available.</b> The slice panes can show the Allen Nissl-stained reference "
        f"volume under the expression instead of the atlas colours. Download it now ({size_text}, kept in "
        f"the cache)?")
    bar.hide()
    return bar


def offline_note_bar(parent: QWidget | None = None) -> NoticeBar:
    """The note shown when the start-up probe finds no network, with "Retry"."""
    return NoticeBar("offlineNote", [
        ("retry", "Retry", "Ask the Allen API host again"),
    ], parent)


NISSL_SIZE_TEXT = "136 MB"
"""The Nissl volume's download size, as the offer and the Atlas menu say it."""


class FirstRun(QObject):
    """The window's network state and the Nissl volume (see the module docstring): the probe
    at start-up and its answer in ``state.network`` (the status bar, the title and the
    offline note follow it), the Nissl offer, the Nissl download and its slices.

    ``probe_result``: the probe's answer (None until it came)."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.probe_result: ProbeResult | None = None
        self._nissl_offered = False
        w = window
        w.loaded.events.nissl.connect(self._on_nissl)
        w.state.events.network.connect(self._on_network)
        w.nissl_channel.failed.connect(self._on_nissl_failed)
        w.nissl_channel.cancelled.connect(lambda _t: w.show_status("Nissl download cancelled; "
                                                                   "it resumes where it stopped next time."))
        w.nissl_channel.busyChanged.connect(self._on_nissl_busy)
        w.probe_channel.resultReady.connect(self._on_probe)
        w.nissl_offer.clicked.connect(self._on_nissl_offer)
        w.offline_note.clicked.connect(self._on_offline_note)

    def download_nissl(self) -> None:
        """Download (or, when it is there, just open) the Nissl volume in the background."""
        self.load_nissl(download=not self.w.data.has_nissl())

    def load_nissl(self, download: bool) -> None:
        self.w.nissl_indicator.set_label("Nissl download" if download else "Nissl")
        self.w.show_status("Downloading the Nissl volume (136 MB)…" if download else "Opening the Nissl volume…")
        self.w.loaders.load_nissl(download)

    def _on_nissl_busy(self, busy: bool) -> None:
        self.w.cancel_nissl_action.setEnabled(busy)
        self.w.download_nissl_action.setEnabled(not busy)
        if busy:
            self.w.nissl_offer.hide()  # however the download was started

    def _on_nissl(self, gray, *_old) -> None:
        if gray is None:
            return
        tag = self.w.loaders.nissl_tag
        self.w.slices.set_nissl(gray)  # (the compare view follows self.w.loaded itself)
        self.w.nissl_action.setEnabled(True)
        self.w.nissl_action.setToolTip("")
        self.w.download_nissl_action.setText("Nissl volume downloaded")
        if tag == "download" or self.w.settings.background == "nissl":
            self.w.set_slice_background("nissl")
        self.w.show_status("Nissl volume ready.")

    def _on_nissl_failed(self, message: str, exc, _tag) -> None:
        self.w.show_error(f"Nissl volume: {message}")
        self.note_offline_failure(exc, message)

    def check_network(self) -> None:
        """Decide whether the viewer is online (see :mod:`allen_viewer.gui.first_run`):
        offline mode asked for, or one probe of the API host in the background."""
        if config.offline():
            if self.w.probe_channel.busy:
                self.w.probe_channel.cancel_all()
            self.set_network("offline-mode", "offline mode is on (ALLEN_VIEWER_OFFLINE or --offline)")
            return
        self.w.loaders.probe()

    def _on_probe(self, result: ProbeResult, _tag) -> None:
        self.probe_result = result
        log.info("network probe: %s", result.detail)
        self.set_network("online" if result.online else "offline", result.detail)

    def set_network(self, state: str, detail: str) -> None:
        """The network is ``state`` because of ``detail``: written into ``state.network``,
        which the status bar and :meth:`_on_network` follow (a repeated state with a new
        reason shows that reason)."""
        self.w.status.network_detail = detail
        if state == self.w.state.network:
            self.w.status.show_network(state)
            self._on_network(state, state)
        else:
            self.w.state.network = state

    def _on_network(self, state: str, old: str | None = None) -> None:
        """``state.network`` changed: the first-run bars, the title, ``networkChanged``."""
        if state == "online":
            self.w.offline_note.hide()
            self.maybe_offer_nissl()
        elif state != "unknown":
            self.w.nissl_offer.hide()
            if state == "offline" and self.w.notices:
                self.w.offline_note.show_text(self.offline_note())
        self.w.refresh_title()
        if state != old:
            self.w.networkChanged.emit(state)

    @property
    def _offline_detail(self) -> str:
        return self.w.status.network_detail

    def offline_note(self) -> str:
        embedded = sorted(int(p.stem) for p in (config.resources_dir() / "grids").glob("*.zip") if p.stem.isdigit())
        if self.w.index is not None:
            names = [self.w.index.by_id(i).symbol for i in embedded if self.w.index.has_id(i)]
        else:
            names = [str(i) for i in embedded]
        return offline_note_text(self._offline_detail, names, len(self.w.data.cache.grids()))

    def note_offline_failure(self, exc, message: str) -> None:
        """A request failed because the host could not be reached: the viewer is offline."""
        if isinstance(exc, Offline) and not config.offline() and self.w.network != "offline":
            self.set_network("offline", message.rstrip("."))

    def _on_offline_note(self, key: str) -> None:
        if key == "retry":
            self.w.offline_note.hide()
            self.w.show_status("Checking the network…")
            self.check_network()

    def maybe_offer_nissl(self) -> bool:
        """Show the offer of the Nissl download if it is due: online, the Nissl volume not in
        the cache and not downloading, not declined for good, not offered yet in this run
        (and first-run notices on).  Returns whether the offer is shown."""
        due = (self.w.notices and self.w.network == "online" and not self._nissl_offered
               and not self.w.settings.nissl_offer_declined and not self.w.nissl_channel.busy
               and not self.w.data.has_nissl())
        if due:
            self._nissl_offered = True
            self.w.nissl_offer.show()
        return due

    def _on_nissl_offer(self, key: str) -> None:
        self.w.nissl_offer.hide()
        if key == "download":
            self.download_nissl()
        elif key == "never":
            self.w.settings.nissl_offer_declined = True
            self.w.settings.sync()
            self.w.show_status("The Nissl download will not be offered again; Atlas > Download the Nissl volume "
                             "still does it.")
        elif key in ("later", "dismiss"):
            self.w.show_status("Atlas > Download the Nissl volume downloads it when you want it.")
