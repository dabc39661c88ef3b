"""File > Export > Movie…: a turntable of the 3-D view, through the same core function as
``allen-viewer export movie`` (:func:`allen_viewer.export.movie.export_movie`).

:class:`MovieExportDialog` asks the options the command has -- size, starting camera (the
camera on screen by default, or a preset), frames in the turn, frames per second -- and
the save dialog the format (``.mp4`` or ``.gif``).  The display settings, *Colour by*,
*Show voxels outside the brain* and the threshold rule come from the window's
:class:`~allen_viewer.state.ViewerState`; the sidecar embeds the window's session (the
starting camera in it), as the image export's does, so *File > Open session…* reopens
the first frame's view.

The frames are rendered in the UI thread (OpenGL contexts belong to the thread that made
them; the image export does the same) and handed to the encoder one by one (ffmpeg runs
as its own process); between frames a window-modal :class:`QProgressDialog` advances and
the event loop runs, so the window repaints and *Cancel* works.  A cancelled or failed
export leaves no file (the core writes a temporary file and renames it when complete).
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QProgressDialog,
    QSpinBox,
    QWidget,
)

from allen_viewer.errors import AllenViewerError, Cancelled
from allen_viewer.export.movie import (
    DEFAULT_FPS,
    DEFAULT_FRAMES,
    DEFAULT_MOVIE_SIZE,
    MAX_FPS,
    MAX_FRAMES,
    MAX_MOVIE_SIDE,
    MIN_FRAMES,
    export_movie,
    plan_movie,
)
from allen_viewer.gui.export_actions import VIEW_CHOICES, size_boxes
from allen_viewer.gui.scene_figure import figure_option_widgets


class MovieExportDialog(QDialog):
    """Size (pixels), starting camera, frames in the turn and frames per second of a turntable movie."""

    def __init__(self, parent: QWidget | None = None, values: dict | None = None):
        super().__init__(parent)
        values = {**default_movie_options(), **(values or {})}
        self.setWindowTitle("Movie of the 3-D view")
        self.setObjectName("movieExportDialog")
        self.width_box, self.height_box, size_row = size_boxes(values["size"], MAX_MOVIE_SIDE)
        self.view_box = QComboBox()
        for text, value in VIEW_CHOICES:
            self.view_box.addItem(text, value)
        self.view_box.setCurrentIndex(max(0, self.view_box.findData(values["view"])))
        self.frames_box = QSpinBox()
        self.frames_box.setRange(MIN_FRAMES, MAX_FRAMES)
        self.frames_box.setValue(int(values["frames"]))
        self.frames_box.setToolTip("Frames in the full turn (360 degrees)")
        self.fps_box = QDoubleSpinBox()
        self.fps_box.setRange(1.0, float(MAX_FPS))
        self.fps_box.setDecimals(1)
        self.fps_box.setSuffix(" fps")
        self.fps_box.setValue(float(values["fps"]))
        form = QFormLayout(self)
        form.addRow("Size", size_row)
        form.addRow("Start from", self.view_box)
        form.addRow("Frames in the turn", self.frames_box)
        form.addRow("Frame rate", self.fps_box)
        self.clip_box, self.planes_box = figure_option_widgets(values["clip"], values["planes"])
        form.addRow("Cut away", self.clip_box)
        form.addRow("", self.planes_box)
        note = QLabel("One full turn about the brain's dorsal-ventral axis, rendered off screen. MP4 (H.264) "
                      "rounds an odd width or height down to even; a GIF keeps the size and plays at most 50 fps.")
        note.setWordWrap(True)
        form.addRow(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict:
        """``{"size": (w, h), "view": preset name or None (the camera on screen), "frames": n, "fps": f,
        "clip": a cut-away name, "planes": bool}``."""
        return {"size": (self.width_box.value(), self.height_box.value()), "view": self.view_box.currentData(),
                "frames": self.frames_box.value(), "fps": self.fps_box.value(),
                "clip": self.clip_box.currentData(), "planes": self.planes_box.isChecked()}


def default_movie_options() -> dict:
    """The dialog's first answers: the command's defaults, starting from the camera on screen,
    no cut-away and no slice planes (the dialog then offers the 3-D view's own)."""
    return {"size": DEFAULT_MOVIE_SIZE, "view": None, "frames": DEFAULT_FRAMES, "fps": DEFAULT_FPS,
            "clip": "none", "planes": False}


class MovieExport(QObject):
    """*File > Export > Movie…* of an :class:`~allen_viewer.gui.export_actions.ExportActions`
    (its save dialog, overwrite question, banner and ``exportFinished`` signal)."""

    def __init__(self, actions):
        super().__init__(actions)
        self.actions = actions
        self.options = default_movie_options()
        self.progress_dialog: QProgressDialog | None = None

    # ---- asking (tests replace these) -------------------------------------------------------

    def ask_movie_options(self) -> dict | None:
        """:class:`MovieExportDialog` values, or None when cancelled."""
        figure = self.actions.views.scene_figure()  # the 3-D view's cut-away and planes (None: none)
        shown = {} if figure is None else {"clip": figure.cut, "planes": figure.planes_shown}
        dialog = MovieExportDialog(self.actions.window, {**self.options, **shown})
        if not dialog.exec():
            return None
        return dialog.values()

    # ---- running --------------------------------------------------------------------------

    def run(self) -> None:
        """Ask, render the turn frame by frame under a progress dialog, write movie and sidecar."""
        try:
            self._run()
        except Cancelled:
            self.actions.views.show_status("Movie export cancelled; nothing was written.")
        except AllenViewerError as exc:
            self.actions._fail(f"Export of the movie failed: {exc}")

    def _run(self) -> None:
        actions = self.actions
        window = actions.window  # the dialogs' parent only
        grid = actions._grid()
        options = self.ask_movie_options()
        if options is None:
            return
        self.options = dict(options)
        path = actions._target("Save a turntable movie of the 3-D view", f"{grid.gene}_{grid.id}_turntable.mp4",
                               "MP4 video (*.mp4);;GIF animation (*.gif)", (".mp4", ".gif"))
        if path is None:
            return
        plan = plan_movie(path, options["frames"], options["fps"], options["size"])
        view = options["view"]
        pose = actions.scene_for_pose().camera_pose() if view is None else None
        session = actions.views.snapshot()
        session.cut_away, session.slice_planes = options.get("clip", "none"), bool(options.get("planes", False))
        if view:  # the sidecar's session starts where the movie starts
            session.camera.preset, session.camera.position_um = view, None
            session.camera.focal_point_um = session.camera.view_up = None
        d = actions.state.display
        rule = (f"energy {d.threshold:g} (pinned in the viewer)" if d.threshold_pinned else
                f"{d.threshold_percentile:g}th percentile of the gene's in-brain energies (the viewer's rule)")
        dialog = self.progress_dialog = QProgressDialog(
            f"Rendering a {plan.size[0]} x {plan.size[1]} turntable of {grid.gene}…", "Cancel", 0, plan.frames,
            window)
        dialog.setObjectName("movieProgress")
        dialog.setWindowTitle("Movie of the 3-D view")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoReset(False)
        dialog.setValue(0)
        dialog.show()
        QApplication.processEvents()

        def progress(done: int, total: int) -> None:
            dialog.setValue(done)
            QApplication.processEvents()

        def cancel() -> bool:
            QApplication.processEvents()
            return dialog.wasCanceled()

        from allen_viewer.io.guard import claim_output

        try:
            with claim_output(path, True):  # locked and checked again; the user agreed to replace what exists
                result = export_movie(grid, path, outline=actions.loaded.outline_mesh, size=plan.requested,
                                      frames=plan.frames,
                                      fps=plan.fps, view=view or "oblique", pose=pose, display=d.render_values(),
                                      color_by=d.color_by, show_outside=d.show_outside_brain, threshold_rule=rule,
                                      session=session, progress=progress, cancel=cancel,
                                      scene_options={"figure": actions.figure_options(options.get("clip", "none"),
                                                                                      options.get("planes", False))})
        finally:
            dialog.close()
            dialog.deleteLater()
            self.progress_dialog = None
        rounded = " (odd sides rounded down to even for H.264)" if result["rounded"] else ""
        actions.views.show_status(f"Exported a {result['width']} x {result['height']}{rounded}, {result['frames']}-frame "
                           f"turntable of {grid.gene}: " + ", ".join(str(p) for p in result["files"]))
        actions.exportFinished.emit(list(result["files"]))
