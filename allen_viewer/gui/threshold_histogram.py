"""The threshold slider's companion: the shown gene's histogram of in-brain energies with the cut.

Bars: counts of in-brain voxels with data per energy bin (square-root height, so the long
low-energy bulk does not flatten the tail), from 0 to the gene's largest in-brain energy.
The part of the histogram at or above the threshold (what the 3-D view draws) is drawn in
the highlight colour, the rest grey, and a red line marks the threshold.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

BINS = 60


class ThresholdHistogram(QWidget):
    """A small histogram of a gene's in-brain energies with the threshold marked."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.counts = np.zeros(0)
        self.edges = np.zeros(0)
        self.threshold = 0.0
        self.setMinimumHeight(42)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("In-brain energies of the shown gene (voxels per bin, square-root scale); "
                        "coloured: drawn at the current threshold")

    def set_values(self, energies: np.ndarray | None) -> None:
        """The energies to histogram (1-D; None or empty clears it)."""
        if energies is None or not np.size(energies):
            self.counts, self.edges = np.zeros(0), np.zeros(0)
        else:
            values = np.asarray(energies, dtype=np.float64)
            top = float(values.max()) if values.max() > 0 else 1.0
            self.counts, self.edges = np.histogram(values, bins=BINS, range=(0.0, top))
        self.update()

    def set_threshold(self, value: float) -> None:
        self.threshold = float(value)
        self.update()

    def drawn_fraction(self) -> float:
        """Fraction of the histogrammed voxels at or above the threshold (bin resolution)."""
        if not self.counts.size or not self.counts.sum():
            return 0.0
        return float(self.counts[self.edges[:-1] >= self.threshold].sum() / self.counts.sum())

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.fillRect(rect, QColor(245, 245, 245))
        if self.counts.size:
            heights = np.sqrt(self.counts / max(self.counts.max(), 1))
            width = rect.width() / len(self.counts)
            for i, h in enumerate(heights):
                colour = QColor(68, 1, 84) if self.edges[i] >= self.threshold else QColor(170, 170, 170)
                bar_h = h * (rect.height() - 2)
                painter.fillRect(QRectF(rect.left() + i * width, rect.bottom() - bar_h, max(width - 0.5, 0.5), bar_h),
                                 colour)
            top = self.edges[-1] if self.edges[-1] > 0 else 1.0
            x = rect.left() + min(max(self.threshold / top, 0.0), 1.0) * rect.width()
            painter.setPen(QPen(QColor(220, 30, 30), 2))
            painter.drawLine(int(x), int(rect.top()), int(x), int(rect.bottom()))
        else:
            painter.setPen(QColor(120, 120, 120))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "no gene shown")
        painter.end()
