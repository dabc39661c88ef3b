"""Structure acronyms on the slice panes (the *Structure labels on slices* toggle).

What is labelled and where: :mod:`allen_viewer.atlas.slice_labels` (the structure's most
interior pixel in that slice, layers named by their area, structures of at least
:data:`~allen_viewer.atlas.slice_labels.MIN_LABEL_PIXELS` pixels, largest first).  Drawn
here over the image, under the crosshair: white bold text with a dark shadow, in a small
font; a label that would overlap one already written, or stick out of the image, is
skipped.  Each slice's labels are computed once (about 50 ms) and kept.
"""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter

from allen_viewer.atlas.slice_labels import SliceLabel, label_groups, slice_labels

LABEL_POINT_SIZE = 7.5
LABEL_GAP_PX = 2
"""Labels keep at least this many screen pixels apart."""
CACHE_SLICES = 64


class SliceLabelOverlay:
    """Draws acronyms on every pane of a :class:`~allen_viewer.gui.slice_view.SlicePanes`."""

    def __init__(self, slices):
        self.slices = slices
        self.enabled = False
        self.space = None
        self._groups = None
        self._cache: dict[tuple[str, int], list[SliceLabel]] = {}
        self.drawn: dict[str, list[str]] = {}
        """The acronyms each pane drew at its last paint (for tests and the curious)."""
        for pane in slices.panes.values():
            pane.canvas.overlays.append(lambda painter, canvas, p=pane: self.paint(painter, canvas, p))

    def set_reference_space(self, space) -> None:
        self.space = space
        self._groups = None if space is None else label_groups(space.ontology, space.label_ids)
        self._cache.clear()
        self._update()

    def set_enabled(self, on: bool) -> None:
        self.enabled = bool(on)
        self._update()

    def labels(self, pane) -> list[SliceLabel]:
        """The labels of ``pane``'s current slice (computed once per slice)."""
        if self.space is None or self._groups is None:
            return []
        key = (pane.plane.name, pane.slice_index)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= CACHE_SLICES:
                self._cache.pop(next(iter(self._cache)))
            labels = pane.plane.take(self.space.labels25, pane.slice_index)
            found = self._cache[key] = slice_labels(labels, *self._groups, self.space.ontology)
        return found

    def paint(self, p: QPainter, canvas, pane) -> None:
        if not self.enabled:
            self.drawn.pop(pane.plane.name, None)
            return
        p.save()
        font = QFont(canvas.font())
        font.setPointSizeF(LABEL_POINT_SIZE)
        font.setBold(True)
        p.setFont(font)
        fm = p.fontMetrics()
        bounds = canvas.image_rect()
        placed: list[QRectF] = _reserved(canvas, bounds)  # the pane's title and corner letters
        drawn = []
        for label in self.labels(pane):
            centre = canvas.to_widget(label.row, label.col)
            w, h = fm.horizontalAdvance(label.acronym), fm.height()
            rect = QRectF(centre.x() - w / 2, centre.y() - h / 2, w, h)
            grown = rect.adjusted(-LABEL_GAP_PX, -LABEL_GAP_PX, LABEL_GAP_PX, LABEL_GAP_PX)
            if not bounds.contains(rect) or any(grown.intersects(r) for r in placed):
                continue
            placed.append(rect)
            drawn.append(label.acronym)
            base = QPointF(rect.left(), rect.top() + fm.ascent())
            p.setPen(QColor(0, 0, 0, 220))
            p.drawText(base + QPointF(1, 1), label.acronym)
            p.setPen(QColor(255, 255, 255))
            p.drawText(base, label.acronym)
        self.drawn[pane.plane.name] = drawn
        p.restore()

    def _update(self) -> None:
        for pane in self.slices.panes.values():
            pane.canvas.update()


def _reserved(canvas, r: QRectF) -> list[QRectF]:
    """Where the canvas writes its title and corner letters (bold, 4 px in from the image's
    corners, as :meth:`SliceCanvas.paintEvent` does): labels keep off them."""
    font = QFont(canvas.font())
    font.setBold(True)
    fm = QFontMetricsF(font)
    from allen_viewer.gui.slice_view import edge_texts

    return [rect for _text, rect in edge_texts(canvas.plane, canvas.title, r, fm)]
