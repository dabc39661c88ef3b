"""The 3-D view's Qt host: :class:`ExpressionScene` and the display controls.

The scene itself -- the named layers (outline, spheres, structure surfaces, cursor, slice
planes, colour bar), the cut-away, the camera and picking -- is the Qt-free
:class:`allen_viewer.render.scene.Scene`, which ``export image``/``export movie`` build on
an off-screen plotter too.  This module adds the pyvistaqt ``QtInteractor`` it draws in, the
click signal (:attr:`ExpressionScene.pointPicked`) and :class:`ExpressionControls`.

Coordinates: CCF micrometres, x = AP (+ posterior), y = DV (+ ventral), z = ML (+ right);
grid voxel (i, j, k) is drawn at (200 i, 200 j, 200 k) µm.
"""
from __future__ import annotations

import logging

import numpy as np
import pyvista as pv
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)
from pyvistaqt import QtInteractor
from superqt import QLabeledDoubleSlider

from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.render.layers import (
    BACKGROUND,
    CameraPose,
    DisplaySettings,
    PointLayer,
)
from allen_viewer.state import CMAPS, DEFAULT_CMAP, DEFAULT_OPACITY, DEFAULT_SIZE_SCALE, DEFAULT_THRESHOLD
from allen_viewer.render.scene import Scene

log = logging.getLogger(__name__)

CLICK_TOLERANCE_PX = 4
"""A press and release further apart than this is a drag (rotation), not a pick."""


# ---- the widget ------------------------------------------------------------------------

class ExpressionScene(QWidget):
    """The 3-D view: a pyvistaqt ``QtInteractor`` showing a :class:`~allen_viewer.render.scene.Scene`
    (``self.scene``; its named layers are ``self.layers``).

    ``layer``: what draws the spheres, made from the plotter (default: an
    :class:`~allen_viewer.render.layers.ExpressionLayer`; the compare view passes a factory
    for its difference layer).

    Signals
    -------
    pointPicked(np.ndarray)
        A plain left click (press and release within :data:`CLICK_TOLERANCE_PX`) on an
        expression sphere or a surface: 3 floats, CCF µm (AP, DV, ML), as
        :meth:`~allen_viewer.render.scene.Scene.pick_display` reports it.
    """

    pointPicked = Signal(object)

    def __init__(self, parent: QWidget | None = None, layer=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # multi_samples=0: no MSAA (2-5x slower on software OpenGL); auto_update=False: no
        # 5 Hz re-render timer -- the scene renders when something changes
        self.plotter = QtInteractor(self, multi_samples=0, auto_update=False,
                                    line_smoothing=False, point_smoothing=False, polygon_smoothing=False)
        self.plotter.disable_anti_aliasing()
        self.plotter.set_background(BACKGROUND)
        layout.addWidget(self.plotter)
        self._press_pos = None  # QPointF of the last left press on the render widget
        self.scene = Scene(self.plotter, layer(self.plotter) if layer is not None else None)
        self._layer: PointLayer | None = self.scene.layer
        self._display = self._layer.display  # kept after close_scene
        self.layers = self.scene.layers
        self.plotter.installEventFilter(self)
        self.camera_preset("oblique")

    @property
    def is_closed(self) -> bool:
        return self.scene.closed

    def _drawn(self, change) -> None:
        """Apply ``change`` to the scene (not after :meth:`close_scene`) and ask for a frame
        (:meth:`request_render`): the changes of one event-loop turn share one frame, drawn at
        the widget's next paint (docs/design.md "Click to frame")."""
        if not self.scene.closed:
            change()
            self.request_render()

    # ---- expression ------------------------------------------------------------------------

    def set_grid(self, grid: ExpressionGrid | None) -> None:
        """Draw ``grid``'s expression spheres (None: remove them) and render."""
        self._drawn(lambda: self._layer.set_grid(grid))

    def set_display(self, threshold: float | None = None, size_scale: float | None = None,
                    cmap: str | None = None, opacity: float | None = None) -> None:
        """Change the expression display; None leaves a setting as it is.

        ``threshold``: minimum energy of a drawn voxel; ``size_scale``: multiplies every
        sphere radius (1: the strongest voxels' spheres have a 100 µm radius); ``cmap``: a
        matplotlib colour map name; ``opacity``: of the spheres, in (0, 1].
        """
        self._drawn(lambda: self._layer.set_display(threshold, size_scale, cmap, opacity))

    def set_color_by(self, color_by: str) -> None:
        """Colour the spheres by ``auto`` (intensity, else energy), ``energy``, ``intensity``
        or ``density``."""
        if hasattr(self._layer, "set_color_by"):
            self._drawn(lambda: self._layer.set_color_by(color_by))

    def set_show_outside(self, show: bool) -> None:
        """Also draw the voxels with data outside the brain (marked in magenta)."""
        if hasattr(self._layer, "set_show_outside"):
            self._drawn(lambda: self._layer.set_show_outside(show))

    @property
    def display_settings(self) -> DisplaySettings:
        return self._display

    @property
    def layer(self) -> PointLayer | None:
        """The sphere layer (None after :meth:`close_scene`); call :meth:`render` after
        changing it directly."""
        return self._layer

    @property
    def expression_points(self) -> pv.PolyData | None:
        """The drawn points (n_points == drawn voxels), or None when no grid is shown."""
        if self._layer is None or not self._layer.has_content:
            return None
        return self._layer.poly

    @property
    def expression_actor(self) -> pv.Actor | None:
        return None if self._layer is None else self._layer.actor

    @property
    def color_bar_title(self) -> str:
        return "" if self._layer is None else self._layer.title

    @property
    def color_range(self) -> tuple[float, float]:
        """(min, max) of the colour map, in the coloured quantity's units."""
        return (0.0, 1.0) if self._layer is None else self._layer.color_range

    # ---- surfaces ----------------------------------------------------------------------------

    def set_brain_outline(self, mesh: pv.PolyData | None) -> None:
        """Show ``mesh`` (CCF µm) as the translucent grey brain outline; None removes it."""
        self._drawn(lambda: self.scene.set_outline(mesh))

    @property
    def _outline_mesh(self) -> pv.PolyData | None:
        return self.scene.outline_mesh

    @property
    def _outline_actor(self):
        return None if self.is_closed else self.layers["outline"].actor

    @property
    def _structures(self) -> dict:
        """{structure id: surface actor} (the structures layer's own dict)."""
        return {} if self.is_closed else self.layers["structures"].actors_by_id

    def set_structure_surface(self, structure_id: int, mesh: pv.PolyData | None,
                              color: tuple[int, int, int], opacity: float | None = None) -> None:
        """Show a structure's surface (CCF µm) in ``color`` (r, g, b 0-255) at ``opacity``
        ((0, 1]; None: the default surface opacity); None removes it."""
        self._drawn(lambda: self.layers["structures"].set_data(structure_id, mesh, color, opacity))

    def set_structure_style(self, structure_id: int, color: tuple[int, int, int] | None = None,
                            opacity: float | None = None) -> None:
        """Recolour (r, g, b 0-255) and/or change the opacity ((0, 1]) of a shown surface;
        None keeps that; a structure not shown is left alone."""
        self._drawn(lambda: self.layers["structures"].set_style(structure_id, color, opacity))

    def structure_color(self, structure_id: int) -> tuple[int, int, int] | None:
        """The (r, g, b) 0-255 colour a shown surface is drawn in (None: not shown)."""
        return None if self.is_closed else self.layers["structures"].color(structure_id)

    def remove_structure_surface(self, structure_id: int) -> None:
        self._drawn(lambda: self.layers["structures"].remove(structure_id))

    @property
    def structure_ids(self) -> list[int]:
        """Ids of the structures whose surfaces are shown."""
        return [] if self.is_closed else self.layers["structures"].ids

    def highlight_structure(self, structure_id: int | None) -> None:
        """Bring one shown structure forward (opaque-ish, others dimmed); None: no highlight."""
        self._drawn(lambda: self.layers["structures"].set_highlight(structure_id))

    def structure_opacity(self, structure_id: int) -> float | None:
        return None if self.is_closed else self.layers["structures"].opacity(structure_id)

    # ---- cursor, slice planes and cut-aways --------------------------------------------------

    def set_cursor(self, um: np.ndarray | None) -> None:
        """A 3-D crosshair (three 1.4 mm lines and a 90 µm sphere) at ``um`` (CCF µm, (AP, DV,
        ML)); None hides it.  The slice planes and a slice-relative cut-away follow it."""
        self._drawn(lambda: self.scene.set_cursor(um))

    @property
    def cursor(self) -> np.ndarray | None:
        return self.scene.cursor

    @property
    def _cursor_actors(self) -> list:
        return [] if self.is_closed else list(self.layers["cursor"]._actors)

    def show_slice_planes(self, source) -> None:
        """Draw the three slices through the cursor as planes in 3-D, from ``source`` (the
        slice panes' :class:`~allen_viewer.render.slice_images.SliceLayers`, so they look as
        the panes do); None hides them."""
        self._drawn(lambda: self.scene.show_slice_planes(source))

    def refresh_slice_planes(self) -> None:
        """The slices' look changed (gene, colour map, highlight, background): redraw the planes."""
        if not self.is_closed and self.scene._planes_source is not None:
            self._drawn(self.scene.refresh_slice_planes)

    @property
    def slice_planes_shown(self) -> list[str]:
        return [] if self.is_closed else self.layers["planes"].shown

    def set_cut_away(self, name: str) -> None:
        """Hide part of the scene (spheres, outline, structures, slice planes): a
        :data:`~allen_viewer.render.cuts.CUT_AWAYS` name; the slice-relative ones cut at the
        cursor's slices."""
        self._drawn(lambda: self.scene.set_cut_away(name))

    @property
    def cut_away_name(self) -> str:
        return self.scene.cut_name

    # ---- camera -----------------------------------------------------------------------------

    def scene_bounds(self) -> tuple[float, float, float, float, float, float]:
        """(xmin, xmax, ymin, ymax, zmin, zmax) µm: the outline's bounds, else the grid's."""
        return self.scene.bounds()

    def _fit_points(self) -> np.ndarray | None:
        return self.scene.fit_points()

    def camera_preset(self, name: str) -> None:
        """Point the camera as documented in :mod:`~allen_viewer.render.layers`
        (``dorsal``, ``lateral``, ``anterior``, ``oblique``) and fit the brain."""
        self._drawn(lambda: self.scene.camera_preset(name))

    @property
    def parallel_projection(self) -> bool:
        """True while the camera is in a parallel preset (dorsal, lateral, anterior)."""
        return bool(self.plotter.camera.GetParallelProjection())

    @property
    def scale_bar_px(self) -> int:
        """The 1 mm scale bar's drawn length in pixels (0 when it is not shown)."""
        overlay = self.scene.overlay
        return 0 if overlay is None else overlay.scale_bar.length_px

    @property
    def aspect(self) -> float:
        """Width / height of the render window (1 before it has a size)."""
        return self.scene.aspect

    def camera_pose(self) -> CameraPose:
        """The camera's pose now (with this view's aspect), e.g. for an off-screen export."""
        return self.scene.camera_pose()

    def set_camera_pose(self, pose: CameraPose) -> None:
        self._drawn(lambda: self.scene.set_camera_pose(pose))

    def reset_camera(self) -> None:
        """Back to the default oblique view, fitted to the brain."""
        self.camera_preset("oblique")

    # ---- picking ----------------------------------------------------------------------------

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        """Watch the render widget's left clicks (Qt events: the VTK interactor style grabs
        the mouse between press and release, so VTK observers never see the release)."""
        if obj is self.plotter and not self.is_closed:
            kind = event.type()
            if kind == QEvent.Type.Resize:  # after the render window has its new size: keep a preset fitted
                QTimer.singleShot(0, self._refit)
            elif kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
                self._press_pos = event.position()
            elif kind == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
                start, self._press_pos = self._press_pos, None
                pos = event.position()
                if (start is not None and abs(pos.x() - start.x()) <= CLICK_TOLERANCE_PX
                        and abs(pos.y() - start.y()) <= CLICK_TOLERANCE_PX):
                    # Qt logical pixels, origin top left -> VTK device pixels, origin bottom left
                    ratio = self.plotter.devicePixelRatioF()
                    point = self.pick_display(round(pos.x() * ratio),
                                              round((self.plotter.height() - pos.y() - 1) * ratio))
                    if point is not None:
                        self.pointPicked.emit(point)
        return super().eventFilter(obj, event)

    def _refit(self) -> None:
        if not self.is_closed and self.scene.refit():
            self.request_render()  # a resize paints anyway: one frame

    def pick_display(self, x: float, y: float) -> np.ndarray | None:
        """The CCF point (µm) under display pixel (x, y) (VTK display coordinates: origin at the
        bottom left, in render-window pixels), as a click there would report it; None when
        nothing is hit."""
        return self.scene.pick_display(x, y)

    @property
    def orientation_labels(self) -> dict[str, tuple[np.ndarray, bool]]:
        """{word: (position in µm, visible)} of the anatomical axis labels."""
        overlay = self.scene.overlay
        return {} if overlay is None else overlay.label_states

    # ---- rendering and lifetime --------------------------------------------------------------

    def render(self) -> None:
        """Render a frame now (no-op after :meth:`close_scene`): screenshots and exports."""
        if not self.scene.closed:
            self.plotter.render()

    def request_render(self) -> None:
        """Schedule one frame at the widget's next paint instead of rendering now: changes
        made before then share that frame.  (A :meth:`render` draws at once and the widget
        then paints -- and renders -- again, so three changes that each render cost four
        frames; a gene switch through :meth:`set_display` and :meth:`set_grid` cost three.)"""
        if not self.is_closed:
            self.plotter.update()  # QWidget.update (pyvista's BasePlotter.update is shadowed): a paint request

    def close_scene(self) -> None:
        """Release the VTK objects and the render window (:meth:`Scene.close
        <allen_viewer.render.scene.Scene.close>`: the window is finalized while every prop
        is still attached, so all OpenGL objects are freed in this widget's own context);
        idempotent.  Called on close."""
        if self.is_closed:
            return
        self.plotter.removeEventFilter(self)
        self._layer = None
        self.scene.close()
        self.layers = {}

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.close_scene()
        super().closeEvent(event)


# ---- controls -----------------------------------------------------------------------------

class ExpressionControls(QWidget):
    """Threshold, size scale, colour map and opacity of the expression layer.

    ``changed`` fires on every edit; ``values()`` gives the keyword arguments of
    :meth:`ExpressionScene.set_display`, e.g.
    ``controls.changed.connect(lambda: scene.set_display(**controls.values()))``.
    """

    changed = Signal()
    colorByChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        from allen_viewer.expression.brain import DEFAULT_THRESHOLD_PERCENTILE
        from allen_viewer.gui.threshold_histogram import ThresholdHistogram

        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(4, 4, 4, 4)
        from allen_viewer.gui.threshold_control import ThresholdControl

        self.threshold = ThresholdControl()  # slider on the gene's percentile, energy box (issue 25)
        self.threshold.setRange(0.0, 40.0)
        self.threshold.setDecimals(2)
        self.threshold.setValue(DEFAULT_THRESHOLD)
        self.threshold.setToolTip("Voxels with expression energy below this are not drawn")
        self.histogram = ThresholdHistogram(self)
        self.percentile = QDoubleSpinBox()
        self.percentile.setRange(0.0, 100.0)
        self.percentile.setDecimals(1)
        self.percentile.setValue(DEFAULT_THRESHOLD_PERCENTILE)
        self.percentile.setSuffix(" pct")
        self.percentile.setToolTip("Each gene opens with its threshold at this percentile of its own in-brain "
                                   "energies (unless the energy is pinned)")
        self.pinned = QCheckBox("Pin")
        self.pinned.setToolTip("Keep this absolute energy threshold for every gene instead of the percentile")
        rule = QHBoxLayout()
        rule.setContentsMargins(0, 0, 0, 0)
        rule.addWidget(self.percentile, 1)
        rule.addWidget(self.pinned)
        self.color_by = QComboBox()
        for label, key in (("auto", "auto"), ("energy", "energy"), ("intensity", "intensity"), ("density", "density")):
            self.color_by.addItem(label, key)
        self.color_by.setToolTip("What the spheres' colours show (auto: intensity when the experiment has it, "
                                 "else energy); the colour bar's title says which channel")
        self._grid_energies: np.ndarray | None = None
        self.size_scale = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.size_scale.setRange(0.2, 3.0)
        self.size_scale.setDecimals(2)
        self.size_scale.setValue(DEFAULT_SIZE_SCALE)
        self.size_scale.setToolTip("Multiplies every sphere's radius (1: the strongest voxels fill their 200 µm cell)")
        self.cmap = QComboBox()
        self.cmap.addItems(list(CMAPS))
        self.cmap.setCurrentText(DEFAULT_CMAP)
        self.opacity = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0.05, 1.0)
        self.opacity.setDecimals(2)
        self.opacity.setValue(DEFAULT_OPACITY)
        form.addRow(QLabel("Energy threshold"))
        form.addRow(self.threshold)  # the whole width: the slider's resolution (issue 25)
        form.addRow("", self.histogram)
        form.addRow("New gene at", rule)
        form.addRow("Colour by", self.color_by)
        form.addRow("Sphere size", self.size_scale)
        form.addRow("Colour map", self.cmap)
        form.addRow("Opacity", self.opacity)
        for slider in (self.threshold, self.size_scale, self.opacity):
            slider.valueChanged.connect(self._emit)
        self.threshold.valueChanged.connect(self.histogram.set_threshold)
        self.cmap.currentTextChanged.connect(self._emit)
        self.percentile.valueChanged.connect(self._on_percentile)
        self.pinned.toggled.connect(self._emit)
        self.color_by.currentIndexChanged.connect(lambda _i: self.colorByChanged.emit(self.current_color_by()))
        self.color_by.currentIndexChanged.connect(self._emit)

    def current_color_by(self) -> str:
        return str(self.color_by.currentData())

    def rule(self) -> dict:
        """The threshold rule and colour choice, for the settings: ``threshold_percentile``,
        ``threshold_pinned`` and ``color_by``."""
        return {"threshold_percentile": float(self.percentile.value()), "threshold_pinned": self.pinned.isChecked(),
                "color_by": self.current_color_by()}

    def saved_values(self) -> dict:
        """:meth:`values` and :meth:`rule` together (what the settings keep)."""
        return {**self.values(), **self.rule()}

    def apply_gene(self, grid) -> None:
        """A new gene is shown: histogram its in-brain energies and, unless the energy is
        pinned, set the threshold to the chosen percentile of them (without emitting)."""
        from allen_viewer.expression.brain import percentile_threshold

        self._grid_energies = None if grid is None else grid.energy[grid.has_data]
        self._offer_channels(grid)
        self.histogram.set_values(self._grid_energies)
        self.threshold.set_distribution(self._grid_energies)
        if grid is not None and not self.pinned.isChecked():
            self.set_values(threshold=percentile_threshold(grid, self.percentile.value()))
        self.histogram.set_threshold(self.threshold.value())

    def _offer_channels(self, grid) -> None:
        """*Colour by* offers only the channels the shown grid has (issue 25: density was
        offered for an energy-only download); a choice the new grid lacks goes back to auto."""
        model = self.color_by.model()
        available = set(grid.available) if grid is not None else {"energy", "intensity", "density"}
        for row in range(self.color_by.count()):
            key = self.color_by.itemData(row)
            ok = key in ("auto", "energy") or key in available
            item = model.item(row)
            item.setEnabled(ok)
            item.setToolTip("" if ok else f"This experiment's download has no {key} volume")
        if self.current_color_by() not in ("auto", "energy") and self.current_color_by() not in available:
            self.color_by.setCurrentIndex(self.color_by.findData("auto"))  # emits: the scene follows

    def _on_percentile(self, value: float) -> None:
        if self._grid_energies is not None and self._grid_energies.size and not self.pinned.isChecked():
            self.threshold.setValue(float(np.percentile(self._grid_energies.astype(np.float64), value)))
        self._emit()

    def _emit(self, *_args) -> None:
        self.changed.emit()

    def values(self) -> dict:
        """``{threshold, size_scale, cmap, opacity}`` for :meth:`ExpressionScene.set_display`."""
        return {"threshold": float(self.threshold.value()), "size_scale": float(self.size_scale.value()),
                "cmap": self.cmap.currentText(), "opacity": float(self.opacity.value())}

    def set_energy_range(self, maximum: float) -> None:
        """Let the threshold slider reach ``maximum`` (e.g. the shown grid's largest energy)."""
        maximum = max(float(maximum), 0.01)
        self.threshold.setRange(0.0, maximum)

    def set_values(self, threshold: float | None = None, size_scale: float | None = None,
                   cmap: str | None = None, opacity: float | None = None,
                   threshold_percentile: float | None = None, threshold_pinned: bool | None = None,
                   color_by: str | None = None) -> None:
        """Set the controls without emitting ``changed`` (nor ``colorByChanged``)."""
        self.blockSignals(True)
        try:
            for widget, value, setter in ((self.percentile, threshold_percentile, "setValue"),
                                          (self.pinned, threshold_pinned, "setChecked")):
                if value is not None:
                    widget.blockSignals(True)
                    getattr(widget, setter)(value)
                    widget.blockSignals(False)
            if color_by is not None and self.color_by.findData(color_by) >= 0:
                self.color_by.blockSignals(True)
                self.color_by.setCurrentIndex(self.color_by.findData(color_by))
                self.color_by.blockSignals(False)
            for widget, value in ((self.threshold, threshold), (self.size_scale, size_scale),
                                  (self.opacity, opacity)):
                if value is not None:
                    widget.blockSignals(True)
                    widget.setValue(float(value))
                    widget.blockSignals(False)
            if cmap is not None:
                self.cmap.blockSignals(True)
                self.cmap.setCurrentText(cmap)
                self.cmap.blockSignals(False)
        finally:
            self.blockSignals(False)
