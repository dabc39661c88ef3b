"""Slice panes: coronal, sagittal and horizontal sections through the 25 µm reference.

Each pane shows one plane of the CCFv3 25 µm volumes (indexed (AP, DV, ML), PIR):

* the background: the Nissl volume when it has been downloaded and chosen, otherwise the
  annotation in atlas colours (a colour lookup table over the compact labels of
  :attr:`ReferenceSpace.labels25`) with structure boundaries darkened;
* the loaded gene's expression energy as a heat map; grid voxels without data ("-1") are
  transparent.  The 200 µm grid is upsampled by index: 25 µm voxel ``a`` shows grid voxel
  ``ccf25_to_grid(a)`` (about ``8i-4 .. 8i+3`` for grid voxel ``i``);
* or, instead of the heat map, a spatial-correlation r map (issue 12; :meth:`SlicePanes.set_rmap`):
  the 200 µm r grid in a diverging colour map centred on 0 (blue -1, white 0, red +1),
  transparent where there is no result;
* the selected structure tinted, with its outline;
* a crosshair at the shared cursor, the pane's name in the top left corner and the anatomical
  directions in words at the middle of each edge (issue 21: not two-letter corner codes).

Orientation (screen = what you see; all three are drawn without flips, one 25 µm voxel
per image pixel, so pixels are square):

=========== =================== ====================== ===========================
pane        slice axis          image rows (down)      image columns (right)
=========== =================== ====================== ===========================
coronal     AP                  DV (dorsal at top)     ML (left hemisphere left)
sagittal    ML                  DV (dorsal at top)     AP (anterior left)
horizontal  DV                  AP (anterior at top)   ML (left hemisphere left)
=========== =================== ====================== ===========================

The coronal and horizontal panes are therefore seen from behind and from above; the edge
words name the direction each edge points to (``Plane.edges``).

Rendering is plain numpy into a :class:`QImage` (a few ms per slice); a pane renders only
when its slice or a layer changes, and painting just blits the image.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPen, QWheelEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QSplitter, QVBoxLayout, QWidget

from allen_viewer.atlas.reference_space import (
    ANNOTATION_SHAPE,
    ReferenceSpace,
    ccf25_to_um,
    um_to_ccf25,
)
from allen_viewer.expression.grid import GRID_SHAPE, ExpressionGrid

# The images themselves are built Qt-free in allen_viewer.render.slice_images (shared with the
# slice planes in 3-D and the image export); their names stay importable from here.
from allen_viewer.render.slice_images import (  # noqa: F401
    ATLAS_DIM_WITH_GRID,
    AXIS_NAMES,
    BACKGROUND_RGB,
    BOUNDARY_DARKEN,
    ENERGY_MAX_PERCENTILE,
    GRID_MAPS,
    HIGHLIGHT_RGB,
    HIGHLIGHT_TINT,
    OUTLINE_RGB,
    OVERLAY_ALPHA,
    PLANES,
    Plane,
    RMAP_ALPHA,
    SliceLayers,
    _grid_map,
    boundaries,
    colormap_lut,
    label_colors,
    nissl_to_gray,
    structure_label_table,
)


def edge_texts(plane, title: str, r: QRectF, fm) -> list[tuple[str, QRectF]]:
    """Where a pane writes its words (issue 21: words, not two-letter corner codes): the
    pane's title in the top left corner and each direction at the middle of its edge
    (coronal: dorsal at the top, ventral at the bottom, left and right at the sides), 4 px in
    from the image ``r``; ``fm``: the bold font's metrics."""
    pad, h = 4.0, fm.height()
    top, bottom, left, right = plane.edges
    cx, cy = r.center().x(), r.center().y()
    top_x = max(cx - fm.horizontalAdvance(top) / 2, r.left() + 2 * pad + fm.horizontalAdvance(title) + 6)
    return [(title, QRectF(r.left() + pad, r.top() + pad, fm.horizontalAdvance(title), h)),
            (top, QRectF(top_x, r.top() + pad, fm.horizontalAdvance(top), h)),
            (bottom, QRectF(cx - fm.horizontalAdvance(bottom) / 2, r.bottom() - pad - h,
                            fm.horizontalAdvance(bottom), h)),
            (left, QRectF(r.left() + pad, cy - h / 2, fm.horizontalAdvance(left), h)),
            (right, QRectF(r.right() - pad - fm.horizontalAdvance(right), cy - h / 2, fm.horizontalAdvance(right), h))]


class SliceCanvas(QWidget):
    """Paints one pane's image scaled to fit (square pixels), the crosshair and the labels.

    Signals carry image positions ``(row, col)`` in 25 µm pixels (floats):
    ``pressed`` (left button pressed), ``dragged`` (moved with the left button down),
    ``hovered`` (mouse move; ``None`` on leaving the image), ``stepped(int)`` (mouse wheel
    or arrow/page keys: slices to move).
    """

    pressed = Signal(float, float)
    dragged = Signal(float, float)
    hovered = Signal(object)
    stepped = Signal(int)

    def __init__(self, plane: Plane, parent: QWidget | None = None):
        super().__init__(parent)
        self.plane = plane
        self.image: QImage | None = None
        self.image_provider = None  # callable -> QImage, asked right before painting
        self.crosshair: tuple[float, float] | None = None  # (row, col) in image pixels
        self.overlays: list = []  # callables (painter, canvas) drawing over the image, under the crosshair
        self.title = plane.name.capitalize()
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip(f"{plane.name.capitalize()} section: top {plane.edges[0]}, bottom {plane.edges[1]}, "
                        f"left {plane.edges[2]}, right {plane.edges[3]}. Click to move the cursor, "
                        "wheel to step through slices.")

    def sizeHint(self) -> QSize:
        h, w = self.plane.image_shape
        return QSize(w, h)

    def image_rect(self) -> QRectF:
        """Where the image is drawn in widget coordinates (aspect kept, centred)."""
        h, w = self.plane.image_shape
        scale = min(self.width() / w, self.height() / h)
        dw, dh = w * scale, h * scale
        return QRectF((self.width() - dw) / 2, (self.height() - dh) / 2, dw, dh)

    def to_image(self, x: float, y: float) -> tuple[float, float] | None:
        """Widget position -> (row, col) image pixel (None outside the image)."""
        r = self.image_rect()
        if not r.contains(QPointF(x, y)):
            return None
        h, w = self.plane.image_shape
        row = (y - r.y()) / r.height() * h
        col = (x - r.x()) / r.width() * w
        return min(max(row, 0.0), h - 1.0), min(max(col, 0.0), w - 1.0)

    def to_widget(self, row: float, col: float) -> QPointF:
        """Centre of image pixel (row, col) in widget coordinates."""
        r = self.image_rect()
        h, w = self.plane.image_shape
        return QPointF(r.x() + (col + 0.5) / w * r.width(), r.y() + (row + 0.5) / h * r.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        r = self.image_rect()
        if self.image_provider is not None:
            self.image = self.image_provider()
        if self.image is not None:
            p.drawImage(r, self.image)
        for overlay in self.overlays:  # e.g. the structure labels (gui/slice_labels.py)
            overlay(p, self)
        if self.crosshair is not None:
            c = self.to_widget(*self.crosshair)
            pen = QPen(QColor(0, 255, 120, 170))
            pen.setWidth(1)
            p.setPen(pen)
            p.drawLine(QPointF(r.left(), c.y()), QPointF(r.right(), c.y()))
            p.drawLine(QPointF(c.x(), r.top()), QPointF(c.x(), r.bottom()))
        font = QFont(self.font())
        font.setBold(True)
        p.setFont(font)
        fm = p.fontMetrics()
        items = [(text, rect.left(), rect.top() + fm.ascent(), False)
                 for text, rect in edge_texts(self.plane, self.title, r, fm)]
        for text, x, y, _title in items:
            p.setPen(QColor(0, 0, 0, 200))
            p.drawText(QPointF(x + 1, y + 1), text)
            p.setPen(QColor(255, 255, 255))
            p.drawText(QPointF(x, y), text)
        p.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            pos = self.to_image(event.position().x(), event.position().y())
            if pos is not None:
                self.pressed.emit(*pos)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = self.to_image(event.position().x(), event.position().y())
        self.hovered.emit(pos)
        if pos is not None and event.buttons() & Qt.MouseButton.LeftButton:
            self.dragged.emit(*pos)
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        self.hovered.emit(None)
        super().leaveEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() // 120
        if steps:
            fast = 5 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1
            self.stepped.emit(int(steps) * fast)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        steps = {Qt.Key.Key_Up: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_PageUp: 10, Qt.Key.Key_PageDown: -10}
        if event.key() in steps:
            self.stepped.emit(steps[event.key()])
        else:
            super().keyPressEvent(event)


class ColorLegend(QWidget):
    """A one-line key to the heat map: the colour ramp from energy 0 to the saturation value."""

    def __init__(self, layers: SliceLayers, parent: QWidget | None = None):
        super().__init__(parent)
        self.layers = layers
        self.setFixedHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def text(self) -> tuple[str, str]:
        if self.layers.rmap is not None:
            seed = self.layers.rmap_seed
            at = "" if seed is None else " at AP {:.1f}, DV {:.1f}, ML {:.1f} mm".format(*(0.2 * v for v in seed))
            return f"Slices: r with seed{at}  −1", "+1   (no result: transparent)"
        if self.layers.grid is None:
            return "Slices: no gene loaded", ""
        g = self.layers.grid
        cut = self.layers.min_energy
        start = "0" if cut is None else f"{cut:.3g}"
        return (f"Slices: {g.gene} expression energy (a.u.)  {start}", f"\u2265 {self.layers.vmax:.3g}   "
                + ("(no data and energy 0: transparent; in-brain voxels only)" if cut is None else
                   f"(energy < {cut:.3g}, as in 3-D, and no data: transparent)"))

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        left, right = self.text()
        fm = p.fontMetrics()
        y = (self.height() + fm.ascent() - fm.descent()) / 2
        x = 4
        p.drawText(QPointF(x, y), left)
        if self.layers.grid is not None or self.layers.rmap is not None:
            x += fm.horizontalAdvance(left) + 6
            width = 160
            lut = self.layers.cmap
            if self.layers.rmap is not None:
                from allen_viewer.gui.spatial_dock import diverging_rgb

                lut = diverging_rgb(np.linspace(-1.0, 1.0, 256))
            img = QImage(np.ascontiguousarray(np.repeat(lut[None, :, :], 2, axis=0)).data, len(lut), 2,
                         3 * len(lut), QImage.Format.Format_RGB888).copy()
            p.drawImage(QRectF(x, 5, width, self.height() - 10), img)
            p.drawText(QPointF(x + width + 6, y), right)
        p.end()


class SlicePane(QWidget):
    """One plane: a :class:`SliceCanvas`, a slider over its slices and the slice position.

    Signals (positions as 25 µm (AP, DV, ML) indices, float ndarray of 3):
    ``clicked(index)`` (a click in the image), ``dragged(index)`` (moved with the button
    down), ``hovered(index | None)``,
    ``sliceChanged(int)`` (the slider/wheel/keys moved this pane to another slice).
    """

    clicked = Signal(object)
    dragged = Signal(object)
    hovered = Signal(object)
    sliceChanged = Signal(int)

    def __init__(self, plane: Plane, layers: SliceLayers, parent: QWidget | None = None):
        super().__init__(parent)
        self.plane = plane
        self.layers = layers
        self.canvas = SliceCanvas(plane, self)
        self.canvas.setObjectName(f"{plane.name}Canvas")
        self.canvas.image_provider = self.image  # render lazily, right before painting
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName(f"{plane.name}Slider")
        n = ANNOTATION_SHAPE[plane.axis]
        self.slider.setRange(0, n - 1)
        self.slider.setValue(n // 2)
        self.slider.setPageStep(8)  # one 200 µm grid plane
        self.position = QLabel(self)
        self.position.setMinimumWidth(90)
        self._index = n // 2
        self._dirty = True
        self.render_count = 0
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.position)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(row)
        self.slider.valueChanged.connect(self._on_slider)
        self.canvas.stepped.connect(lambda n: self.slider.setValue(self.slider.value() + n))
        self.canvas.pressed.connect(self._on_pressed)
        self.canvas.dragged.connect(lambda row, col: self.dragged.emit(self.plane.point(self._index, row, col)))
        self.canvas.hovered.connect(self._on_hovered)
        self._update_position()

    @property
    def slice_index(self) -> int:
        """The 25 µm index of the shown slice along this pane's axis."""
        return self._index

    def set_slice(self, index: int) -> None:
        """Show slice ``index`` (clipped); no ``sliceChanged`` is emitted."""
        index = int(min(max(index, 0), ANNOTATION_SHAPE[self.plane.axis] - 1))
        if index != self._index:
            self._index = index
            self._dirty = True
            self.canvas.update()
            self._rehover()
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        self._update_position()

    def set_crosshair(self, index25: np.ndarray | None) -> None:
        """Draw the crosshair at a 25 µm (AP, DV, ML) index (None hides it)."""
        if index25 is None:
            self.canvas.crosshair = None
        else:
            self.canvas.crosshair = (float(index25[self.plane.rows]), float(index25[self.plane.cols]))
        self.canvas.update()

    def invalidate(self) -> None:
        """A layer changed: render again at the next paint."""
        self._dirty = True
        self.canvas.update()

    def image(self) -> QImage:
        """The current section as a QImage (rendered now if anything changed)."""
        if self._dirty or self.canvas.image is None:
            rgb = np.ascontiguousarray(self.layers.render(self.plane, self._index))
            h, w, _ = rgb.shape
            self.canvas.image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
            self._dirty = False
            self.render_count += 1
        return self.canvas.image

    def _update_position(self) -> None:
        axis = self.plane.axis
        mm = float(ccf25_to_um(self._index)) / 1000.0
        self.position.setText(f"{AXIS_NAMES[axis]} {mm:6.3f} mm")
        self.position.setToolTip(f"slice {self._index} of {ANNOTATION_SHAPE[axis] - 1} (25 µm steps)")

    def _on_slider(self, value: int) -> None:
        if value != self._index:
            self._index = value
            self._dirty = True
            self._update_position()
            self.canvas.update()
            self._rehover()
            self.sliceChanged.emit(value)

    def _on_pressed(self, row: float, col: float) -> None:
        self.clicked.emit(self.plane.point(self._index, row, col))

    def _on_hovered(self, pos) -> None:
        self._hover_pos = pos
        self.hovered.emit(None if pos is None else self.plane.point(self._index, *pos))

    def _rehover(self) -> None:
        """The slice moved under a resting mouse (keys, wheel, another pane): the point under
        the mouse is a new one, so say it (the status bar's hover text follows)."""
        if getattr(self, "_hover_pos", None) is not None:
            self.hovered.emit(self.plane.point(self._index, *self._hover_pos))


class SlicePanes(QWidget):
    """The three panes side by side, sharing layers and one cursor.

    The cursor is a CCF point; each pane shows the slice through it and a crosshair at it.

    Signals (CCF micrometres, (AP, DV, ML) float ndarray):
    ``pointClicked(um)``: the user clicked a point (all panes have moved there already);
    ``pointHovered(um | None)``: the mouse is over a point (None: over no image);
    ``cursorMoved(um)``: a slider, the wheel, the keys or a drag moved the cursor.
    """

    pointClicked = Signal(object)
    pointHovered = Signal(object)
    cursorMoved = Signal(object)
    layersChanged = Signal()  # what the slices show changed (not where): the 3-D slice planes redraw
    figureExportRequested = Signal(str)  # a pane's context menu: "Export slice (SVG/PDF/PNG)…" (the plane)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.layers = SliceLayers()
        self.panes = {name: SlicePane(plane, self.layers, self) for name, plane in PLANES.items()}
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.setObjectName("sliceSplitter")
        for pane in self.panes.values():
            self.splitter.addWidget(pane)
        h = [PLANES[n].image_shape for n in self.panes]
        for i, (ph, pw) in enumerate(h):
            self.splitter.setStretchFactor(i, max(1, round(10 * pw / ph)))
        self.legend = ColorLegend(self.layers, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.legend)
        self._cursor = np.array([s // 2 for s in ANNOTATION_SHAPE], dtype=float)
        for pane in self.panes.values():
            pane.clicked.connect(self._on_clicked)
            pane.dragged.connect(self._on_dragged)
            pane.hovered.connect(self._on_hovered)
            pane.sliceChanged.connect(self._make_slice_handler(pane))
            pane.canvas.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            pane.canvas.customContextMenuRequested.connect(lambda pos, p=pane: self._open_menu(p, pos))
        self.menu_sections: list = []
        """Providers of more right-click entries: ``provide(pane, pos)`` -> [(text, callback())]
        for the point under the mouse (the Section dock's *Show section here*, ...): one menu
        per click, whoever adds entries."""
        self._apply_cursor()

    def _open_menu(self, pane: SlicePane, pos) -> None:
        menu = self.context_menu(pane.plane.name, pane, pos)
        pane.canvas._section_menu = menu  # kept for tests
        menu.popup(pane.canvas.mapToGlobal(pos))

    def context_menu(self, plane: str, pane: SlicePane | None = None, pos=None):
        """A pane's right-click menu: the entries of :attr:`menu_sections` for the point
        ``pos`` of ``pane`` (when given), then *Export slice (SVG/PDF/PNG)…*, which asks
        (through :attr:`figureExportRequested`) for the vector figure of that pane's slice."""
        from PySide6.QtWidgets import QMenu

        menu = QMenu(self)
        if pane is not None:
            for provide in self.menu_sections:
                for text, callback in provide(pane, pos):
                    entry = menu.addAction(text)
                    entry.triggered.connect(lambda _=False, cb=callback: cb())
            if menu.actions():
                menu.addSeparator()
        act = menu.addAction("Export slice (SVG/PDF/PNG)…")
        act.setObjectName(f"exportSliceFigure_{plane}")
        act.triggered.connect(lambda _=False: self.figureExportRequested.emit(plane))
        return menu

    def _make_slice_handler(self, pane: SlicePane):
        def handler(index: int) -> None:
            self._cursor[pane.plane.axis] = index
            self._apply_cursor()
            self.cursorMoved.emit(self.cursor_um())

        return handler

    # ---- layers ---------------------------------------------------------------------------

    def set_reference_space(self, space: ReferenceSpace) -> None:
        """Show the annotation of ``space`` (builds the colour table, ~10 ms)."""
        self.layers.space = space
        self.layers.label_rgb = label_colors(space)
        if self.layers.highlight_id is not None:
            self.layers.highlight_table = structure_label_table(space, self.layers.highlight_id)
        self._invalidate()

    def set_nissl(self, gray: np.ndarray | None) -> None:
        """The Nissl volume as uint8 (AP, DV, ML) grey (see :func:`nissl_to_gray`), or None."""
        if gray is not None and gray.shape != ANNOTATION_SHAPE:
            raise ValueError(f"Nissl volume has shape {gray.shape}, expected {ANNOTATION_SHAPE}")
        self.layers.nissl = gray
        self._invalidate()

    def set_background(self, which: str) -> None:
        """``"annotation"`` or ``"nissl"`` (Nissl shows only once it has been loaded)."""
        if which not in ("annotation", "nissl"):
            raise ValueError(f"unknown background {which!r}")
        self.layers.background = which
        self._invalidate()

    @property
    def background(self) -> str:
        return "nissl" if self.layers.showing_nissl else "annotation"

    def set_grid(self, grid: ExpressionGrid | None) -> None:
        self.layers.set_grid(grid)
        self._invalidate()

    def set_rmap(self, rmap: np.ndarray | None, seed: tuple[int, int, int] | None = None) -> None:
        """Draw a spatial-correlation r map (float (AP, DV, ML) on the 200 µm grid, NaN = no
        result; ``seed`` its seed's grid index) instead of the gene's heat map; None brings the
        heat map back."""
        if rmap is not None and tuple(rmap.shape) != tuple(GRID_SHAPE):
            raise ValueError(f"r map has shape {rmap.shape}, expected {tuple(GRID_SHAPE)}")
        if rmap is None and self.layers.rmap is None:
            return
        self.layers.rmap = rmap
        self.layers.rmap_seed = None if rmap is None else seed
        self._invalidate()

    def set_min_energy(self, value: float | None) -> None:
        """Heat map only where energy >= ``value`` (e.g. the 3-D threshold); None: every
        voxel with energy > 0."""
        value = None if value is None else float(value)
        if self.layers.min_energy != value:
            self.layers.min_energy = value
            if self.layers.grid is not None:
                self._invalidate()

    def set_cmap(self, name: str) -> None:
        if name != self.layers.cmap_name:
            self.layers.cmap_name = name
            self.layers.cmap = colormap_lut(name)
            if self.layers.grid is not None:
                self._invalidate()

    def set_highlight(self, structure_id: int | None) -> None:
        """Tint and outline a structure (with its descendants) in every pane; None clears."""
        self.layers.highlight_id = structure_id
        space = self.layers.space
        self.layers.highlight_table = (
            structure_label_table(space, structure_id) if (structure_id is not None and space is not None) else None)
        self._invalidate()

    def preferred_height(self, width: int) -> int:
        """Height (px) at which the three panes, side by side in ``width`` px, fill it with
        images without black bars (plus sliders and the legend)."""
        ratio = sum(PLANES[n].image_shape[1] / PLANES[n].image_shape[0] for n in self.panes)
        extra = self.legend.height() + max(p.slider.sizeHint().height() for p in self.panes.values()) + 16
        return int(width / ratio) + extra

    def fit_pane_widths(self) -> None:
        """Share the width between the panes in proportion to their images' aspect ratios."""
        aspect = [PLANES[n].image_shape[1] / PLANES[n].image_shape[0] for n in self.panes]
        total = max(self.splitter.width(), 1)
        self.splitter.setSizes([int(total * a / sum(aspect)) for a in aspect])

    def _invalidate(self) -> None:
        for pane in self.panes.values():
            pane.invalidate()
        self.legend.update()
        self.layersChanged.emit()

    # ---- cursor ---------------------------------------------------------------------------

    def cursor_index(self) -> np.ndarray:
        """The cursor as a 25 µm (AP, DV, ML) index (floats)."""
        return self._cursor.copy()

    def cursor_um(self) -> np.ndarray:
        """The cursor in CCF micrometres (AP, DV, ML)."""
        return ccf25_to_um(self._cursor)

    def set_cursor_um(self, um) -> None:
        """Move the cursor (and every pane's slice) to a CCF point in µm (AP, DV, ML)."""
        self._cursor = um_to_ccf25(np.asarray(um, dtype=float)).astype(float)
        self._apply_cursor()

    def _apply_cursor(self) -> None:
        for pane in self.panes.values():
            pane.set_slice(int(self._cursor[pane.plane.axis]))
            pane.set_crosshair(self._cursor)

    def _on_clicked(self, index25: np.ndarray) -> None:
        self._cursor = np.clip(np.floor(index25), 0, np.array(ANNOTATION_SHAPE) - 1)
        self._apply_cursor()
        self.pointClicked.emit(self.cursor_um())

    def _on_dragged(self, index25: np.ndarray) -> None:
        cursor = np.clip(np.floor(index25), 0, np.array(ANNOTATION_SHAPE) - 1)
        if not np.array_equal(cursor, self._cursor):
            self._cursor = cursor
            self._apply_cursor()
            self.cursorMoved.emit(self.cursor_um())

    def _on_hovered(self, index25) -> None:
        self.pointHovered.emit(None if index25 is None else ccf25_to_um(np.floor(index25)))
