"""One 3-D scene, two hosts: :class:`Scene` (Qt-free).

The window's 3-D view (:class:`allen_viewer.gui.scene3d.ExpressionScene`, a pyvistaqt
``QtInteractor`` plus signals), each compare-view panel, ``export image`` / ``export
movie`` and the compare figure (an off-screen ``pyvista.Plotter``,
:mod:`allen_viewer.export.image`) all build this one class on their plotter.  It owns:

* the **named layers** (``scene.layers``): ``outline`` (the translucent brain),
  ``structures`` (surfaces), ``cursor`` (the red crosshair), ``expression`` (the sphere
  layer with its colour bar: an :class:`~allen_viewer.render.layers.ExpressionLayer`, or
  what the host passes -- a compare panel's difference layer), ``planes`` (the three slices
  through the cursor) and ``caption`` (an export's title and credit line; the window draws
  none).  One visual per layer; each has ``set_cut`` and ``detach``;
* the orientation words, marker and scale bar (:class:`~allen_viewer.render.layers.OrientationOverlay`);
* the **cut-away** (:mod:`allen_viewer.render.cuts`; the slice-relative cuts go through
  the cursor's slices);
* the **camera**: presets fitted to the brain and the words (:meth:`camera_preset`), a
  pose (:meth:`set_camera_pose`), and the rule that turning away from a parallel preset
  returns to perspective;
* **picking** (:meth:`pick_display`: the strongest sphere on the ray, else a surface).

:meth:`show_state` builds everything a :class:`~allen_viewer.state.ViewerState` shows from
the loaded objects (:class:`~allen_viewer.loaded_data.LoadedData`): what ``export image
--session`` draws.  :meth:`layer_data` returns the layers' numbers (voxel ids, colours,
radii, the camera), so two hosts' scenes can be compared exactly.

Coordinates: CCF µm, x = AP (+ posterior), y = DV (+ ventral), z = ML (+ right); grid
voxel (i, j, k) is drawn at (200 i, 200 j, 200 k) µm.
"""
from __future__ import annotations

import gc

import numpy as np

from allen_viewer.render.cuts import cut_away
from allen_viewer.render.figure_overlays import word_margins
from allen_viewer.render.layers import (
    GRID_BOUNDS_UM,
    TEXT_COLOR,
    WORD_COLOR,
    CameraPose,
    ExpressionLayer,
    OrientationOverlay,
    apply_camera_preset,
    caption_actor,
)
from allen_viewer.render.picking import pick_layer
from allen_viewer.render.scene_layers import CursorLayer, OutlineLayer, SlicePlanesLayer, StructuresLayer

SURFACE_PICK_DEPTH_UM = 100.0
"""A click on a surface reports the point this far beyond the surface along the line of
sight, i.e. inside the tissue rather than on its smoothed boundary."""
CREDIT = "Data: Allen Mouse Brain Atlas, mouse.brain-map.org"
"""The credit line of an export (bottom right)."""
CAPTION_PX = 16
CREDIT_PX = 11
"""Font sizes (pixels at text scale 1) of an export's title and credit line."""
FIT_POINTS = 4000
"""The presets fit up to about this many outline vertices."""


class CaptionLayer:
    """An export's title (top left, bold, :data:`CAPTION_PX`) and credit line (bottom right,
    :data:`CREDIT_PX`) as text in normalised viewport coordinates.  The window's view has no
    caption; ``export image --no-caption`` leaves it out too, so both draw the same picture."""

    def __init__(self, plotter, text_scale: float = 1.0, text_color=TEXT_COLOR):
        self.plotter, self.text_scale, self.text_color = plotter, float(text_scale), tuple(text_color)
        self.text = ""
        self.credit = False
        self._actors: list = []

    def set_data(self, text: str = "", credit: bool = True) -> None:
        """Draw ``text`` (may hold line breaks; "": no title) and, with ``credit``, the data credit."""
        self.detach()
        self.text, self.credit = text or "", bool(credit)
        if self.text:
            self._actors.append(caption_actor(self.text, self.caption_px, (0.012, 0.985), self.text_color))
        if self.credit:
            actor = caption_actor(CREDIT, int(round(CREDIT_PX * self.text_scale)), (0.988, 0.012), self.text_color)
            tp = actor.GetTextProperty()
            tp.BoldOff()
            tp.SetJustificationToRight()
            tp.SetVerticalJustificationToBottom()
            self._actors.append(actor)
        for actor in self._actors:
            self.plotter.renderer.AddViewProp(actor)

    @property
    def caption_px(self) -> int:
        return int(round(CAPTION_PX * self.text_scale))

    @property
    def band_px(self) -> float | None:
        """The title's height in pixels (None without a title): the band the camera fit leaves."""
        return 1.25 * self.caption_px * (self.text.count("\n") + 1) if self.text else None

    def set_cut(self, cut) -> None:  # text is not cut
        pass

    @property
    def actors(self) -> list:
        return []  # not pickable

    def detach(self) -> None:
        for actor in self._actors:
            self.plotter.renderer.RemoveViewProp(actor)
        self._actors = []


class Scene:
    """The 3-D scene on ``plotter`` (module docstring).

    ``layer``: the sphere layer, already made on ``plotter`` (None: an
    :class:`~allen_viewer.render.layers.ExpressionLayer` at ``text_scale``/``text_color``);
    ``text_scale``: factor on the on-screen font sizes (1 in the window, larger for big
    exports); ``word_color``: the orientation words' colour; ``orientation``: draw the words,
    marker and scale bar; ``leave_parallel_on_turn``: a camera turned away from a parallel
    preset returns to perspective (the window; a movie sets each frame's projection itself).
    Methods do nothing after :meth:`close`.
    """

    def __init__(self, plotter, layer=None, *, text_scale: float = 1.0, text_color=TEXT_COLOR,
                 word_color=WORD_COLOR, orientation: bool = True, leave_parallel_on_turn: bool = True):
        self.plotter = plotter
        self.text_scale = float(text_scale)
        self.closed = False
        self.layer = layer if layer is not None else ExpressionLayer(plotter, text_scale=text_scale,
                                                                     text_color=text_color)
        self.layers = {"outline": OutlineLayer(plotter), "structures": StructuresLayer(plotter),
                       "cursor": CursorLayer(plotter), "expression": self.layer,
                       "planes": SlicePlanesLayer(plotter),
                       "caption": CaptionLayer(plotter, text_scale, text_color)}
        self.cut_name = "none"
        self._cursor_um = None  # where the planes and slice-relative cuts are, drawn or not
        self._planes_source = None
        self.overlay = OrientationOverlay(plotter, text_scale=text_scale, word_color=word_color) \
            if orientation else None
        self.preset: str | None = None  # the preset the camera was last put at (None: a pose)
        self._preset_fit = None  # (view size, camera pose) the preset was fitted at
        self._parallel_dop = None  # the view direction of a parallel preset, while it holds
        self._camera_observer = plotter.camera.AddObserver("ModifiedEvent", self._on_camera_modified) \
            if leave_parallel_on_turn else None
        self.band_extra_px = 0.0  # room under the caption a preset leaves besides it (a panel's colour bar)
        from vtkmodules.vtkRenderingCore import vtkCellPicker

        self._picker = vtkCellPicker()
        self._picker.SetTolerance(0.0)
        self._picker.PickFromListOn()

    # ---- data ----------------------------------------------------------------------------

    def set_outline(self, mesh) -> None:
        """The brain outline (CCF µm; None: none); the words and the camera fit follow it."""
        if self.closed:
            return
        self.layers["outline"].set_data(mesh)
        if self.overlay is not None:
            self.overlay.place(self.bounds())
            self.overlay.set_body_points(self.fit_points())

    @property
    def outline_mesh(self):
        return None if self.closed else self.layers["outline"].mesh

    def set_cursor(self, um, drawn: bool = True) -> None:
        """The cursor at ``um`` (CCF µm (AP, DV, ML); None: hidden, the planes and cuts stay):
        the crosshair (unless ``drawn`` is false), the slice planes and a slice-relative cut
        follow it."""
        if self.closed:
            return
        self.layers["cursor"].set_data(um if drawn else None)
        if um is None:
            return
        self._cursor_um = tuple(float(v) for v in um)
        if self._planes_source is not None:
            self.layers["planes"].set_positions(self._cursor_um)
        if self.cut_name not in ("none", "left", "right"):
            self._apply_cut()

    @property
    def cursor(self):
        """The drawn crosshair's position (None: not drawn)."""
        return None if self.closed else self.layers["cursor"].position

    @property
    def cursor_um(self):
        """Where the planes and slice-relative cuts are (the last cursor given), or None."""
        return self._cursor_um

    def show_slice_planes(self, source) -> None:
        """The three slices through the cursor drawn from ``source`` (a
        :class:`~allen_viewer.render.slice_images.SliceLayers`); None hides them."""
        if self.closed:
            return
        self._planes_source = source
        if source is None:
            self.layers["planes"].set_data(None)
        else:
            self.layers["planes"].set_data(source, self._cursor_um)

    def refresh_slice_planes(self) -> None:
        if self.closed or self._planes_source is None:
            return
        self.layers["planes"].refresh()

    def set_cut_away(self, name: str) -> None:
        """A :data:`~allen_viewer.render.cuts.CUT_AWAYS` name (ValueError for another); the
        slice-relative ones cut at the cursor's slices."""
        if self.closed:
            return
        cut_away(name)  # ValueError for an unknown name, before anything changes
        self.cut_name = name
        self._apply_cut()

    def _apply_cut(self) -> None:
        cut = cut_away(self.cut_name, self._cursor_um)
        for layer in self.layers.values():
            layer.set_cut(cut)

    def set_caption(self, text: str = "", credit: bool = True) -> None:
        """An export's title and credit line (:class:`CaptionLayer`); the window has none."""
        if not self.closed:
            self.layers["caption"].set_data(text, credit)

    # ---- camera ----------------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        return tuple(int(v) for v in self.plotter.render_window.GetSize())

    @property
    def aspect(self) -> float:
        """Width / height of the render window (1 before it has a size)."""
        width, height = self.size
        return width / height if width > 0 and height > 0 else 1.0

    def bounds(self) -> tuple[float, float, float, float, float, float]:
        """(xmin, xmax, ymin, ymax, zmin, zmax) µm: the outline's bounds, else the grid's."""
        mesh = self.outline_mesh
        if mesh is not None and mesh.n_points:
            return tuple(float(b) for b in mesh.bounds)
        return GRID_BOUNDS_UM

    def fit_points(self) -> np.ndarray | None:
        """Up to about :data:`FIT_POINTS` outline vertices (µm) for the presets to fit; None
        without an outline."""
        mesh = self.outline_mesh
        if mesh is None or not mesh.n_points:
            return None
        pts = np.asarray(mesh.points)
        return pts[:: max(1, len(pts) // FIT_POINTS)]

    def margins(self, view: str | None = None):
        """The fractions of the view a preset leaves for the words and the caption band."""
        width, height = self.size
        if width <= 0 or height <= 0:
            return None
        band = self.layers["caption"].band_px
        return word_margins(width, height, self.text_scale, None if band is None else band + self.band_extra_px, view)

    def camera_preset(self, name: str) -> None:
        """Point the camera as :mod:`~allen_viewer.render.layers` documents (``dorsal``,
        ``lateral``, ``anterior``, ``oblique``) and fit the brain, the words and the caption."""
        if self.closed:
            return
        camera = self.plotter.camera
        self._parallel_dop = None
        apply_camera_preset(camera, name, self.bounds(), self.aspect, self.fit_points(), self.margins(name))
        self.preset = name
        self._settle_camera()
        self._preset_fit = (self.size, self.camera_pose())

    def refit(self) -> bool:
        """Fit the preset again when the view's size changed and the camera has not moved
        since the preset put it there (a resized window keeps its preset fitted, as a
        session reopened at that size fits it); True when it did."""
        if self.closed or self.preset is None or self._preset_fit is None:
            return False
        size, pose = self._preset_fit
        if size == self.size or pose != CameraPose.of(self.plotter.camera, pose.aspect):
            return False
        self.camera_preset(self.preset)
        return True

    def set_camera_pose(self, pose: CameraPose) -> None:
        if self.closed:
            return
        self._parallel_dop = None
        pose.apply(self.plotter.camera, self.aspect)
        self.preset = self._preset_fit = None
        self._settle_camera()

    def camera_pose(self) -> CameraPose:
        """The camera's pose now (with this view's aspect)."""
        return CameraPose.of(self.plotter.camera, self.aspect)

    def _settle_camera(self) -> None:
        camera = self.plotter.camera
        self._parallel_dop = np.array(camera.GetDirectionOfProjection()) if camera.GetParallelProjection() else None
        self.plotter.renderer.ResetCameraClippingRange()
        self.plotter.camera_set = True

    def _on_camera_modified(self, camera, _event) -> None:
        """Turning away from a parallel preset returns to perspective (the scale bar goes with
        it); zooming and panning keep the projection."""
        if self._parallel_dop is None or not camera.GetParallelProjection():
            return
        if float(np.dot(camera.GetDirectionOfProjection(), self._parallel_dop)) < 1.0 - 1e-6:
            self._parallel_dop = None
            camera.SetParallelProjection(False)

    def apply_camera_state(self, camera_state) -> None:
        """A :class:`~allen_viewer.state.CameraState`: its preset (fitted to this view), else
        its pose (a state without either: the oblique preset)."""
        c = camera_state
        if c.preset is None and c.position_um is not None and c.focal_point_um is not None:
            parallel = c.projection == "parallel" and c.parallel_scale_um is not None
            self.set_camera_pose(CameraPose(tuple(c.position_um), tuple(c.focal_point_um),
                                            tuple(c.view_up or (0.0, -1.0, 0.0)), float(c.view_angle_deg),
                                            0.0, parallel, float(c.parallel_scale_um or 0.0)))
        else:
            self.camera_preset(c.preset or "oblique")

    # ---- picking ---------------------------------------------------------------------------

    def pick_display(self, x: float, y: float) -> np.ndarray | None:
        """The CCF point (µm) under display pixel (x, y) (VTK display coordinates: origin at the
        bottom left, in render-window pixels): of the drawn spheres on the ray the
        highest-energy one's centre (:mod:`allen_viewer.render.picking`), else the point
        :data:`SURFACE_PICK_DEPTH_UM` beyond the outline or a structure surface; None when
        nothing is hit."""
        if self.closed:
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

        hit = pick_layer(self.layer, near, direction)  # the strongest drawn sphere on the ray
        if hit is not None:
            return np.asarray(self.layer.poly.points[hit[0]], dtype=float)
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

    # ---- the whole state -------------------------------------------------------------------

    def show_state(self, state, loaded, *, slice_source=None, meshes: dict | None = None) -> None:
        """Draw what ``state`` (a :class:`~allen_viewer.state.ViewerState`) shows from
        ``loaded`` (a :class:`~allen_viewer.loaded_data.LoadedData`: ``grid``,
        ``outline_mesh``, ``space``, ``nissl``): the display settings, colour-by and
        outside-brain voxels, the outline, the ticked and selected structures' surfaces and
        the cursor (:mod:`allen_viewer.render.session_scene`), the cut-away and slice planes
        at the cursor (from ``slice_source``, else made from the space as the slice panes
        make them), the spheres, then the camera.  The cut is set before the grid, so the
        spheres are built once."""
        from allen_viewer.render.session_scene import session_layers

        d = state.display
        layer = self.layer
        layer.set_display(**d.render_values())
        if hasattr(layer, "set_color_by"):
            layer.set_color_by(d.color_by)
        if hasattr(layer, "set_show_outside"):
            layer.set_show_outside(d.show_outside_brain)
        self.set_outline(loaded.outline_mesh)
        self.set_cursor(state.cursor_um)
        self.set_cut_away(state.cut_away)
        space = loaded.space
        if state.slice_planes:
            if slice_source is None and space is not None:
                from allen_viewer.render.slice_images import slice_layers_for

                nissl = loaded.nissl if state.slice_background == "nissl" else None
                slice_source = slice_layers_for(space, loaded.grid, layer.cmap, None, nissl)
            self.show_slice_planes(slice_source)
        if space is not None:
            extra = session_layers(state, space, expression_shown=loaded.grid is not None, meshes=meshes,
                                   cursor=False)
            for sid, mesh, color, opacity in extra.surfaces:
                self.layers["structures"].set_data(sid, mesh, color, opacity)
            self.layers["structures"].set_highlight(extra.highlight)
        if hasattr(layer, "set_grid"):
            layer.set_grid(loaded.grid)
        self.apply_camera_state(state.camera)

    def layer_data(self) -> dict:
        """The layers' numbers, to compare two scenes exactly: the drawn voxels' flat grid
        ids, their colour values and RGBA colours, radii (µm), the colour range and bar
        title, the structures and their colours and opacities, the cursor, the planes, the
        cut, and the camera (position, focal point, view-up, angle, projection, and the
        parallel scale in parallel projection)."""
        layer = self.layer
        poly = layer.poly if layer.has_content else None
        ids = np.asarray(poly.point_data["grid_index"]) if poly is not None else np.zeros(0, np.int64)
        values = np.asarray(poly.point_data["color_value"]) if poly is not None else np.zeros(0, np.float32)
        rgba = np.zeros((0, 4), np.uint8)
        if poly is not None and layer.actor is not None:
            from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy

            lut = layer.actor.mapper.GetLookupTable()
            rgba = vtk_to_numpy(lut.MapScalars(numpy_to_vtk(values.astype(np.float64)), 0, -1)).reshape(-1, 4)
        cam = self.plotter.camera
        structures = self.layers["structures"]
        return {"voxel_ids": ids, "color_values": values, "rgba": rgba,
                "radii_um": np.asarray(layer.radii_um()) if poly is not None else np.zeros(0),
                "color_range": tuple(float(v) for v in layer.color_range), "bar_title": layer.title,
                "structures": {sid: (structures.color(sid), structures.opacity(sid)) for sid in structures.ids},
                "cursor": self.cursor, "planes": list(self.layers["planes"].shown), "cut": self.cut_name,
                "camera": {"position": tuple(cam.GetPosition()), "focal_point": tuple(cam.GetFocalPoint()),
                           "view_up": tuple(cam.GetViewUp()), "view_angle": float(cam.GetViewAngle()),
                           "parallel": bool(cam.GetParallelProjection()),
                           # drawn only in parallel projection
                           "parallel_scale": float(cam.GetParallelScale()) if cam.GetParallelProjection() else None}}

    # ---- lifetime --------------------------------------------------------------------------

    def render(self) -> None:
        if not self.closed:
            self.plotter.render()

    def close(self) -> None:
        """Free every OpenGL object in this window's own context, while the props are still
        attached (a prop freed later would free its ids in whatever context is current then
        -- another scene's -- and crash that scene's next frame), then the plotter; idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._camera_observer is not None:
            self.plotter.camera.RemoveObserver(self._camera_observer)
            self._camera_observer = None
        if self.plotter.render_window is not None:
            self.plotter.render_window.Finalize()
        for part in (self.overlay, *self.layers.values()):
            if part is not None:
                part.detach()
        self.plotter.close()
        self.layer = self.overlay = self._picker = self._planes_source = None
        self.layers = {}
        gc.collect()
