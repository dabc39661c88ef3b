"""The 3-D expression scene's Qt-free parts: sphere layers, the outline, orientation overlays, camera presets.

Used by the viewer's 3-D view (:mod:`allen_viewer.gui.scene3d`, which adds the Qt widget,
picking and the cursor), by the off-screen image export (:mod:`allen_viewer.export.image`)
and by ``benchmarks/render.py``.  Only pyvista/VTK; nothing here imports Qt.

Coordinates
-----------
Everything is in CCF micrometres with x = AP (+ posterior), y = DV (+ ventral, inferior),
z = ML (+ right): the annotation's (AP, DV, ML) index order times the voxel size.  That
frame (PIR) is right-handed, so nothing is mirrored.  Expression grid voxel (i, j, k) is
drawn at (200 i, 200 j, 200 k) µm.

Camera presets (:func:`apply_camera_preset`)
--------------------------------------------
``"dorsal"``    camera above the brain (at -y) looking down, anterior (-x) at the top of the
                screen; the animal's right (+z) is on the screen's right.
``"lateral"``   camera at the animal's left (-z), dorsal (-y) up; anterior on the screen's
                left, posterior on its right.
``"anterior"``  camera in front of the brain (at -x) looking back, dorsal (-y) up; facing the
                animal, so its left (-z) is on the screen's right.
``"oblique"``   the default: from anterior-dorsal-left, dorsal up.

Every preset fits the brain's box plus the orientation words into the view.

Orientation (:class:`OrientationOverlay`)
-----------------------------------------
Labelled twice: an orientation marker in the lower left corner (the three axes, ends
labelled A/P, D/V, L/R) and the words anterior/posterior, dorsal/ventral, left/right just
outside the brain's bounding box, drawn over the scene; a word is hidden while its axis
points (within 35°) along the line of sight, where it would sit on top of the brain.

Sphere layers
-------------
:class:`ExpressionLayer`: one point per grid voxel that has data (``grid.has_data``; never
a no-data voxel) and ``energy >= threshold``, drawn by VTK's point-gaussian mapper
(``style='points_gaussian'``, ``emissive=False``) with a sphere-impostor splat shader.  The
sphere radius follows energy (:func:`sphere_radius_um`), the colour follows intensity, or
energy when the experiment has no intensity volume (the colour bar title says so) or when
the layer is told to colour by energy (compare mode).

:class:`DifferenceLayer`: two experiments compared voxel by voxel, drawn only where
**both** have in-brain data (:func:`allen_viewer.expression.compare.compare_values`), at
least one of them reaches the threshold (raw energy only) and |value| reaches
:data:`DEFAULT_MIN_ABS_FRACTION` of the colour range; colour = difference a - b, or
log2((a + c) / (b + c)) with a stated pseudocount, of raw energy or of each gene normalised
to its own in-brain percentile ranks or z-scores,
on a diverging colour map centred on 0; the radius follows the size of the difference
(|value|, as :func:`sphere_radius_um` with the colour range's end as reference), so where
the genes agree the spheres shrink to small dots and large differences stand out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonCore import vtkCommand
from vtkmodules.vtkRenderingCore import (
    vtkActor,
    vtkBillboardTextActor3D,
    vtkPolyDataMapper,
    vtkRenderer,
    vtkTextActor,
)

from allen_viewer.expression.compare import both_have_data, compare_values, scaled_energy
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.formats.grid_file import GRID_SHAPE, GRID_SPACING_UM
from allen_viewer.render.figure_overlays import ColourBar, MarginWords, ScaleBar
from allen_viewer.render.vtk_output import route_vtk_output
from allen_viewer.state import COLOR_BY, DEFAULT_CMAP, DEFAULT_OPACITY, DEFAULT_SIZE_SCALE, DEFAULT_THRESHOLD

route_vtk_output()  # VTK's messages to a logger, never to the user's stderr


def _diverging_cmap() -> str:
    import matplotlib

    return "RdBu_r"


DIFF_CMAP = _diverging_cmap()
"""Diverging colour map of the difference/ratio layer: red where the first gene is higher,
blue where the second is, white in the middle: a centre that shows on the dark background
(issue 21; the dark-centred ``berlin`` used before vanished on it)."""
MAX_LOG2_RATIO = 8.0
"""The ratio layer's colour range never exceeds +-8 (a 256-fold ratio)."""

MAX_RADIUS_UM = 0.5 * GRID_SPACING_UM
"""Radius of the largest sphere at size scale 1 (neighbouring spheres then just touch)."""
MIN_RADIUS_FRACTION = 0.25
"""The weakest drawn voxel still gets a sphere a quarter of the largest one's radius."""
ROBUST_MAX_PERCENTILE = 99.0
"""Colour range and sphere sizes saturate at this percentile of the data voxels' values."""

BACKGROUND = "#15191e"
OUTLINE_COLOR = (0.78, 0.80, 0.84)
OUTLINE_OPACITY = 0.12
TEXT_COLOR = (0.92, 0.92, 0.92)
WORD_COLOR = (0.95, 0.85, 0.45)
"""Colour of the anatomical words (anterior, dorsal, ...)."""
DARK_TEXT_COLOR = (0.10, 0.10, 0.12)
DARK_WORD_COLOR = (0.55, 0.38, 0.0)
"""Text colours for images with a transparent background, meant for light pages."""
LABEL_MARGIN_FRACTION = 0.10
"""The anatomical words sit this fraction of the brain's longest side outside its box."""
LABEL_HIDE_COS = float(np.cos(np.radians(35.0)))
MARKER_HEIGHT = 0.24
"""The orientation marker's square corner is this fraction of the view's height."""
FIT_PADDING = 1.12
"""Camera presets leave this factor of room around the brain and the words (for the words'
own extent on screen)."""
BAR_LEFT, BAR_WIDTH = 0.62, 0.34
"""The colour bar's left end and length (fractions of the view's width, top right corner;
it ends short of the edge so its last label, centred on the end, is not cut off)."""

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

PARALLEL_PRESETS = ("dorsal", "lateral", "anterior")
"""Presets drawn in parallel projection, with a 1 mm scale bar (issue 21); the oblique view
stays in perspective, and so does a camera moved away from a preset."""
PRESET_NAMES = {"dorsal": "dorsal view", "lateral": "left lateral view",
                "anterior": "anterior view (facing the animal)",
                "oblique": "oblique view"}
"""How a preset names itself in a picture (the lateral camera stands at the animal's left)."""

GRID_BOUNDS_UM = (0.0, (GRID_SHAPE[0] - 1) * GRID_SPACING_UM, 0.0, (GRID_SHAPE[1] - 1) * GRID_SPACING_UM,
                  0.0, (GRID_SHAPE[2] - 1) * GRID_SPACING_UM)
"""(xmin, xmax, ymin, ymax, zmin, zmax) µm of the grid voxel centres: the scene's box when
there is no brain outline."""


# ---- points ----------------------------------------------------------------------------

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


NORMALISE = ("raw", "rank", "z")
"""How a gene's colours are scaled: raw values, percentile ranks, z-scores."""
NORMALISE_SCALE = {"rank": "percentile", "z": "zscore"}
""":data:`NORMALISE` names -> :data:`allen_viewer.expression.compare.SCALES` names."""
OUTSIDE_COLOR = (1.0, 0.35, 0.85)
"""The fixed colour (magenta, in no colour map offered) of voxels drawn outside the brain."""


def color_channel(grid: ExpressionGrid, color_by: str = "auto") -> str:
    """The channel the colours actually show (``energy``, ``intensity`` or ``density``)."""
    if color_by not in COLOR_BY:
        raise ValueError(f"color_by must be one of {', '.join(COLOR_BY)}, not {color_by!r}")
    wanted = "intensity" if color_by == "auto" else color_by
    return wanted if grid.volume(wanted) is not None else "energy"


def color_source(grid: ExpressionGrid, color_by: str = "auto") -> np.ndarray:
    """The (AP, DV, ML) volume the spheres' colours show (see :func:`color_channel`)."""
    return grid.volume(color_channel(grid, color_by))


def _points_poly(flat: np.ndarray, color_value: np.ndarray, energy: np.ndarray, radius: np.ndarray) -> pv.PolyData:
    ijk = np.column_stack(np.unravel_index(flat, GRID_SHAPE))
    points = ijk.astype(np.float32) * np.float32(GRID_SPACING_UM)
    poly = pv.PolyData(points) if len(points) else pv.PolyData()
    poly.point_data["grid_index"] = flat.astype(np.int64)
    poly.point_data["energy"] = energy.astype(np.float32)
    poly.point_data["color_value"] = color_value.astype(np.float32)
    poly.point_data["radius"] = radius.astype(np.float32)
    poly.point_data.active_scalars_name = "color_value"
    return poly


def keep_points(poly: pv.PolyData, mask: np.ndarray) -> pv.PolyData:
    """The points of ``poly`` where ``mask`` is True, with their point arrays."""
    mask = np.asarray(mask, dtype=bool)
    out = pv.PolyData(np.asarray(poly.points)[mask]) if mask.any() else pv.PolyData()
    for name in poly.point_data.keys():
        out.point_data[name] = np.asarray(poly.point_data[name])[mask]
    if "color_value" in out.point_data:
        out.point_data.active_scalars_name = "color_value"
    return out


def build_expression_points(grid: ExpressionGrid, threshold: float, energy_ref: float | None = None,
                            color_by: str = "auto", outside: bool = False) -> pv.PolyData:
    """Point cloud of the voxels with data and ``energy >= threshold``, in CCF µm.

    Point (i, j, k) of the (AP, DV, ML) grid lies at 200 * (i, j, k) µm.  Point arrays:
    ``grid_index`` (int64, flat C-order index into the (67, 41, 58) grid), ``energy``,
    ``color_value`` (see :func:`color_source`; the active scalars) and ``radius`` (µm at size
    scale 1, :func:`sphere_radius_um` relative to ``energy_ref``, by default the 99th
    percentile of the grid's in-brain energies; the mapper's scale array).

    Only in-brain voxels (``grid.has_data``) unless ``outside``: then the voxels with data
    outside the brain are drawn too, marked by a ``color_value`` of NaN (the layer draws
    NaN in :data:`OUTSIDE_COLOR`).
    """
    has = np.asarray(grid.has_data, dtype=bool)
    drawn = np.asarray(grid.has_data_anywhere, dtype=bool) if outside else has
    energy = grid.energy
    with np.errstate(invalid="ignore"):
        keep = drawn & (energy >= threshold)
    flat = np.flatnonzero(keep)
    e = energy.ravel()[flat].astype(np.float32)
    ref = robust_max(energy[has]) if energy_ref is None else float(energy_ref)
    colors = color_source(grid, color_by).ravel()[flat].astype(np.float32)
    if outside:
        colors[~has.ravel()[flat]] = np.nan
    return _points_poly(flat, colors, e, sphere_radius_um(e, ref))


UNITS = {"energy": "expression energy (a.u.)", "intensity": "intensity (a.u.)",
         "density": "density (a.u.)", "rank": "percentile rank", "z": "z-score (SD)"}
"""The colour bar's one-line titles: the quantity and its unit (Allen's energy, intensity and
density are in arbitrary units; ranks run 0-1 within each gene's own in-brain voxels)."""


def color_title(grid: ExpressionGrid | None, color_by: str = "auto") -> str:
    """The colour bar title: what the colours show, with its unit, on one line."""
    if grid is None:
        return ""
    return UNITS[color_channel(grid, color_by)]


def color_note(grid: ExpressionGrid | None, color_by: str = "auto") -> str:
    """What the download lacks for ``color_by`` ('' when nothing): said in the sidecar and the
    status bar, never in the picture."""
    if grid is None:
        return ""
    shown = color_channel(grid, color_by)
    wanted = "intensity" if color_by == "auto" else color_by
    if shown == wanted:
        return ""
    return (f"colour shows energy: this download has energy only (no {wanted})" if grid.energy_only
            else f"colour shows energy: the experiment has no {wanted} volume")


@dataclass
class DisplaySettings:
    """Expression display: ``threshold`` (minimum energy drawn), ``size_scale`` (multiplies
    every radius), ``cmap`` (matplotlib colour map name), ``opacity`` (of the spheres, (0, 1])."""

    threshold: float = DEFAULT_THRESHOLD
    size_scale: float = DEFAULT_SIZE_SCALE
    cmap: str = DEFAULT_CMAP
    opacity: float = DEFAULT_OPACITY


class PointLayer:
    """Spheres at grid voxels in a pyvista plotter: one polydata, one actor, one colour bar.

    The polydata and actor are made once; new data and threshold changes swap the
    polydata's points and arrays in place (``ShallowCopy``), size scale and opacity change
    mapper/actor parameters only, so switching genes costs a few ms plus one frame.
    Subclasses say what to draw: :meth:`_build` (the points, or None for nothing),
    :meth:`_color_range` and :meth:`_title`.

    ``text_scale`` multiplies the colour bar's font sizes (1 on screen; larger for big
    off-screen images); ``text_color`` is its RGB (0-1) text colour.

    The colour bar and its title are drawn by a renderer of their own in layer 1, over the
    scene: in the scene's renderer, next to translucent geometry (the brain outline), VTK
    9.7 lays the bar's labels out over the bar instead of under it.  :meth:`detach` takes
    that renderer out again.
    """

    fixed_cmap: str | None = None
    """When set, the layer always uses this colour map and ignores the display's ``cmap``."""

    def __init__(self, plotter: pv.BasePlotter, text_scale: float = 1.0, text_color=TEXT_COLOR):
        self.plotter = plotter
        self.text_scale = float(text_scale)
        self.text_color = tuple(text_color)
        self.display = DisplaySettings()
        self.poly = pv.PolyData()
        self.actor: pv.Actor | None = None
        self._setup_scalar_bar()
        self._clim = (0.0, 1.0)
        self._clipped_top = self._clipped_bottom = False
        self._applied_cmap = ""
        self._has_content = False
        self.cut = None  # a render.cuts.CutAway: spheres on its removed side are not drawn

    # -- what to draw (subclasses) ----------------------------------------------------------

    def _build(self) -> pv.PolyData | None:
        return None

    def _color_range(self) -> tuple[float, float]:
        return (0.0, 1.0)

    def _title(self) -> str:
        return ""

    def _clipped(self, values: np.ndarray) -> tuple[bool, bool]:
        """(values above the colour range's top, values below its bottom) among those drawn."""
        lo, hi = self._clim
        tol = 1e-6 * max(abs(lo), abs(hi), 1e-6)
        with np.errstate(invalid="ignore"):
            return bool(np.any(values > hi + tol)), False

    # -- set-up ----------------------------------------------------------------------------

    def _setup_scalar_bar(self) -> None:
        # the colour bar (render/figure_overlays.py) in a renderer of its own over the scene
        ren_win = self.plotter.render_window
        ren_win.SetNumberOfLayers(max(2, ren_win.GetNumberOfLayers()))
        self.bar_renderer = vtkRenderer()
        self.bar_renderer.SetLayer(1)
        self.bar_renderer.InteractiveOff()
        ren_win.AddRenderer(self.bar_renderer)
        self.colour_bar = ColourBar(self.bar_renderer, self.text_scale, self.text_color, BAR_LEFT, BAR_WIDTH)

    def detach(self) -> None:
        """Take the colour bar's renderer out of the render window (idempotent; call it after
        finalizing the window, as :meth:`OrientationOverlay.detach`)."""
        if self.bar_renderer is None:
            return
        self.colour_bar.detach()
        self.bar_renderer.RemoveAllViewProps()
        ren_win = self.plotter.render_window
        if ren_win is not None:
            ren_win.RemoveRenderer(self.bar_renderer)
        self.bar_renderer = None

    @property
    def cmap(self) -> str:
        """The colour map in use."""
        return self.fixed_cmap or self.display.cmap

    def _make_actor(self) -> None:
        d = self.display
        self.actor = self.plotter.add_mesh(
            self.poly, style="points_gaussian", emissive=False, render_points_as_spheres=True,
            scalars="color_value", cmap=self.cmap, clim=self._clim, opacity=d.opacity,
            show_scalar_bar=False, name=f"expression_{id(self)}", reset_camera=False, pickable=False,
            render=False, lighting=False,
        )
        mapper = self.actor.mapper
        mapper.GetLookupTable().SetNanColor(*OUTSIDE_COLOR, 1.0)  # voxels outside the brain
        mapper.SetSplatShaderCode(SPHERE_SPLAT_SHADER)
        mapper.SetScaleArray("radius")
        mapper.SetScaleFactor(d.size_scale)
        mapper.SetScalarModeToUsePointFieldData()
        mapper.SelectColorArray("color_value")
        mapper.SetColorModeToMapScalars()  # float values through the lookup table, never as RGB
        # per-point colours; texture-interpolated colour mapping crashes the point-gaussian
        # mapper (VTK 9.7, segfault in the first render)
        mapper.InterpolateScalarsBeforeMappingOff()
        self.colour_bar.set_lookup_table(mapper.GetLookupTable())
        self._applied_cmap = self.cmap

    # -- updates ---------------------------------------------------------------------------

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

    def set_cut(self, cut) -> None:
        """Hide the spheres whose voxel centre lies on ``cut``'s removed side (a
        :class:`~allen_viewer.render.cuts.CutAway`; None: hide none)."""
        if cut != self.cut:
            self.cut = cut
            self._rebuild()

    def set_data(self, *data) -> None:
        """The scene's common layer interface: :meth:`ExpressionLayer.set_grid` /
        :meth:`DifferenceLayer.set_grids` (subclasses)."""
        raise NotImplementedError

    def _rebuild(self) -> None:
        poly = self._build()
        self._has_content = poly is not None
        if poly is not None and self.cut is not None and poly.n_points:
            poly = keep_points(poly, self.cut.keep(poly.points))
        if poly is not None:
            self._pending = poly
            try:
                self._clim = self._color_range()
            finally:
                self._pending = None
            values = np.asarray(poly.point_data["color_value"]) if poly.n_points else np.zeros(0)
            self._clipped_top, self._clipped_bottom = self._clipped(values)
        self.poly.ShallowCopy(poly if poly is not None else pv.PolyData())
        if poly is not None:
            self.poly.point_data.active_scalars_name = "color_value"
        self.poly.Modified()
        if self.actor is None and self._has_content and self.poly.n_points:
            self._make_actor()
        self._apply_display()

    def _apply_display(self) -> None:
        visible = self._has_content
        self.colour_bar.set_title(self._title() if visible else "")
        self.colour_bar.set_range(*self._clim, clipped_top=self._clipped_top, clipped_bottom=self._clipped_bottom)
        self.colour_bar.set_visible(visible)
        if self.actor is None:
            return
        d = self.display
        mapper = self.actor.mapper
        lut = mapper.lookup_table
        if self._applied_cmap != self.cmap:
            lut.cmap = self.cmap
            self._applied_cmap = self.cmap
        lut.scalar_range = self._clim
        mapper.SetScalarRange(*self._clim)
        mapper.SetScaleFactor(d.size_scale)
        self.actor.GetProperty().SetOpacity(d.opacity)
        self.actor.SetVisibility(bool(visible and self.poly.n_points > 0))

    # -- queries ---------------------------------------------------------------------------

    @property
    def color_range(self) -> tuple[float, float]:
        """(min, max) of the colour map, in the coloured quantity's units."""
        return self._clim

    @property
    def has_content(self) -> bool:
        """True when the layer has data to show (even if the threshold hides every point)."""
        return self._has_content

    @property
    def title(self) -> str:
        """The colour bar's title as shown ('' when the layer is empty)."""
        return self.colour_bar.title

    def radii_um(self) -> np.ndarray:
        """Drawn radius of every point (µm, size scale included)."""
        if self.poly.n_points == 0:
            return np.zeros(0, np.float32)
        return np.asarray(self.poly.point_data["radius"]) * self.display.size_scale


class ExpressionLayer(PointLayer):
    """One experiment's expression spheres (see the module docstring).

    ``color_by``: ``"auto"`` (intensity, else energy) or ``"energy"``.  :meth:`set_scale`
    overrides the colour range's top and the energy at which spheres reach full size (both
    otherwise the grid's own 99th percentile), so two layers can share one scale.
    """

    def __init__(self, plotter: pv.BasePlotter, text_scale: float = 1.0, color_by: str = "auto",
                 text_color=TEXT_COLOR):
        self.grid: ExpressionGrid | None = None
        self.color_by = color_by
        self._color_max: float | None = None
        self._energy_ref: float | None = None
        self._color_min: float | None = None
        self.scale_note = ""
        self.show_outside = False
        self.normalise = "raw"
        super().__init__(plotter, text_scale, text_color)

    def set_normalise(self, normalise: str) -> None:
        """``raw``: colours as :attr:`color_by` says; ``rank``: each voxel's percentile rank
        among the gene's own in-brain energies (:func:`allen_viewer.expression.compare.scaled_energy`,
        0 lowest, 1 highest); ``z``: its z-score.  Sizes always follow energy."""
        if normalise not in NORMALISE:
            raise ValueError(f"normalise must be one of {', '.join(NORMALISE)}, not {normalise!r}")
        self.normalise = normalise
        self._rebuild()

    def set_color_by(self, color_by: str) -> None:
        """Colour by ``auto``, ``energy``, ``intensity`` or ``density`` (:data:`COLOR_BY`)."""
        if color_by not in COLOR_BY:
            raise ValueError(f"color_by must be one of {', '.join(COLOR_BY)}, not {color_by!r}")
        self.color_by = color_by
        self._rebuild()

    def set_show_outside(self, show: bool) -> None:
        """Also draw the voxels with data outside the brain, in :data:`OUTSIDE_COLOR`."""
        self.show_outside = bool(show)
        self._rebuild()

    def set_data(self, grid: ExpressionGrid | None) -> None:
        """The scene's layer interface: :meth:`set_grid`."""
        self.set_grid(grid)

    def set_grid(self, grid: ExpressionGrid | None) -> None:
        """Show ``grid`` (None: clear the layer) with the current display settings."""
        self.grid = grid
        self._rebuild()

    def set_scale(self, color_max: float | None = None, energy_ref: float | None = None, note: str = "",
                  color_min: float | None = None) -> None:
        """Colour range (``color_min``, ``color_max``) and full-size energy ``energy_ref``
        (None: the layer's own range, see :meth:`_color_range`, and the grid's 99th
        percentile); ``note`` is added to the colour bar title."""
        self._color_max = None if color_max is None else float(color_max)
        self._color_min = None if color_min is None else float(color_min)
        self._energy_ref = None if energy_ref is None else float(energy_ref)
        self.scale_note = note
        self._rebuild()

    def _build(self) -> pv.PolyData | None:
        if self.grid is None:
            return None
        poly = build_expression_points(self.grid, self.display.threshold, self._energy_ref, self.color_by,
                                       self.show_outside)
        if self.normalise != "raw" and poly.n_points:
            scaled = scaled_energy(self.grid, NORMALISE_SCALE[self.normalise]).ravel()
            poly.point_data["color_value"] = scaled[np.asarray(poly.point_data["grid_index"])].astype(np.float32)
            poly.point_data.active_scalars_name = "color_value"
        return poly

    @property
    def color_quantity(self) -> str:
        """What the colours show: ``energy``, ``intensity``, ``density``, ``rank`` or ``z``."""
        if self.normalise != "raw":
            return self.normalise
        return "energy" if self.grid is None else color_channel(self.grid, self.color_by)

    def _values(self) -> np.ndarray:
        """The colour values of the in-brain voxels with data (what the top is taken from)."""
        has = np.asarray(self.grid.has_data, dtype=bool)
        if self.normalise != "raw":
            return scaled_energy(self.grid, NORMALISE_SCALE[self.normalise])[has]
        return color_source(self.grid, self.color_by)[has]

    def _color_range(self) -> tuple[float, float]:
        """Colour range = the colour bar: from the threshold (colour follows energy) or the
        drawn voxels' lowest value (intensity, density, ranks, z) to the top (the 99th
        percentile of the in-brain values; a rank's top is 1)."""
        quantity = self.color_quantity
        if self._color_max is not None:
            top = self._color_max
        elif quantity == "rank":
            top = 1.0
        else:
            top = robust_max(self._values())
        if self._color_min is not None:
            lo = self._color_min
        elif quantity == "energy":
            lo = float(self.display.threshold)
        else:
            drawn = np.asarray(self.poly_values())
            drawn = drawn[np.isfinite(drawn)]
            lo = float(drawn.min()) if drawn.size else 0.0
        if not lo < top:
            lo = min(lo, top) - max(abs(top) * 0.01, 1e-6)
        return (lo, top)

    def poly_values(self) -> np.ndarray:
        """The colour values of the points about to be drawn (before a cut-away)."""
        poly = self._pending if getattr(self, "_pending", None) is not None else self.poly
        return np.asarray(poly.point_data["color_value"]) if poly.n_points else np.zeros(0)

    def _title(self) -> str:
        if self.grid is None:
            return ""
        title = UNITS[self.color_quantity]
        if self.show_outside:
            title += "; magenta: outside the brain"
        return f"{title} ({self.scale_note})" if self.scale_note else title


DIFF_SCALES = ("raw", "percentile", "zscore")
DEFAULT_MIN_ABS_FRACTION = 0.1
"""The difference view hides voxels whose |value| is below this fraction of its colour
range's end (the near-zero bulk where the genes agree)."""


def difference_values(a: ExpressionGrid, b: ExpressionGrid, kind: str = "difference",
                      scale: str = "raw") -> np.ndarray:
    """float32 (AP, DV, ML) values the difference layer colours by: ``A - B``
    (``kind="difference"``) or ``log2((A + c) / (B + c))`` (``"ratio"``, ``c`` the stated
    pseudocount of :data:`allen_viewer.expression.compare.LOG2_PSEUDOCOUNT`), of raw energy,
    of each gene's in-brain percentile rank (``scale="percentile"``) or of z-scores
    (``"zscore"``; a z-score ratio is taken as a percentile ratio); NaN where either lacks
    in-brain data (:func:`allen_viewer.expression.compare.compare_values`)."""
    if kind == "ratio" and scale == "zscore":
        scale = "percentile"
    return compare_values(a, b, kind, scale)


class DifferenceLayer(PointLayer):
    """Two experiments compared voxel by voxel (see the module docstring).

    Drawn: voxels where both have data, the difference/ratio is defined (the ratio is not
    where ``b`` is 0) and ``max(energy_a, energy_b) >= threshold``.  Point arrays as
    :func:`build_expression_points`, with ``color_value`` = a - b (energy) or log2(a / b)
    (clipped to the colour range), ``energy`` = max(energy_a, energy_b) and ``radius`` from
    ``|color_value|``.  The colour range is symmetric about 0: +-(99th percentile of |value|
    over the drawn voxels; for the ratio at most :data:`MAX_LOG2_RATIO`).
    """

    fixed_cmap = DIFF_CMAP

    def __init__(self, plotter: pv.BasePlotter, text_scale: float = 1.0, text_color=TEXT_COLOR):
        self.a: ExpressionGrid | None = None
        self.b: ExpressionGrid | None = None
        self.kind = "difference"
        self.scale = "raw"
        self.min_abs_fraction = DEFAULT_MIN_ABS_FRACTION
        self.gene_thresholds: tuple[float, float] | None = None
        """(energy threshold of A, of B): when set, only voxels where A or B reaches its own
        threshold are drawn (the compare figure: each gene's own 90th percentile)."""
        self._m = 1.0
        super().__init__(plotter, text_scale, text_color)

    def set_data(self, a: ExpressionGrid | None, b: ExpressionGrid | None = None) -> None:
        """The scene's layer interface: :meth:`set_grids`."""
        self.set_grids(a, b)

    def set_grids(self, a: ExpressionGrid | None, b: ExpressionGrid | None, kind: str | None = None) -> None:
        """Compare ``a`` with ``b`` (either None: clear); ``kind`` ``"difference"`` or ``"ratio"``."""
        if kind is not None:
            if kind not in ("difference", "ratio"):
                raise ValueError(f"kind must be 'difference' or 'ratio', not {kind!r}")
            self.kind = kind
        self.a, self.b = a, b
        self._rebuild()

    def set_kind(self, kind: str) -> None:
        self.set_grids(self.a, self.b, kind)

    def set_scale(self, scale: str | None = None, min_abs_fraction: float | None = None) -> None:
        """``scale``: ``raw`` energy, ``percentile`` ranks or ``zscore`` (:data:`DIFF_SCALES`);
        ``min_abs_fraction``: hide |value| below this fraction of the colour range (0-1)."""
        if scale is not None:
            if scale not in DIFF_SCALES:
                raise ValueError(f"scale must be one of {', '.join(DIFF_SCALES)}, not {scale!r}")
            self.scale = scale
        if min_abs_fraction is not None:
            if not 0.0 <= min_abs_fraction < 1.0:
                raise ValueError(f"min_abs_fraction must be in [0, 1), not {min_abs_fraction}")
            self.min_abs_fraction = float(min_abs_fraction)
        self._rebuild()

    def _build(self) -> pv.PolyData | None:
        if self.a is None or self.b is None:
            return None
        values = difference_values(self.a, self.b, self.kind, self.scale)
        both = both_have_data(self.a, self.b)
        top = np.fmax(self.a.energy, self.b.energy)
        with np.errstate(invalid="ignore"):
            keep = both & np.isfinite(values)
            if self.gene_thresholds is not None:
                keep &= (self.a.energy >= self.gene_thresholds[0]) | (self.b.energy >= self.gene_thresholds[1])
            elif self.scale == "raw":  # normalised forms are not cut by one gene's energy threshold
                keep &= top >= self.display.threshold
        v = values.ravel()[np.flatnonzero(keep)]
        m = robust_max(np.abs(v)) if v.size else 1.0
        if self.kind == "ratio":
            m = min(m, MAX_LOG2_RATIO)
        self._m = m
        with np.errstate(invalid="ignore"):
            self._diff_clipped = (bool(np.any(v > m)), bool(np.any(v < -m)))
            keep &= np.abs(values) >= self.min_abs_fraction * m  # hide the near-zero bulk
        flat = np.flatnonzero(keep)
        v = values.ravel()[flat]
        shown = np.clip(v, -m, m)
        return _points_poly(flat, shown, top.ravel()[flat], sphere_radius_um(np.abs(shown), m))

    def _color_range(self) -> tuple[float, float]:
        return (-self._m, self._m)

    def _clipped(self, values: np.ndarray) -> tuple[bool, bool]:
        return getattr(self, "_diff_clipped", (False, False))

    def _title(self) -> str:
        if self.a is None or self.b is None:
            return ""
        from allen_viewer.expression.compare import LOG2_PSEUDOCOUNT

        scale = "percentile" if (self.kind == "ratio" and self.scale == "zscore") else self.scale
        hide = f"\nwithin \u00b1{self.min_abs_fraction * self._m:.2g} not drawn" if self.min_abs_fraction else ""
        if self.kind == "ratio":
            of = {"raw": "energy", "percentile": "rank"}[scale]
            return f"log2 {of} ratio (c = {LOG2_PSEUDOCOUNT[scale]:g}){hide}"
        of = {"raw": "energy difference (a.u.)", "percentile": "rank difference", "zscore": "z-score difference"}
        return f"{of[scale]}{hide}"


# ---- outline, text and orientation overlays ----------------------------------------------

def add_outline(plotter: pv.BasePlotter, mesh: pv.PolyData) -> pv.Actor:
    """The brain outline (CCF µm) as a translucent grey surface in ``plotter``."""
    return plotter.add_mesh(
        mesh, color=OUTLINE_COLOR, opacity=OUTLINE_OPACITY, smooth_shading=True,
        name="brain_outline", reset_camera=False, pickable=True, render=False,
        specular=0.0, diffuse=0.8, ambient=0.25)


def plain_actor(mesh: pv.PolyData, color) -> vtkActor:
    mapper = vtkPolyDataMapper()
    mapper.SetInputData(mesh)
    actor = vtkActor()
    actor.SetMapper(mapper)
    actor.GetProperty().SetColor(*color)
    actor.PickableOff()
    return actor


def billboard(text: str, position, color, size: int) -> vtkBillboardTextActor3D:
    """A 3-D text that always faces the camera (``size``: font size in pixels)."""
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


def caption_actor(text: str = "", size: int = 14, position=(0.012, 0.985), color=TEXT_COLOR) -> vtkTextActor:
    """A bold text in normalized viewport coordinates, anchored by its top left corner."""
    actor = vtkTextActor()
    actor.SetInput(text)
    tp = actor.GetTextProperty()
    tp.SetFontSize(size)
    tp.SetColor(*color)
    tp.BoldOn()
    tp.SetJustificationToLeft()
    tp.SetVerticalJustificationToTop()
    tp.SetLineSpacing(1.2)  # a two-line caption (the preset's name under it) stays legible
    actor.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
    actor.SetPosition(*position)
    actor.PickableOff()
    return actor


class OrientationOverlay:
    """The anatomical words and the orientation marker over a plotter's scene.

    Two non-interactive renderers in layer 1, drawn over the scene:

    * the words' renderer shares the scene camera and covers the view, so the words sit at
      their 3-D positions but are never hidden behind spheres;
    * the marker's renderer, in the lower left corner, shows the three CCF axes as coloured
      sticks through a small cube, ends labelled A/P, D/V, L/R; its camera copies the scene
      camera's direction and view-up before every frame.

    (The labels are billboards, always upright and readable; VTK's vtkAnnotatedCubeActor
    mirrors some of its face letters in this frame, so it is not used.)
    """

    def __init__(self, plotter: pv.BasePlotter, text_scale: float = 1.0, word_color=WORD_COLOR):
        self.plotter = plotter
        ren_win = plotter.render_window
        ren_win.SetNumberOfLayers(max(2, ren_win.GetNumberOfLayers()))
        self.label_renderer = vtkRenderer()
        self.label_renderer.SetLayer(1)
        self.label_renderer.InteractiveOff()
        self.label_renderer.SetActiveCamera(plotter.renderer.GetActiveCamera())
        ren_win.AddRenderer(self.label_renderer)

        self.marker_renderer = vtkRenderer()
        self.marker_renderer.SetLayer(1)
        self.marker_renderer.InteractiveOff()
        self.marker_renderer.SetViewport(0.0, 0.0, MARKER_HEIGHT, MARKER_HEIGHT)
        cam = self.marker_renderer.GetActiveCamera()
        cam.ParallelProjectionOn()
        cam.SetParallelScale(1.9)
        self.marker_letters: list[tuple[vtkBillboardTextActor3D, int]] = []
        cube = pv.Cube(x_length=0.8, y_length=0.8, z_length=0.8)
        self.marker_renderer.AddActor(plain_actor(cube, (0.42, 0.46, 0.52)))
        for axis, (neg, pos), color in ((0, ("A", "P"), (0.95, 0.45, 0.40)), (1, ("D", "V"), (0.45, 0.85, 0.45)),
                                        (2, ("L", "R"), (0.50, 0.68, 1.00))):
            direction = np.zeros(3)
            direction[axis] = 1.0
            stick = pv.Cylinder(center=(0, 0, 0), direction=direction, radius=0.07, height=2.3, resolution=12)
            self.marker_renderer.AddActor(plain_actor(stick, color))
            for text, sign in ((neg, -1.0), (pos, 1.0)):
                letter = billboard(text, direction * 1.5 * sign, color, int(round(15 * text_scale)))
                self.marker_renderer.AddActor(letter)
                self.marker_letters.append((letter, axis))
        ren_win.AddRenderer(self.marker_renderer)

        # anchors: the words' 3-D places just outside the brain's box (kept for
        # label_states); the words are drawn in the margins by MarginWords
        self.labels: list[tuple[vtkBillboardTextActor3D, int]] = []
        for text, axis in (("anterior", 0), ("posterior", 0), ("dorsal", 1), ("ventral", 1),
                           ("left", 2), ("right", 2)):
            self.labels.append((billboard(text, (0.0, 0.0, 0.0), word_color, 1), axis))
        background = (0.08, 0.09, 0.11) if word_color == WORD_COLOR else (1.0, 1.0, 1.0)
        self.words = MarginWords(self.label_renderer, plotter.renderer.GetActiveCamera(), text_scale,
                                 word_color, background, LABEL_HIDE_COS)
        self.scale_bar = ScaleBar(self.label_renderer, plotter.renderer.GetActiveCamera(), text_scale,
                                  TEXT_COLOR if word_color == WORD_COLOR else DARK_TEXT_COLOR)
        self._body_points = None
        self.place(GRID_BOUNDS_UM)
        self._observer = plotter.renderer.AddObserver(vtkCommand.StartEvent, self.before_frame)

    def set_body_points(self, points) -> None:
        """The brain outline's vertices (CCF µm; None: the box given to :meth:`place`): their
        projection is the box the words stay out of."""
        self._body_points = None if points is None else np.asarray(points, float).reshape(-1, 3)
        self.words.set_body(self._body_points, self._bounds)

    def place(self, bounds) -> None:
        """Put each word just outside its end of ``bounds`` (xmin, xmax, ymin, ymax, zmin, zmax µm)."""
        b = np.asarray(bounds, dtype=float)
        self._bounds = tuple(b)
        self.words.set_body(self._body_points, self._bounds)
        lo, hi = b[0::2], b[1::2]
        centre = (lo + hi) / 2.0
        margin = LABEL_MARGIN_FRACTION * float(np.max(hi - lo))
        for n, (label, axis) in enumerate(self.labels):
            pos = centre.copy()
            pos[axis] = lo[axis] - margin if n % 2 == 0 else hi[axis] + margin
            label.SetPosition(*pos)

    def before_frame(self, *_args) -> None:
        """Before every frame: hide the words that look along the line of sight, turn the
        orientation marker like the scene (and keep its corner square), fit the clipping
        range to the scene."""
        width, height = self.plotter.render_window.GetSize()
        if width > 0 and height > 0:
            marker_w = min(MARKER_HEIGHT * height / width, 0.4)
            self.marker_renderer.SetViewport(0.0, 0.0, marker_w, MARKER_HEIGHT)
            self.words.obstacles = [(0.0, marker_w * width, 0.0, MARKER_HEIGHT * height)]
        main = self.plotter.renderer.GetActiveCamera()
        dop = np.array(main.GetDirectionOfProjection())
        for label, axis in self.labels:
            label.SetVisibility(bool(abs(dop[axis]) < LABEL_HIDE_COS))
        for letter, axis in self.marker_letters:  # a letter on the line of sight sits on the cube
            letter.SetVisibility(bool(abs(dop[axis]) < LABEL_HIDE_COS))
        self.words.layout()
        self.scale_bar.layout()
        # the label renderer shares this camera; fitting the range to the scene's props (the
        # labels shown lie beside the brain, inside that range) keeps picking and depth right
        self.plotter.renderer.ResetCameraClippingRange()
        cam = self.marker_renderer.GetActiveCamera()
        cam.SetFocalPoint(0.0, 0.0, 0.0)
        cam.SetPosition(*(-dop * 10.0))
        cam.SetViewUp(*main.GetViewUp())
        cam.SetClippingRange(5.0, 15.0)

    @property
    def label_states(self) -> dict[str, tuple[np.ndarray, bool]]:
        """{word: (position in µm, visible)} of the anatomical axis labels."""
        return {lab.GetInput(): (np.array(lab.GetPosition()), bool(lab.GetVisibility())) for lab, _ in self.labels}

    def detach(self) -> None:
        """Stop updating and take the two renderers out of the render window (idempotent)."""
        if self._observer is not None:
            self.plotter.renderer.RemoveObserver(self._observer)
            self._observer = None
        ren_win = self.plotter.render_window
        for ren in (self.label_renderer, self.marker_renderer):
            if ren is None:
                continue
            ren.RemoveAllViewProps()
            if ren_win is not None:
                ren_win.RemoveRenderer(ren)
        self.label_renderer = self.marker_renderer = None
        self.labels = []


# ---- camera -------------------------------------------------------------------------------

def fit_points(bounds, points=None) -> np.ndarray:
    """The points a preset fits into the view (CCF µm, (n, 3)): the six anatomical words'
    positions around ``bounds`` (xmin, xmax, ymin, ymax, zmin, zmax), plus ``points`` (e.g.
    the outline mesh's vertices) or, without them, the corners of ``bounds``."""
    b = np.asarray(bounds, dtype=float)
    lo, hi = b[0::2], b[1::2]
    centre = (lo + hi) / 2.0
    margin = LABEL_MARGIN_FRACTION * float(np.max(hi - lo))
    words = []
    for axis in range(3):
        for end in (lo[axis] - margin, hi[axis] + margin):
            p = centre.copy()
            p[axis] = end
            words.append(p)
    if points is None or len(points) == 0:
        body = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
    else:
        body = np.asarray(points, dtype=float).reshape(-1, 3)
    return np.vstack([body, np.array(words)])


def fit_view(direction, up, bounds, aspect: float, view_angle_deg: float, points=None, margins=None):
    """How far a camera looking at the centre of ``bounds`` from ``direction`` (focal point
    to camera; ``up``: view-up, made orthogonal to it) must stand so that ``points`` (CCF
    µm; None: the corners of ``bounds``) and the anatomical words around ``bounds`` fit a
    view of width / height ``aspect`` and vertical view angle ``view_angle_deg``, with
    :data:`FIT_PADDING`.  Returns ``(centre, direction, up, distance, half_height)``: the
    focal point, the unit direction and view-up, the distance (µm) and the half height (µm)
    a parallel projection would show.

    ``margins`` (side, top/bottom, top band; fractions of the view, see
    :func:`~allen_viewer.render.figure_overlays.word_margins`): the brain alone is fitted
    into the view less those margins, lowered below the top band (the focal point moves up),
    so the words drawn in the margins and the caption and colour bar never sit on it."""
    d = np.asarray(direction, float)
    d /= np.linalg.norm(d)
    up = np.asarray(up, float)
    up = up - d * (up @ d)
    up /= np.linalg.norm(up)
    right = np.cross(-d, up)  # screen right for a camera looking along -d
    b = np.asarray(bounds, dtype=float)
    centre = (b[0::2] + b[1::2]) / 2.0
    aspect = aspect if aspect > 0 else 1.0
    tan_half = np.tan(np.radians(view_angle_deg) / 2.0)
    if margins is not None:
        side, vert, band = margins
        body = (np.array([[x, y, z] for x in b[0:2] for y in b[2:4] for z in b[4:6]])
                if points is None or len(points) == 0 else np.asarray(points, float).reshape(-1, 3))
        pts = body - centre
        depth = float(np.max(pts @ d))
        half_w = float(np.max(np.abs(pts @ right))) * FIT_PADDING / max(1.0 - 2.0 * side, 0.2)
        half_h = float(np.max(np.abs(pts @ up))) * FIT_PADDING / max(1.0 - 2.0 * vert - band, 0.2)
        half_height = max(half_h, half_w / aspect)
        # in perspective the brain's near side looks larger: fit at its nearest point
        distance = half_height / tan_half + depth
        focal = centre + up * (half_height * band)
        return focal, d, up, distance, half_height
    pts = fit_points(bounds, points) - centre
    # half extents across the line of sight (grown for the words' size) and the depth in
    # front of the centre: the fit is made at the nearest point, so perspective never crops
    half_w = float(np.max(np.abs(pts @ right))) * FIT_PADDING
    half_h = float(np.max(np.abs(pts @ up))) * FIT_PADDING
    depth = float(np.max(pts @ d))
    half_height = max(half_h, half_w / aspect)
    return centre, d, up, half_height / tan_half + depth, half_height


def apply_camera_preset(camera, name: str, bounds, aspect: float, points=None, margins=None) -> None:
    """Point ``camera`` (a vtkCamera) as the preset ``name`` says (module docstring) and fit
    the brain into a view of width / height ``aspect``: ``points`` (the outline's vertices,
    CCF µm; None: the corners of ``bounds``) and the anatomical words around ``bounds``
    (xmin, xmax, ymin, ymax, zmin, zmax µm), with a margin of :data:`FIT_PADDING` for the
    words' own size; with ``margins`` (:func:`fit_view`) the brain alone, inside those
    margins.  The dorsal, lateral and anterior presets use a parallel projection (whose
    parallel scale is the fitted half height), the oblique one a perspective.
    Raises ValueError for an unknown preset."""
    try:
        direction, up = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown camera preset {name!r}; one of {', '.join(PRESETS)}") from None
    centre, d, up, distance, half_h = fit_view(direction, up, bounds, aspect, camera.GetViewAngle(), points,
                                               margins)
    camera.SetFocalPoint(*centre)
    camera.SetPosition(*(centre + d * distance))
    camera.SetViewUp(*up)
    camera.SetParallelScale(half_h)
    camera.SetParallelProjection(name in PARALLEL_PRESETS)


@dataclass(frozen=True)
class CameraPose:
    """A camera's pose in CCF µm: position, focal point, view-up, vertical view angle
    (degrees) and the width / height of the view it was set for."""

    position: tuple[float, float, float]
    focal_point: tuple[float, float, float]
    view_up: tuple[float, float, float]
    view_angle: float = 30.0
    aspect: float = 0.0
    parallel: bool = False
    """Parallel projection (the dorsal, lateral and anterior presets), else perspective."""
    parallel_scale: float = 0.0
    """Half the view's height in µm in parallel projection (0: not set)."""

    @classmethod
    def of(cls, camera, aspect: float = 0.0) -> "CameraPose":
        return cls(tuple(camera.GetPosition()), tuple(camera.GetFocalPoint()), tuple(camera.GetViewUp()),
                   float(camera.GetViewAngle()), float(aspect), bool(camera.GetParallelProjection()),
                   float(camera.GetParallelScale()))

    def apply(self, camera, aspect: float = 0.0) -> None:
        """Set ``camera`` to this pose.  When the target view (width / height ``aspect``) is
        narrower than the one the pose came from, the view angle widens so that everything
        that was visible across stays visible."""
        camera.SetPosition(*self.position)
        camera.SetFocalPoint(*self.focal_point)
        camera.SetViewUp(*self.view_up)
        angle = self.view_angle
        if self.aspect > 0 and aspect > 0 and aspect < self.aspect:
            tan_half = np.tan(np.radians(angle) / 2.0) * self.aspect / aspect
            angle = float(np.degrees(2.0 * np.arctan(tan_half)))
        camera.SetViewAngle(angle)
        camera.SetParallelProjection(bool(self.parallel and self.parallel_scale > 0))
        if self.parallel and self.parallel_scale > 0:
            scale = self.parallel_scale
            if self.aspect > 0 and aspect > 0 and aspect < self.aspect:
                scale *= self.aspect / aspect
            camera.SetParallelScale(scale)
