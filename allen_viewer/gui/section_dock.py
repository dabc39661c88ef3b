"""The *Section* dock: the original ISH section image behind a point of the loaded experiment.

Click a point in a slice pane or the 3-D view (or *Show section here* in a slice pane's
context menu) and the dock asks :class:`~allen_viewer.store.section_store.SectionImageStore`
for the experiment's section nearest that point (``reference_to_image``), fetches its JPEG
at downsample 4 (each side / 16, ~750 px for a real section) and shows it with a marker at
the point's synchronised pixel.  Zoom with the wheel or the buttons, pan by dragging;
*Expression mask* switches to the pipeline's mask of the same section (``view=expression``);
*Previous*/*Next* step through the series by section number (no marker: the point is not
on those sections).

Work happens only while the dock is shown: a point clicked while it is hidden is
remembered and fetched when the dock is shown.  Fetches run in the viewer's thread pool
through one :class:`~allen_viewer.gui.workers.RequestChannel` (cancellable, newest request
wins); the image is decoded there too.  Images, section lists and point synchronisations
are cached, so a point seen once shows offline.
"""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QDockWidget,
    QGraphicsEllipseItem,
    QGraphicsLineItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from allen_viewer.gui.workers import RequestChannel, shared_pool
from allen_viewer.store.section_store import DEFAULT_DOWNSAMPLE, SectionImageStore

MARKER_RADIUS_PX = 9.0
"""Marker size on screen (pixels), whatever the zoom."""


@dataclass
class _Shown:
    """What the dock shows: the section view and the decoded image."""

    view: object  # SectionView
    image: QImage


class SectionImageView(QGraphicsView):
    """The section image with a marker at a pixel; wheel zooms about the mouse, drag pans."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sectionImageView")
        self.scene_ = QGraphicsScene(self)
        self.setScene(self.scene_)
        self.pixmap_item = QGraphicsPixmapItem()
        self.pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene_.addItem(self.pixmap_item)
        pen = QPen(QColor(0, 230, 255), 2)
        pen.setCosmetic(True)
        r = MARKER_RADIUS_PX
        self.marker = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r)
        self.marker.setPen(pen)
        self.marker.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        self.marker.setFlag(QGraphicsEllipseItem.GraphicsItemFlag.ItemIgnoresTransformations)
        for dx, dy in ((1, 0), (0, 1)):
            line = QGraphicsLineItem(-2.2 * r * dx, -2.2 * r * dy, 2.2 * r * dx, 2.2 * r * dy, self.marker)
            line.setPen(pen)
        self.marker.setZValue(10)
        self.marker.hide()
        self.scene_.addItem(self.marker)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setBackgroundBrush(QColor(30, 30, 30))
        self.setMinimumSize(240, 180)

    def set_image(self, image: QImage | None, marker: tuple[float, float] | None) -> None:
        """Show ``image`` (None clears) with the marker at pixel (column, row) or none."""
        self.pixmap_item.setPixmap(QPixmap() if image is None else QPixmap.fromImage(image))
        if image is not None:
            self.scene_.setSceneRect(0, 0, image.width(), image.height())
        self.set_marker(marker)
        self.fit()

    def set_marker(self, marker: tuple[float, float] | None) -> None:
        if marker is None:
            self.marker.hide()
        else:
            self.marker.setPos(QPointF(float(marker[0]), float(marker[1])))
            self.marker.show()

    def marker_pixel(self) -> tuple[float, float] | None:
        """The marker's pixel (column, row) in the image, or None when hidden."""
        return None if not self.marker.isVisible() else (self.marker.pos().x(), self.marker.pos().y())

    def fit(self) -> None:
        if not self.pixmap_item.pixmap().isNull():
            self.fitInView(self.pixmap_item, Qt.AspectRatioMode.KeepAspectRatio)

    def zoom(self, factor: float) -> None:
        scale = self.transform().m11() * factor
        if 0.02 <= scale <= 40:
            self.scale(factor, factor)

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.zoom(1.25 if event.angleDelta().y() > 0 else 0.8)
        event.accept()


class SectionPanel(QWidget):
    """The dock's contents; see the module docstring.

    ``shown(view)`` is emitted when a section is on screen (``view`` a SectionView);
    ``failedMessage(text)`` when a request ended in an error or found no image.
    """

    shown = Signal(object)
    failedMessage = Signal(str)

    def __init__(self, data, parent: QWidget | None = None, downsample: int = DEFAULT_DOWNSAMPLE):
        super().__init__(parent)
        self.setObjectName("sectionPanel")
        self.data = data
        self.store = SectionImageStore(data.cache, data.client)
        self.downsample = int(downsample)
        self.channel = RequestChannel("section", shared_pool(), self)
        self.experiment = None
        self.point_um = None
        self.current: _Shown | None = None
        self._active = False
        self._pending = False

        self.title = QLabel("Click a point in a slice or the 3-D view to see its ISH section.")
        self.title.setObjectName("sectionTitle")
        self.title.setWordWrap(True)
        self.view = SectionImageView(self)
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.mask_box = QCheckBox("Expression mask")
        self.mask_box.setToolTip("Show the Allen pipeline's expression mask of the section instead of the stained image")
        self.zoom_in = QPushButton("+")
        self.zoom_out = QPushButton("−")
        self.fit_button = QPushButton("Fit")
        self.cancel_button = QPushButton("Cancel")
        for b in (self.zoom_in, self.zoom_out):
            b.setFixedWidth(28)
        self.status = QLabel("")
        self.status.setObjectName("sectionStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        row = QHBoxLayout()
        for w in (self.prev_button, self.next_button, self.mask_box):
            row.addWidget(w)
        row.addStretch(1)
        for w in (self.zoom_out, self.zoom_in, self.fit_button, self.cancel_button):
            row.addWidget(w)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)

        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(+1))
        self.mask_box.toggled.connect(self._on_mask_toggled)
        self.zoom_in.clicked.connect(lambda: self.view.zoom(1.25))
        self.zoom_out.clicked.connect(lambda: self.view.zoom(0.8))
        self.fit_button.clicked.connect(self.view.fit)
        self.cancel_button.clicked.connect(self.channel.cancel)
        self.channel.resultReady.connect(self._on_result)
        self.channel.failed.connect(self._on_failed)
        self.channel.cancelled.connect(lambda _tag: self.status.setText("Cancelled."))
        self.channel.busyChanged.connect(self._on_busy)
        self.channel.progressed.connect(self._on_progress)
        self._update_buttons()

    # ---- state ----------------------------------------------------------------------------

    @property
    def view_name(self) -> str:
        return "expression" if self.mask_box.isChecked() else "stained"

    @property
    def section_number(self) -> int | None:
        return None if self.current is None else self.current.view.section_number

    def set_active(self, active: bool) -> None:
        """Shown (True) or hidden; a request remembered while hidden starts when shown."""
        self._active = bool(active)
        if self._active and self._pending:
            self._request_point()
        elif not self._active and self.channel.busy:
            self.channel.cancel()
            self._pending = self.point_um is not None  # fetched again when shown

    def set_experiment(self, experiment) -> None:
        """The experiment whose sections to show (an Experiment: ``id``, ``plane``, ``label``)."""
        if experiment is None or (self.experiment is not None and experiment.id == self.experiment.id):
            self.experiment = experiment
            return
        self.experiment = experiment
        self.current = None
        self.view.set_image(None, None)
        self.title.setText(f"{experiment.label}: click a point to see its ISH section.")
        if self.point_um is not None:
            self.show_point(self.point_um)
        self._update_buttons()

    def show_point(self, um) -> None:
        """Show the section nearest a CCF point (µm, (AP, DV, ML)) with a marker."""
        self.point_um = tuple(float(v) for v in um)
        self._pending = True
        if self._active:
            self._request_point()

    def step(self, direction: int) -> None:
        """The previous (-1) or next (+1) section by section number."""
        if self.experiment is None or self.current is None:
            return
        store, exp, number = self.store, self.experiment, self.current.view.section_number
        downsample, view = self.downsample, self.view_name
        self._submit(lambda p, c: store.neighbour(exp, number, direction, downsample, view, progress=p, cancel=c),
                     f"section {'after' if direction > 0 else 'before'} {number}")

    # ---- requests -------------------------------------------------------------------------

    def _request_point(self) -> None:
        self._pending = False
        if self.experiment is None or self.point_um is None:
            return
        store, exp, (ap, dv, ml) = self.store, self.experiment, self.point_um
        downsample, view = self.downsample, self.view_name
        self._submit(lambda p, c: store.section_at(exp, ap, dv, ml, downsample, view, progress=p, cancel=c),
                     f"AP {ap / 1000:.2f}, DV {dv / 1000:.2f}, ML {ml / 1000:.2f} mm")

    def _submit(self, fetch, what: str) -> None:
        def job(progress, cancel):
            sec = fetch(progress, cancel)
            image = QImage(str(sec.path))  # decoded in the worker; QImage is not a widget
            if image.isNull():
                from allen_viewer.errors import CorruptData

                raise CorruptData(f"The section image {sec.path.name} cannot be decoded.")
            return _Shown(sec, image)

        self.status.setText(f"Fetching the section at {what}…")
        self.channel.submit(job, self.experiment)

    def _on_mask_toggled(self, _on: bool) -> None:
        if self.current is None:
            return
        if self.current.view.sync is not None and self.point_um is not None:
            self.show_point(self.point_um)
        else:
            store, exp, number = self.store, self.experiment, self.current.view.section_number
            downsample, view = self.downsample, self.view_name
            self._submit(lambda p, c: _same_section(store, exp, number, downsample, view, p, c), f"section {number}")

    def _on_result(self, shown: _Shown, experiment) -> None:
        if self.experiment is None or experiment is None or experiment.id != self.experiment.id:
            return
        self.current = shown
        sec = shown.view
        self.view.set_image(shown.image, sec.pixel)
        where = ("marker at the point" if sec.pixel is not None else "no marker: the point is on another section")
        self.title.setText(f"<b>{self.experiment.label}</b> — section {sec.section_number} "
                           f"(image {sec.image_id}, {'expression mask' if sec.view == 'expression' else 'ISH'}; "
                           f"{where})")
        self.status.setText(f"Downsample {sec.downsample}: {shown.image.width()} x {shown.image.height()} pixels. "
                            "Wheel: zoom; drag: pan.")
        self._update_buttons()
        self.shown.emit(sec)

    def _on_failed(self, message: str, _exc, _tag) -> None:
        self.status.setText(message)
        self.failedMessage.emit(message)

    def _on_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)

    def _on_progress(self, done: int, total, _tag) -> None:
        if total:
            self.status.setText(f"Fetching the section image… {100 * done // max(1, total)} %")

    def _update_buttons(self) -> None:
        has = self.current is not None
        self.prev_button.setEnabled(has)
        self.next_button.setEnabled(has)
        self.cancel_button.setEnabled(self.channel.busy)


def _same_section(store: SectionImageStore, exp, number: int, downsample: int, view: str, progress, cancel):
    """The section ``number`` itself (another view of it), found through the section list."""
    from allen_viewer.store.section_store import SectionView

    for s in store.sections(exp.id):
        if s.section_number == number:
            path = store.image(s.id, downsample, view, None, progress, cancel)
            return SectionView(path, s.id, s.section_number, downsample, view, None, int(exp.id), None)
    from allen_viewer.api.section_images import NoSectionImage

    raise NoSectionImage(f"Experiment {exp.id} has no section {number}.")


class SectionDock(QDockWidget):
    """A dock holding a :class:`SectionPanel`; active only while shown."""

    def __init__(self, data, parent: QWidget | None = None):
        super().__init__("Section", parent)
        self.setObjectName("sectionDock")
        self.panel = SectionPanel(data, self)
        self.setWidget(self.panel)
        self.visibilityChanged.connect(self.panel.set_active)

    def show_point(self, um) -> None:
        self.panel.show_point(um)

    def set_experiment(self, experiment) -> None:
        self.panel.set_experiment(experiment)

    def show_here(self, um) -> None:
        """*Show section here*: raise the dock and show the section at ``um``."""
        self.show()
        self.raise_()
        self.panel.show_point(um)

    def follow(self, state) -> None:
        """Show the section at ``state.section_um`` now and whenever it changes (the
        clicks write the state; this dock follows it, docs/design.md "The data path")."""
        from allen_viewer.gui.binding import follow

        follow(state, "section_um", lambda um, *_: None if um is None else self.panel.show_point(um), self,
               initial=True)


def install_section_menu(slices, show_here, extra: list | None = None) -> None:
    """Entries of every slice pane's context menu (:attr:`SlicePanes.menu_sections`): *Show
    section here* (``show_here(um)``; and ``extra`` (text, callback(um)) entries) for the
    point under the mouse."""

    def provide(pane, pos) -> list:
        hit = pane.canvas.to_image(pos.x(), pos.y())
        if hit is None:
            return []
        um = pane.plane.point(pane.slice_index, *hit)
        return [("Show section here", lambda: show_here(um))] + [
            (text, lambda cb=callback: cb(um)) for text, callback in extra or []]

    slices.menu_sections.append(provide)


def add_section_dock(window) -> SectionDock:
    """Make the Section dock, dock it on the right (hidden until asked for: View menu or
    *Show section here*) and hook it to the window's clicks and loaded experiment; also the
    Spatial correlation dock (``window.spatial_dock``) and the slice panes' context menu."""
    dock = SectionDock(window.data, window)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    state = window.state

    def point(um) -> None:  # a click or a pick: the state says which section to show
        state.section_um = tuple(float(v) for v in um)

    def here(um) -> None:  # *Show section here*: raise the dock, then the state
        dock.show()
        dock.raise_()
        point(um)

    window.slices.pointClicked.connect(point)
    window.scene.pointPicked.connect(point)
    dock.follow(state)
    from allen_viewer.gui.binding import follow

    # gene A's sections: the dock follows what is loaded (a swap of a comparison too), not a channel
    follow(window.loaded, "grid", lambda grid, *_: None if grid is None else dock.set_experiment(grid.experiment),
           dock, initial=True)
    window.section_dock = dock
    from allen_viewer.gui.spatial_dock import add_spatial_dock

    window.spatial_dock = add_spatial_dock(window)
    install_section_menu(window.slices, here, extra=[("Spatial correlation from here", window.spatial_dock.seed_at)])
    return dock
