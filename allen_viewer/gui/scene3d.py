"""The 3-D scene: expression spheres, the brain outline, structure surfaces and a cursor.

Coordinates
-----------
Everything in the scene is in CCF micrometres with x = AP (+ posterior), y = DV (+ ventral,
inferior), z = ML (+ right): the annotation's (AP, DV, ML) index order times the voxel size.
That frame (PIR) is right-handed, so nothing is mirrored.  Expression grid voxel (i, j, k)
is drawn at (200 i, 200 j, 200 k) µm.

Camera presets (:meth:`ExpressionScene.camera_preset`)
------------------------------------------------------
``"dorsal"``    camera above the brain (at -y) looking down, anterior (-x) at the top of the
                screen; the animal's right (+z) is on the screen's right.
``"lateral"``   camera at the animal's left (-z), dorsal (-y) up; anterior on the screen's
                left, posterior on its right.
``"anterior"``  camera in front of the brain (at -x) looking back, dorsal (-y) up; facing the
                animal, so its left (-z) is on the screen's right.
``"oblique"``   the default (:meth:`ExpressionScene.reset_camera`): from anterior-dorsal-left,
                dorsal up.

Orientation is labelled twice: an orientation marker in the lower left corner (the three
axes, ends labelled A/P, D/V, L/R) and the words anterior/posterior, dorsal/ventral,
left/right just outside the brain's bounding box, drawn over the scene; a word is hidden
while its axis points (within 35°) along the line of sight, where it would sit on top of
the brain.  Presets fit the brain's box plus those words into the view.

Expression layer
----------------
One point per grid voxel that has data (``grid.has_data``; never a no-data voxel) and
``energy >= threshold``, drawn by VTK's point-gaussian mapper (``style='points_gaussian'``,
``emissive=False``) with a sphere-impostor splat shader.  The sphere radius follows energy
(:func:`sphere_radius_um`), the colour follows intensity, or energy when the experiment has
no intensity volume (the colour bar title says so).  :class:`ExpressionLayer` is the Qt-free
part (also used by ``benchmarks/render.py``); :class:`ExpressionScene` is the widget.
"""
from __future__ import annotations

import gc
import logging
from dataclasses import dataclass

import numpy as np
import pyvista as pv
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QVBoxLayout, QWidget
from pyvistaqt import QtInteractor
from superqt import QLabeledDoubleSlider
from vtkmodules.vtkCommonCore import vtkCommand
from vtkmodules.vtkRenderingAnnotation import vtkScalarBarActor
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkBillboardTextActor3D,
    vtkCellPicker,
    vtkPolyDataMapper,
    vtkRenderer,
    vtkTextActor,
)

from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.expression.grid_file import GRID_SHAPE, GRID_SPACING_UM

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 1.0
"""Default energy threshold: voxels with energy below it are not drawn.  Energy is Allen's
'expression energy' (summed intensity of the expressing pixels over all pixels of the
voxel; arbitrary units, about 0..40)."""
DEFAULT_SIZE_SCALE = 1.0
DEFAULT_CMAP = "viridis"
DEFAULT_OPACITY = 1.0
CMAPS = ("viridis", "magma", "inferno", "plasma", "hot", "gray")

MAX_RADIUS_UM = 0.5 * GRID_SPACING_UM
"""Radius of the largest sphere at size scale 1 (neighbouring spheres then just touch)."""
MIN_RADIUS_FRACTION = 0.25
"""The weakest drawn voxel still gets a sphere a quarter of the largest one's radius."""
ROBUST_MAX_PERCENTILE = 99.0
"""Colour range and sphere sizes saturate at this percentile of the data voxels' values."""

BACKGROUND = "#15191e"
OUTLINE_COLOR = (0.78, 0.80, 0.84)
OUTLINE_OPACITY = 0.12
STRUCTURE_OPACITY = 0.30
STRUCTURE_HIGHLIGHT_OPACITY = 0.75
STRUCTURE_DIMMED_OPACITY = 0.12
CURSOR_COLOR = (1.0, 0.25, 0.25)
CURSOR_HALF_LENGTH_UM = 400.0
CURSOR_RADIUS_UM = 60.0
SURFACE_PICK_DEPTH_UM = 100.0
"""A click on a surface reports the point this far beyond the surface along the line of
sight, i.e. inside the tissue rather than on its smoothed boundary."""
CLICK_TOLERANCE_PX = 4
"""A press and release further apart than this is a drag (rotation), not a pick."""
LABEL_MARGIN_FRACTION = 0.10
"""The anatomical words sit this fraction of the brain's longest side outside its box."""
LABEL_HIDE_COS = float(np.cos(np.radians(35.0)))

# Sphere impostor for vtkPointGaussianMapper: discard outside the unit disc, shade as a
# lit sphere (normal (x, y, sqrt(1 - r^2)) in view coordinates, light from upper left front).
SPHERE_SPLAT_SHADER = """//VTK::Color::Impl
float dist2 = dot(offsetVCVSOutput.xy, offsetVCVSOutput.xy);
if (dist2 > 1.0) {
  discard;
}
vec3 sphereNormal = vec3(offsetVCVSOutput.xy, sqrt(1.0 - dist2));
float lambert = max(dot(sphereNormal, normalize(vec3(-0.35, 0.45, 0.82))), 0.0);
float rim = 0.30 + 0.70 * lambert;
ambientColor *= rim;
diffuseColor *= rim;
"""

PRESETS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    # name: (direction from the focal point to the camera, view-up), CCF (AP, DV, ML)
    "dorsal": ((0.0, -1.0, 0.0), (-1.0, 0.0, 0.0)),
    "lateral": ((0.0, 0.0, -1.0), (0.0, -1.0, 0.0)),
    "anterior": ((-1.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    "oblique": ((-0.55, -0.55, -0.63), (0.0, -1.0, 0.0)),
}

GRID_BOUNDS_UM = (0.0, (GRID_SHAPE[0] - 1) * GRID_SPACING_UM, 0.0, (GRID_SHAPE[1] - 1) * GRID_SPACING_UM,
                  0.0, (GRID_SHAPE[2] - 1) * GRID_SPACING_UM)


# ---- the expression layer (Qt-free) ----------------------------------------------------

def robust_max(values: np.ndarray) -> float:
    """The :data:`ROBUST_MAX_PERCENTILE` of finite values (1.0 when there are none or all 0)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 1.0
    top = float(np.percentile(v, ROBUST_MAX_PERCENTILE))
    return top if top > 0 else (float(v.max()) if v.max() > 0 else 1.0)


def sphere_radius_um(energy: np.ndarray, energy_ref: float) -> np.ndarray:
    """Sphere radius (µm, at size scale 1) for energies: ``R * (f + (1 - f) * sqrt(e / e_ref))``.

    ``R`` = :data:`MAX_RADIUS_UM` (100 µm), ``f`` = :data:`MIN_RADIUS_FRACTION`; ``e / e_ref``
    is clipped to [0, 1], so the sphere's area grows linearly with energy up to ``e_ref``.
    """
    s = np.clip(np.asarray(energy, dtype=np.float32) / np.float32(energy_ref), 0.0, 1.0)
    return (MAX_RADIUS_UM * (MIN_RADIUS_FRACTION + (1.0 - MIN_RADIUS_FRACTION) * np.sqrt(s))).astype(np.float32)


def build_expression_points(grid: ExpressionGrid, threshold: float) -> pv.PolyData:
    """Point cloud of the voxels with data and ``energy >= threshold``, in CCF µm.

    Point (i, j, k) of the (AP, DV, ML) grid lies at 200 * (i, j, k) µm.  Point arrays:
    ``grid_index`` (int64, flat C-order index into the (67, 41, 58) grid), ``energy``,
    ``color_value`` (intensity, or energy when the grid has none; the active scalars) and
    ``radius`` (µm at size scale 1, :func:`sphere_radius_um` relative to the 99th percentile
    of the grid's energies; the mapper's scale array).
    """
    has = np.asarray(grid.has_data, dtype=bool)
    energy = grid.energy
    with np.errstate(invalid="ignore"):
        keep = has & (energy >= threshold)
    flat = np.flatnonzero(keep)
    ijk = np.column_stack(np.unravel_index(flat, GRID_SHAPE))
    points = ijk.astype(np.float32) * np.float32(GRID_SPACING_UM)
    poly = pv.PolyData(points) if len(points) else pv.PolyData()
    colour_source = grid.intensity if grid.intensity is not None else energy
    e = energy.ravel()[flat].astype(np.float32)
    poly.point_data["grid_index"] = flat.astype(np.int64)
    poly.point_data["energy"] = e
    poly.point_data["color_value"] = colour_source.ravel()[flat].astype(np.float32)
    poly.point_data["radius"] = sphere_radius_um(e, robust_max(energy[has]))
    poly.point_data.active_scalars_name = "color_value"
    return poly


def color_title(grid: ExpressionGrid | None) -> str:
    """The colour bar title: what the colours show."""
    if grid is None:
        return ""
    if grid.intensity is not None:
        return "intensity"
    return "energy (no intensity in this experiment)"


@dataclass
class DisplaySettings:
    threshold: float = DEFAULT_THRESHOLD
    size_scale: float = DEFAULT_SIZE_SCALE
    cmap: str = DEFAULT_CMAP
    opacity: float = DEFAULT_OPACITY


class ExpressionLayer:
    """The expression spheres in a pyvista plotter: one polydata, one actor, one colour bar.

    The polydata and actor are made once; :meth:`set_grid` and threshold changes swap the
    polydata's points and arrays in place (``ShallowCopy``), size scale and opacity change
    mapper/actor parameters only, so switching genes costs a few ms plus one frame.
    """

    def __init__(self, plotter: pv.BasePlotter):
        self.plotter = plotter
        self.grid: ExpressionGrid | None = None
        self.display = DisplaySettings()
        self.poly = pv.PolyData()
        self.actor: pv.Actor | None = None
        self.scalar_bar = vtkScalarBarActor()
        self._setup_scalar_bar()
        self._clim = (0.0, 1.0)
        self._applied_cmap = ""

    # -- set-up ----------------------------------------------------------------------------

    def _setup_scalar_bar(self) -> None:
        sb = self.scalar_bar
        # horizontal, in the top right corner (the anatomical words sit at the middle of
        # each side), title above the bar, labels under it
        sb.SetOrientationToHorizontal()
        sb.SetNumberOfLabels(5)
        sb.SetLabelFormat("%.3g")
        sb.SetPosition(0.64, 0.83)
        sb.SetWidth(0.34)
        sb.SetHeight(0.11)
        sb.SetMaximumHeightInPixels(80)
        sb.SetTextPositionToPrecedeScalarBar()  # labels under the bar
        sb.UnconstrainedFontSizeOn()
        sb.SetBarRatio(0.35)
        prop = sb.GetLabelTextProperty()
        prop.SetColor(0.92, 0.92, 0.92)
        prop.SetFontSize(12)
        prop.BoldOff()
        prop.ItalicOff()
        prop.ShadowOff()
        sb.SetVisibility(False)
        sb.PickableOff()
        self.plotter.renderer.AddViewProp(sb)
        # the title as its own text above the bar: VTK's horizontal bar lays its title over
        # the labels
        title = self.title_actor = vtkTextActor()
        tp = title.GetTextProperty()
        tp.SetFontSize(13)
        tp.SetColor(0.92, 0.92, 0.92)
        tp.SetJustificationToCentered()
        tp.SetVerticalJustificationToBottom()
        title.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        title.SetPosition(0.64 + 0.17, 0.945)
        title.SetVisibility(False)
        title.PickableOff()
        self.plotter.renderer.AddViewProp(title)

    def _make_actor(self) -> None:
        d = self.display
        self.actor = self.plotter.add_mesh(
            self.poly, style="points_gaussian", emissive=False, render_points_as_spheres=True,
            scalars="color_value", cmap=d.cmap, clim=self._clim, opacity=d.opacity,
            show_scalar_bar=False, name="expression", reset_camera=False, pickable=False, render=False,
            lighting=False,
        )
        mapper = self.actor.mapper
        mapper.SetSplatShaderCode(SPHERE_SPLAT_SHADER)
        mapper.SetScaleArray("radius")
        mapper.SetScaleFactor(d.size_scale)
        mapper.SetScalarModeToUsePointFieldData()
        mapper.SelectColorArray("color_value")
        mapper.SetColorModeToMapScalars()  # float values through the lookup table, never as RGB
        # per-point colours; texture-interpolated colour mapping crashes the point-gaussian
        # mapper (VTK 9.7, segfault in the first render)
        mapper.InterpolateScalarsBeforeMappingOff()
        self.scalar_bar.SetLookupTable(mapper.GetLookupTable())
        self._applied_cmap = d.cmap

    # -- updates ---------------------------------------------------------------------------

    def set_grid(self, grid: ExpressionGrid | None) -> None:
        """Show ``grid`` (None: clear the layer) with the current display settings."""
        self.grid = grid
        if grid is not None:
            source = grid.intensity if grid.intensity is not None else grid.energy
            self._clim = (0.0, robust_max(source[np.asarray(grid.has_data, dtype=bool)]))
        self._rebuild()

    def set_display(self, threshold: float | None = None, size_scale: float | None = None,
                    cmap: str | None = None, opacity: float | None = None) -> None:
        """Change any of the display settings (None: keep)."""
        d = self.display
        rebuild = threshold is not None and float(threshold) != d.threshold
        if threshold is not None:
            d.threshold = float(threshold)
        if size_scale is not None:
            if size_scale <= 0:
                raise ValueError(f"size_scale must be > 0, not {size_scale}")
            d.size_scale = float(size_scale)
        if cmap is not None:
            pv.LookupTable(cmap=cmap)  # raises on an unknown name before anything changes
            d.cmap = cmap
        if opacity is not None:
            if not 0.0 < opacity <= 1.0:
                raise ValueError(f"opacity must be in (0, 1], not {opacity}")
            d.opacity = float(opacity)
        if rebuild:
            self._rebuild()
        else:
            self._apply_display()

    def _rebuild(self) -> None:
        if self.grid is None:
            self.poly.ShallowCopy(pv.PolyData())
        else:
            self.poly.ShallowCopy(build_expression_points(self.grid, self.display.threshold))
            self.poly.point_data.active_scalars_name = "color_value"
        self.poly.Modified()
        if self.actor is None and self.grid is not None and self.poly.n_points:
            self._make_actor()
        self._apply_display()

    def _apply_display(self) -> None:
        visible = self.grid is not None
        self.title_actor.SetInput(color_title(self.grid))
        self.title_actor.SetVisibility(visible)
        self.scalar_bar.SetVisibility(visible)
        if self.actor is None:
            return
        d = self.display
        mapper = self.actor.mapper
        lut = mapper.lookup_table
        if self._applied_cmap != d.cmap:
            lut.cmap = d.cmap
            self._applied_cmap = d.cmap
        lut.scalar_range = self._clim
        mapper.SetScalarRange(*self._clim)
        mapper.SetScaleFactor(d.size_scale)
        self.actor.GetProperty().SetOpacity(d.opacity)
        self.actor.SetVisibility(bool(visible and self.poly.n_points > 0))

    # -- queries ---------------------------------------------------------------------------

    @property
    def color_range(self) -> tuple[float, float]:
        return self._clim

    def radii_um(self) -> np.ndarray:
        """Drawn radius of every point (µm, size scale included)."""
        if self.poly.n_points == 0:
            return np.zeros(0, np.float32)
        return np.asarray(self.poly.point_data["radius"]) * self.display.size_scale

    def pick_ray(self, origin: np.ndarray, direction: np.ndarray) -> tuple[int, float] | None:
        """(point id, distance along the ray) of the nearest sphere the ray hits, or None."""
        if self.actor is None or not self.actor.GetVisibility() or self.poly.n_points == 0:
            return None
        p = np.asarray(self.poly.points, dtype=np.float64) - origin
        t = p @ direction
        perp2 = np.einsum("ij,ij->i", p, p) - t * t
        r = self.radii_um().astype(np.float64)
        hit = np.flatnonzero((t > 0) & (perp2 <= r * r))
        if hit.size == 0:
            return None
        best = hit[np.argmin(t[hit])]
        return int(best), float(t[best])


def _plain_actor(mesh: pv.PolyData, color) -> vtkActor:
    mapper = vtkPolyDataMapper()
    mapper.SetInputData(mesh)
    actor = vtkActor()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*color)
    actor.PickableOff()
    return actor


def _billboard(text: str, position, color, size: int) -> vtkBillboardTextActor3D:
    label = vtkBillboardTextActor3D()
    label.SetInput(text)
    label.SetPosition(*position)
    prop = label.GetTextProperty()
    prop.SetFontSize(size)
    prop.BoldOn()
    prop.SetColor(*color)
    prop.SetJustificationToCentered()
    prop.SetVerticalJustificationToCentered()
    label.PickableOff()
    return label


# ---- the widget ------------------------------------------------------------------------

class ExpressionScene(QWidget):
    """The 3-D view: a pyvistaqt ``QtInteractor`` with the layers described in the module doc.

    Signals
    -------
    pointPicked(np.ndarray)
        A plain left click (press and release within :data:`CLICK_TOLERANCE_PX`) on an
        expression sphere or a surface: 3 floats, CCF µm (AP, DV, ML).  A sphere gives its
        voxel centre; a surface gives the point :data:`SURFACE_PICK_DEPTH_UM` beyond the
        surface along the line of sight.  Spheres win over the (translucent) surfaces.
    """

    pointPicked = Signal(object)

    def __init__(self, parent: QWidget | None = None):
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
        self._outline_actor = None
        self._outline_mesh: pv.PolyData | None = None
        self._structures: dict[int, pv.Actor] = {}
        self._highlight: int | None = None
        self._cursor_actors: list = []
        self._press_pos = None  # QPointF of the last left press on the render widget

        self._layer = ExpressionLayer(self.plotter)
        self._display = self._layer.display
        self._picker = vtkCellPicker()
        self._picker.SetTolerance(0.0)
        self._picker.PickFromListOn()
        self._setup_overlays()
        self.plotter.installEventFilter(self)
        self._observers = [
            (self.plotter.renderer,
             self.plotter.renderer.AddObserver(vtkCommand.StartEvent, self._before_frame)),
        ]
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

    @property
    def display_settings(self) -> DisplaySettings:
        return self._display

    @property
    def expression_points(self) -> pv.PolyData | None:
        """The drawn points (n_points == drawn voxels; see :func:`build_expression_points`), or
        None when no grid is shown."""
        if self._layer is None or self._layer.grid is None:
            return None
        return self._layer.poly

    @property
    def expression_actor(self) -> pv.Actor | None:
        return None if self._layer is None else self._layer.actor

    @property
    def color_bar_title(self) -> str:
        return "" if self._layer is None else (self._layer.title_actor.GetInput() or "")

    @property
    def color_range(self) -> tuple[float, float]:
        """(min, max) of the colour map, in the coloured quantity's units."""
        return (0.0, 1.0) if self._layer is None else self._layer.color_range

    # ---- surfaces ----------------------------------------------------------------------------

    def set_brain_outline(self, mesh: pv.PolyData | None) -> None:
        """Show ``mesh`` (CCF µm) as the translucent grey brain outline; None removes it."""
        if self._closed:
            return
        if self._outline_actor is not None:
            self.plotter.remove_actor(self._outline_actor, render=False)
            self._outline_actor = None
        self._outline_mesh = mesh
        if mesh is not None and mesh.n_points:
            self._outline_actor = self.plotter.add_mesh(
                mesh, color=OUTLINE_COLOR, opacity=OUTLINE_OPACITY, smooth_shading=True,
                name="brain_outline", reset_camera=False, pickable=True, render=False,
                specular=0.0, diffuse=0.8, ambient=0.25)
        self._place_labels()
        self.render()

    def set_structure_surface(self, structure_id: int, mesh: pv.PolyData | None,
                              color: tuple[int, int, int]) -> None:
        """Show a structure's surface (CCF µm) in ``color`` (r, g, b 0-255); None removes it."""
        if self._closed:
            return
        self._remove_structure(structure_id)
        if mesh is not None and mesh.n_points:
            rgb = tuple(max(0, min(255, int(c))) / 255.0 for c in color)
            self._structures[int(structure_id)] = self.plotter.add_mesh(
                mesh, color=rgb, opacity=STRUCTURE_OPACITY, smooth_shading=True,
                name=f"structure_{int(structure_id)}", reset_camera=False, pickable=True, render=False,
                specular=0.2, specular_power=20.0)
        self._apply_highlight()
        self.render()

    def remove_structure_surface(self, structure_id: int) -> None:
        if self._closed:
            return
        self._remove_structure(structure_id)
        self._apply_highlight()
        self.render()

    def _remove_structure(self, structure_id: int) -> None:
        actor = self._structures.pop(int(structure_id), None)
        if actor is not None:
            self.plotter.remove_actor(actor, render=False)

    @property
    def structure_ids(self) -> list[int]:
        """Ids of the structures whose surfaces are shown."""
        return list(self._structures)

    def highlight_structure(self, structure_id: int | None) -> None:
        """Bring one shown structure forward (opaque-ish, others dimmed); None: no highlight."""
        if self._closed:
            return
        self._highlight = None if structure_id is None else int(structure_id)
        self._apply_highlight()
        self.render()

    def structure_opacity(self, structure_id: int) -> float | None:
        actor = self._structures.get(int(structure_id))
        return None if actor is None else float(actor.GetProperty().GetOpacity())

    def _apply_highlight(self) -> None:
        active = self._highlight is not None and self._highlight in self._structures
        for sid, actor in self._structures.items():
            prop = actor.GetProperty()
            if not active:
                prop.SetOpacity(STRUCTURE_OPACITY)
                prop.SetAmbient(0.0)
            elif sid == self._highlight:
                prop.SetOpacity(STRUCTURE_HIGHLIGHT_OPACITY)
                prop.SetAmbient(0.25)
            else:
                prop.SetOpacity(STRUCTURE_DIMMED_OPACITY)
                prop.SetAmbient(0.0)

    # ---- cursor -----------------------------------------------------------------------------

    def set_cursor(self, um: np.ndarray | None) -> None:
        """A 3-D crosshair (three 800 µm lines and a 60 µm sphere) at ``um`` (CCF µm, (AP, DV,
        ML)); None hides it."""
        if self._closed:
            return
        for actor in self._cursor_actors:
            self.plotter.remove_actor(actor, render=False)
        self._cursor_actors = []
        if um is not None:
            c = np.asarray(um, dtype=float).reshape(3)
            h = CURSOR_HALF_LENGTH_UM
            segs = np.array([c - (h, 0, 0), c + (h, 0, 0), c - (0, h, 0), c + (0, h, 0),
                             c - (0, 0, h), c + (0, 0, h)])
            cross = pv.PolyData(segs, lines=np.array([2, 0, 1, 2, 2, 3, 2, 4, 5]))
            self._cursor_actors.append(self.plotter.add_mesh(
                cross, color=CURSOR_COLOR, line_width=3, lighting=False, name="cursor_lines",
                reset_camera=False, pickable=False, render=False))
            self._cursor_actors.append(self.plotter.add_mesh(
                pv.Sphere(radius=CURSOR_RADIUS_UM, center=c, theta_resolution=16, phi_resolution=16),
                color=CURSOR_COLOR, name="cursor_sphere", reset_camera=False, pickable=False, render=False))
        self._cursor_um = None if um is None else np.asarray(um, dtype=float).reshape(3).copy()
        self.render()

    @property
    def cursor(self) -> np.ndarray | None:
        return getattr(self, "_cursor_um", None)

    # ---- camera -----------------------------------------------------------------------------

    def scene_bounds(self) -> tuple[float, float, float, float, float, float]:
        """(xmin, xmax, ymin, ymax, zmin, zmax) µm: the outline's bounds, else the grid's."""
        if self._outline_mesh is not None and self._outline_mesh.n_points:
            return tuple(float(b) for b in self._outline_mesh.bounds)
        return GRID_BOUNDS_UM

    def camera_preset(self, name: str) -> None:
        """Point the camera as documented in the module docstring and fit the brain."""
        if self._closed:
            return
        try:
            direction, up = PRESETS[name]
        except KeyError:
            raise ValueError(f"unknown camera preset {name!r}; one of {', '.join(PRESETS)}") from None
        d = np.asarray(direction, float)
        d /= np.linalg.norm(d)
        up = np.asarray(up, float)
        up = up - d * (up @ d)
        up /= np.linalg.norm(up)
        right = np.cross(-d, up)  # screen right for a camera looking along -d
        b = np.array(self.scene_bounds())
        lo, hi = b[0::2], b[1::2]
        centre = (lo + hi) / 2.0
        # fit the box grown by the label margin (so the anatomical words stay in view), by
        # the extents of its corners across and along the line of sight
        grow = LABEL_MARGIN_FRACTION * float(np.max(hi - lo)) * 1.15
        corners = np.array([[x, y, z] for x in (lo[0] - grow, hi[0] + grow) for y in (lo[1] - grow, hi[1] + grow)
                            for z in (lo[2] - grow, hi[2] + grow)]) - centre
        half_w = float(np.max(np.abs(corners @ right)))
        half_h = float(np.max(np.abs(corners @ up)))
        depth = float(np.max(np.abs(corners @ d)))
        width, height = self.plotter.render_window.GetSize()
        aspect = width / height if width > 0 and height > 0 else 1.0
        cam = self.plotter.camera
        tan_half = np.tan(np.radians(cam.GetViewAngle()) / 2.0)
        distance = max(half_h, half_w / aspect) / tan_half + depth
        cam.SetFocalPoint(*centre)
        cam.SetPosition(*(centre + d * distance))
        cam.SetViewUp(*up)
        cam.SetParallelScale(max(half_h, half_w / aspect))
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

        hit = self._layer.pick_ray(near, direction)
        if hit is not None:
            return np.asarray(self._layer.poly.points[hit[0]], dtype=float)

        targets = [a for a in [self._outline_actor, *self._structures.values()] if a is not None]
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

    def _setup_overlays(self) -> None:
        """Two non-interactive renderers in layer 1, drawn over the scene:

        * the orientation labels' renderer shares the scene camera and covers the view, so
          the words sit at their 3-D positions but are never hidden behind spheres;
        * the orientation marker's renderer, in the lower left corner, shows the three CCF
          axes as coloured sticks through a small cube, ends labelled A/P, D/V, L/R; its
          camera copies the scene camera's direction and view-up before every frame.

        (The labels are billboards, always upright and readable; VTK's vtkAnnotatedCubeActor
        mirrors some of its face letters in this frame, so it is not used.)
        """
        ren_win = self.plotter.render_window
        ren_win.SetNumberOfLayers(max(2, ren_win.GetNumberOfLayers()))
        self._label_renderer = vtkRenderer()
        self._label_renderer.SetLayer(1)
        self._label_renderer.InteractiveOff()
        self._label_renderer.SetActiveCamera(self.plotter.renderer.GetActiveCamera())
        ren_win.AddRenderer(self._label_renderer)

        self._marker_renderer = vtkRenderer()
        self._marker_renderer.SetLayer(1)
        self._marker_renderer.InteractiveOff()
        self._marker_renderer.SetViewport(0.0, 0.0, 0.17, 0.24)
        cam = self._marker_renderer.GetActiveCamera()
        cam.ParallelProjectionOn()
        cam.SetParallelScale(1.9)
        cube = pv.Cube(x_length=0.8, y_length=0.8, z_length=0.8)
        self._marker_renderer.AddActor(_plain_actor(cube, (0.42, 0.46, 0.52)))
        for axis, (neg, pos), color in ((0, ("A", "P"), (0.95, 0.45, 0.40)), (1, ("D", "V"), (0.45, 0.85, 0.45)),
                                        (2, ("L", "R"), (0.50, 0.68, 1.00))):
            direction = np.zeros(3)
            direction[axis] = 1.0
            stick = pv.Cylinder(center=(0, 0, 0), direction=direction, radius=0.07, height=2.3, resolution=12)
            self._marker_renderer.AddActor(_plain_actor(stick, color))
            for text, sign in ((neg, -1.0), (pos, 1.0)):
                self._marker_renderer.AddActor(_billboard(text, direction * 1.5 * sign, color, 15))
        ren_win.AddRenderer(self._marker_renderer)

        self._labels: list[tuple[vtkBillboardTextActor3D, int]] = []
        for text, axis in (("anterior", 0), ("posterior", 0), ("dorsal", 1), ("ventral", 1),
                           ("left", 2), ("right", 2)):
            label = _billboard(text, (0.0, 0.0, 0.0), (0.95, 0.85, 0.45), 16)
            self._label_renderer.AddActor(label)
            self._labels.append((label, axis))
        self._place_labels()

    def _place_labels(self) -> None:
        b = np.array(self.scene_bounds())
        lo, hi = b[0::2], b[1::2]
        centre = (lo + hi) / 2.0
        margin = LABEL_MARGIN_FRACTION * float(np.max(hi - lo))
        for n, (label, axis) in enumerate(self._labels):
            pos = centre.copy()
            pos[axis] = lo[axis] - margin if n % 2 == 0 else hi[axis] + margin
            label.SetPosition(*pos)

    def _before_frame(self, *_args) -> None:
        """Before every frame: hide the labels that look along the line of sight, turn the
        orientation marker like the scene, fit the clipping range to the scene."""
        main = self.plotter.renderer.GetActiveCamera()
        dop = np.array(main.GetDirectionOfProjection())
        for label, axis in self._labels:
            label.SetVisibility(bool(abs(dop[axis]) < LABEL_HIDE_COS))
        # the label renderer shares this camera; fitting the range to the scene's props (the
        # labels shown lie beside the brain, inside that range) keeps picking and depth right
        self.plotter.renderer.ResetCameraClippingRange()
        cam = self._marker_renderer.GetActiveCamera()
        cam.SetFocalPoint(0.0, 0.0, 0.0)
        cam.SetPosition(*(-dop * 10.0))
        cam.SetViewUp(*main.GetViewUp())
        cam.SetClippingRange(5.0, 15.0)

    @property
    def orientation_labels(self) -> dict[str, tuple[np.ndarray, bool]]:
        """{word: (position in µm, visible)} of the anatomical axis labels."""
        return {lab.GetInput(): (np.array(lab.GetPosition()), bool(lab.GetVisibility())) for lab, _ in self._labels}

    # ---- rendering and lifetime --------------------------------------------------------------

    def render(self) -> None:
        """Render a frame now (no-op after :meth:`close_scene`)."""
        if self._closed:
            return
        self.plotter.render()

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
        self.plotter.removeEventFilter(self)
        for obj, tag in self._observers:
            obj.RemoveObserver(tag)
        self._observers = []
        ren_win = self.plotter.render_window
        if ren_win is not None:
            ren_win.Finalize()
            for ren in (self._label_renderer, self._marker_renderer):
                ren.RemoveAllViewProps()
                ren_win.RemoveRenderer(ren)
        self.plotter.close()
        # Drop this scene's VTK objects now, not whenever Python collects the widget: a
        # VTK object destroyed later frees its OpenGL names in whatever context is current
        # then -- another scene's -- which corrupts that scene (a segfault in its next frame
        # with Mesa, seen when one scene is collected while another renders).
        self._layer = None
        self._picker = None
        self._labels = []
        self._label_renderer = self._marker_renderer = None
        self._outline_actor = None
        self._structures = {}
        self._cursor_actors = []
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

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        form = QFormLayout(self)
        form.setContentsMargins(4, 4, 4, 4)
        self.threshold = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0.0, 40.0)
        self.threshold.setDecimals(2)
        self.threshold.setValue(DEFAULT_THRESHOLD)
        self.threshold.setToolTip("Voxels with expression energy below this are not drawn")
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
        form.addRow("Energy threshold", self.threshold)
        form.addRow("Sphere size", self.size_scale)
        form.addRow("Colour map", self.cmap)
        form.addRow("Opacity", self.opacity)
        for slider in (self.threshold, self.size_scale, self.opacity):
            slider.valueChanged.connect(self._emit)
        self.cmap.currentTextChanged.connect(self._emit)

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
                   cmap: str | None = None, opacity: float | None = None) -> None:
        """Set the controls without emitting ``changed``."""
        self.blockSignals(True)
        try:
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
