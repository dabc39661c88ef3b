"""File > Export: the core's exports, from the window, through the same functions as the CLI.

=================================  =============================================================
menu entry                         core function (same as the command)
=================================  =============================================================
Voxels (CSV)…                      :func:`allen_viewer.export.tables.export_voxels`
                                   (``allen-viewer export voxels``)
Structure means (CSV)…             :func:`~allen_viewer.export.tables.export_structures`
                                   (``export structures``)
Volume (NRRD / MetaImage)…         :func:`~allen_viewer.export.volume.export_volume`
                                   (``export volume``)
Comparison table (CSV)…            :func:`~allen_viewer.export.tables.export_comparison`
                                   (``allen-viewer compare``; in compare mode)
Image of the 3-D view…             :func:`allen_viewer.export.image.render_scene` +
                                   :func:`~allen_viewer.export.image.write_png`
                                   (``export image``): off screen, at a chosen size (larger than
                                   the screen too), from the camera on screen or a preset,
                                   optionally with a transparent background
Movie of the 3-D view…             :func:`allen_viewer.export.movie.export_movie`
                                   (``export movie``): a turntable, off screen, MP4 or GIF
                                   (:mod:`allen_viewer.gui.movie_export`)
Region map (SVG/PDF/PNG)…          :func:`allen_viewer.export.region_map.export_region_map`
                                   (``export region-map``; :mod:`~allen_viewer.gui.section_figure_export`)
Image of the whole window…         the window grabbed as on screen, then ``write_png``
Image of a slice pane ▸            one pane (coronal, sagittal, horizontal) as on screen
Copy 3-D view / window             to the clipboard (no file)
=================================  =============================================================

Everything exports the gene on show (gene A in compare mode; window and slice images of
the comparison record both experiments).  Every file gets its ``FILE.EXT.json`` provenance
sidecar and is written atomically, so a failed export leaves no half-written file.  Image
sidecars embed the session that drew them (``"session"``, :mod:`allen_viewer.state`), so
*File > Open session…* or ``allen-viewer --session FILE.png`` reopens the figure.  The
display settings and compare mode are read from the window's state
(:attr:`ExportActions.state`), not from its widgets; the grids, the atlas and the outline
from :attr:`ExportActions.loaded` (:class:`~allen_viewer.loaded_data.LoadedData`); the
views on show, the session snapshot and the status messages through
:class:`ExportViews`, a handful of callables the window gives -- the exports never
reach into the window.

Overwriting is never silent: the save dialog's own confirmation is turned off and
:meth:`ExportActions.confirm_overwrite` asks instead, naming every file of the export that
exists (the data files, an ``.mhd``'s ``.raw``, ``all``'s per-volume files, the sidecar
``FILE.EXT.json``: :func:`allen_viewer.io.guard.existing_output_files`; the same
question on every platform, and one the tests can answer).  A file at the sidecar's name
that allen_viewer did not write is never replaced: the export is refused in the banner
before anything is asked (:func:`allen_viewer.io.guard.check_output_path`), and the
files are written under the output's lock (:func:`allen_viewer.io.guard.claim_output`).  The CSV, volume and PNG
writing runs in the viewer's thread pool; rendering the 3-D view off screen stays in the
UI thread (OpenGL contexts belong to the thread that made them) under a busy cursor.
Failures show in the window's error banner.

Signals: ``exportFinished(list)`` (the paths written), ``exportFailed(str)`` (the message
shown in the banner).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QImage
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QSpinBox,
    QWidget,
)

from allen_viewer.errors import AllenViewerError
from allen_viewer.export.image import DEFAULT_IMAGE_SIZE, MAX_SIDE, MIN_SIDE, image_record, render_scene, write_png
from allen_viewer.io.guard import check_output_path, claim_output, existing_output_files
from allen_viewer.io.sidecars import sidecar_path
from allen_viewer.gui.workers import RequestChannel, shared_pool
from allen_viewer.gui.scene_figure import figure_option_widgets
from allen_viewer.render.cuts import FigureOptions
from allen_viewer.render.layers import color_channel

log = logging.getLogger(__name__)

VIEW_CHOICES = (("As on screen (current camera)", None), ("Oblique", "oblique"), ("Dorsal", "dorsal"),
                ("Lateral", "lateral"), ("Anterior", "anterior"))


def qimage_to_array(image: QImage, alpha: bool = False) -> np.ndarray:
    """A QImage as uint8 (height, width, 3) RGB, or RGBA with ``alpha``; row 0 at the top."""
    fmt = QImage.Format.Format_RGBA8888 if alpha else QImage.Format.Format_RGB888
    img = image.convertToFormat(fmt)
    channels = 4 if alpha else 3
    ptr = img.constBits()
    arr = np.frombuffer(ptr, np.uint8, img.sizeInBytes()).reshape(img.height(), img.bytesPerLine())
    return arr[:, :img.width() * channels].reshape(img.height(), img.width(), channels).copy()


def size_boxes(size, max_side: int) -> tuple[QSpinBox, QSpinBox, QHBoxLayout]:
    """A width and a height box (pixels, :data:`MIN_SIDE` to ``max_side``) set to ``size``
    (width, height), and the row that holds them: the export dialogs' *Size*."""
    width_box, height_box = QSpinBox(), QSpinBox()
    for box, value in ((width_box, size[0]), (height_box, size[1])):
        box.setRange(MIN_SIDE, max_side)
        box.setSuffix(" px")
        box.setValue(int(value))
    row = QHBoxLayout()
    row.addWidget(width_box)
    row.addWidget(QLabel("×"))
    row.addWidget(height_box)
    return width_box, height_box, row


class ImageExportDialog(QDialog):
    """Size (pixels), camera and background of an off-screen image of the 3-D view."""

    def __init__(self, parent: QWidget | None = None, size=DEFAULT_IMAGE_SIZE, clip: str = "none",
                 planes: bool = False):
        super().__init__(parent)
        self.setWindowTitle("Image of the 3-D view")
        self.setObjectName("imageExportDialog")
        self.width_box, self.height_box, size_row = size_boxes(size, MAX_SIDE)
        self.view_box = QComboBox()
        for text, value in VIEW_CHOICES:
            self.view_box.addItem(text, value)
        self.transparent_box = QCheckBox("Transparent background (dark text, for light pages)")
        form = QFormLayout(self)
        form.addRow("Size", size_row)
        form.addRow("Camera", self.view_box)
        form.addRow("", self.transparent_box)
        self.clip_box, self.planes_box = figure_option_widgets(clip, planes)
        form.addRow("Cut away", self.clip_box)
        form.addRow("", self.planes_box)
        form.addRow(QLabel("Rendered off screen: any size works, larger than the screen too."))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict:
        """``{"size": (w, h), "view": preset name or None (current camera), "transparent": bool,
        "clip": a cut-away name, "planes": bool}``."""
        return {"size": (self.width_box.value(), self.height_box.value()), "view": self.view_box.currentData(),
                "transparent": self.transparent_box.isChecked(), "clip": self.clip_box.currentData(),
                "planes": self.planes_box.isChecked()}


@dataclass
class ExportViews:
    """What the exports need of the views on show, as callables (the window makes one).

    ``scene()``: the 3-D :class:`~allen_viewer.gui.scene3d.ExpressionScene` whose camera an
    image takes (compare mode: gene A's); ``slices()``: the slice panes on show
    (:class:`~allen_viewer.gui.slice_view.SlicePanes`, or the compare view's);
    ``grab_3d()``: the 3-D view(s) as on screen, rendered first (a ``QImage``);
    ``grab_window()``: the whole window (a ``QPixmap``); ``snapshot()``: the session now
    (:class:`~allen_viewer.state.ViewerState`, cursor and camera read from the views);
    ``show_status(text)``, ``show_error(text)``: the window's messages;
    ``figure_slices()``: the single-gene slice panes whose slices and slice layers an image's
    cut-away and slice planes follow; ``scene_figure()``: the 3-D view's
    :class:`~allen_viewer.gui.scene_figure.SceneFigureActions` (its cut and planes are the
    image dialog's defaults), or None."""

    scene: Callable[[], object]
    slices: Callable[[], object]
    grab_3d: Callable[[], QImage]
    grab_window: Callable[[], object]
    snapshot: Callable[[], object]
    show_status: Callable[[str], None]
    show_error: Callable[[str], None]
    figure_slices: Callable[[], object] = lambda: None
    scene_figure: Callable[[], object] = lambda: None


class ExportActions(QObject):
    """The File > Export menu (see the module docstring).

    ``state``: what is on show (:class:`~allen_viewer.state.ViewerState`: display settings,
    compare mode); ``loaded``: the loaded grids, atlas and outline
    (:class:`~allen_viewer.loaded_data.LoadedData`); ``views``: :class:`ExportViews`;
    ``parent``: the widget the dialogs and the menu belong to (:attr:`window`; nothing is
    read from it)."""

    exportFinished = Signal(object)
    exportFailed = Signal(str)

    def __init__(self, state, loaded, views: ExportViews, parent: QWidget | None = None):
        super().__init__(parent)
        window = parent
        self.window = parent
        """The dialogs' parent widget only."""
        self.state = state
        self.loaded = loaded
        self.views = views
        self.last_dir = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
                             or Path.home())
        self.image_size = DEFAULT_IMAGE_SIZE
        self._jobs: list[RequestChannel] = []
        self.menu = QMenu("&Export", window)
        self.menu.setObjectName("exportMenu")
        self.actions: dict[str, QAction] = {}

        def add(key: str, text: str, slot, tip: str = "", menu: QMenu | None = None) -> QAction:
            act = QAction(text, window)
            act.setObjectName(f"export_{key}")
            act.setToolTip(tip)
            act.setStatusTip(tip)
            act.triggered.connect(lambda _=False: slot())
            (menu or self.menu).addAction(act)
            self.actions[key] = act
            return act

        add("voxels", "&Voxels (CSV)…", self.export_voxels, "One row per grid voxel with data")
        add("structures", "&Structure means (CSV)…", self.export_structures,
            "One row per structure (means pool its descendants)")
        add("volume", "Vo&lume (NRRD / MetaImage)…", self.export_volume, "The 200 µm grid as a 3-D image file")
        add("comparison", "&Comparison table (CSV)…", self.export_comparison,
            "Per-structure means, differences and r of the two genes compared")
        self.menu.addSeparator()
        add("image_3d", "&Image of the 3-D view…", self.export_scene_image,
            "Rendered off screen at a size you choose, optionally with a transparent background")
        from allen_viewer.gui.movie_export import MovieExport  # imports this module's VIEW_CHOICES

        self.movie = MovieExport(self)
        add("movie", "&Movie of the 3-D view…", self.movie.run,
            "The 3-D view turning once about the brain's dorsal-ventral axis, as an MP4 or GIF")
        from allen_viewer.gui.section_figure_export import SectionFigureExport

        self.figures = SectionFigureExport(self)  # vector slice figures and region maps
        add("region_map", "Region &map (SVG/PDF/PNG)…", self.figures.export_region_map,
            "Each structure on the section through the cursor filled with the gene's mean, per hemisphere")
        add("image_window", "Image of the &whole window…", self.export_window_image)
        panes = self.menu.addMenu("Image of a s&lice pane")
        for name in ("coronal", "sagittal", "horizontal"):
            add(f"image_{name}", f"{name.capitalize()} pane…", lambda n=name: self.export_pane_image(n), menu=panes)
        self.menu.addSeparator()
        add("copy_3d", "C&opy the 3-D view to the clipboard", self.copy_scene)
        add("copy_window", "Copy the window to the clip&board", self.copy_window)
        self.menu.aboutToShow.connect(self.update_enabled)

    # ---- state ----------------------------------------------------------------------------

    def channels(self) -> list[RequestChannel]:
        """The background exports still running."""
        return list(self._jobs)

    def update_enabled(self) -> None:
        has_grid = self.loaded.grid is not None
        for key, act in self.actions.items():
            act.setEnabled(has_grid if key not in ("copy_window", "image_window") else True)
        self.actions["comparison"].setEnabled(self.state.comparing and self.loaded.space is not None)
        for key in ("voxels", "structures", "region_map"):
            self.actions[key].setEnabled(has_grid and self.loaded.space is not None)

    def _grid(self):
        grid = self.loaded.grid
        if grid is None:
            raise AllenViewerError("No gene is shown; open one first.")
        return grid

    def _space(self):
        if self.loaded.space is None:
            raise AllenViewerError("The atlas is still loading; try again in a moment.")
        return self.loaded.space

    def _grids_on_show(self) -> list:
        return self.loaded.grids_on_show(self.state.comparing)

    # ---- asking (tests replace these) -------------------------------------------------------

    def ask_save_path(self, caption: str, suggested: str, file_filter: str) -> Path | None:
        """A save dialog (its own overwrite question off: :meth:`confirm_overwrite` asks)."""
        path, _ = QFileDialog.getSaveFileName(self.window, caption, str(self.last_dir / suggested), file_filter,
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        return Path(path) if path else None

    def confirm_overwrite(self, existing: list[Path]) -> bool:
        """Ask before replacing files; True to go on."""
        names = "\n".join(str(p) for p in existing)
        answer = QMessageBox.question(
            self.window, "Replace existing files?",
            f"These files exist and will be replaced:\n\n{names}\n\nReplace them?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def ask_image_options(self) -> dict | None:
        """:class:`ImageExportDialog` values, or None when cancelled."""
        figure = self.views.scene_figure()  # the 3-D view's cut-away and planes (None: none)
        dialog = ImageExportDialog(self.window, self.image_size, *(() if figure is None else
                                                                   (figure.cut, figure.planes_shown)))
        if not dialog.exec():
            return None
        return dialog.values()

    def ask_volume(self, available: list[str]) -> str | None:
        choices = list(available) + (["all"] if len(available) > 1 else [])
        item, ok = QInputDialog.getItem(self.window, "Volume export", "Volume:", choices, 0, False)
        return item if ok and item else None

    def _target(self, caption: str, suggested: str, file_filter: str, suffixes: tuple[str, ...],
                files_of=None) -> Path | None:
        """Ask for a path, add the suffix when missing, confirm replacing every file of the
        export that exists (``files_of(path)``: its data files when not just ``path``); a
        foreign file at the sidecar's name, a folder or a special file: AllenViewerError."""
        path = self.ask_save_path(caption, suggested, file_filter)
        if path is None:
            return None
        if path.suffix.lower() not in suffixes:
            path = path.with_name(path.name + suffixes[0])
        files = None if files_of is None else files_of(path)
        try:  # what no answer may replace: a foreign file at the sidecar's name, a folder, a FIFO, no folder
            check_output_path(path, True, files=files)
        except AllenViewerError as exc:
            raise AllenViewerError(f"Could not write {path}: {exc}") from None
        existing = existing_output_files(path, files)
        if existing and not self.confirm_overwrite(existing):
            self.views.show_status("Export cancelled; nothing was replaced.")
            return None
        self.last_dir = path.parent
        return path

    # ---- running --------------------------------------------------------------------------

    def _run(self, label: str, job, path: Path | None = None, files=None) -> RequestChannel:
        """Run ``job()`` (returns the list of paths written) in the thread pool; with ``path``,
        under :func:`~allen_viewer.io.guard.claim_output` (locked, checked again)."""
        channel = RequestChannel(f"export-{label}", shared_pool(), self)
        self._jobs.append(channel)

        def done(result, _tag) -> None:
            self._forget(channel)
            files = [Path(p) for p in result]
            self.views.show_status(f"Exported {label}: " + ", ".join(str(p) for p in files))
            self.exportFinished.emit(files)

        def failed(message, _exc, _tag) -> None:
            self._forget(channel)
            self._fail(f"Export of {label} failed: {message}")

        def run(progress, cancel):
            try:
                if path is None:
                    return job()
                with claim_output(path, True, files=files):  # the user has agreed to replace what exists
                    return job()
            except OSError as exc:  # a full disk, a folder that is a file, no permission
                where = f" {exc.filename}" if exc.filename else ""
                raise AllenViewerError(f"could not write{where} ({exc.strerror or exc}).") from None

        channel.resultReady.connect(done)
        channel.failed.connect(failed)
        self.views.show_status(f"Exporting {label}…")
        channel.submit(run, tag=label)
        return channel

    def _forget(self, channel: RequestChannel) -> None:
        if channel in self._jobs:
            self._jobs.remove(channel)
        channel.deleteLater()

    def _fail(self, message: str) -> None:
        self.views.show_error(message)
        self.exportFailed.emit(message)

    def _guarded(self, fn) -> None:
        try:
            fn()
        except AllenViewerError as exc:
            self._fail(str(exc))

    # ---- data exports ---------------------------------------------------------------------

    def export_voxels(self) -> None:
        def go():
            from allen_viewer.export.tables import export_voxels

            grid, space = self._grid(), self._space()
            path = self._target("Export voxels", f"{grid.gene}_{grid.id}_voxels.csv", "CSV files (*.csv)", (".csv",))
            if path is not None:
                self._run(f"{grid.gene} voxels",
                          lambda: (export_voxels(grid, space, path), [path, sidecar_path(path)])[1], path)
        self._guarded(go)

    def export_structures(self) -> None:
        def go():
            from allen_viewer.export.tables import export_structures

            grid, space = self._grid(), self._space()
            path = self._target("Export structure means", f"{grid.gene}_{grid.id}_structures.csv",
                                "CSV files (*.csv)", (".csv",))
            if path is not None:
                self._run(f"{grid.gene} structure means",
                          lambda: (export_structures(grid, space, path), [path, sidecar_path(path)])[1], path)
        self._guarded(go)

    def export_volume(self) -> None:
        def go():
            from allen_viewer.export.volume import export_volume, volume_files

            grid = self._grid()
            volume = self.ask_volume(grid.available)
            if volume is None:
                return
            path = self._target("Export volume", f"{grid.gene}_{grid.id}_{volume}.nrrd",
                                "NRRD (*.nrrd);;MetaImage (*.mhd)", (".nrrd", ".mhd"),
                                files_of=lambda p: volume_files(p, volume, grid.available))
            if path is not None:
                self._run(f"{grid.gene} {volume} volume",
                          lambda: [*export_volume(grid, path, volume=volume), sidecar_path(path)],
                          path, volume_files(path, volume, grid.available))
        self._guarded(go)

    def export_comparison(self) -> None:
        def go():
            from allen_viewer.export.tables import export_comparison

            b = self.loaded.compare_grid
            if not self.state.comparing or b is None:
                raise AllenViewerError("The comparison table needs compare mode (View > Compare with another gene).")
            a, space = self._grid(), self._space()
            path = self._target("Export the comparison", f"{a.gene}_vs_{b.gene}.csv", "CSV files (*.csv)", (".csv",))
            if path is not None:
                self._run(f"{a.gene} vs {b.gene}",
                          lambda: (export_comparison(a, b, space, path), [path, sidecar_path(path)])[1], path)
        self._guarded(go)

    # ---- images ---------------------------------------------------------------------------

    def scene_for_pose(self):
        return self.views.scene()

    def figure_options(self, clip: str = "none", planes: bool = False) -> FigureOptions:
        """A cut-away and the slice planes for an off-screen image, at the slice panes'
        current slices and drawn from the panes' own slice layers (so they look as shown)."""
        slices = self.views.figure_slices()
        return FigureOptions(clip=clip, planes=planes, slices_um=tuple(float(v) for v in slices.cursor_um()),
                             source=slices.layers if planes else None)

    def render_scene_pixels(self, size, view: str | None, transparent: bool, clip: str = "none",
                            planes: bool = False) -> np.ndarray:
        """The gene on show rendered off screen as the 3-D view shows it (display settings,
        *Colour by*, *Show voxels outside the brain*, outline; ``view`` None: the camera on
        screen) at ``size`` (width, height) pixels; ``clip``/``planes``: :meth:`figure_options`."""
        grid = self._grid()
        d = self.state.display
        pose = self.scene_for_pose().camera_pose() if view is None else None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            return render_scene(grid, self.loaded.outline_mesh, size, view or "oblique", pose, transparent,
                                d.render_values(), color_by=d.color_by, show_outside=d.show_outside_brain,
                                figure=self.figure_options(clip, planes), session_layers=self.session_layers())
        finally:
            QApplication.restoreOverrideCursor()

    def session_layers(self):
        """The structure surfaces (ticked and selected, in their colours and opacities) and the
        cursor that the 3-D view on show draws, for an off-screen image of it
        (:mod:`allen_viewer.render.session_scene`; the meshes the view already made are reused)."""
        from allen_viewer.render.session_scene import session_layers

        space = self.loaded.space
        if space is None:
            return None
        scene = self.scene_for_pose()
        layer = getattr(scene, "layers", {}).get("structures")
        meshes = {} if layer is None else {sid: mesh for sid, (mesh, _rgb) in layer.meshes.items()}
        return session_layers(self.views.snapshot(), space, expression_shown=True, meshes=meshes)

    def export_scene_image(self) -> None:
        def go():
            grid = self._grid()
            options = self.ask_image_options()
            if options is None:
                return
            self.image_size = tuple(options["size"])
            path = self._target("Save an image of the 3-D view", f"{grid.gene}_{grid.id}_3d.png",
                                "PNG images (*.png)", (".png",))
            if path is None:
                return
            self.views.show_status(f"Rendering {options['size'][0]} x {options['size'][1]} px…")
            pixels = self.render_scene_pixels(options["size"], options["view"], options["transparent"],
                                              options.get("clip", "none"), options.get("planes", False))
            pose = self.scene_for_pose().camera_pose()
            camera = ({"preset": options["view"]} if options["view"] else
                      {"as_on_screen": True, "position_um": list(pose.position),
                       "focal_point_um": list(pose.focal_point), "view_up": list(pose.view_up)})
            session = self.views.snapshot()
            session.cut_away, session.slice_planes = options.get("clip", "none"), bool(options.get("planes", False))
            if options["view"]:
                session.camera.preset, session.camera.position_um = options["view"], None
                session.camera.focal_point_um = session.camera.view_up = None
            d = self.state.display
            display = {**d.saved_values(),  # threshold and its rule
                       "colour": color_channel(grid, d.color_by),  # the channel drawn (auto: intensity, else energy)
                       "show_outside_brain": d.show_outside_brain}
            layers = self.session_layers()
            record = image_record(grid, "3-D scene (expression spheres, brain outline, structure surfaces, cursor)",
                                  pixels, camera=camera, **({} if layers is None else {"scene_layers": layers.describe()}),
                                  display=display,
                                  coordinates="CCFv3 micrometres, x = AP (posterior), y = DV (ventral), z = ML (right)",
                                  session=session.to_dict(),
                                  figure=self.figure_options(options.get("clip", "none"),
                                                             options.get("planes", False)).describe())
            self._run(f"{grid.gene} 3-D image", lambda: write_png(path, pixels, record), path)
        self._guarded(go)

    def export_window_image(self) -> None:
        def go():
            grids = self._grids_on_show()
            name = "_vs_".join(g.gene for g in grids) or "allen-viewer"
            path = self._target("Save an image of the window", f"{name}_window.png", "PNG images (*.png)", (".png",))
            if path is None:
                return
            pixels = qimage_to_array(self.views.grab_window().toImage())
            record = image_record(grids, "whole window" + (" (compare mode)" if self.state.comparing else ""),
                                  pixels, session=self.views.snapshot().to_dict())
            self._run("window image", lambda: write_png(path, pixels, record), path)
        self._guarded(go)

    def pane_image(self, plane: str) -> QImage:
        """One slice pane's image area as on screen (compare mode: the two-gene panes)."""
        return self.views.slices().panes[plane].canvas.grab().toImage()

    def export_pane_image(self, plane: str) -> None:
        def go():
            grids = self._grids_on_show()
            grid = self._grid()
            name = "_vs_".join(g.gene for g in grids)
            path = self._target(f"Save an image of the {plane} pane", f"{name}_{grid.id}_{plane}.png",
                                "PNG images (*.png)", (".png",))
            if path is None:
                return
            pixels = qimage_to_array(self.pane_image(plane))
            pane = self.views.slices().panes[plane]
            record = image_record(grids, f"{plane} slice pane", pixels,
                                  slice={"plane": plane, "index_25um": pane.slice_index,
                                         "position_um": float(pane.slice_index * 25.0)},
                                  session=self.views.snapshot().to_dict())
            self._run(f"{plane} pane image", lambda: write_png(path, pixels, record), path)
        self._guarded(go)

    def copy_scene(self) -> None:
        """The 3-D view(s) as on screen, to the clipboard."""
        image = self.views.grab_3d()
        QGuiApplication.clipboard().setImage(image)
        self.views.show_status(f"The 3-D view ({image.width()} x {image.height()} px) is on the clipboard.")

    def copy_window(self) -> None:
        image = self.views.grab_window().toImage()
        QGuiApplication.clipboard().setImage(image)
        self.views.show_status(f"The window ({image.width()} x {image.height()} px) is on the clipboard.")
