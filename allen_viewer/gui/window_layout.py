"""How the main window's docks share its space (issue 25).

The rules:

* **The display controls are a dock** ("Display", right): threshold, percentile, colour,
  size, opacity and the camera buttons.  It is outside the centre's stack, so it stays in
  compare mode, where it acts on both genes (through ``state.display``, as before) beside the
  compare view's own options (scale, difference/ratio, normalisation) in the compare bar.
* **Every dock and panel comes back from the View menu** (its ``toggleViewAction``), and the
  one brought back is raised to the front of its tab group (View > Structures shows the tree,
  not the Library search tab behind it).
* **Docks never resize the window.**  Every dock's contents sit in a scroll area, so a dock's
  minimum width is a few pixels rather than the width of its widest row of buttons: Qt then
  never has to widen the window to fit a dock that opens (the Section dock widened a 1600 px
  window to 2094 px).  Controls that do not fit scroll instead of overlapping.
* **A dock that opens takes its width from the views**: a right-hand dock shown (the Section,
  the Spatial correlation) gets :data:`DOCK_WIDTHS` pixels (at most
  :data:`MAX_DOCK_FRACTION` of the window), beside the Display dock; the window's size is kept
  and the 3-D view and the slices shrink.
* The layout holds from :data:`MIN_GOOD_SIZE` (1000x650) up; at 800x500 nothing overlaps (the
  docks' contents scroll).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QFrame, QScrollArea, QWidget

DISPLAY_DOCK_WIDTH = 270
"""The Display dock's width by default (its controls' natural width)."""
DISPLAY_MIN_WIDTH = 160
"""The Display dock is never narrower (so a small window can still be 800 px wide)."""
LEFT_DOCK_WIDTH = 330
"""The left docks' (genes, structures, library) width by default in a wide window."""
DOCK_WIDTHS = {"sectionDock": 420, "spatialDock": 420}
"""Width (px) a right-hand dock gets when it opens (by object name); others: 360."""
MAX_DOCK_FRACTION = 0.3
"""A dock that opens takes at most this share of the window's width."""
MIN_GOOD_SIZE = (1000, 650)
"""The smallest window size the layout is designed for (tested)."""


def scroll_wrap(widget: QWidget, name: str = "") -> QScrollArea:
    """``widget`` in a frameless scroll area that resizes it (scroll bars only when it cannot
    shrink further)."""
    area = QScrollArea()
    area.setObjectName(name or f"{widget.objectName() or 'panel'}Scroll")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area


def display_dock(window, panel: QWidget) -> QDockWidget:
    """The Display dock (right) holding ``panel``, the display controls and camera buttons."""
    dock = QDockWidget("Display", window)
    dock.setObjectName("displayDock")
    area = scroll_wrap(panel, "displayScroll")
    panel.setMinimumWidth(DISPLAY_DOCK_WIDTH - 20)  # narrower than this, it scrolls sideways
    area.setMinimumWidth(DISPLAY_MIN_WIDTH)
    dock.setWidget(area)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.resizeDocks([dock], [DISPLAY_DOCK_WIDTH], Qt.Orientation.Horizontal)
    return dock


def install_window_layout(window) -> None:
    """Apply the module's rules to ``window``'s docks (after they are made, before the saved
    layout is restored)."""
    window.setAnimated(False)  # docks take their place at once (an animated layout ignores resizeDocks)
    display = window.display_dock
    for dock in (window.search_dock, window.tree_dock, window.library_dock, window.section_dock,
                 window.spatial_dock):
        inner = dock.widget()
        if inner is not None and not isinstance(inner, QScrollArea):
            dock.setWidget(scroll_wrap(inner))
    # the Section and Spatial docks open to the right of the Display dock, in one column
    window.splitDockWidget(display, window.section_dock, Qt.Orientation.Horizontal)
    window.splitDockWidget(window.section_dock, window.spatial_dock, Qt.Orientation.Vertical)
    for dock in window.findChildren(QDockWidget):
        action = dock.toggleViewAction()
        action.triggered.connect(lambda checked, d=dock: checked and d.raise_())
        if window.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea and dock is not display:
            dock.visibilityChanged.connect(lambda visible, d=dock: _on_right_dock(window, d, visible))


def fit_docks(window) -> None:
    """The default dock widths for the window's width: the left docks
    :data:`LEFT_DOCK_WIDTH` (less in a narrow window), the Display dock
    :data:`DISPLAY_DOCK_WIDTH`.  Called when the window is first shown without a saved layout."""
    left = max(200, min(LEFT_DOCK_WIDTH, int(window.width() * 0.22)))
    window.resizeDocks([window.search_dock, window.display_dock], [left, DISPLAY_DOCK_WIDTH],
                       Qt.Orientation.Horizontal)


def _on_right_dock(window, dock: QDockWidget, visible: bool) -> None:
    if visible:
        _give_width(window, dock)
    elif not dock.isFloating():  # its width goes back to the views, not to the Display dock
        QTimer.singleShot(0, lambda: window.display_dock.isVisible() and window.resizeDocks(
            [window.display_dock], [DISPLAY_DOCK_WIDTH], Qt.Orientation.Horizontal))


def dock_width(window, dock: QDockWidget) -> int:
    """The width a right-hand dock gets when it opens (see the module docstring)."""
    want = DOCK_WIDTHS.get(dock.objectName(), 360)
    return max(120, min(want, int(window.width() * MAX_DOCK_FRACTION)))


def _give_width(window, dock: QDockWidget) -> None:
    """Give a right-hand dock that opened its default width from the views: held for a moment
    by a minimum width (``resizeDocks`` alone is ignored while a dock's first layout is pending),
    never more than the views can give, so the window keeps its size."""
    if dock.isFloating():
        return
    size = window.size()
    display = window.display_dock
    left = max((d.width() for d in (window.search_dock, window.tree_dock, window.library_dock)
                if d.isVisible() and not d.isFloating()), default=0)
    keep_display = display.isVisible() and not display.isFloating()
    spare = size.width() - window.centralWidget().minimumSizeHint().width() - 40 - left
    if keep_display:
        spare -= DISPLAY_DOCK_WIDTH
    width = min(dock_width(window, dock), spare)
    if width < 120:
        return  # no room: Qt's own share stands, and the window is not widened
    dock.setMinimumWidth(width)
    if keep_display:
        display.setMinimumWidth(DISPLAY_DOCK_WIDTH)

    def release() -> None:
        dock.setMinimumWidth(0)
        display.setMinimumWidth(0)
        if not (window.isMaximized() or window.isFullScreen()) and window.size() != size:
            window.resize(size)  # never the window: the views give the width

    QTimer.singleShot(200, release)
