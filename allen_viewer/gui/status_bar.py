"""The window's message banner and status bar, the latter following the viewer state.

:class:`MessageBanner`: a non-modal strip above the views for failures and notices.
:class:`TaskIndicator`: one channel's progress (label, bar, Cancel) in the status bar.
:class:`WindowStatusBar`: fills a ``QStatusBar`` -- what is under the mouse (left), the
last message, the grid and Nissl progress and the network state (right) -- and keeps the
network label in step with ``state.events.network`` (:class:`~allen_viewer.state.ViewerState`):
whoever finds the network state out only writes it into the state.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QStatusBar, QToolButton,
                               QWidget)

from allen_viewer.gui.workers import RequestChannel
from allen_viewer.state import ViewerState

STATUS_WIDTH_FRACTION = 0.35
"""Status-bar messages are elided to this fraction of the window width (the whole text in
their tool tip); what is under the mouse gets the rest, in its own field (:class:`HoverLabel`):
at 0.45 a structure's name, the position and three values did not fit beside it at 1600 px."""


class MessageBanner(QFrame):
    """A non-modal strip above the views for failures and notices; closes with its button."""

    STYLES = {
        "error": "background:#5a1d1d; color:#ffe9e9; border:1px solid #a33;",
        "info": "background:#1d3a5a; color:#e9f3ff; border:1px solid #36a;",
    }

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.label = QLabel(self)
        self.label.setObjectName("messageBannerText")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)  # server text is never rendered as HTML
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button)
        self.close_button.clicked.connect(self.hide)
        self.kind = "info"
        self.hide()

    def show_message(self, text: str, kind: str = "error") -> None:
        self.kind = kind
        self.setStyleSheet(f"#messageBanner {{{self.STYLES[kind]}}} QLabel {{ color: inherit; }}")
        self.label.setText(text)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text()


class TaskIndicator(QWidget):
    """Status-bar progress of one :class:`RequestChannel`: a label, a bar and Cancel."""

    def __init__(self, channel: RequestChannel, label: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.channel = channel
        self.label = QLabel(label, self)
        self.bar = QProgressBar(self)
        self.bar.setFixedWidth(140)
        self.bar.setMaximumHeight(16)
        self.bar.setTextVisible(True)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setObjectName(f"cancel_{channel.name}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.cancel_button.clicked.connect(channel.cancel)
        channel.started.connect(self._on_started)
        channel.progressed.connect(self._on_progress)
        channel.busyChanged.connect(lambda busy: self.setVisible(busy))
        self.hide()

    def set_label(self, text: str) -> None:
        self.label.setText(text)

    def _on_started(self, _tag) -> None:
        self.bar.setRange(0, 0)  # busy until the first progress report
        self.show()

    def _on_progress(self, done: int, total, _tag) -> None:
        if total:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * min(done, total) / total))
            self.bar.setFormat(f"{done / 1e6:.1f} / {total / 1e6:.1f} MB")
        else:
            self.bar.setRange(0, 0)
            self.bar.setFormat(f"{done / 1e6:.1f} MB")


class HoverLabel(QLabel):
    """The status bar's own field for what is under the mouse (issue 25): it takes the width
    the permanent message leaves (never its minimum text width, which would push the two into
    each other), elides its text to that width and keeps the whole text in :meth:`text` and the
    tool tip."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self._full = ""

    def setText(self, text: str) -> None:  # noqa: N802 - Qt override
        self._full = text
        self.setToolTip(text)
        self._elide()

    def text(self) -> str:
        return self._full

    @property
    def shown_text(self) -> str:
        """The text as drawn (elided to the field's width)."""
        return super().text()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(10, self.width() - 4)
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width))


class WindowStatusBar(QObject):
    """The widgets of a window's status bar (see the module docstring).

    ``bar``: the window's ``QStatusBar``; ``state``: the viewer state whose ``network``
    field the network label follows; ``grid_channel``, ``nissl_channel``: the channels
    whose progress is shown.  :meth:`show_status` puts a message in it; the reason of an
    offline state (the label's tool tip) is :attr:`network_detail`.
    """

    def __init__(self, bar: QStatusBar, state: ViewerState, grid_channel: RequestChannel,
                 nissl_channel: RequestChannel, parent: QObject | None = None):
        super().__init__(parent)
        self.bar = bar
        self.state = state
        self.network_detail = ""
        self.text = ""
        self.hover_label = HoverLabel()
        self.hover_label.setObjectName("hoverInfo")
        self.message_label = QLabel("")
        self.message_label.setObjectName("statusMessage")
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)  # messages may quote server text
        bar.addWidget(self.hover_label, 1)
        bar.addPermanentWidget(self.message_label)
        self.grid_indicator = TaskIndicator(grid_channel, "Grid")
        self.nissl_indicator = TaskIndicator(nissl_channel, "Nissl")
        bar.addPermanentWidget(self.grid_indicator)
        bar.addPermanentWidget(self.nissl_indicator)
        self.network_label = QLabel("")
        self.network_label.setObjectName("networkState")
        self.network_label.setStyleSheet("color:#d35400; font-weight:bold; padding: 0 6px;")
        self.network_label.hide()
        bar.addPermanentWidget(self.network_label)
        state.events.network.connect(self.show_network)
        self.destroyed.connect(lambda *_: state.events.network.disconnect(self.show_network, missing_ok=True))
        self.show_network(state.network)

    def show_status(self, text: str, error: bool = False) -> None:
        """Put a message in the status bar (red for errors; elided to a share of the
        window's width, the whole text in its tool tip)."""
        self.message_label.setStyleSheet("color:#c0392b; font-weight:bold;" if error else "")
        self.text = text
        window = self.bar.window()
        width = max(200, int(window.width() * STATUS_WIDTH_FRACTION))
        metrics = self.message_label.fontMetrics()
        self.message_label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, width))
        self.message_label.setToolTip(text)

    def show_network(self, state: str, *_old) -> None:
        """The network label for ``state`` (hidden while online or not known yet)."""
        if state in ("online", "unknown"):
            self.network_label.hide()
            return
        detail = self.network_detail or "the Allen API cannot be reached"
        self.network_label.setText("Offline mode" if state == "offline-mode" else "Offline")
        self.network_label.setToolTip(
            f"{detail[0].upper() + detail[1:]}. The embedded data and the cache work as usual; "
            "anything that needs a download is refused until the network is back.")
        self.network_label.show()
