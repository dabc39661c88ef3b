"""The window's :class:`~allen_viewer.state.ViewerState`: kept up to date, saved and reopened.

:class:`StateBinding` connects a :class:`~allen_viewer.gui.main_window.MainWindow` and its
``state``:

* **window -> state**, as things happen: the gene on show and the one compared with
  (``gridLoaded``, ``compareReady``, ``compareModeChanged``), the display controls, the
  selected and the visible structures, the slice background and the network state.  The
  cursor and the camera move continuously (drags, VTK's own interaction), so they are read
  from the views when a snapshot is taken (:meth:`snapshot`).
* **state -> window**, when a session is opened (:meth:`apply`): the display controls and
  the 3-D views, the gene(s), then -- each as soon as what it needs is loaded -- the
  threshold rule (a percentile needs the gene's energies), the camera (after the brain
  outline first fits the view), the cursor, the selection and the visible structures (after
  the atlas).  :attr:`pending` is true until all of it is applied, which is what
  ``--screenshot`` waits for.

Threshold rule: unless ``threshold_pinned``, each gene opened gets the
``threshold_percentile`` of its own in-brain energies as its threshold; a session's own
gene gets the session's threshold back exactly (the user may have moved the slider).

Camera: the state's preset stays set while the camera is where that preset put it; once
the user turns the view it is None and the pose (position, focal point, view-up, view
angle) is what a session reopens.
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject

from allen_viewer.errors import AllenViewerError
from allen_viewer.render.layers import CameraPose
from allen_viewer.state import SLICE_BACKGROUNDS, ExperimentRef, ViewerState

log = logging.getLogger(__name__)

POSE_TOLERANCE_UM = 1.0
"""A camera within this distance (µm, position and focal point) of the pose a preset gave
still counts as that preset."""


class StateBinding(QObject):
    """Keeps ``window.state`` current and opens sessions into the window (module docstring)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.state: ViewerState = window.state
        self._applying = False
        self._preset_pose: tuple[str, CameraPose] | None = None
        self._todo: dict[str, object] = {}
        """What of an opened session still waits: ``percentile``, ``camera``, ``cursor``,
        ``selection``, ``visible``, ``grid`` (the experiment id), ``compare``."""
        w = window
        w.gridLoaded.connect(self._on_grid)
        w.compareReady.connect(self._on_compare_ready)
        w.compareModeChanged.connect(lambda on: setattr(self.state, "comparing", bool(on)))
        w.networkChanged.connect(lambda s: setattr(self.state, "network", s))
        w.outlineReady.connect(self._on_outline)
        w.atlasReady.connect(self._on_atlas)
        w.loadFailed.connect(self._on_failed)
        w.controls.changed.connect(self._on_controls)
        w.outside_action.toggled.connect(lambda on: setattr(self.state.display, "show_outside_brain", bool(on)))
        w.tree_panel.visibilityChanged.connect(self._on_visibility)
        self.state.network = w.network
        self.state.slice_background = w.settings.background if w.settings.background in SLICE_BACKGROUNDS \
            else "annotation"
        self.state.cursor_um = tuple(float(v) for v in w.slices.cursor_um())
        self._read_controls()

    # ---- views that follow the state ------------------------------------------------------

    def attach_compare_view(self, view) -> None:
        """Make ``view`` (a :class:`~allen_viewer.gui.compare_view.CompareView`) show the
        state's display settings, slice background, cursor and selected structure, now and
        whenever they change."""
        st = self.state

        def display(*_args) -> None:
            view.set_display(**st.display.render_values())

        def background(which, *_args) -> None:
            view.slices.set_background(which)

        def cursor(um, *_args) -> None:
            if not np.allclose(view.slices.cursor_um(), um):
                view.set_cursor_um(np.asarray(um, dtype=float))

        def structure(sid, *_args) -> None:
            onto = self.window.ontology
            view.set_structure(onto.by_id(sid) if (sid is not None and onto is not None and sid in onto) else None)

        for name in ("threshold", "size_scale", "cmap", "opacity"):
            getattr(st.display.events, name).connect(display)
        st.events.slice_background.connect(background)
        st.events.cursor_um.connect(cursor)
        st.events.selected_structure.connect(structure)
        view.destroyed.connect(lambda *_: [sig.disconnect(fn, missing_ok=True) for sig, fn in (
            *[(getattr(st.display.events, n), display) for n in ("threshold", "size_scale", "cmap", "opacity")],
            (st.events.slice_background, background), (st.events.cursor_um, cursor),
            (st.events.selected_structure, structure))])
        display()
        background(st.slice_background)
        from allen_viewer.gui.compare_state import bind_compare_options

        bind_compare_options(view, st)  # scale, difference/ratio, raw/rank/z, |v| cut (issue 21)
        view.set_cursor_um(np.asarray(st.cursor_um, dtype=float))
        structure(st.selected_structure)

    # ---- window -> state ----------------------------------------------------------------

    def _read_controls(self) -> None:
        """The display controls' values (with the threshold rule and colour choice) into the state."""
        values = self.window.controls.saved_values()
        d = self.state.display
        for key in ("threshold", "size_scale", "opacity", "threshold_percentile"):
            setattr(d, key, float(values[key]))
        d.cmap = str(values["cmap"])
        d.color_by = str(values["color_by"])
        d.threshold_pinned = bool(values["threshold_pinned"])
        d.show_outside_brain = bool(self.window.outside_action.isChecked())

    def _on_controls(self) -> None:
        if not self._applying:
            self._read_controls()

    def _on_grid(self, grid) -> None:
        self.state.experiment = ExperimentRef.of(grid.experiment)
        if self._todo.get("grid") == grid.id:
            self._todo.pop("grid")
        exact = self._todo.pop("threshold", None)
        if exact is not None and exact[0] == grid.id:
            self._set_threshold(exact[1])  # the session's own gene: its threshold as saved
        else:
            self._read_controls()  # the window applied the threshold rule to the new gene

    def _on_compare_ready(self, a, b) -> None:
        self.state.experiment = ExperimentRef.of(a.experiment)
        self.state.compare_with = ExperimentRef.of(b.experiment)
        self.state.comparing = True
        if self._todo.get("compare") == b.id:
            self._todo.pop("compare")

    def _on_visibility(self, structure_id: int, visible: bool) -> None:
        ids = [i for i in self.state.visible_structures if i != structure_id]
        if visible:
            ids.append(int(structure_id))
        self.state.visible_structures = tuple(sorted(ids))

    def _on_failed(self, _message: str) -> None:
        # a gene of the session could not be loaded: nothing more will come for it
        for key in ("grid", "compare", "threshold"):
            self._todo.pop(key, None)

    def _scene(self):
        w = self.window
        return w.compare_view.scene_a if w.is_comparing else w.scene

    def snapshot(self) -> ViewerState:
        """The state now, cursor and camera read from the views: an independent copy to save."""
        w = self.window
        self.state.cursor_um = tuple(float(v) for v in w.slices.cursor_um())
        if "camera" not in self._todo:
            pose = self._scene().camera_pose()
            cam = self.state.camera
            cam.preset = self._preset_of(pose)
            cam.position_um = tuple(float(v) for v in pose.position)
            cam.focal_point_um = tuple(float(v) for v in pose.focal_point)
            cam.view_up = tuple(float(v) for v in pose.view_up)
            cam.view_angle_deg = float(pose.view_angle)
            cam.projection = "parallel" if pose.parallel else "perspective"
            cam.parallel_scale_um = float(pose.parallel_scale) if pose.parallel else None
        return self.state.copy()

    def _preset_of(self, pose: CameraPose) -> str | None:
        if self._preset_pose is None:
            return None
        name, given = self._preset_pose
        close = (np.linalg.norm(np.subtract(pose.position, given.position)) <= POSE_TOLERANCE_UM
                 and np.linalg.norm(np.subtract(pose.focal_point, given.focal_point)) <= POSE_TOLERANCE_UM
                 and np.allclose(pose.view_up, given.view_up, atol=1e-3))
        return name if close else None

    def camera_preset_applied(self, name: str) -> None:
        """Called after the window applied camera preset ``name``: remember its pose."""
        self._preset_pose = (name, self._scene().camera_pose())
        if not self._applying:
            self.state.camera.preset = name

    # ---- state -> window ----------------------------------------------------------------

    @property
    def pending(self) -> bool:
        """True while parts of an opened session wait for what they need."""
        return bool(self._todo)

    def apply(self, session: ViewerState, saved_experiment_id: int | None = None) -> None:
        """Show ``session`` in the window (see the module docstring).  Raises
        AllenViewerError before changing anything when its experiment is unknown.

        ``saved_experiment_id``: the experiment the session was saved with, when the caller
        put another gene in ``session.experiment`` (``--session FILE --gene X``; default: the
        session's own).  The saved energy threshold is restored exactly only for that
        experiment or when the threshold is pinned; another gene gets the threshold rule
        (its own ``threshold_percentile`` of its in-brain energies), since one gene's
        percentile energy is meaningless for another."""
        w = self.window
        data = w.data
        exp_a = exp_b = None
        if session.experiment is not None:
            exp_a = data.experiment(session.experiment.id)
        if session.comparing and session.compare_with is not None:
            exp_b = data.experiment(session.compare_with.id)
        self._todo = {}
        self._applying = True
        try:
            shown = (self.state.experiment, self.state.compare_with, self.state.comparing)
            self.state.update_from(session)
            # the genes and compare mode stay what is on show until they are loaded and shown
            self.state.experiment, self.state.compare_with, self.state.comparing = shown
            d = session.display
            values = {"threshold": d.threshold, "size_scale": d.size_scale, "cmap": d.cmap, "opacity": d.opacity,
                      "threshold_percentile": d.threshold_percentile, "threshold_pinned": d.threshold_pinned,
                      "color_by": d.color_by}
            w.controls.set_energy_range(max(d.threshold, w.controls.threshold.maximum()))
            w.controls.set_values(**values)
            w.controls.histogram.set_threshold(d.threshold)
            w._on_display_changed()
            w.scene.set_color_by(d.color_by)
            w.outside_action.setChecked(d.show_outside_brain)
        finally:
            self._applying = False
        self._todo["camera"] = session.camera
        self._todo["cursor"] = session.cursor_um
        self._todo["selection"] = (session.selected_structure, tuple(session.visible_structures))
        if session.slice_background != w.settings.background:
            w.set_slice_background(session.slice_background)
        if exp_a is not None:
            self._todo["grid"] = exp_a.id
            saved_id = exp_a.id if saved_experiment_id is None else int(saved_experiment_id)
            if d.threshold_pinned or saved_id == exp_a.id:
                self._todo["threshold"] = (exp_a.id, d.threshold)
            if w.grid is not None and w.grid.id == exp_a.id and not w.grid_channel.busy:
                self._on_grid(w.grid)  # already on show: its threshold rule applies now
            else:
                w.load_experiment(exp_a)
        if exp_b is not None:
            self._todo["compare"] = exp_b.id
            w.compare_with(exp_b)
        elif w.is_comparing:
            w.set_compare_mode(False)
        if w.outline_mesh is not None:
            self._on_outline()
        if w.atlas_loaded:
            self._on_atlas()

    def _set_threshold(self, value: float) -> None:
        w = self.window
        if abs(w.controls.values()["threshold"] - value) < 1e-9:
            self.state.display.threshold = float(value)
            return
        self._applying = True
        try:
            w.controls.set_energy_range(max(value, w.controls.threshold.maximum()))
            w.controls.set_values(threshold=value)
            w.controls.histogram.set_threshold(value)
            w._on_display_changed()
        finally:
            self._applying = False
        self.state.display.threshold = float(value)

    def _on_outline(self) -> None:
        if getattr(self.window, "_closing", False):  # the outline arrived after the window closed (a
            return  # screenshot run ended by Ctrl-C): its scene is gone, nothing to pose
        camera = self._todo.pop("camera", None)
        if camera is None:
            if self._preset_pose is None:  # the window's first fit of the brain: the oblique preset
                self._preset_pose = ("oblique", self._scene().camera_pose())
            return
        w = self.window
        if camera.preset is not None:
            w.camera_preset(camera.preset)
        else:
            pose = CameraPose(tuple(camera.position_um), tuple(camera.focal_point_um), tuple(camera.view_up),
                              camera.view_angle_deg, parallel=camera.projection == "parallel",
                              parallel_scale=camera.parallel_scale_um or 0.0)
            for scene in (w.compare_view.scenes if w.is_comparing else [w.scene]):
                scene.set_camera_pose(pose)
            self._preset_pose = None
            self.state.camera.preset = None

    def _on_atlas(self) -> None:
        w = self.window
        cursor = self._todo.pop("cursor", None)
        if cursor is not None:
            w.set_cursor_um(np.asarray(cursor, dtype=float), select=False)
        selection = self._todo.pop("selection", None)
        if selection is not None and w.ontology is not None:
            selected, visible = selection
            unknown = [sid for sid in (*visible, selected) if sid is not None and sid not in w.ontology]
            for sid in visible:
                if sid in w.ontology:
                    w.tree_panel.set_visible(sid, True)
            w.select_structure(selected if selected is not None and selected in w.ontology else None)
            if unknown:
                w.show_status("The session names structures this atlas does not have: "
                              + ", ".join(str(s) for s in unknown) + "; they are left out.")


def open_session_file(window, path) -> bool:
    """Read a session (or an export sidecar with one) and show it; errors go to the banner."""
    from allen_viewer.export.provenance import read_session_source

    try:
        session = read_session_source(path)  # a session, a sidecar, or an image (its text, then its sidecar)
        window.session_binding.apply(session)
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
        write_session(path, window.session_binding.snapshot())
    except AllenViewerError as exc:
        window.show_error(str(exc))
        return False
    window.show_status(f"Session saved to {path}.")
    return True
