"""The structure surfaces and the cursor of a session, for an off-screen 3-D image (Qt-free).

Why (issue 25): *File > Export > Image of the 3-D view* drew the spheres and the outline
only, while the window showed the selected and ticked structures' surfaces and the cursor.
An image export now adds what the window's 3-D view adds, from the same
:class:`~allen_viewer.state.ViewerState` and with the same layers
(:class:`~allen_viewer.render.scene_layers.StructuresLayer`,
:class:`~allen_viewer.render.scene_layers.CursorLayer`) and the same rules:

* the surfaces of the **ticked** structures (``visible_structures``) and of the **selected**
  one (``selected_structure``), each in the colour and at the opacity of
  :mod:`allen_viewer.render.structure_style` (the user's choice, else the neutral surface
  colour while a gene is shown; their opacity), the selected one highlighted and the others
  dimmed exactly as on screen (:func:`~allen_viewer.render.structure_style.shown_opacity`);
* clipped by the figure's cut-away, with cut faces, as on screen;
* the **cursor** (the red crosshair) at ``cursor_um`` when ``cursor`` is true (the viewer's
  export: the window shows it);
* the meshes are the ones the window already made when it passes them (``meshes``), else
  made from the reference space (:func:`~allen_viewer.render.meshes.structure_surface`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from allen_viewer.render.structure_style import surface_color, surface_opacity


@dataclass
class SessionLayers:
    """What :func:`session_layers` adds to an off-screen scene (:meth:`add_to`)."""

    surfaces: list = field(default_factory=list)
    """(structure id, mesh (CCF µm), (r, g, b) 0-255, opacity) of each surface, in drawing order."""
    highlight: int | None = None
    cursor_um: tuple[float, float, float] | None = None

    def add_to(self, scene) -> None:
        """Draw the surfaces (highlight included) and the cursor in ``scene`` (a
        :class:`~allen_viewer.render.scene.Scene`, whose cut they take)."""
        structures = scene.layers["structures"]
        for sid, mesh, color, opacity in self.surfaces:
            structures.set_data(sid, mesh, color, opacity)
        if self.surfaces:
            structures.set_highlight(self.highlight)
        if self.cursor_um is not None:
            scene.layers["cursor"].set_data(self.cursor_um)

    def describe(self) -> dict:
        """For the provenance record: the surfaces drawn and the cursor."""
        return {"structure_surfaces": [{"id": int(sid), "rgb": [int(c) for c in color], "opacity": float(opacity)}
                                       for sid, _mesh, color, opacity in self.surfaces],
                "highlighted_structure": self.highlight,
                "cursor_um": None if self.cursor_um is None else [float(v) for v in self.cursor_um]}


def session_layers(session, space, expression_shown: bool = True, meshes: dict | None = None,
                   cursor: bool = True) -> SessionLayers:
    """The surfaces (ticked and selected) and the cursor of ``session`` (a
    :class:`~allen_viewer.state.ViewerState`) as the window draws them (module docstring).

    ``space``: the :class:`~allen_viewer.atlas.reference_space.ReferenceSpace` (its ontology
    gives the atlas colours; its annotation the meshes not in ``meshes``); ``meshes``: {id:
    mesh} already made; a structure with no voxels (no mesh) is left out."""
    from allen_viewer.render.meshes import structure_surface

    ids: list[int] = []
    for sid in (*session.visible_structures, session.selected_structure):
        if sid is not None and int(sid) not in ids:
            ids.append(int(sid))
    surfaces = []
    for sid in ids:
        try:
            structure = space.ontology.by_id(sid)
        except Exception:  # noqa: BLE001 - an id this ontology lacks draws nothing, as in the window
            continue
        mesh = (meshes or {}).get(sid)
        if mesh is None:
            mesh = structure_surface(space, sid)
        if mesh is None or not mesh.n_points:
            continue
        style = session.structure_style(sid)
        surfaces.append((sid, mesh, surface_color(structure.color, style, expression_shown), surface_opacity(style)))
    selected = session.selected_structure
    return SessionLayers(surfaces, None if selected is None else int(selected),
                         tuple(float(v) for v in session.cursor_um) if cursor and session.cursor_um is not None
                         else None)
