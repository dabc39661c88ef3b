"""Named layers of the 3-D scene (besides the sphere layers): outline, structures, cursor, slice planes.

Each layer owns its VTK actors in one pyvista plotter and has the same small interface as
the sphere layers of :mod:`allen_viewer.render.layers`:

* ``set_data(...)``: what to draw (None: nothing); draws without rendering a frame;
* ``set_cut(cut)``: a :class:`~allen_viewer.render.cuts.CutAway` (or None) hides one side;
* ``detach()``: removes the layer's actors (idempotent);
* ``actors``: the layer's pickable actors (for the scene's picking).

The viewer's :class:`~allen_viewer.gui.scene3d.ExpressionScene` holds them by name
(``outline``, ``structures``, ``cursor``, ``expression``, ``planes``); the off-screen image
export (:mod:`allen_viewer.export.image`) uses the same classes, so a new representation is
one new class here.  Qt-free; coordinates are CCF µm, x = AP (+ posterior), y = DV
(+ ventral), z = ML (+ right).

Surfaces under a cut are clipped with VTK's ``vtkClipClosedSurface`` and closed with a cut
face: for the outline a more opaque grey (:data:`CUT_FACE_OPACITY`), so the section through
the brain shows; for structures the structure's own colour and opacity.
"""
from __future__ import annotations

import numpy as np
import pyvista as pv

from allen_viewer.atlas.reference_space import ANNOTATION_SHAPE, ANNOTATION_SPACING_UM, um_to_ccf25
from allen_viewer.render.cuts import CutAway
from allen_viewer.render.layers import OUTLINE_COLOR, add_outline
from allen_viewer.render.slice_images import PLANES, SliceLayers
from allen_viewer.render.structure_style import (DEFAULT_SURFACE_OPACITY, HIGHLIGHT_OPACITY,
                                               shown_opacity)

STRUCTURE_OPACITY = DEFAULT_SURFACE_OPACITY
STRUCTURE_HIGHLIGHT_OPACITY = HIGHLIGHT_OPACITY
STRUCTURE_DIMMED_OPACITY = shown_opacity(DEFAULT_SURFACE_OPACITY, False, True)
CURSOR_COLOR = (1.0, 0.25, 0.25)
CURSOR_HALF_LENGTH_UM = 700.0
"""Each arm of the 3-D cursor (issue 25: at 400 µm, with 3 px lines, it vanished among dense
spheres; 1.4 mm arms reach out of a cluster of 200 µm voxels and show where it is)."""
CURSOR_RADIUS_UM = 90.0
CURSOR_LINE_WIDTH = 5
CUT_FACE_OPACITY = 0.30
"""Opacity of the outline's cut face (the outline itself is 0.12)."""


def clip_surface(mesh: pv.PolyData, cut: CutAway | None) -> tuple[pv.PolyData, pv.PolyData | None]:
    """(the part of closed surface ``mesh`` that ``cut`` keeps, its cut face or None).

    Without a cut: (mesh, None).  The cut face closes the clipped surface along the plane
    (``vtkClipClosedSurface``); for a surface that is not closed it may be missing."""
    if cut is None or mesh is None or not mesh.n_points:
        return mesh, None
    from vtkmodules.vtkCommonDataModel import vtkPlane, vtkPlaneCollection
    from vtkmodules.vtkFiltersGeneral import vtkClipClosedSurface

    plane = vtkPlane()
    plane.SetOrigin(*cut.origin)
    plane.SetNormal(*cut.normal)
    planes = vtkPlaneCollection()
    planes.AddItem(plane)
    clip = vtkClipClosedSurface()
    clip.SetInputData(mesh)
    clip.SetClippingPlanes(planes)
    clip.GenerateFacesOn()
    clip.SetScalarModeToLabels()  # cell label 0: the original surface, 1: the cut face
    clip.Update()
    out = pv.wrap(clip.GetOutput())
    if not out.n_cells:
        return pv.PolyData(), None
    labels = np.asarray(out.cell_data["Labels"])
    body = out.extract_cells(np.flatnonzero(labels == 0)).extract_surface(algorithm="dataset_surface")
    face = out.extract_cells(np.flatnonzero(labels == 1)).extract_surface(algorithm="dataset_surface") if (labels == 1).any() else None
    for part in (body, face):
        if part is not None:
            for name in list(part.point_data.keys()) + list(part.cell_data.keys()):
                if name.startswith("vtkOriginal") or name == "Labels":
                    part.point_data.pop(name, None)
                    part.cell_data.pop(name, None)
    return body, face


class SceneLayer:
    """Base of the named layers: a plotter, a cut, actors to remove on :meth:`detach`."""

    def __init__(self, plotter: pv.BasePlotter):
        self.plotter = plotter
        self.cut: CutAway | None = None
        self._actors: list = []

    def set_cut(self, cut: CutAway | None) -> None:
        """Hide what lies on ``cut``'s removed side (None: nothing) and redraw."""
        if cut != self.cut:
            self.cut = cut
            self._draw()

    def _draw(self) -> None:  # subclasses: (re)make the actors from the data and the cut
        pass

    def _remove(self, actors) -> None:
        for actor in actors:
            if actor is not None:
                self.plotter.remove_actor(actor, render=False)

    def detach(self) -> None:
        """Remove this layer's actors from the plotter (idempotent)."""
        self._remove(self._actors)
        self._actors = []

    @property
    def actors(self) -> list:
        """The layer's pickable actors."""
        return []


class OutlineLayer(SceneLayer):
    """The translucent grey brain outline (:func:`~allen_viewer.render.layers.add_outline`),
    clipped with a visible cut face under a cut."""

    def __init__(self, plotter: pv.BasePlotter):
        super().__init__(plotter)
        self.mesh: pv.PolyData | None = None
        self.actor = None
        self.face_actor = None

    def set_data(self, mesh: pv.PolyData | None) -> None:
        """``mesh``: the outline in CCF µm (None: none)."""
        self.mesh = mesh
        self._draw()

    def _draw(self) -> None:
        self.detach()
        if self.mesh is None or not self.mesh.n_points:
            return
        body, face = clip_surface(self.mesh, self.cut)
        if body is not None and body.n_points:
            self.actor = add_outline(self.plotter, body)
        if face is not None and face.n_points:
            self.face_actor = self.plotter.add_mesh(
                face, color=OUTLINE_COLOR, opacity=CUT_FACE_OPACITY, name="brain_outline_cut_face",
                reset_camera=False, pickable=True, render=False, diffuse=0.8, ambient=0.25)
        self._actors = [a for a in (self.actor, self.face_actor) if a is not None]

    def detach(self) -> None:
        super().detach()
        self.actor = self.face_actor = None

    @property
    def actors(self) -> list:
        return list(self._actors)


def _unit_rgb(color) -> tuple[float, float, float]:
    """(r, g, b) 0-255 -> 0-1, clamped."""
    return tuple(max(0, min(255, int(c))) / 255.0 for c in color)


class StructuresLayer(SceneLayer):
    """Structure surfaces by id, each in its own colour and opacity (see
    :mod:`allen_viewer.render.structure_style`); one can be highlighted (the others dimmed).
    Under a cut each is clipped and closed with a cut face in its own colour."""

    def __init__(self, plotter: pv.BasePlotter):
        super().__init__(plotter)
        self.meshes: dict[int, tuple[pv.PolyData, tuple[float, float, float]]] = {}
        self.actors_by_id: dict[int, pv.Actor] = {}
        """The surface actor of each shown structure (kept as the same dict object)."""
        self.faces_by_id: dict[int, pv.Actor] = {}
        self.base_opacity: dict[int, float] = {}
        """Each shown surface's opacity (0, 1] when nothing is highlighted."""
        self.highlight: int | None = None

    def set_data(self, structure_id: int, mesh: pv.PolyData | None, color=(200, 200, 200),
                 opacity: float | None = None) -> None:
        """Show structure ``structure_id``'s surface (CCF µm) in ``color`` (r, g, b 0-255) at
        ``opacity`` ((0, 1]; None: :data:`STRUCTURE_OPACITY`); a None mesh removes it."""
        sid = int(structure_id)
        self._remove_one(sid)
        self.meshes.pop(sid, None)
        self.base_opacity.pop(sid, None)
        if mesh is not None and mesh.n_points:
            self.meshes[sid] = (mesh, _unit_rgb(color))
            self.base_opacity[sid] = STRUCTURE_OPACITY if opacity is None else float(opacity)
            self._draw_one(sid)
        self.apply_highlight()

    def set_style(self, structure_id: int, color=None, opacity: float | None = None) -> None:
        """Recolour (r, g, b 0-255) and/or change the opacity ((0, 1]) of a shown surface;
        None keeps that; a structure not shown is left alone."""
        sid = int(structure_id)
        if sid not in self.meshes:
            return
        if color is not None:
            mesh, _ = self.meshes[sid]
            self.meshes[sid] = (mesh, _unit_rgb(color))
            actor = self.actors_by_id.get(sid)
            if actor is not None:  # the cut face shares this property
                actor.GetProperty().SetColor(*self.meshes[sid][1])
        if opacity is not None:
            self.base_opacity[sid] = float(opacity)
        self.apply_highlight()

    def color(self, structure_id: int) -> tuple[int, int, int] | None:
        """The (r, g, b) 0-255 colour a shown surface is drawn in (None: not shown)."""
        entry = self.meshes.get(int(structure_id))
        return None if entry is None else tuple(int(round(c * 255)) for c in entry[1])

    def remove(self, structure_id: int) -> None:
        self.set_data(structure_id, None)

    @property
    def ids(self) -> list[int]:
        """The structures shown (also one that a cut hides entirely)."""
        return list(self.meshes)

    def _draw_one(self, sid: int) -> None:
        mesh, rgb = self.meshes[sid]
        body, face = clip_surface(mesh, self.cut)
        if body is None or not body.n_points:
            return
        self.actors_by_id[sid] = self.plotter.add_mesh(
            body, color=rgb, opacity=STRUCTURE_OPACITY, smooth_shading=True,
            name=f"structure_{sid}", reset_camera=False, pickable=True, render=False,
            specular=0.2, specular_power=20.0)
        if face is not None and face.n_points:
            actor = self.plotter.add_mesh(face, color=rgb, name=f"structure_{sid}_cut_face",
                                          reset_camera=False, pickable=True, render=False)
            actor.SetProperty(self.actors_by_id[sid].GetProperty())  # follows highlight/opacity
            self.faces_by_id[sid] = actor

    def _remove_one(self, sid: int) -> None:
        self._remove([self.actors_by_id.pop(sid, None), self.faces_by_id.pop(sid, None)])

    def _draw(self) -> None:
        for sid in list(self.actors_by_id) + list(self.faces_by_id):
            self._remove_one(sid)
        for sid in self.meshes:
            self._draw_one(sid)
        self.apply_highlight()

    def set_highlight(self, structure_id: int | None) -> None:
        """Bring one shown structure forward (opaque-ish, the others dimmed); None: none."""
        self.highlight = None if structure_id is None else int(structure_id)
        self.apply_highlight()

    def apply_highlight(self) -> None:
        active = self.highlight is not None and self.highlight in self.actors_by_id
        for sid, actor in self.actors_by_id.items():
            prop = actor.GetProperty()
            mine = active and sid == self.highlight
            prop.SetOpacity(shown_opacity(self.base_opacity.get(sid, STRUCTURE_OPACITY), mine, active and not mine))
            prop.SetAmbient(0.25 if mine else 0.0)

    def opacity(self, structure_id: int) -> float | None:
        actor = self.actors_by_id.get(int(structure_id))
        return None if actor is None else float(actor.GetProperty().GetOpacity())

    def detach(self) -> None:
        for sid in list(self.actors_by_id) + list(self.faces_by_id):
            self._remove_one(sid)

    @property
    def actors(self) -> list:
        return list(self.actors_by_id.values()) + list(self.faces_by_id.values())


class CursorLayer(SceneLayer):
    """A 3-D crosshair: three 1.4 mm lines (:data:`CURSOR_LINE_WIDTH` px) and a 90 µm sphere, in
    red; never cut, never picked.  Drawn in a renderer of its own over the scene's (layer 1,
    the scene's camera, its own depth): the cursor shows through the spheres around it, which
    in a densely expressing structure hid it from every side (issue 25)."""

    def __init__(self, plotter: pv.BasePlotter):
        super().__init__(plotter)
        self.position: np.ndarray | None = None
        self._overlay = None

    def _overlay_renderer(self):
        if self._overlay is None:
            from vtkmodules.vtkRenderingCore import vtkRenderer

            main = self.plotter.renderer
            window = main.GetRenderWindow()
            overlay = vtkRenderer()
            overlay.SetLayer(1)
            overlay.InteractiveOff()
            overlay.SetViewport(*main.GetViewport())
            overlay.SetActiveCamera(main.GetActiveCamera())
            window.SetNumberOfLayers(max(2, window.GetNumberOfLayers()))
            window.AddRenderer(overlay)
            self._overlay = overlay
        return self._overlay

    def _remove(self, actors) -> None:
        for actor in actors:
            if actor is not None and self._overlay is not None:
                self._overlay.RemoveActor(actor)

    def set_data(self, um) -> None:
        """Put the cursor at ``um`` (CCF µm, (AP, DV, ML)); None hides it."""
        self.position = None if um is None else np.asarray(um, dtype=float).reshape(3).copy()
        self._draw()

    def set_cut(self, cut) -> None:  # the cursor always shows
        self.cut = cut

    def _draw(self) -> None:
        self.detach()
        if self.position is None:
            return
        c = self.position
        h = CURSOR_HALF_LENGTH_UM
        segs = np.array([c - (h, 0, 0), c + (h, 0, 0), c - (0, h, 0), c + (0, h, 0),
                         c - (0, 0, h), c + (0, 0, h)])
        cross = pv.PolyData(segs, lines=np.array([2, 0, 1, 2, 2, 3, 2, 4, 5]))
        self._actors.append(self.plotter.add_mesh(
            cross, color=CURSOR_COLOR, line_width=CURSOR_LINE_WIDTH, lighting=False, name="cursor_lines",
            reset_camera=False, pickable=False, render=False))
        self._actors.append(self.plotter.add_mesh(
            pv.Sphere(radius=CURSOR_RADIUS_UM, center=c, theta_resolution=16, phi_resolution=16),
            color=CURSOR_COLOR, name="cursor_sphere", reset_camera=False, pickable=False, render=False))
        overlay = self._overlay_renderer()
        for actor in self._actors:  # from the scene's renderer to the cursor's own, over it
            self.plotter.renderer.RemoveActor(actor)
            overlay.AddActor(actor)


def slice_plane_mesh(image: np.ndarray, plane_name: str, index: int, brain: np.ndarray | None = None,
                     cut: CutAway | None = None) -> pv.PolyData | None:
    """The slice image ``image`` ((rows, cols, 3) uint8, as :meth:`SliceLayers.render`
    gives for plane ``plane_name`` at 25 µm ``index``) as a flat mesh in CCF µm: one square
    25 µm cell per pixel, centred on the voxel centres, with the pixel colours as cell data
    ``rgb``.  Only the pixels where ``brain`` ((rows, cols) bool) is True and that ``cut``
    keeps; None when none are left."""
    plane = PLANES[plane_name]
    rows, cols = image.shape[:2]
    keep = np.ones((rows, cols), bool) if brain is None else np.asarray(brain, bool).copy()
    half = ANNOTATION_SPACING_UM / 2
    if cut is not None and cut.axis != plane.axis:
        pts = np.zeros((ANNOTATION_SHAPE[cut.axis], 3))
        pts[:, cut.axis] = np.arange(ANNOTATION_SHAPE[cut.axis]) * ANNOTATION_SPACING_UM
        kept = cut.keep(pts)  # per 25 µm voxel centre along the cut's axis
        keep &= kept[:, None] if cut.axis == plane.rows else kept[None, :]
    elif cut is not None:  # the whole plane is on one side
        point = np.zeros(3)
        point[plane.axis] = index * ANNOTATION_SPACING_UM
        if not cut.keep(point[None])[0]:
            return None
    if not keep.any():
        return None
    # a (rows + 1) x (cols + 1) lattice of pixel corners, one quad per kept pixel
    corner_r = (np.arange(rows + 1) - 0.5) * ANNOTATION_SPACING_UM
    corner_c = (np.arange(cols + 1) - 0.5) * ANNOTATION_SPACING_UM
    points = np.empty(((rows + 1) * (cols + 1), 3), dtype=np.float32)
    points[:, plane.axis] = index * ANNOTATION_SPACING_UM
    points[:, plane.rows] = np.repeat(corner_r, cols + 1)
    points[:, plane.cols] = np.tile(corner_c, rows + 1)
    r, c = np.nonzero(keep)
    first = r * (cols + 1) + c
    faces = np.column_stack([np.full(first.size, 4), first, first + 1, first + cols + 2, first + cols + 1])
    mesh = pv.PolyData(points, faces=faces.ravel())
    mesh.cell_data["rgb"] = np.ascontiguousarray(image[r, c, :3])
    return mesh


class SlicePlanesLayer(SceneLayer):
    """The three slices (coronal, sagittal, horizontal) as opaque textured planes in 3-D,
    drawn from a :class:`~allen_viewer.render.slice_images.SliceLayers` exactly as the
    slice panes draw them; only the pixels inside the brain (annotation > 0) are drawn, so
    the planes show the brain's sections and nothing around them.

    ``set_data(source, positions_um)``: what to draw (None: nothing) and where,
    (AP, DV, ML) µm (each plane snaps to the nearest 25 µm slice).  :meth:`refresh` draws
    again after the source changed (another gene, colour map, highlight, background).
    """

    def __init__(self, plotter: pv.BasePlotter):
        super().__init__(plotter)
        self.source: SliceLayers | None = None
        self.indices: dict[str, int] = {}
        self.actors_by_plane: dict[str, pv.Actor] = {}
        self.meshes_by_plane: dict[str, pv.PolyData] = {}
        """The drawn planes' meshes (cell data ``rgb``: each 25 µm pixel's colour)."""
        self._drawn: dict[str, tuple] = {}

    def set_data(self, source: SliceLayers | None, positions_um=None) -> None:
        self.source = source
        if positions_um is not None:
            idx = um_to_ccf25(np.asarray(positions_um, dtype=float))
            self.indices = {name: int(idx[p.axis]) for name, p in PLANES.items()}
        elif not self.indices:
            self.indices = {name: ANNOTATION_SHAPE[p.axis] // 2 for name, p in PLANES.items()}
        self._draw()

    def set_positions(self, positions_um) -> None:
        """Move the planes to the slices through (AP, DV, ML) µm; redraws only planes that moved."""
        self.set_data(self.source, positions_um)

    def refresh(self) -> None:
        """The source's look changed: draw every plane again."""
        self._drawn = {}
        self._draw()

    def set_cut(self, cut) -> None:
        if cut != self.cut:
            self.cut = cut
            self.refresh()

    def _draw(self) -> None:
        src = self.source
        if src is None or src.space is None or src.label_rgb is None:
            self.detach()
            return
        for name, plane in PLANES.items():
            index = self.indices.get(name, ANNOTATION_SHAPE[plane.axis] // 2)
            key = (index, self.cut)
            if self._drawn.get(name) == key and name in self.actors_by_plane:
                continue
            self._remove([self.actors_by_plane.pop(name, None)])
            self.meshes_by_plane.pop(name, None)
            image = src.render(plane, index)
            brain = plane.take(src.space.labels25, index) > 0
            mesh = slice_plane_mesh(image, name, index, brain, self.cut)
            self._drawn[name] = key
            if mesh is None or not mesh.n_cells:
                continue
            self.meshes_by_plane[name] = mesh
            self.actors_by_plane[name] = self.plotter.add_mesh(
                mesh, scalars="rgb", rgb=True, lighting=False, name=f"slice_plane_{name}",
                reset_camera=False, pickable=False, render=False, show_scalar_bar=False)

    def detach(self) -> None:
        self._remove(list(self.actors_by_plane.values()))
        self.actors_by_plane = {}
        self.meshes_by_plane = {}
        self._drawn = {}

    @property
    def shown(self) -> list[str]:
        """Names of the planes drawn now."""
        return list(self.actors_by_plane)
