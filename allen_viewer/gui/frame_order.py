"""Paint order of a gene switch: the 3-D frame first, the slice panes right after it.

Qt paints the raster widgets of a window (the three slice panes, ~10-15 ms each) before it
renders the window's OpenGL widgets (the 3-D view) in the same paint cycle, so a new gene's
3-D frame waited for the three new sections (issue 19 item 6, docs/design.md "Click to
frame").  :class:`PanesAfterFrame` holds the panes' paints (``setUpdatesEnabled(False)``)
from the moment the window takes a new gene in until the 3-D view's next frame has ended,
then lets them paint (one paint each, as before: only their order changes).  When no frame
is coming (the 3-D view hidden, as in compare mode, or closed) nothing is held; should a
requested frame never come, :data:`RELEASE_AFTER_MS` lets the panes paint anyway.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QWidget

RELEASE_AFTER_MS = 1000
"""The panes paint at the latest this long after a hold, frame or not (a safety net)."""


class PanesAfterFrame(QObject):
    """Holds ``panes``' paints until ``scene`` (an
    :class:`~allen_viewer.gui.scene3d.ExpressionScene`) has drawn its next frame, each time
    ``loaded`` (a :class:`~allen_viewer.loaded_data.LoadedData`) takes a new gene A in.  Made
    before the window subscribes to ``loaded``, so that the hold comes before any view takes
    the gene in."""

    def __init__(self, scene, panes: QWidget, loaded=None, parent: QObject | None = None):
        super().__init__(parent)
        self.scene, self.panes = scene, panes
        if loaded is not None:
            loaded.events.grid.connect(lambda grid, *_: None if grid is None else self.hold())
        self.held = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RELEASE_AFTER_MS)
        self._timer.timeout.connect(self._enable)
        scene.plotter.render_window.AddObserver("EndEvent", self._on_frame)

    def hold(self) -> None:
        """Hold the panes' paints until the 3-D view's next frame (no-op when it cannot come)."""
        if self.scene.is_closed or not self.scene.plotter.isVisible():
            return
        if not self.held:
            self.held = True
            self.panes.setUpdatesEnabled(False)
        self._timer.start()

    def _on_frame(self, *_) -> None:
        if self.held:
            self.held = False
            # after the paint cycle that drew the frame (enabling updates repaints the panes)
            QTimer.singleShot(0, self._enable)

    def _enable(self) -> None:
        if self.held and self._timer.isActive():
            return  # held again by a newer gene before this ran: its frame releases them
        self.held = False
        self._timer.stop()
        if not self.panes.updatesEnabled():
            self.panes.setUpdatesEnabled(True)
