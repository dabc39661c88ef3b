"""Compare mode: two genes side by side, where they differ, and how well they correlate.

:class:`CompareView` replaces the main window's centre while comparing (``View > Compare
with another gene…``, or ``allen-viewer --gene A --compare B``).  Top to bottom:

* a bar naming the two experiments, with the colour-scale choice (**shared**: one energy
  range and one sphere-size scale for both genes, the default, so equal colours mean equal
  energy; **separate**: each gene saturates at its own 99th percentile), the third view's
  choice (**difference** a - b, or **ratio** shown as log2(a / b)), Swap and Close;
* the Pearson correlation of energy over the voxels where both experiments have data, for
  the whole brain and for the structure selected in the tree -- exactly
  :func:`allen_viewer.expression.compare.correlation` (with ``space.grid_mask(structure)``
  as the mask for the structure), with the number of voxels it used;
* three 3-D views in a row, each with its caption: gene A, gene B and the difference or
  ratio (:class:`~allen_viewer.render.layers.DifferenceLayer`: drawn only where
  **both** have data, on a diverging red-blue colour map centred on 0).  Their cameras are
  linked (:class:`CameraLink`): turning, zooming or a preset in one moves the others;
* one row of slice panes (coronal, sagittal, horizontal) with **both genes overlaid in two
  colours**: A in green, B in magenta, added, so voxels where both express are white (the
  choice over side-by-side panes: a single overlay shows co-localisation at a glance and
  keeps the panes large).  Each gene's energy is scaled to its saturation value (shared or
  separate, as the 3-D views); voxels where neither has data stay transparent.

In compare mode both 3-D gene views colour by energy -- the quantity the correlation and
the difference use -- so one scale can serve both.  Coordinates are CCF µm (x = AP, y = DV,
z = ML); arrays are (AP, DV, ML).

Signals: ``pointClicked(um)``, ``pointHovered(um | None)``, ``cursorMoved(um)`` (from the
slice panes and the 3-D views; CCF µm (AP, DV, ML)), ``closeRequested()``,
``swapRequested()``, ``changed()`` (grids, scale, third view or structure changed).
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from allen_viewer.atlas.ontology import Structure
from allen_viewer.atlas.reference_space import ReferenceSpace, um_to_grid
from allen_viewer.expression.compare import both_have_data, correlation
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.render.layers import (
    DEFAULT_MIN_ABS_FRACTION,
    DifferenceLayer,
    ExpressionLayer,
    difference_values,
    robust_max,
)
from allen_viewer.gui.gene_search import GeneSearchPanel
from allen_viewer.gui.scene3d import ExpressionScene
from allen_viewer.gui.slice_view import SlicePanes
from allen_viewer.render.camera_link import CameraLink as SceneCameraLink
from allen_viewer.render.two_gene_slices import COLOR_A, COLOR_B, TwoGeneSliceLayers
from allen_viewer.records import Experiment
from allen_viewer.store.gene_index import GeneIndex

SCALES = ("shared", "separate")
KINDS = ("difference", "ratio")
BAR_LEFT, BAR_WIDTH, BAR_LABELS = 0.30, 0.66, 3
"""The compare views are narrow: their colour bars are longer and carry three labels."""
SLICE_SHARE = 0.42
"""The slice row gets at most this fraction of the compare view's height."""


def _fmt_r(r: float) -> str:
    return "n/a" if r is None or math.isnan(r) else f"{r:.4f}"


# ---- slices: two genes in two colours -----------------------------------------------------

class TwoGeneLegend(QWidget):
    """The key under the compare slices: the two genes' colours and saturation values."""

    def __init__(self, layers: TwoGeneSliceLayers, parent: QWidget | None = None):
        super().__init__(parent)
        self.layers = layers
        self.setFixedHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def parts(self) -> list[tuple[str, QColor | None]]:
        """(text, swatch colour or None) pieces, left to right."""
        a, b = self.layers.grid, self.layers.grid_b
        if a is None or b is None:
            return [("Slices: two genes not loaded", None)]
        return [("Slices: energy of", None),
                (f"{a.gene} (green, 0\u2013{self.layers.vmax:.3g}+)", QColor(*COLOR_A.astype(int))),
                (f"{b.gene} (magenta, 0\u2013{self.layers.vmax_b:.3g}+)", QColor(*COLOR_B.astype(int))),
                ("both: white", QColor(255, 255, 255)),
                ("(no data in either: transparent)", None)]

    def text(self) -> str:
        return "  ".join(t for t, _ in self.parts())

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        fm = p.fontMetrics()
        y = (self.height() + fm.ascent() - fm.descent()) / 2
        x = 4.0
        for text, colour in self.parts():
            if colour is not None:
                p.fillRect(QRectF(x, 5, 14, self.height() - 10), colour)
                p.setPen(QColor(90, 90, 90))
                p.drawRect(QRectF(x, 5, 14, self.height() - 10))
                x += 18
            p.setPen(self.palette().color(self.foregroundRole()))
            p.drawText(QPointF(x, y), text)
            x += fm.horizontalAdvance(text) + 12
        p.end()


class CompareSlicePanes(SlicePanes):
    """The three slice panes with :class:`TwoGeneSliceLayers` and :class:`TwoGeneLegend`."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layers = TwoGeneSliceLayers()
        self.layers = layers
        for pane in self.panes.values():
            pane.layers = layers
        legend = TwoGeneLegend(layers, self)
        self.layout().replaceWidget(self.legend, legend)
        self.legend.deleteLater()
        self.legend = legend

    def set_grids(self, a: ExpressionGrid | None, b: ExpressionGrid | None, shared: bool = True) -> None:
        self.layers.set_grids(a, b, shared)
        self._invalidate()


# ---- linked cameras -----------------------------------------------------------------------

class CameraLink(QObject):
    """The Qt side of :class:`~allen_viewer.render.camera_link.CameraLink` for the compare
    view's three scenes: followers are re-rendered on the next pass of the event loop
    (several changes in one pass cost one frame each).  ``synced`` is emitted after the
    others were set; ``renders`` counts the follower frames."""

    synced = Signal()

    def __init__(self, scenes: list[ExpressionScene], parent: QObject | None = None):
        super().__init__(parent)
        self.scenes = list(scenes)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.flush)
        self.core = SceneCameraLink([s.scene for s in self.scenes], on_follow=self._on_follow)

    @property
    def renders(self) -> int:
        return self.core.renders

    def _on_follow(self) -> None:
        self._timer.start()
        self.synced.emit()

    def flush(self) -> None:
        """Render the followers now instead of on the next event-loop pass."""
        self._timer.stop()
        self.core.render_pending()

    def close(self) -> None:
        """Stop linking (idempotent)."""
        self._timer.stop()
        self.core.close()


# ---- picking the second gene --------------------------------------------------------------

class GenePickerDialog(QDialog):
    """'Compare with…': the gene search panel in a dialog; Enter or a double-click picks."""

    def __init__(self, index: GeneIndex, locator=None, parent: QWidget | None = None, current: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Compare with another gene")
        self.setObjectName("genePickerDialog")
        self.experiment: Experiment | None = None
        self.panel = GeneSearchPanel(self)
        self.panel.set_locator(locator)
        self.panel.set_index(index)
        self.panel.recent_label.hide()
        self.panel.recent.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Compare")
        buttons.accepted.connect(self._accept_current)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Compare {current} with:" if current else "Compare with:"))
        layout.addWidget(self.panel, 1)
        layout.addWidget(buttons)
        self.panel.experimentActivated.connect(self._pick)
        self.resize(460, 420)

    def _pick(self, exp: Experiment) -> None:
        self.experiment = exp
        self.accept()

    def _accept_current(self) -> None:
        exp = self.panel.current_experiment()
        if exp is not None:
            self._pick(exp)


# ---- the view ---------------------------------------------------------------------------

class CompareView(QWidget):
    """Two genes, their difference and their correlation (see the module docstring)."""

    pointClicked = Signal(object)
    pointHovered = Signal(object)
    cursorMoved = Signal(object)
    closeRequested = Signal()
    swapRequested = Signal()
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("compareView")
        self.a: ExpressionGrid | None = None
        self.b: ExpressionGrid | None = None
        self.space: ReferenceSpace | None = None
        self.structure: Structure | None = None
        self.whole_brain_r = float("nan")
        self.whole_brain_n = 0
        self.structure_r = float("nan")
        self.structure_n = 0
        self._closed = False
        self._outline_set = False
        self._fitted = False
        self._build()
        self.link = CameraLink([self.scene_a, self.scene_b, self.scene_diff], self)
        self.scale_box.currentIndexChanged.connect(lambda _i: self.apply_grids())
        self.kind_box.currentIndexChanged.connect(lambda _i: self.apply_grids())
        self.norm_box.currentIndexChanged.connect(lambda _i: self.apply_grids())
        self.min_abs_box.valueChanged.connect(lambda _v: self.apply_grids())
        self.swap_button.clicked.connect(self.swapRequested)
        self.close_button.clicked.connect(self.closeRequested)
        self.slices.pointClicked.connect(self.pointClicked)
        self.slices.pointHovered.connect(self.pointHovered)
        self.slices.cursorMoved.connect(self.cursorMoved)
        for scene in self.scenes:
            scene.pointPicked.connect(self.pointClicked)

    def _build(self) -> None:
        self.title_label = QLabel("")
        self.title_label.setObjectName("compareTitle")
        self.scale_box = QComboBox()
        self.scale_box.setObjectName("compareScale")
        self.scale_box.addItem("Shared colour scale", "shared")
        self.scale_box.addItem("Separate colour scales", "separate")
        self.scale_box.setToolTip("Shared: equal colours and sizes mean equal energy in both genes. "
                                  "Separate: each gene saturates at its own 99th percentile.")
        self.kind_box = QComboBox()
        self.kind_box.setObjectName("compareKind")
        self.kind_box.addItem("Difference A \u2212 B", "difference")
        self.kind_box.addItem("Ratio log2(A / B)", "ratio")
        self.kind_box.setToolTip("What the third view shows, only where both experiments have data")
        self.norm_box = QComboBox()
        self.norm_box.setObjectName("compareNormalise")
        for label, key in (("raw", "raw"), ("ranks", "percentile"), ("z-scores", "zscore")):
            self.norm_box.addItem(label, key)
        self.norm_box.setCurrentIndex(1)  # ranks: the default scaling of a comparison (issue 21)
        self.norm_box.setToolTip("Raw energy, or each gene normalised to its own in-brain energies (percentile "
                                 "ranks 0-1, or z-scores) so that the gene with the larger range does not dominate")
        self.min_abs_box = QSpinBox()
        self.min_abs_box.setObjectName("compareMinAbs")
        self.min_abs_box.setRange(0, 90)
        self.min_abs_box.setValue(int(round(100 * DEFAULT_MIN_ABS_FRACTION)))
        self.min_abs_box.setPrefix("hide |v| < ")
        self.min_abs_box.setSuffix("%")
        self.min_abs_box.setToolTip("Hide the near-zero bulk of the difference view, where the genes agree: "
                                    "|value| below this % of the colour range's end")
        self.swap_button = QPushButton("Swap A/B")
        self.close_button = QPushButton("Close comparison")
        self.close_button.setObjectName("closeCompare")
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.addWidget(self.title_label, 1)
        bar.addWidget(self.scale_box)
        bar.addWidget(self.kind_box)
        bar.addWidget(self.norm_box)
        bar.addWidget(self.min_abs_box)
        bar.addWidget(self.swap_button)
        bar.addWidget(self.close_button)

        self.correlation_label = QLabel("")
        self.correlation_label.setObjectName("compareCorrelation")
        self.correlation_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.correlation_label.setWordWrap(True)

        self.scene_a = ExpressionScene(self, layer=lambda pl: ExpressionLayer(pl, color_by="energy"))
        self.scene_b = ExpressionScene(self, layer=lambda pl: ExpressionLayer(pl, color_by="energy"))
        self.scene_diff = ExpressionScene(self, layer=DifferenceLayer)
        self.captions: list[QLabel] = []
        views = self.views = QWidget()
        views.setObjectName("compareViews")
        row = QHBoxLayout(views)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        for name, scene in (("A", self.scene_a), ("B", self.scene_b), ("difference", self.scene_diff)):
            scene.setObjectName(f"compareScene{name.capitalize()}")
            layer = scene.layer
            layer.colour_bar.set_box(BAR_LEFT, BAR_WIDTH)
            caption = QLabel("")
            caption.setObjectName(f"compareCaption{name.capitalize()}")
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            caption.setStyleSheet("font-weight: bold;")
            self.captions.append(caption)
            column = QVBoxLayout()
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(1)
            column.addWidget(caption)
            column.addWidget(scene, 1)
            row.addLayout(column, 1)

        self.slices = CompareSlicePanes(self)
        self.slices.setObjectName("compareSlicePanes")
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("compareSplitter")
        self.splitter.addWidget(views)
        self.splitter.addWidget(self.slices)
        self.splitter.setStretchFactor(0, 11)
        self.splitter.setStretchFactor(1, 9)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.correlation_label)
        layout.addWidget(self.splitter, 1)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._fitted:
            self._fitted = True
            self.fit_splitter()
            # the views get their new sizes in the resize events this posts: fit the
            # cameras to those sizes after them
            QTimer.singleShot(0, lambda: None if self._closed else self.reset_camera())

    def fit_splitter(self) -> None:
        """Give the slice row the height its images need (at most :data:`SLICE_SHARE` of the
        view), the rest to the 3-D views."""
        self.layout().activate()
        total = self.splitter.height()
        slices = min(self.slices.preferred_height(self.splitter.width()), int(total * SLICE_SHARE))
        self.splitter.setSizes([total - slices, slices])
        self.slices.fit_pane_widths()

    # ---- state ------------------------------------------------------------------------------

    @property
    def scenes(self) -> list[ExpressionScene]:
        return [self.scene_a, self.scene_b, self.scene_diff]

    @property
    def scale(self) -> str:
        """``"shared"`` or ``"separate"``."""
        return self.scale_box.currentData()

    def set_scale(self, scale: str) -> None:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
        self.scale_box.setCurrentIndex(SCALES.index(scale))

    @property
    def kind(self) -> str:
        """What the third view shows: ``"difference"`` or ``"ratio"``."""
        return self.kind_box.currentData()

    def set_kind(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.kind_box.setCurrentIndex(KINDS.index(kind))

    # ---- data ---------------------------------------------------------------------------------

    def set_grids(self, a: ExpressionGrid, b: ExpressionGrid) -> None:
        """Compare ``a`` (left, green) with ``b`` (middle, magenta)."""
        self.a, self.b = a, b
        self.apply_grids()

    def set_reference_space(self, space: ReferenceSpace) -> None:
        self.space = space
        self.slices.set_reference_space(space)
        self._update_correlation()

    def set_outline(self, mesh) -> None:
        """The brain outline mesh (CCF µm) in all three views; the first time, fit the cameras."""
        if self._closed:
            return
        first = not self._outline_set
        self._outline_set = True
        for scene in self.scenes:
            scene.set_brain_outline(mesh)
        if first:
            self.camera_preset("oblique")

    def follow(self, loaded) -> None:
        """Show what ``loaded`` (a :class:`~allen_viewer.loaded_data.LoadedData`) holds of the
        atlas -- the reference space, the brain outline, the Nissl volume -- now and whenever
        it changes (the loaders write it; nobody pushes these here).  The two grids come
        through :meth:`set_grids`, when the window shows a comparison."""
        ev = loaded.events

        def space(value, *_old) -> None:
            if value is not None:
                self.set_reference_space(value)

        def outline(mesh, *_old) -> None:
            if mesh is not None:
                self.set_outline(mesh)

        def nissl(gray, *_old) -> None:
            if gray is not None and not self._closed:
                self.slices.set_nissl(gray)

        connections = ((ev.space, space), (ev.outline_mesh, outline), (ev.nissl, nissl))
        for signal, slot in connections:
            signal.connect(slot)
        self.destroyed.connect(lambda *_: [sig.disconnect(fn, missing_ok=True) for sig, fn in connections])
        space(loaded.space)
        outline(loaded.outline_mesh)
        nissl(loaded.nissl)

    def set_structure(self, structure: Structure | None) -> None:
        """The structure whose correlation is shown (and highlighted in the slices); None: none."""
        self.structure = structure
        self.slices.set_highlight(None if structure is None else structure.id)
        self._update_correlation()
        self.changed.emit()

    def set_display(self, threshold: float | None = None, size_scale: float | None = None,
                    cmap: str | None = None, opacity: float | None = None) -> None:
        """The main window's display controls, applied to all three views (the difference
        view keeps its diverging colour map).  The threshold is taken as a percentile of
        gene A's in-brain energies and B's view uses the same percentile of B's own, so a
        gene with a smaller range is not hidden by A's energy cut."""
        for scene in self.scenes:
            t = threshold
            if scene is self.scene_b and threshold is not None:
                t = self._same_percentile_in_b(threshold)
            scene.set_display(t, size_scale, cmap, opacity)
        if threshold is not None and self.a is not None and self.b is not None and self.scale == "shared":
            self.apply_grids()  # the shared colour range starts at the lower of the two thresholds

    def _same_percentile_in_b(self, threshold: float) -> float:
        from allen_viewer.expression.brain import percentile_threshold

        if self.a is None or self.b is None or not self.a.has_data.any():
            return threshold
        pct = 100.0 * float((self.a.energy[self.a.has_data] < threshold).mean())
        return percentile_threshold(self.b, pct)

    def apply_grids(self) -> None:
        if self._closed or self.a is None or self.b is None:
            return
        a, b = self.a, self.b
        shared = self.scale == "shared"
        self.title_label.setText(f"<b>Comparing</b> A: <b>{a.gene}</b> ({a.plane}, {a.id}) &nbsp;with&nbsp; "
                                 f"B: <b>{b.gene}</b> ({b.plane}, {b.id})")
        norm = {"raw": "raw", "percentile": "rank", "zscore": "z"}[self.norm_box.currentData()]
        # B's view: the same percentile of B's own energies as A's threshold is of A's
        self.scene_b.layer.set_display(threshold=self._same_percentile_in_b(self.scene_a.display_settings.threshold))
        for scene, grid in ((self.scene_a, a), (self.scene_b, b)):
            scene.layer.normalise = norm  # A and B coloured by the compare scaling (ranks by default)
            scene.layer.set_scale(None, None)
            scene.layer.set_grid(grid)
        if shared:  # one colour range (and sphere-size scale) for both
            lo = min(self.scene_a.layer.color_range[0], self.scene_b.layer.color_range[0])
            hi = max(self.scene_a.layer.color_range[1], self.scene_b.layer.color_range[1])
            energy_ref = max(robust_max(a.energy[a.has_data]), robust_max(b.energy[b.has_data]))
            for scene in (self.scene_a, self.scene_b):
                scene.layer.set_scale(hi, energy_ref, "shared scale", color_min=lo)
        for scene in (self.scene_a, self.scene_b):
            scene.render()
        self.scene_diff.layer.set_scale(self.norm_box.currentData(), self.min_abs_box.value() / 100.0)
        self.scene_diff.layer.set_grids(a, b, self.kind)
        self.scene_diff.render()
        from allen_viewer.export.compare_image import panel_titles
        from allen_viewer.state import CompareOptions

        titles = panel_titles(a, b, CompareOptions(self.scale, self.kind, norm, self.min_abs_box.value() / 100.0))
        self.captions[0].setText(f"{titles[0]} — {a.plane}, {a.id}")
        self.captions[1].setText(f"{titles[1]} — {b.plane}, {b.id}")
        self.captions[2].setText(f"{titles[2]} — only where both have data")
        self.slices.set_grids(a, b, shared)
        self._update_correlation()
        self.changed.emit()

    def _update_correlation(self) -> None:
        if self.a is None or self.b is None:
            self.correlation_label.setText("")
            return
        both = both_have_data(self.a, self.b)
        self.whole_brain_r = correlation(self.a, self.b)
        self.whole_brain_n = int(both.sum())
        text = (f"Pearson r of energy over in-brain voxels where both have data: whole brain "
                f"<b>r = {_fmt_r(self.whole_brain_r)}</b> (n = {self.whole_brain_n:,})")
        self.structure_r, self.structure_n = float("nan"), 0
        if self.structure is not None and self.space is not None:
            mask = self.space.grid_mask(self.structure)
            self.structure_r = correlation(self.a, self.b, mask)
            self.structure_n = int((both & mask).sum())
            s = self.structure
            text += (f" &nbsp;|&nbsp; {s.acronym} ({s.name}): <b>r = {_fmt_r(self.structure_r)}</b> "
                     f"(n = {self.structure_n:,})")
            if math.isnan(self.structure_r):
                text += " \u2014 too few voxels with data in both, or no variation"
        elif self.space is not None:
            text += " &nbsp;|&nbsp; select a structure for its own r"
        text += " &nbsp;|&nbsp; red cross: the cursor, where the slices cut"
        self.correlation_label.setText(text)

    @property
    def correlation_text(self) -> str:
        """The correlation line as plain text."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.correlation_label.text())
        return doc.toPlainText()

    def difference_points(self):
        """The third view's drawn points (see :class:`DifferenceLayer`), or None."""
        return self.scene_diff.expression_points

    def describe(self, um) -> str:
        """Both genes' energies (and the difference or ratio) at a CCF point (µm, (AP, DV, ML))."""
        if self.a is None or self.b is None:
            return ""
        i, j, k = um_to_grid(np.asarray(um, dtype=float))
        parts = []
        for g in (self.a, self.b):
            parts.append(f"{g.gene} {g.energy[i, j, k]:.3g}" if g.has_data[i, j, k] else f"{g.gene} no data")
        v = difference_values(self.a, self.b, self.kind, self.norm_box.currentData())[i, j, k]
        if not math.isnan(v):
            parts.append(("difference " if self.kind == "difference" else "log2 ratio ") + f"{v:.3g}")
        return "energy " + ", ".join(parts)

    # ---- cameras and cursor ----------------------------------------------------------------------

    def camera_preset(self, name: str) -> None:
        """A camera preset in the first view; the link moves the others."""
        self.scene_a.camera_preset(name)
        self.link.flush()

    def reset_camera(self) -> None:
        self.camera_preset("oblique")

    def set_cursor_um(self, um) -> None:
        """Move the slice panes (not the 3-D cursors) to a CCF point (µm, (AP, DV, ML))."""
        self.slices.set_cursor_um(um)

    def set_cursor_3d(self, um) -> None:
        """The 3-D crosshair in all three views (None hides it)."""
        for scene in self.scenes:
            scene.set_cursor(um)

    def render(self) -> None:
        for scene in self.scenes:
            scene.render()

    def close_view(self) -> None:
        """Unlink and release the three views' render windows (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.link.close()
        for scene in self.scenes:
            scene.close_scene()

    @property
    def is_closed(self) -> bool:
        return self._closed

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.close_view()
        super().closeEvent(event)
