"""The 3-D view: expression spheres, the brain outline, structure surfaces and a cursor.

The Qt-free parts -- the sphere layers, the outline's look, the orientation words and
marker, the camera presets and their geometry -- live in
:mod:`allen_viewer.render.layers` (shared with the off-screen image export and
``benchmarks/render.py``; its docstring documents coordinates, presets and what the spheres
show).  This module adds the Qt widget :class:`ExpressionScene` (a pyvistaqt
``QtInteractor``), picking, structure surfaces, the 3-D cursor and
:class:`ExpressionControls`.  Names of the shared module are re-exported here.

Coordinates: CCF micrometres, x = AP (+ posterior), y = DV (+ ventral), z = ML (+ right);
grid voxel (i, j, k) is drawn at (200 i, 200 j, 200 k) µm.
"""
from __future__ import annotations

import gc
import logging

import numpy as np
import pyvista as pv
from PySide6.QtCore import QEvent, Qt, Signal
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
from vtkmodules.vtkRenderingCore import vtkCellPicker

from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.render.picking import pick_layer
from allen_viewer.render.figure_overlays import word_margins
from allen_viewer.render.layers import (
    BACKGROUND,
    GRID_BOUNDS_UM,
    CameraPose,
    DisplaySettings,
    ExpressionLayer,
    OrientationOverlay,
    PointLayer,
    apply_camera_preset,
)
from allen_viewer.render.cuts import cut_away
from allen_viewer.state import CMAPS, DEFAULT_CMAP, DEFAULT_OPACITY, DEFAULT_SIZE_SCALE, DEFAULT_THRESHOLD
from allen_viewer.render.scene_layers import (  # noqa: F401 (the constants are re-exported)
    CURSOR_COLOR,
    CURSOR_HALF_LENGTH_UM,
    CURSOR_RADIUS_UM,
    STRUCTURE_DIMMED_OPACITY,
    STRUCTURE_HIGHLIGHT_OPACITY,
    STRUCTURE_OPACITY,
    CursorLayer,
    OutlineLayer,
    SlicePlanesLayer,
    StructuresLayer,
)

log = logging.getLogger(__name__)

SURFACE_PICK_DEPTH_UM = 100.0
"""A click on a surface reports the point this far beyond the surface along the line of
sight, i.e. inside the tissue rather than on its smoothed boundary."""
CLICK_TOLERANCE_PX = 4
"""A press and release further apart than this is a drag (rotation), not a pick."""


# ---- the widget ------------------------------------------------------------------------

class ExpressionScene(QWidget):
    """The 3-D view: a pyvistaqt ``QtInteractor`` with the layers described in the module doc.

    ``layer``: what draws the spheres, made from the plotter (default: an
    :class:`ExpressionLayer`; the compare view passes a factory for its difference layer).

    Signals
    -------
    pointPicked(np.ndarray)
        A plain left click (press and release within :data:`CLICK_TOLERANCE_PX`) on an
        expression sphere or a surface: 3 floats, CCF µm (AP, DV, ML).  Of the drawn spheres
        the click's ray passes through, the highest-energy one gives its voxel centre (ties:
        the nearest; :mod:`allen_viewer.render.picking`); a surface gives the point
        :data:`SURFACE_PICK_DEPTH_UM` beyond the surface along the line of sight.  Spheres win
        over the (translucent) surfaces.
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
        self._closed = False
        self._press_pos = None  # QPointF of the last left press on the render widget

        self._layer: PointLayer = layer(self.plotter) if layer is not None else ExpressionLayer(self.plotter)
        # the named layers (render/scene_layers.py); each has set_data / set_cut / detach
        self.layers = {"outline": OutlineLayer(self.plotter), "structures": StructuresLayer(self.plotter),
                       "cursor": CursorLayer(self.plotter), "expression": self._layer,
                       "planes": SlicePlanesLayer(self.plotter)}
        self._cut_name = "none"
        self._planes_source = None  # the SliceLayers the slice planes are drawn from, while shown
        self._display = self._layer.display
        self._picker = vtkCellPicker()
        self._picker.SetTolerance(0.0)
        self._picker.PickFromListOn()
        self._overlay = OrientationOverlay(self.plotter)
        self._parallel_dop = None  # the view direction of a parallel preset, while it holds
        self._camera_observer = self.plotter.camera.AddObserver("ModifiedEvent", self._on_camera_modified)
        self.plotter.installEventFilter(self)
        self.camera_preset("oblique")

    # ---- expression ------------------------------------------------------------------------

    def set_grid(self, grid: ExpressionGrid | None) -> None:
        """Draw ``grid``'s expression spheres (None: remove them) and render."""
        if self._closed:
            return
        self._layer.set_grid(grid)
        self.render()

    def set_display(self, threshold: float | None = None, size_scale: float | None = None,
                    cmap: str | None = None, opacity: float | None = None) -> None:
        """Change the expression display; None leaves a setting as it is.

        ``threshold``: minimum energy of a drawn voxel; ``size_scale``: multiplies every
        sphere radius (1: the strongest voxels' spheres have a 100 µm radius); ``cmap``: a
        matplotlib colour map name; ``opacity``: of the spheres, in (0, 1].
        """
        if self._closed:
            return
        self._layer.set_display(threshold, size_scale, cmap, opacity)
        self.render()

    def set_color_by(self, color_by: str) -> None:
        """Colour the spheres by ``auto`` (intensity, else energy), ``energy``, ``intensity``
        or ``density``."""
        if self._closed or not hasattr(self._layer, "set_color_by"):
            return
        self._layer.set_color_by(color_by)
        self.render()

    def set_show_outside(self, show: bool) -> None:
        """Also draw the voxels with data outside the brain (marked in magenta)."""
        if self._closed or not hasattr(self._layer, "set_show_outside"):
            return
        self._layer.set_show_outside(show)
        self.render()

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
        """The drawn points (n_points == drawn voxels; see :func:`build_expression_points`), or
        None when no grid is shown."""
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
        if self._closed:
            return
        self.layers["outline"].set_data(mesh)
        self._overlay.place(self.scene_bounds())
        self._overlay.set_body_points(self._fit_points())
        self.render()

    @property
    def _outline_mesh(self) -> pv.PolyData | None:
        return None if self._closed else self.layers["outline"].mesh

    @property
    def _outline_actor(self):
        return None if self._closed else self.layers["outline"].actor

    @property
    def _structures(self) -> dict:
        """{structure id: surface actor} (the structures layer's own dict)."""
        return self.layers["structures"].actors_by_id if not self._closed else {}

    def set_structure_surface(self, structure_id: int, mesh: pv.PolyData | None,
                              color: tuple[int, int, int], opacity: float | None = None) -> None:
        """Show a structure's surface (CCF µm) in ``color`` (r, g, b 0-255) at ``opacity``
        ((0, 1]; None: :data:`STRUCTURE_OPACITY`); None removes it."""
        if self._closed:
            return
        self.layers["structures"].set_data(structure_id, mesh, color, opacity)
        self.render()

    def set_structure_style(self, structure_id: int, color: tuple[int, int, int] | None = None,
                            opacity: float | None = None) -> None:
        """Recolour (r, g, b 0-255) and/or change the opacity ((0, 1]) of a shown surface;
        None keeps that; a structure not shown is left alone."""
        if self._closed:
            return
        self.layers["structures"].set_style(structure_id, color, opacity)
        self.render()

    def structure_color(self, structure_id: int) -> tuple[int, int, int] | None:
        """The (r, g, b) 0-255 colour a shown surface is drawn in (None: not shown)."""
        return None if self._closed else self.layers["structures"].color(structure_id)

    def remove_structure_surface(self, structure_id: int) -> None:
        if self._closed:
            return
        self.layers["structures"].remove(structure_id)
        self.render()

    @property
    def structure_ids(self) -> list[int]:
        """Ids of the structures whose surfaces are shown."""
        return [] if self._closed else self.layers["structures"].ids

    def highlight_structure(self, structure_id: int | None) -> None:
        """Bring one shown structure forward (opaque-ish, others dimmed); None: no highlight."""
        if self._closed:
            return
        self.layers["structures"].set_highlight(structure_id)
        self.render()

    def structure_opacity(self, structure_id: int) -> float | None:
        return None if self._closed else self.layers["structures"].opacity(structure_id)

    # ---- cursor -----------------------------------------------------------------------------

    def set_cursor(self, um: np.ndarray | None) -> None:
        """A 3-D crosshair (three 1.4 mm lines and a 90 µm sphere) at ``um`` (CCF µm, (AP, DV,
        ML)); None hides it.  The slice planes and a slice-relative cut-away follow it."""
        if self._closed:
            return
        self.layers["cursor"].set_data(um)
        if um is not None:
            if self._planes_source is not None:
                self.layers["planes"].set_positions(um)
            if self._cut_name not in ("none", "left", "right"):
                self._apply_cut()
        self.render()

    @property
    def cursor(self) -> np.ndarray | None:
        return None if self._closed else self.layers["cursor"].position

    @property
    def _cursor_actors(self) -> list:
        return [] if self._closed else list(self.layers["cursor"]._actors)

    # ---- slice planes and cut-aways (issue 13) ---------------------------------------------

    def show_slice_planes(self, source) -> None:
        """Draw the three slices through the cursor as planes in 3-D, from ``source`` (the
        slice panes' :class:`~allen_viewer.render.slice_images.SliceLayers`, so they look as
        the panes do); None hides them."""
        if self._closed:
            return
        self._planes_source = source
        planes = self.layers["planes"]
        if source is None:
            planes.set_data(None)
        else:
            planes.set_data(source, self.cursor)
        self.render()

    def refresh_slice_planes(self) -> None:
        """The slices' look changed (gene, colour map, highlight, background): redraw the planes."""
        if self._closed or self._planes_source is None:
            return
        self.layers["planes"].refresh()
        self.render()

    @property
    def slice_planes_shown(self) -> list[str]:
        return [] if self._closed else self.layers["planes"].shown

    def set_cut_away(self, name: str) -> None:
        """Hide part of the scene (spheres, outline, structures, slice planes): a
        :data:`~allen_viewer.render.cuts.CUT_AWAYS` name; the slice-relative ones cut at the
        cursor's slices."""
        if self._closed:
            return
        cut_away(name)  # ValueError for an unknown name, before anything changes
        self._cut_name = name
        self._apply_cut()
        self.render()

    @property
    def cut_away_name(self) -> str:
        return self._cut_name

    def _apply_cut(self) -> None:
        cut = cut_away(self._cut_name, self.cursor)
        for layer in self.layers.values():
            layer.set_cut(cut)

    # ---- camera -----------------------------------------------------------------------------

    def scene_bounds(self) -> tuple[float, float, float, float, float, float]:
        """(xmin, xmax, ymin, ymax, zmin, zmax) µm: the outline's bounds, else the grid's."""
        if self._outline_mesh is not None and self._outline_mesh.n_points:
            return tuple(float(b) for b in self._outline_mesh.bounds)
        return GRID_BOUNDS_UM

    def _fit_points(self) -> np.ndarray | None:
        """Up to ~4000 outline vertices (µm) for the presets to fit; None without an outline."""
        mesh = self._outline_mesh
        if mesh is None or not mesh.n_points:
            return None
        pts = np.asarray(mesh.points)
        return pts[:: max(1, len(pts) // 4000)]

    def camera_preset(self, name: str) -> None:
        """Point the camera as documented in :mod:`~allen_viewer.render.layers`
        (``dorsal``, ``lateral``, ``anterior``, ``oblique``) and fit the brain."""
        if self._closed:
            return
        width, height = self.plotter.render_window.GetSize()
        aspect = width / height if width > 0 and height > 0 else 1.0
        camera = self.plotter.camera
        self._parallel_dop = None
        apply_camera_preset(camera, name, self.scene_bounds(), aspect, self._fit_points(),
                            word_margins(width, height, view=name) if width > 0 and height > 0 else None)
        self._parallel_dop = np.array(camera.GetDirectionOfProjection()) if camera.GetParallelProjection() else None
        self.plotter.renderer.ResetCameraClippingRange()
        self.plotter.camera_set = True
        self.render()

    def _on_camera_modified(self, camera, _event) -> None:
        """Turning away from a parallel preset returns to perspective (the scale bar goes with
        it); zooming and panning keep the projection."""
        if self._parallel_dop is None or not camera.GetParallelProjection():
            return
        if float(np.dot(camera.GetDirectionOfProjection(), self._parallel_dop)) < 1.0 - 1e-6:
            self._parallel_dop = None
            camera.SetParallelProjection(False)

    @property
    def parallel_projection(self) -> bool:
        """True while the camera is in a parallel preset (dorsal, lateral, anterior)."""
        return bool(self.plotter.camera.GetParallelProjection())

    @property
    def scale_bar_px(self) -> int:
        """The 1 mm scale bar's drawn length in pixels (0 when it is not shown)."""
        return 0 if self._overlay is None else self._overlay.scale_bar.length_px

    @property
    def aspect(self) -> float:
        """Width / height of the render window (1 before it has a size)."""
        width, height = self.plotter.render_window.GetSize()
        return width / height if width > 0 and height > 0 else 1.0

    def camera_pose(self) -> CameraPose:
        """The camera's pose now (with this view's aspect), e.g. for an off-screen export."""
        return CameraPose.of(self.plotter.camera, self.aspect)

    def set_camera_pose(self, pose: CameraPose) -> None:
        if self._closed:
            return
        self._parallel_dop = None
        pose.apply(self.plotter.camera, self.aspect)
        camera = self.plotter.camera
        self._parallel_dop = np.array(camera.GetDirectionOfProjection()) if camera.GetParallelProjection() else None
        self.plotter.renderer.ResetCameraClippingRange()
        self.plotter.camera_set = True
        self.render()

    def reset_camera(self) -> None:
        """Back to the default oblique view, fitted to the brain."""
        self.camera_preset("oblique")

    # ---- picking ----------------------------------------------------------------------------

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt override
        """Watch the render widget's left clicks (Qt events: the VTK interactor style grabs
        the mouse between press and release, so VTK observers never see the release)."""
        if obj is self.plotter and not self._closed:
            kind = event.type()
            if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
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

    def pick_display(self, x: float, y: float) -> np.ndarray | None:
        """The CCF point (µm) under display pixel (x, y) (VTK display coordinates: origin at the
        bottom left, in render-window pixels), as a click there would report it; None when
        nothing is hit."""
        if self._closed:
            return None
        ren = self.plotter.renderer
        ren.SetDisplayPoint(x, y, 0.0)
        ren.DisplayToWorld()
        near = np.array(ren.GetWorldPoint()[:3]) / ren.GetWorldPoint()[3]
        ren.SetDisplayPoint(x, y, 1.0)
        ren.DisplayToWorld()
        far = np.array(ren.GetWorldPoint()[:3]) / ren.GetWorldPoint()[3]
        direction = far - near
        direction /= np.linalg.norm(direction)

        hit = pick_layer(self._layer, near, direction)  # the strongest drawn sphere on the ray
        if hit is not None:
            return np.asarray(self._layer.poly.points[hit[0]], dtype=float)

        targets = [a for name in ("outline", "structures") for a in self.layers[name].actors]
        if not targets:
            return None
        self._picker.InitializePickList()
        for actor in targets:
            self._picker.AddPickList(actor)
        if not self._picker.Pick(x, y, 0.0, ren):
            return None
        surface = np.array(self._picker.GetPickPosition(), dtype=float)
        return surface + direction * SURFACE_PICK_DEPTH_UM

    # ---- orientation labels and marker ------------------------------------------------

    @property
    def orientation_labels(self) -> dict[str, tuple[np.ndarray, bool]]:
        """{word: (position in µm, visible)} of the anatomical axis labels."""
        return {} if self._overlay is None else self._overlay.label_states

    # ---- rendering and lifetime --------------------------------------------------------------

    def render(self) -> None:
        """Render a frame now (no-op after :meth:`close_scene`)."""
        if self._closed:
            return
        self.plotter.render()

    def request_render(self) -> None:
        """Schedule one frame at the widget's next paint instead of rendering now: changes
        made before then share that frame.  (A :meth:`render` draws at once and the widget
        then paints -- and renders -- again, so three changes that each render cost four
        frames; a gene switch through :meth:`set_display` and :meth:`set_grid` cost three.)"""
        if self._closed:
            return
        self.plotter.update()  # QWidget.update (pyvista's BasePlotter.update is shadowed): a paint request

    def close_scene(self) -> None:
        """Release the VTK objects and the render window; idempotent.  Called on close.

        The render window is finalized first, while every prop is still attached, so all
        OpenGL objects are freed in this widget's own context.  (pyvista's ``close`` detaches
        the props before finalizing; a prop freed later, when Python collects it, would
        delete buffer ids in whichever context is current then -- another scene's -- and
        crash that scene's next frame.)
        """
        if self._closed:
            return
        self._closed = True
        if self._camera_observer is not None:
            self.plotter.camera.RemoveObserver(self._camera_observer)
            self._camera_observer = None
        self.plotter.removeEventFilter(self)
        ren_win = self.plotter.render_window
        if ren_win is not None:
            ren_win.Finalize()
        self._overlay.detach()
        self._layer.detach()  # the other layers' actors go with the plotter, as before
        self.plotter.close()
        # Drop this scene's VTK objects now, not whenever Python collects the widget: a
        # VTK object destroyed later frees its OpenGL names in whatever context is current
        # then -- another scene's -- which corrupts that scene (a segfault in its next frame
        # with Mesa, seen when one scene is collected while another renders).
        self._layer = None
        self._picker = None
        self._overlay = None
        self.layers = {}
        self._planes_source = None
        gc.collect()

    @property
    def is_closed(self) -> bool:
        return self._closed

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
