"""The selected structure and the structure surfaces in the 3-D view.

The structure tree reports a selection (``structureSelected``) or a checkbox
(``visibilityChanged``); :class:`StructureSurfaces` writes the selection into
``state.selected_structure`` (the compare view and the session follow it), highlights it in
the slice panes and the 3-D view, and asks the loaders for the surfaces wanted -- the
selected structure's and the ticked ones' -- dropping a surface no longer wanted.

Why the mesh is made in the UI thread (:meth:`StructureSurfaces._on_surface`): VTK objects
created or freed in a worker thread can deadlock against the UI thread's rendering.
"""
from __future__ import annotations

import logging

from PySide6.QtCore import QObject

from allen_viewer.gui.workers import error_message
from allen_viewer.model.describe import summary_text
from allen_viewer.model.structures import focus_point_um
from allen_viewer.render.meshes import structure_surface

log = logging.getLogger(__name__)


class StructureSurfaces(QObject):
    """See the module docstring.  ``selected``: the selected structure's Allen id, or None."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.selected: int | None = None
        window.loaders.surfaceMask.connect(self._on_surface)
        window.tree_panel.structureSelected.connect(self.on_selected)
        window.tree_panel.visibilityChanged.connect(self._on_visibility_changed)

    def on_selected(self, structure_id: int | None) -> None:
        previous = self.selected
        self.selected = structure_id
        if previous is not None and previous != structure_id and previous not in self.w.tree_panel.visible_ids():
            self.w.loaders.cancel_surface(previous)
            self.w.scene.remove_structure_surface(previous)
        self.w.slices.set_highlight(structure_id)
        self.w.scene.highlight_structure(structure_id)
        self.w.state.selected_structure = structure_id  # the compare view follows the state
        if structure_id is not None and self.w.space is not None:
            if structure_id not in self.w.scene.structure_ids:
                self._request_surface(structure_id)
        self.update_summary()

    def _on_visibility_changed(self, structure_id: int, visible: bool) -> None:
        if visible:
            if structure_id not in self.w.scene.structure_ids:
                self._request_surface(structure_id)
        elif structure_id != self.selected:
            self.w.loaders.cancel_surface(structure_id)
            self.w.scene.remove_structure_surface(structure_id)

    def _surface_wanted(self, structure_id: int) -> bool:
        return structure_id == self.selected or structure_id in self.w.tree_panel.visible_ids()

    def _request_surface(self, structure_id: int) -> None:
        self.w.loaders.request_surface(structure_id)  # the mask in a worker; _on_surface makes the mesh

    def _on_surface(self, mask, structure_id: int) -> None:
        """Make the structure's mesh from the worker's mask, in the UI thread.

        Why not in the worker: VTK objects created or freed in a worker thread can deadlock
        against the UI thread's rendering.  VTK's Python wrapping releases the GIL inside
        every VTK call, so a render that frees a wrapped object (under VTK's garbage-collector
        lock) waits for the GIL, while a worker freeing a VTK object holds the GIL and waits
        for that lock -- seen as a hang at start-up (the brain outline) under test.  The
        mesh takes 0.03-0.3 s (tens of ms from the mesh cache); the mask, ~0.1 s, stays in
        the worker.
        """
        if not self._surface_wanted(structure_id):
            return
        try:
            mesh = structure_surface(self.w.space, structure_id, mask=mask)
        except Exception as exc:  # noqa: BLE001 - shown, as a failed background request would be
            log.exception("structure surface failed")
            self.w.show_error(f"Surface of {self.w.ontology.by_id(structure_id).acronym}: {error_message(exc)}")
            return
        s = self.w.ontology.by_id(structure_id)
        if mesh is None:
            self.w.show_status(f"{s.acronym} has no voxels in the 25 µm annotation; no surface to show.")
            return
        self.w.scene.set_structure_surface(structure_id, mesh, self.w.structure_styles.color(structure_id),
                                         self.w.structure_styles.opacity(structure_id))
        if structure_id == self.selected:
            self.w.scene.highlight_structure(structure_id)
        self.w.surfaceReady.emit(structure_id)

    def select_structure(self, structure_id: int | None) -> None:
        """Select a structure as if clicked in the tree (None clears)."""
        self.w.tree_panel.select_structure(structure_id)

    def go_to_structure(self, structure: int | str) -> bool:
        """Select a structure (Allen id or acronym) and move the cursor into it: to the voxel
        of its left-hemisphere part nearest that part's centre, so every slice pane cuts
        through it.  Needs the atlas (False before it is loaded); an unknown structure raises
        :class:`~allen_viewer.errors.UnknownStructure`."""
        if self.w.space is None or self.w.ontology is None:
            return False
        s = self.w.ontology.get(structure)
        um = focus_point_um(self.w.space, s)
        if um is not None:
            self.w.set_cursor_um(um, select=False)
        self.select_structure(s.id)
        return True

    def summary_text(self) -> str:
        """The structure panel's summary (HTML) for the selected structure and the loaded gene."""
        return summary_text(self.selected, self.w.ontology, self.w.space, self.w.grid)

    def update_summary(self) -> None:
        self.w.tree_panel.set_summary(self.summary_text())
