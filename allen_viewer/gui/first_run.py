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
"Don't ask again") and the offline note ("Retry", dismiss); the main window decides when
they show.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

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
