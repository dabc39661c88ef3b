"""The main window: a shell that lays out the views and docks and connects them.

What it is made of is built in :mod:`allen_viewer.gui.window_parts` (views, docks, menus,
status bar).  The data path (docs/design.md "The data path"): widgets write
:attr:`MainWindow.state` (a Qt-free :class:`~allen_viewer.state.ViewerState`) and the views
follow it (:mod:`allen_viewer.gui.session_views`, :mod:`allen_viewer.gui.binding`); the
:class:`~allen_viewer.gui.loaders.Loaders` run every load in the background and write
:attr:`MainWindow.loaded` (a Qt-free :class:`~allen_viewer.loaded_data.LoadedData`), which
the window, the compare view and the docks follow.  The use cases (the threshold rule,
going to a structure, the point under the cursor, the texts) are Qt-free, in
:mod:`allen_viewer.model`.  The parts with a life of their own: compare mode
(:mod:`~allen_viewer.gui.compare_mode`), the network state and the Nissl volume
(:mod:`~allen_viewer.gui.first_run`), the selected structure and its surfaces
(:mod:`~allen_viewer.gui.structure_surfaces`), the File and Help dialogs
(:mod:`~allen_viewer.gui.window_dialogs`), the exports
(:class:`~allen_viewer.gui.export_actions.ExportActions`).

Start-up order: the gene index (fast, enables searching), then the ontology and the
reference space (tree and slices), then the brain outline mesh (3-D).  A gene asked for
before the index is ready is loaded as soon as it is.
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QMainWindow,
    QWidget,
)

from allen_viewer import config
from allen_viewer.atlas.ontology import Ontology  # noqa: F401 - documented type of MainWindow.ontology
from allen_viewer.atlas.reference_space import ReferenceSpace
from allen_viewer.data import AtlasData
from allen_viewer.errors import AllenViewerError
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.gui.compare_mode import CompareMode
from allen_viewer.gui.first_run import FirstRun
from allen_viewer.gui.loaders import Loaders
from allen_viewer.gui.settings import DEFAULT_GENE, ViewerSettings
from allen_viewer.gui.session_views import SessionViews
from allen_viewer.gui.structure_surfaces import StructureSurfaces
from allen_viewer.gui.status_bar import STATUS_WIDTH_FRACTION, MessageBanner, TaskIndicator, WindowStatusBar  # noqa: F401
from allen_viewer.gui.window_dialogs import WindowDialogs
from allen_viewer.gui.window_parts import (
    build_docks,
    build_menus,
    build_status_bar,
    build_views,
    fit_splitters,
    restore_saved_layout,
    splitters,
)
from allen_viewer.gui.workers import RequestChannel
from allen_viewer.loaded_data import LoadedData
from allen_viewer.render.layers import color_note
from allen_viewer.model.describe import describe_point
from allen_viewer.model.texts import grid_loaded_text, window_title
from allen_viewer.state import ViewerState
from allen_viewer.store.gene_index import GeneIndex
from allen_viewer.records import Experiment

log = logging.getLogger(__name__)

CURSOR_3D_DELAY_MS = 40
"""Slider and drag moves update the 3-D cursor at most this often (a frame costs ~30 ms)."""


class MainWindow(QMainWindow):
    """The viewer window (see the module docstring).

    Signals: ``indexReady()`` (searching works), ``atlasReady()`` (tree and slices filled),
    ``gridLoaded(ExpressionGrid)`` (a gene is shown), ``loadFailed(str)`` (a load failed;
    the message is also in the banner and the status bar), ``outlineReady()`` (the brain
    outline is in the 3-D view), ``surfaceReady(int)`` (a structure's surface is shown),
    ``compareReady(ExpressionGrid, ExpressionGrid)`` (compare mode shows A and B),
    ``compareModeChanged(bool)`` (entered / left compare mode), ``networkChanged(str)``
    (:attr:`network` changed).

    ``notices``: False for scripted runs (``--screenshot``): no first-run bars (the Nissl
    offer, the offline note) over the views; the status bar still says when it is offline.
    """

    indexReady = Signal()
    compareReady = Signal(object, object)
    compareModeChanged = Signal(bool)
    atlasReady = Signal()
    outlineReady = Signal()
    gridLoaded = Signal(object)
    loadFailed = Signal(str)
    surfaceReady = Signal(int)
    networkChanged = Signal(str)

    def __init__(self, data: AtlasData | None = None, settings: ViewerSettings | None = None,
                 parent: QWidget | None = None, restore_layout: bool = True, notices: bool = True):
        super().__init__(parent)
        self.notices = notices
        self.data = data or AtlasData()
        self.settings = settings or ViewerSettings()
        self.loaded = LoadedData()
        """What is loaded (:mod:`allen_viewer.loaded_data`), written by :attr:`loaders`."""
        self._pending_query: str | Experiment | None = None
        self.compare_view = None
        """The :class:`~allen_viewer.gui.compare_view.CompareView`, made on first use (three more render windows)."""
        self._outline_done = False
        self.closing = False
        """True once the window started closing (its scenes are being released)."""
        self.state = ViewerState()
        """What the window shows (:mod:`allen_viewer.state`): the widgets write it, the views follow it."""
        self.setObjectName("allenViewerMainWindow")
        self.refresh_title()

        self._build_channels()
        self.loaders.start_index()  # loads while the window is built (the first frame waits for it)
        build_views(self)
        self.compare = CompareMode(self)
        """Compare mode (:mod:`allen_viewer.gui.compare_mode`)."""
        self.first_run = FirstRun(self)
        """The network state, the first-run bars and the Nissl volume (:mod:`allen_viewer.gui.first_run`)."""
        self.dialogs = WindowDialogs(self)
        """File and Help dialogs (:mod:`allen_viewer.gui.window_dialogs`)."""
        build_docks(self)
        build_menus(self)
        build_status_bar(self)
        st = self.status
        self.hover_label, self.message_label, self.network_label = st.hover_label, st.message_label, st.network_label
        self.grid_indicator, self.nissl_indicator = st.grid_indicator, st.nissl_indicator
        self.surfaces = StructureSurfaces(self)
        """The selected structure and the surfaces shown (:mod:`allen_viewer.gui.structure_surfaces`)."""
        self._connect()
        restore_saved_layout(self, restore_layout)
        self.session = SessionViews(self)
        """The views follow :attr:`state`; ``session.open(state)`` opens a session (:mod:`allen_viewer.gui.session_views`)."""
        from allen_viewer.gui.structure_menu import install_structure_styles

        self.structure_styles = install_structure_styles(self)  # tree menu, surface colours, slice labels
        from allen_viewer.gui.shortcuts import install_shortcuts

        self.shortcuts = install_shortcuts(self)  # camera, threshold and slice keys; Help > Keyboard shortcuts
        self._start()

    # ------------------------------------------------------------------ construction

    def refresh_title(self) -> None:
        """The title names the gene(s) on show and says when the viewer is offline (compare
        mode and the network state ask for it when they change)."""
        comparing = getattr(self, "compare", None) is not None and self.compare.is_comparing
        self.setWindowTitle(window_title(self.grid, self.compare_grid if self.grid is not None else None, comparing,
                                         config.offline() or self.network in ("offline", "offline-mode")))

    def _build_channels(self) -> None:
        self.loaders = Loaders(self.data, self.loaded, self)
        """The channels and their jobs (:mod:`allen_viewer.gui.loaders`); they write :attr:`loaded`."""
        ld = self.loaders
        self.index_channel, self.atlas_channel, self.outline_channel = ld.index_channel, ld.atlas_channel, \
            ld.outline_channel
        self.grid_channel, self.nissl_channel, self.compare_channel = ld.grid_channel, ld.nissl_channel, \
            ld.compare_channel
        self.probe_channel = ld.probe_channel
        self.surface_channels: dict[int, RequestChannel] = ld.surface_channels

    # what is loaded: read from (and, for tests and scripts, written into) self.loaded

    index = property(lambda self: self.loaded.index, lambda self, v: setattr(self.loaded, "index", v))
    """The gene index (:class:`GeneIndex`; None until loaded)."""
    ontology = property(lambda self: self.loaded.ontology, lambda self, v: setattr(self.loaded, "ontology", v))
    """The structure ontology (:class:`Ontology`; None until the atlas is in)."""
    space = property(lambda self: self.loaded.space, lambda self, v: setattr(self.loaded, "space", v))
    """The reference space (:class:`ReferenceSpace`; None until the atlas is in)."""
    grid = property(lambda self: self.loaded.grid, lambda self, v: setattr(self.loaded, "grid", v))
    """Gene A, the gene on show (:class:`ExpressionGrid`; None before one is loaded)."""
    compare_grid = property(lambda self: self.loaded.compare_grid,
                            lambda self, v: setattr(self.loaded, "compare_grid", v))
    """Gene B of compare mode (None until one was loaded)."""
    outline_mesh = property(lambda self: self.loaded.outline_mesh,
                            lambda self, v: setattr(self.loaded, "outline_mesh", v))
    """The brain outline mesh (CCF µm; None until made)."""

    @property
    def network(self) -> str:
        """``unknown`` (probing), ``online``, ``offline`` (found) or ``offline-mode`` (asked
        for): ``state.network``."""
        return self.state.network

    @property
    def _grid_where(self) -> str:
        return self.loaders.grid_where

    def _connect(self) -> None:
        # what the loaders load (self.loaded's events) and how they fail (their channels)
        loaded = self.loaded.events
        loaded.index.connect(self._on_index)
        loaded.space.connect(self._on_atlas)
        loaded.outline_mesh.connect(self._on_outline)
        loaded.grid.connect(self._on_grid)
        self.index_channel.failed.connect(self._on_startup_failed)
        self.atlas_channel.failed.connect(self._on_startup_failed)
        self.loaders.outlineFailed.connect(lambda msg: self.show_error(f"Brain outline: {msg}"))
        self.loaders.surfaceFailed.connect(lambda msg, sid: self.show_error(
            f"Surface of {self.ontology.by_id(sid).acronym}: {msg}"))
        self.grid_channel.failed.connect(self._on_grid_failed)
        self.grid_channel.cancelled.connect(
            lambda exp: self.show_status(f"Loading {exp.symbol if exp else 'the gene'} cancelled."))
        # panels
        self.search_panel.experimentActivated.connect(self.load_experiment)
        self.library_panel.experimentActivated.connect(self.load_experiment)
        self.slices.pointClicked.connect(self.set_cursor_um)
        self.slices.pointHovered.connect(self.show_hover)
        self.slices.cursorMoved.connect(self._on_cursor_moved)
        self.scene.pointPicked.connect(self.set_cursor_um)
        for name, button in self.camera_buttons.items():
            if name == "reset":
                button.clicked.connect(self.reset_camera)
            else:
                button.clicked.connect(lambda _=False, n=name: self.camera_preset(n))
        self._cursor_timer = QTimer(self)
        self._cursor_timer.setSingleShot(True)
        self._cursor_timer.setInterval(CURSOR_3D_DELAY_MS)
        self._cursor_timer.timeout.connect(self.update_3d_cursor)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self.sizes_restored:
            self.sizes_restored = True
            from allen_viewer.gui.window_layout import fit_docks

            fit_docks(self)
            fit_splitters(self)

    def _start(self) -> None:
        self.first_run.check_network()
        self.show_status("Loading the gene index and the atlas…")
        # the first frame needs the index and the grid only: the atlas (tree, slices, outline)
        # starts once the index is in and no embedded or cached grid is loading (see the loaders)
        self.loaders.start()

    # ------------------------------------------------------------------ messages

    def show_status(self, text: str, error: bool = False) -> None:
        """Put a message in the status bar (red for errors; elided, the whole text in its tool tip)."""
        self.status.show_status(text, error)

    @property
    def status_text(self) -> str:
        """The last status-bar message, whole."""
        return self.status.text

    def show_error(self, text: str) -> None:
        """Show a failure in the banner and the status bar; the window stays usable."""
        from allen_viewer.sanitize import clean_text

        text = clean_text(text, 1000)  # one line, no escape codes, bounded
        log.info("showing error: %s", text)
        self.banner.show_message(text, "error")
        self.show_status(text, error=True)

    def focus_search(self) -> None:
        self.search_dock.show()
        self.search_panel.search_box.setFocus()
        self.search_panel.search_box.selectAll()

    # ------------------------------------------------------------------ busy state

    def channels(self) -> list[RequestChannel]:
        return [*self.loaders.channels(), *self.exports.channels(), *self.library_panel.channels()]

    def is_busy(self) -> bool:
        """True while any background request of this window is in flight."""
        return (any(ch.busy for ch in self.channels()) or self._pending_query is not None
                or self.compare.pending is not None)

    @property
    def atlas_loaded(self) -> bool:
        return self.loaded.atlas_loaded

    # ------------------------------------------------------------------ start-up results

    def _on_startup_failed(self, message: str, _exc, what) -> None:
        self.show_error(f"Could not load the {what}: {message}")  # (the loaders then start the atlas)

    def _on_index(self, index: GeneIndex, *_old) -> None:
        if self.offline_note.isVisible():
            self.offline_note.show_text(self.first_run.offline_note())
        self.indexReady.emit()
        if self.space is not None and self.grid is None and not self.grid_channel.busy:
            self.show_status("Ready.")
        pending, self._pending_query = self._pending_query, None
        if pending is not None:
            self.request_gene(pending)
        pending, self.compare.pending = self.compare.pending, None
        if pending is not None:
            self.compare.compare_with(pending)

    def _on_atlas(self, space: ReferenceSpace, *_old) -> None:
        self.tree_panel.set_ontology(self.ontology)
        self.slices.set_reference_space(self.space)
        if self.index is not None and self.grid is None and not self.grid_channel.busy:
            self.show_status("Ready.")
        if self.data.has_nissl():
            self.first_run.load_nissl(download=False)
        if self.surfaces.selected is not None:
            self.surfaces.on_selected(self.surfaces.selected)
        self.surfaces.update_summary()
        self.atlasReady.emit()

    def _on_outline(self, mesh, *_old) -> None:
        self.scene.set_brain_outline(mesh)  # (the compare view follows self.loaded itself)
        if not self._outline_done:
            self._outline_done = True
            self.scene.reset_camera()
        self.outlineReady.emit()

    # ------------------------------------------------------------------ genes

    def request_gene(self, query: str | int | Experiment) -> Experiment | None:
        """Show a gene by symbol, experiment id or Experiment; errors go to the banner.

        Before the gene index is loaded the request waits for it (and wins over any
        earlier waiting request).  Returns the experiment being loaded, or None.
        """
        if isinstance(query, Experiment):
            self.load_experiment(query)
            return query
        if self.index is None:
            self._pending_query = str(query)
            self.show_status(f"Waiting for the gene index to open {query}…")
            return None
        try:
            exp = self.data.experiment(query)
        except AllenViewerError as exc:
            self.show_error(str(exc))
            self.loadFailed.emit(str(exc))
            return None
        self.load_experiment(exp)
        return exp

    def load_experiment(self, exp: Experiment) -> None:
        """Load an experiment's grid in the background; a later call overtakes this one."""
        if self.grid_channel.busy and self.grid_channel.tag == exp:
            return
        if not self.grid_channel.busy and self.grid is not None and self.grid.id == exp.id:
            self.show_status(f"{exp.label} is already shown.")
            return
        where = self.data.locate(exp.id)
        verb = {"embedded": "Opening", "cached": "Opening cached", "remote": "Downloading"}.get(where, "Loading")
        self.show_status(f"{verb} {exp.label}…")
        self.grid_indicator.set_label(f"{exp.symbol}")
        self.loaders.load_grid(exp)

    def _on_grid(self, grid: ExpressionGrid | None, *_old) -> None:
        """Gene A is in (``loaded.grid``): show it everywhere."""
        if grid is None:
            return
        exp = grid.experiment
        self.banner.hide()
        if grid.has_data.any():
            top = float(grid.energy[grid.has_data].max())
            self.controls.set_energy_range(max(top, self.controls.values()["threshold"]))
        self.controls.apply_gene(grid)  # the gene's own percentile threshold, unless pinned
        # the new display and the new spheres share one frame, drawn at the next paint
        # (scene.set_display and scene.set_grid would each render, and the paint again)
        # and one rebuild of the points: the old grid is dropped first (cheap), so the new
        # threshold does not rebuild the old gene's points just before the new gene's
        layer = self.scene.layer  # None once the scene is closed
        if layer is not None:
            layer.set_grid(None)
            layer.set_display(**self.controls.values())
        if layer is not None:
            layer.set_grid(grid)
        self.scene.request_render()
        self.slices.set_grid(grid)
        self.surfaces.update_summary()
        self.refresh_title()
        self.show_status(grid_loaded_text(grid, self._grid_where, color_note(grid, self.state.display.color_by)))
        self.open_page_action.setEnabled(True)
        self.open_page_action.setText(f"Open the Allen &experiment page of {exp.symbol} ({exp.id})")
        if self._grid_where == "remote" and self.network == "offline":
            self.first_run.set_network("online", "a grid was just downloaded from the Allen API")
        if self.compare_grid is not None and (self.compare.is_comparing or self.compare.waiting_for_a):
            self.compare.show_comparison()
        self.gridLoaded.emit(grid)

    def _on_grid_failed(self, message: str, exc, exp: Experiment) -> None:
        self.show_error(f"Could not load {exp.label}: {message}" if exp else message)
        self.first_run.note_offline_failure(exc, message)
        self.loadFailed.emit(message)

    # ------------------------------------------------------------------ display

    def show_display(self, values: dict) -> None:
        """``state.display`` changed (:mod:`allen_viewer.gui.session_views`): the 3-D view, the slices' colour map
        and the settings follow (``values``: its ``render_values()``; the slices' threshold: gui/slice_follow.py)."""
        self.scene.set_display(**values)
        self.slices.set_cmap(values["cmap"])
        self.settings.save_display(self.controls.saved_values())

    def camera_preset(self, name: str) -> None:
        """A camera preset (``dorsal``, ``lateral``, ``anterior``, ``oblique``) in the 3-D view
        on show (in compare mode: all three linked views)."""
        if self.compare.is_comparing:
            self.compare_view.camera_preset(name)
        else:
            self.scene.camera_preset(name)
        self.session.preset_applied(name)

    def reset_camera(self) -> None:
        self.camera_preset("oblique")

    def set_slice_background(self, which: str) -> None:
        self.slices.set_background(which)
        self.settings.background = which
        self.state.slice_background = which  # the compare view follows the state
        (self.nissl_action if which == "nissl" else self.annotation_action).setChecked(True)

    # ------------------------------------------------------------------ structures

    # ------------------------------------------------------------------ cursor and picking

    def set_cursor_um(self, um, select: bool = True) -> None:
        """Move every pane and the 3-D cursor to a CCF point (µm, (AP, DV, ML)); with
        ``select``, select the structure there in the tree (outside the brain: none)."""
        self.slices.set_cursor_um(um)
        self._store_cursor()  # the compare view follows the state
        self._cursor_timer.stop()
        self.update_3d_cursor()
        if select and self.space is not None:
            sid = self.space.structure_id_at_um(self.slices.cursor_um())
            self.tree_panel.select_structure(sid or None)

    def _store_cursor(self) -> None:
        self.state.cursor_um = tuple(float(v) for v in self.slices.cursor_um())

    def _on_cursor_moved(self, um) -> None:
        self._store_cursor()
        if not self._cursor_timer.isActive():
            self._cursor_timer.start()

    def follow_compare_cursor(self, um) -> None:
        self.slices.set_cursor_um(um)  # the main panes hold the one cursor of the window
        self._on_cursor_moved(um)

    def update_3d_cursor(self) -> None:
        um = self.slices.cursor_um()
        if self.compare.is_comparing:
            self.compare_view.set_cursor_3d(um)
        else:
            self.scene.set_cursor(um)

    def describe_point(self, um) -> str:
        """Status-bar text for a CCF point: structure, position and the gene's values there."""
        compare = self.compare_view.describe(np.asarray(um, dtype=float)) \
            if self.compare.is_comparing and self.space is not None else None
        return describe_point(um, self.space, self.grid, compare)

    def show_hover(self, um) -> None:
        self.hover_label.setText("" if um is None else self.describe_point(um))

    # ------------------------------------------------------------------ screenshots, about, closing

    def grab_window(self):
        """The whole window as a QPixmap, the 3-D view(s) rendered first."""
        if self.compare.is_comparing:
            self.compare_view.render()
        else:
            self.scene.render()
        return self.grab()

    def save_screenshot(self, path) -> bool:
        return self.grab_window().save(str(path))

    def save_settings(self) -> None:
        self.settings.save_layout(self.saveGeometry(), self.saveState(),
                                  {n: s.saveState() for n, s in splitters(self).items()})
        self.settings.save_display(self.controls.saved_values())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self.closing:
            self.closing = True
            self.save_settings()
            for channel in self.channels():
                channel.cancel_all()
            self._cursor_timer.stop()
            if self.compare_view is not None:
                self.compare_view.close_view()
            self.scene.close_scene()
        super().closeEvent(event)


def default_query(settings: ViewerSettings) -> str:
    """What to open without ``--gene``: the last experiment shown, else Pdyn."""
    last = settings.last_experiment
    return str(last) if last is not None else DEFAULT_GENE
