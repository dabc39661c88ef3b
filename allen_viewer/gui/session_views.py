"""The window's views follow its :class:`~allen_viewer.state.ViewerState`; opening a session
is setting the state.

The data path (docs/design.md): **widget -> state -> views**.  The display controls write
``state.display`` (and the views -- 3-D scene, slice panes, settings -- follow it); the
structure tree writes ``selected_structure`` and ``visible_structures``; the slice panes
write ``cursor_um``; the window writes the genes on show when the loaders have them
(``experiment``, ``compare_with``, ``comparing``).  :class:`SessionViews` makes the views
follow those fields whoever set them, so that :meth:`SessionViews.open` is
``state.update_from(session)`` and nothing else: a changed ``experiment`` loads that gene,
``comparing`` with a ``compare_with`` loads and shows the comparison, the cursor, the
selection and the camera move the views -- each as soon as what it needs is loaded
(:class:`~allen_viewer.model.session.SessionWaits` says what still waits; ``--screenshot``
waits for it).

Threshold rule: unless ``threshold_pinned``, each gene opened gets the
``threshold_percentile`` of its own in-brain energies (the display controls apply it and
the window writes it into the state); a session's own gene gets the session's threshold
back exactly (:func:`~allen_viewer.model.genes.session_threshold`).

Camera: it moves continuously (VTK's own interaction), so it is read from the 3-D view when
a snapshot is taken (:meth:`SessionViews.snapshot`); the state's preset stays set while the
camera is where that preset put it, else the pose is what a session reopens.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np
from PySide6.QtCore import QObject

from allen_viewer.errors import AllenViewerError
from allen_viewer.model.session import SessionWaits
from allen_viewer.render.layers import CameraPose
from allen_viewer.state import SLICE_BACKGROUNDS, ExperimentRef, ViewerState

log = logging.getLogger(__name__)

POSE_TOLERANCE_UM = 1.0
"""A camera within this distance (µm, position and focal point) of the pose a preset gave
still counts as that preset."""
DISPLAY_FIELDS = ("threshold", "size_scale", "cmap", "opacity", "threshold_percentile", "threshold_pinned")


class SessionViews(QObject):
    """Makes ``window``'s views follow ``window.state`` (module docstring)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = w = window
        self.state = st = window.state
        self.waits = SessionWaits()
        self._quiet = 0  # > 0: the window updates the views itself (a gene switch: one frame)
        self._batch = False  # a session is being set: the views catch up once, after it
        self._reading = False  # the camera is being read from the view (snapshot): not a move
        self._preset_pose: tuple[str, CameraPose] | None = None
        self._unknown_said = False
        st.slice_background = w.settings.background if w.settings.background in SLICE_BACKGROUNDS \
            else "annotation"
        st.cursor_um = tuple(float(v) for v in w.slices.cursor_um())
        with self.quiet():  # the window restored the controls and the views from the settings already
            self.read_controls()
        # widgets -> state
        w.controls.changed.connect(self.read_controls)
        w.controls.colorByChanged.connect(lambda key: setattr(st.display, "color_by", str(key)))
        w.tree_panel.visibilityChanged.connect(self._on_visibility)
        # state -> views
        for name in DISPLAY_FIELDS:
            getattr(st.display.events, name).connect(self._display_changed)
        st.display.events.color_by.connect(self._color_by_changed)
        for name in ("experiment", "compare_with", "comparing"):
            getattr(st.events, name).connect(lambda *_: self._unless_batch(self.sync_genes))
        st.events.cursor_um.connect(lambda *_: self._unless_batch(self.sync_cursor))
        st.events.selected_structure.connect(lambda *_: self._unless_batch(self.sync_selection))
        st.events.visible_structures.connect(lambda *_: self._unless_batch(self.sync_selection))
        st.events.slice_background.connect(lambda *_: self._unless_batch(self.sync_background))
        st.camera.events.all.connect(lambda *_: self._unless_batch(self._camera_changed))
        # loaded data -> what waited
        w.gridLoaded.connect(self._on_grid)
        w.compareReady.connect(self._on_compare_ready)
        w.compareModeChanged.connect(lambda on: self._report(lambda: setattr(st, "comparing", bool(on))))
        w.networkChanged.connect(lambda s: setattr(st, "network", s))
        w.outlineReady.connect(self._on_outline)
        w.atlasReady.connect(self._on_atlas)
        w.loadFailed.connect(self._on_failed)

    # ---- opening and saving -------------------------------------------------------------

    @property
    def pending(self) -> bool:
        """True while parts of an opened session wait for what they need."""
        return self.waits.pending

    def open(self, session: ViewerState, saved_experiment_id: int | None = None) -> None:
        """Show ``session``: set the state (the views follow).  Raises AllenViewerError before
        changing anything when one of its experiments is unknown.

        ``saved_experiment_id``: the experiment the session was saved with, when the caller
        put another gene in ``session.experiment`` (``--session FILE --gene X``; default: the
        session's own); only that gene (or a pinned threshold) gets the saved threshold back."""
        data = self.window.data
        if session.experiment is not None:
            data.experiment(session.experiment.id)
        if session.comparing and session.compare_with is not None:
            data.experiment(session.compare_with.id)
        self.waits.open(session, saved_experiment_id)
        self._unknown_said = False
        self._batch = True
        try:
            self.state.update_from(session)
        finally:
            self._batch = False
        self._display_changed()
        self._color_by_changed(self.state.display.color_by)
        self.sync_background()
        self.sync_genes()
        if self.window.outline_mesh is not None:
            self._on_outline()
        if self.window.atlas_loaded:
            self._on_atlas()

    def snapshot(self) -> ViewerState:
        """The state now, cursor and camera read from the views: an independent copy to save."""
        w = self.window
        self.state.cursor_um = tuple(float(v) for v in w.slices.cursor_um())
        if not self.waits.waits_for("camera"):
            pose = self._scene().camera_pose()
            cam = self.state.camera
            self._reading = True
            try:
                cam.preset = self._preset_of(pose)
                cam.position_um = tuple(float(v) for v in pose.position)
                cam.focal_point_um = tuple(float(v) for v in pose.focal_point)
                cam.view_up = tuple(float(v) for v in pose.view_up)
                cam.view_angle_deg = float(pose.view_angle)
                cam.projection = "parallel" if pose.parallel else "perspective"
                cam.parallel_scale_um = float(pose.parallel_scale) if pose.parallel else None
            finally:
                self._reading = False
        return self.state.copy()

    # ---- display: the controls write it, the views follow ---------------------------------

    @contextmanager
    def quiet(self):
        """The window updates the views itself while the state changes (one frame per gene)."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def read_controls(self) -> None:
        """The display controls' values (with the threshold rule and colour choice) into the
        state; the views then follow once (not once per field)."""
        values = self.window.controls.saved_values()
        d = self.state.display
        before = d.saved_values()
        self._quiet += 1
        try:
            for key in ("threshold", "size_scale", "opacity", "threshold_percentile"):
                setattr(d, key, float(values[key]))
            d.cmap = str(values["cmap"])
            d.color_by = str(values["color_by"])
            d.threshold_pinned = bool(values["threshold_pinned"])
        finally:
            self._quiet -= 1
        after = d.saved_values()
        if after != before:
            if after["color_by"] != before["color_by"]:
                self._color_by_changed(after["color_by"])
            if {k: v for k, v in after.items() if k != "color_by"} != {k: v for k, v in before.items()
                                                                        if k != "color_by"}:
                self._display_changed()

    def _display_changed(self, *_args) -> None:
        if self._quiet or self._batch:
            return
        w, d = self.window, self.state.display
        controls = w.controls
        if controls.saved_values() != d.saved_values():
            controls.set_energy_range(max(d.threshold, controls.threshold.maximum()))
            controls.set_values(**{k: v for k, v in d.saved_values().items() if k != "color_by"})
            controls.histogram.set_threshold(d.threshold)
        w.show_display(d.render_values())

    def _color_by_changed(self, key, *_args) -> None:
        if self._quiet or self._batch:
            return
        w = self.window
        if w.controls.current_color_by() != key:
            w.controls.set_values(color_by=key)
        w.scene.set_color_by(key)

    # ---- genes ------------------------------------------------------------------------------

    def _unless_batch(self, sync) -> None:
        if not self._batch:
            sync()

    def _report(self, change) -> None:
        """The window reports what it shows (a gene loaded, compare mode): the state changes,
        nothing is to be followed."""
        batch, self._batch = self._batch, True
        try:
            change()
        finally:
            self._batch = batch

    def sync_genes(self) -> None:
        """Load and show the genes the state names, when they are not what is on show."""
        w, st = self.window, self.state
        if st.experiment is not None:
            grid = w.grid
            if grid is not None and grid.id == st.experiment.id and not w.grid_channel.busy:
                if self.waits.waits_for("grid") or self.waits.waits_for("threshold"):
                    self._on_grid(grid)  # already on show: its threshold now
            else:
                w.load_experiment(w.data.experiment(st.experiment.id))
        if st.comparing and st.compare_with is not None:
            b = w.compare_grid
            if b is None or b.id != st.compare_with.id or not w.compare.is_comparing:
                w.compare.compare_with(w.data.experiment(st.compare_with.id))
            else:
                self.waits.compare_loaded(b.id)  # already on show
        elif not st.comparing and w.compare.is_comparing:
            w.compare.set_compare_mode(False)

    def _on_grid(self, grid) -> None:
        exact = self.waits.grid_loaded(grid.id)
        self._report(lambda: setattr(self.state, "experiment", ExperimentRef.of(grid.experiment)))
        if exact is None:
            with self.quiet():  # the window showed the gene and its threshold (by the rule) already
                self.read_controls()
        else:  # the session's own gene: its threshold as saved (the window gave it the rule's)
            with self.quiet():
                self.state.display.threshold = float(exact)
            self._display_changed()  # the controls and views, once (the state may have held it already)

    def _on_compare_ready(self, a, b) -> None:
        st = self.state

        def report() -> None:
            st.experiment = ExperimentRef.of(a.experiment)
            st.compare_with = ExperimentRef.of(b.experiment)
            st.comparing = True

        self._report(report)
        self.waits.compare_loaded(b.id)

    def _on_failed(self, _message: str) -> None:
        """A gene could not be loaded: the state names again what is on show."""
        self.waits.failed()
        w, st = self.window, self.state
        self._batch = True
        try:
            st.experiment = None if w.grid is None else ExperimentRef.of(w.grid.experiment)
            st.comparing = bool(w.compare.is_comparing)
            if not w.compare.is_comparing and (w.compare_grid is None or st.compare_with is None
                                       or st.compare_with.id != w.compare_grid.id):
                st.compare_with = None if w.compare_grid is None else ExperimentRef.of(w.compare_grid.experiment)
        finally:
            self._batch = False

    # ---- cursor, structures, background ----------------------------------------------------

    def sync_cursor(self) -> None:
        w = self.window
        um = np.asarray(self.state.cursor_um, dtype=float)
        if np.allclose(w.slices.cursor_um(), um):
            self.waits.done("cursor")
        elif not w.atlas_loaded:
            self.waits.todo["cursor"] = True  # the panes cut through it once the atlas is in
        else:
            self.waits.done("cursor")
            w.set_cursor_um(um, select=False)

    def sync_selection(self) -> None:
        w, st = self.window, self.state
        onto = w.ontology
        if onto is None:
            if st.selected_structure is not None or st.visible_structures:
                self.waits.todo["selection"] = True
            return
        self.waits.done("selection")
        wanted = set(st.visible_structures)
        unknown = [sid for sid in (*wanted, st.selected_structure) if sid is not None and sid not in onto]
        for sid in sorted(wanted - w.tree_panel.visible_ids()):
            if sid in onto:
                w.tree_panel.set_visible(sid, True)
        for sid in sorted(w.tree_panel.visible_ids() - wanted):
            w.tree_panel.set_visible(sid, False)
        selected = st.selected_structure if st.selected_structure is not None and st.selected_structure in onto \
            else None
        if w.tree_panel.selected_id() != selected:
            w.surfaces.select_structure(selected)
        if unknown and not self._unknown_said:
            self._unknown_said = True
            w.show_status("The session names structures this atlas does not have: "
                          + ", ".join(str(s) for s in unknown) + "; they are left out.")

    def _on_visibility(self, structure_id: int, visible: bool) -> None:
        ids = [i for i in self.state.visible_structures if i != structure_id]
        if visible:
            ids.append(int(structure_id))
        self._batch = True  # the tree changed it: nothing to follow
        try:
            self.state.visible_structures = tuple(sorted(ids))
        finally:
            self._batch = False

    def sync_background(self) -> None:
        w = self.window
        if self.state.slice_background != w.settings.background:
            w.set_slice_background(self.state.slice_background)

    def _on_atlas(self) -> None:
        if self.waits.waits_for("cursor"):
            self.sync_cursor()
        if self.waits.waits_for("selection"):
            self.sync_selection()

    # ---- camera --------------------------------------------------------------------------

    def _scene(self):
        w = self.window
        return w.compare_view.scene_a if w.compare.is_comparing else w.scene

    def _camera_changed(self, *_args) -> None:
        if self._reading:
            return
        self.waits.todo["camera"] = True
        if self.window.outline_mesh is not None:
            self._on_outline()

    def _preset_of(self, pose: CameraPose) -> str | None:
        if self._preset_pose is None:
            return None
        name, given = self._preset_pose
        close = (np.linalg.norm(np.subtract(pose.position, given.position)) <= POSE_TOLERANCE_UM
                 and np.linalg.norm(np.subtract(pose.focal_point, given.focal_point)) <= POSE_TOLERANCE_UM
                 and np.allclose(pose.view_up, given.view_up, atol=1e-3))
        return name if close else None

    def preset_applied(self, name: str) -> None:
        """The window applied camera preset ``name``: remember its pose."""
        self._preset_pose = (name, self._scene().camera_pose())
        self._reading = True
        try:
            self.state.camera.preset = name
        finally:
            self._reading = False

    def _on_outline(self) -> None:
        w = self.window
        if w.closing:  # the outline arrived after the window closed (a
            return  # screenshot run ended by Ctrl-C): its scene is gone, nothing to pose
        if not self.waits.done("camera"):
            if self._preset_pose is None:  # the window's first fit of the brain: the oblique preset
                self._preset_pose = ("oblique", self._scene().camera_pose())
            return
        camera = self.state.camera
        if camera.preset is not None:
            w.camera_preset(camera.preset)
        elif camera.position_um is not None:
            pose = CameraPose(tuple(camera.position_um), tuple(camera.focal_point_um), tuple(camera.view_up),
                              camera.view_angle_deg, parallel=camera.projection == "parallel",
                              parallel_scale=camera.parallel_scale_um or 0.0)
            for scene in (w.compare_view.scenes if w.compare.is_comparing else [w.scene]):
                scene.set_camera_pose(pose)
            self._preset_pose = None

    # ---- the compare view follows the state too -------------------------------------------

    def attach_compare_view(self, view) -> None:
        """Make ``view`` (a :class:`~allen_viewer.gui.compare_view.CompareView`) show the
        state's display settings, slice background, cursor and selected structure, now and
        whenever they change."""
        from allen_viewer.gui.binding import follow
        from allen_viewer.gui.compare_state import bind_compare_options

        st = self.state

        def display(*_args) -> None:
            view.set_display(**st.display.render_values())

        def cursor(um, *_args) -> None:
            if not np.allclose(view.slices.cursor_um(), um):
                view.set_cursor_um(np.asarray(um, dtype=float))

        def structure(sid, *_args) -> None:
            onto = self.window.ontology
            view.set_structure(onto.by_id(sid) if (sid is not None and onto is not None and sid in onto) else None)

        follow(st.display, ("threshold", "size_scale", "cmap", "opacity"), display, view)
        follow(st, "slice_background", lambda which, *_: view.slices.set_background(which), view, initial=True)
        display()
        bind_compare_options(view, st)  # scale, difference/ratio, raw/rank/z, |v| cut (issue 21)
        follow(st, "cursor_um", cursor, view, initial=True)
        follow(st, "selected_structure", structure, view, initial=True)


def open_session_file(window, path) -> bool:
    """Read a session (or an export sidecar with one) and show it; errors go to the banner."""
    from allen_viewer.export.provenance import read_session_source

    try:
        session = read_session_source(path)  # a session, a sidecar, or an image (its text, then its sidecar)
        window.session.open(session)
    except AllenViewerError as exc:
        window.show_error(f"Could not open the session: {exc}")
        return False
    if window.banner.kind == "error" and window.banner.text.startswith("Could not open the session"):
        window.banner.hide()  # the failure it reported is over: this open worked
    window.show_status(f"Opened the session {path}.")
    return True


def save_session_file(window, path) -> bool:
    """Write the window's state as a session file; errors go to the banner."""
    from allen_viewer.state import write_session

    try:
        write_session(path, window.session.snapshot())
    except AllenViewerError as exc:
        window.show_error(str(exc))
        return False
    window.show_status(f"Session saved to {path}.")
    return True
