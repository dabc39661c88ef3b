"""The energy-threshold control: a slider on the gene's percentile, and the value box.

Why (issue 25): a linear slider from 0 to the gene's largest energy gave one pixel to ~0.5
energy units, so a 40-pixel drag jumped from 8.6 to 29.5, past the colour scale's top, while
most of a gene's voxels lie below 5.  The rule now:

* the **slider** moves along the shown gene's in-brain energies by the share of voxels it
  keeps, on a logarithmic scale (:meth:`ThresholdControl.set_distribution`): position
  ``p`` of :data:`SLIDER_STEPS` keeps the top ``100 x 10^(-3 p / SLIDER_STEPS)`` % of the
  voxels with data, i.e. sets the threshold to the ``100 - that``-th percentile of their
  energies: the left end draws every voxel, a third of the way the top 10 % (the 90th
  percentile, the default), two thirds the top 1 %, the right end the top 0.1 %.  Equal
  drags are equal ratios of voxels drawn, so the steps are finest where a threshold is
  chosen (a 40-pixel drag from the 90th percentile stays below the colour scale's top);
  a higher threshold is typed in the box (or stepped with the keys);
* the **value box** is the energy itself, typed to two decimals, as before; the slider then
  goes to that value's percentile rank;
* without a distribution (no gene yet) the slider is linear over the range.

The API is the one of the labelled slider it replaces (``value``, ``setValue``,
``setRange``, ``minimum``, ``maximum``, ``setDecimals``, ``valueChanged(float)``), so the
window, the keys (``[``/``]`` step the energy, :mod:`allen_viewer.gui.shortcuts`) and the
session binding use it unchanged.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSlider, QWidget

SLIDER_STEPS = 1000
"""Slider positions."""
DECADES = 3.0
"""The slider spans the top 100 % to the top 0.1 % of the voxels, logarithmically."""


def percentile_at(position: int) -> float:
    """The percentile slider position ``position`` stands for (0 -> 0, 1/3 -> 90, 1 -> 99.9)."""
    frac = min(max(position, 0), SLIDER_STEPS) / SLIDER_STEPS
    return 100.0 - 100.0 * 10.0 ** (-DECADES * frac)


def position_at(percentile: float) -> int:
    """The slider position of a percentile (the inverse of :func:`percentile_at`, clipped)."""
    top = max(100.0 - float(percentile), 100.0 * 10.0 ** (-DECADES))
    return int(round(min(max(-np.log10(top / 100.0) / DECADES, 0.0), 1.0) * SLIDER_STEPS))


class ThresholdControl(QWidget):
    """Slider on the percentile + energy value box (see the module docstring)."""

    valueChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("thresholdSlider")
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(50)
        self.box = QDoubleSpinBox(self)
        self.box.setObjectName("thresholdValue")
        self.box.setDecimals(2)
        self.box.setKeyboardTracking(False)
        self.box.setMinimumWidth(64)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.box)
        self._lo, self._hi = 0.0, 99.99
        self._sorted: np.ndarray | None = None  # the gene's in-brain energies, ascending
        self._value = 0.0
        self.slider.valueChanged.connect(self._on_slider)
        self.box.valueChanged.connect(self._on_box)

    # ---- the labelled slider's API ----------------------------------------------------------

    def value(self) -> float:
        return self._value

    def minimum(self) -> float:
        return self._lo

    def maximum(self) -> float:
        return self._hi

    def setDecimals(self, decimals: int) -> None:  # noqa: N802 - Qt spelling
        self.box.setDecimals(decimals)

    def setRange(self, lo: float, hi: float) -> None:  # noqa: N802 - Qt spelling
        self._lo, self._hi = float(lo), float(hi)  # exact (the box rounds to its decimals)
        step = 10.0 ** -self.box.decimals()
        self.box.blockSignals(True)
        self.box.setRange(math.floor(self._lo / step) * step, math.ceil(self._hi / step) * step)
        self.box.blockSignals(False)
        clipped = min(max(self._value, float(lo)), float(hi))
        if clipped != self._value:
            self.setValue(clipped)
        else:
            self._sync_slider()

    def setValue(self, value: float) -> None:  # noqa: N802 - Qt spelling
        value = min(max(float(value), self.minimum()), self.maximum())
        changed = value != self._value
        self._value = value
        self.box.blockSignals(True)
        self.box.setValue(value)
        self.box.blockSignals(False)
        self._sync_slider()
        if changed and not self.signalsBlocked():
            self.valueChanged.emit(value)

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt spelling
        super().setToolTip(text)
        self.box.setToolTip(text)
        self._tip = text
        self._sync_slider()

    # ---- the percentile slider --------------------------------------------------------------

    def set_distribution(self, values: np.ndarray | None) -> None:
        """The energies the slider's percentiles are of (the shown gene's in-brain voxels with
        data); None or empty: a linear slider over the range."""
        if values is None or not np.asarray(values).size:
            self._sorted = None
        else:
            self._sorted = np.sort(np.asarray(values, dtype=np.float64).ravel())
        self._sync_slider()

    def percentile_of(self, value: float) -> float | None:
        """The percentage of the distribution strictly below ``value`` (None without one)."""
        if self._sorted is None:
            return None
        return 100.0 * float(np.searchsorted(self._sorted, value, side="left")) / self._sorted.size

    def value_at(self, position: int) -> float:
        """The threshold slider position ``position`` (0..:data:`SLIDER_STEPS`) stands for."""
        frac = min(max(position, 0), SLIDER_STEPS) / SLIDER_STEPS
        if self._sorted is None:
            return self.minimum() + frac * (self.maximum() - self.minimum())
        return float(np.percentile(self._sorted, percentile_at(position)))

    def _position_of(self, value: float) -> int:
        if self._sorted is None:
            span = self.maximum() - self.minimum()
            return 0 if span <= 0 else round(SLIDER_STEPS * (value - self.minimum()) / span)
        return position_at(self.percentile_of(value))

    def _sync_slider(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self._position_of(self._value))
        self.slider.blockSignals(False)
        pct = self.percentile_of(self._value)
        tip = getattr(self, "_tip", "")
        if pct is not None:
            tip = (tip + "\n" if tip else "") + (f"{pct:.1f} % of the gene's in-brain voxels with data lie below "
                                                 f"{self._value:.2f}; the slider keeps the top 100 % to 0.1 % of "
                                                 "them, logarithmically")
        self.slider.setToolTip(tip)

    def _on_slider(self, position: int) -> None:
        value = min(max(self.value_at(position), self.minimum()), self.maximum())
        if value != self._value:
            self._value = value
            self.box.blockSignals(True)
            self.box.setValue(value)
            self.box.blockSignals(False)
            self.valueChanged.emit(value)

    def _on_box(self, value: float) -> None:
        self.setValue(value)
