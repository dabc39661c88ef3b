"""The energy-threshold control: a slider on the gene's percentile, and the value box.

Why (issue 25): a linear slider from 0 to the gene's largest energy gave one pixel to ~0.5
energy units, so a 40-pixel drag jumped from 8.6 to 29.5, past the colour scale's top, while
most of a gene's voxels lie below 5.  The rule now:

* the **slider** moves along the percentile ranks of the shown gene's in-brain energies
  (:meth:`ThresholdControl.set_distribution`), 0.1 percentile per step (1000 steps):
  position ``p`` sets the threshold to the ``p / 10``-th percentile of those energies, so
  every step moves past about the same number of voxels and the fine steps fall where the
  gene's values are;
* the **value box** is the energy itself, typed to two decimals, as before; the slider then
  goes to that value's percentile rank;
* without a distribution (no gene yet) the slider is linear over the range.

The API is the one of the labelled slider it replaces (``value``, ``setValue``,
``setRange``, ``minimum``, ``maximum``, ``setDecimals``, ``valueChanged(float)``), so the
window, the keys (``[``/``]`` step the energy, :mod:`allen_viewer.gui.shortcuts`) and the
session binding use it unchanged.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSlider, QWidget

SLIDER_STEPS = 1000
"""Slider positions: 0.1 percentile each."""


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
        self._sorted: np.ndarray | None = None  # the gene's in-brain energies, ascending
        self._value = 0.0
        self.slider.valueChanged.connect(self._on_slider)
        self.box.valueChanged.connect(self._on_box)

    # ---- the labelled slider's API ----------------------------------------------------------

    def value(self) -> float:
        return self._value

    def minimum(self) -> float:
        return float(self.box.minimum())

    def maximum(self) -> float:
        return float(self.box.maximum())

    def setDecimals(self, decimals: int) -> None:  # noqa: N802 - Qt spelling
        self.box.setDecimals(decimals)

    def setRange(self, lo: float, hi: float) -> None:  # noqa: N802 - Qt spelling
        self.box.blockSignals(True)
        self.box.setRange(float(lo), float(hi))
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
        return float(np.percentile(self._sorted, 100.0 * frac))

    def _position_of(self, value: float) -> int:
        if self._sorted is None:
            span = self.maximum() - self.minimum()
            return 0 if span <= 0 else round(SLIDER_STEPS * (value - self.minimum()) / span)
        return round(SLIDER_STEPS * self.percentile_of(value) / 100.0)

    def _sync_slider(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self._position_of(self._value))
        self.slider.blockSignals(False)
        pct = self.percentile_of(self._value)
        tip = getattr(self, "_tip", "")
        if pct is not None:
            tip = (tip + "\n" if tip else "") + (f"{pct:.1f} % of the gene's in-brain voxels with data lie below "
                                                 f"{self._value:.2f}; the slider moves by 0.1 percentile")
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
