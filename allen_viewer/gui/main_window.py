"""The main window: wires the panels together and runs every load in the background.

Layout: the 3-D scene (with its display controls and camera buttons) in the centre above
the three slice panes; the gene search and the structure tree in docks on the left; a
message banner above the centre for failures; the status bar shows what is under the
mouse, the last message and the progress (with Cancel) of running downloads.

The panels never talk to each other or fetch anything: they emit signals, this window
handles them and asks :class:`~allen_viewer.gui.loaders.Loaders` for data; the loaders run
the jobs on :class:`~allen_viewer.gui.workers.RequestChannel` s (one per kind of request: a
newer request always wins over an older one still in flight) and write what they loaded
into :attr:`MainWindow.loaded`, a Qt-free :class:`~allen_viewer.loaded_data.LoadedData`
(the index, the atlas, the grids of genes A and B, the outline mesh, the Nissl volume) that
the window and the compare view subscribe to.  The status bar
(:mod:`allen_viewer.gui.status_bar`) follows ``state.network``.

Start-up order: the gene index (fast, enables searching), then the ontology and the
reference space (tree and slices), then the brain outline mesh (3-D).  A gene asked for
before the index is ready is loaded as soon as it is.

Compare mode (``View > Compare with another gene…``, :meth:`MainWindow.compare_with`):
the centre switches to a :class:`~allen_viewer.gui.compare_view.CompareView` of the gene
on show (A) and a second gene (B, loaded through its own channel); the gene search, the
tree, the display controls' values and the camera buttons then act on the comparison.
``View > Compare mode`` switches back and forth once a second gene is loaded.

Exports (``File > Export``) are :class:`~allen_viewer.gui.export_actions.ExportActions`.

What the window shows is also kept in :attr:`MainWindow.state`, a Qt-free
:class:`~allen_viewer.state.ViewerState` (:mod:`allen_viewer.gui.state_binding` keeps it
current): the compare view and the exports follow it, and ``File > Save session…`` /
``Open session…`` save and reopen it.

First run (:mod:`allen_viewer.gui.first_run`): unless offline mode was asked for
(``ALLEN_VIEWER_OFFLINE`` / ``--offline``), a cheap probe of the API host runs in the
background at start-up.  Offline (asked for or found): the status bar says so, and a found
one also gets a note above the views (with Retry).  Online, with the Nissl volume not in the
cache: a non-modal bar offers its download once per run ("Download (136 MB)", "Not now",
"Don't ask again", the last remembered in the settings).  ``Help > About`` shows the
versions, the data sources and the citation; ``Help > Open the Allen experiment page``
opens the loaded gene's page (its original ISH section images) in the browser;
``Help > User guide`` (F1) opens the guide installed with the package (:mod:`allen_viewer.guide`).
"""
from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from allen_viewer import config
from allen_viewer.atlas.ontology import Ontology  # noqa: F401 - documented type of MainWindow.ontology
from allen_viewer.atlas.reference_space import ReferenceSpace
from allen_viewer.render.meshes import structure_surface
from allen_viewer.data import AtlasData
from allen_viewer.errors import AllenViewerError, Offline
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.gui.about import experiment_page_url, show_about
from allen_viewer.gui.binding import bind, follow
from allen_viewer.gui.compare_view import CompareView, GenePickerDialog
from allen_viewer.gui.export_actions import ExportActions, ExportViews
from allen_viewer.gui.first_run import ProbeResult, nissl_offer_bar, offline_note_bar
from allen_viewer.gui.gene_search import GeneSearchPanel
from allen_viewer.gui.library_search import LibrarySearchPanel
from allen_viewer.gui.scene3d import ExpressionControls, ExpressionScene
from allen_viewer.gui.loaders import Loaders
from allen_viewer.gui.scene_figure import SceneFigureActions
from allen_viewer.gui.settings import DEFAULT_GENE, ViewerSettings
from allen_viewer.gui.slice_view import SlicePanes
from allen_viewer.gui.state_binding import StateBinding, open_session_file, save_session_file
from allen_viewer.gui.status_bar import STATUS_WIDTH_FRACTION, MessageBanner, TaskIndicator, WindowStatusBar  # noqa: F401
from allen_viewer.gui.structure_tree import StructureTreePanel
from allen_viewer.gui.workers import RequestChannel, error_message
from allen_viewer.loaded_data import LoadedData
from allen_viewer.model.describe import describe_point, summary_text
from allen_viewer.model.structures import focus_point_um
from allen_viewer.model.texts import comparing_text, grid_loaded_text, offline_note_text, window_title
from allen_viewer.state import ViewerState
from allen_viewer.store.gene_index import Experiment, GeneIndex

log = logging.getLogger(__name__)

DEFAULT_CURSOR_UM = np.array([5200.0, 4200.0, 3800.0])
"""Where the cursor starts (CCF µm, (AP, DV, ML)): the left caudoputamen."""
CURSOR_3D_DELAY_MS = 40
"""Slider and drag moves update the 3-D cursor at most this often (a frame costs ~30 ms)."""
DEFAULT_SIZE = (1600, 1000)
NISSL_SIZE_TEXT = "136 MB"
"""The Nissl volume's download size, as the offer and the Atlas menu say it."""


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
        self.probe_result: ProbeResult | None = None
        self._nissl_offered = False
        self.about_box = None
        self.data = data or AtlasData()
        self.settings = settings or ViewerSettings()
        self.loaded = LoadedData()
        """What is loaded (:mod:`allen_viewer.loaded_data`), written by :attr:`loaders`."""
        self._pending_query: str | Experiment | None = None
        self._pending_compare: str | None = None
        self._compare_waiting_for_a = False
        self.compare_view: CompareView | None = None
        """Made on first use (three more render windows)."""
        self._selected: int | None = None
        self._outline_done = False
        self._closing = False
        self.state = ViewerState()
        """What the window shows (:mod:`allen_viewer.state`), kept by :attr:`session_binding`."""
        self.setObjectName("allenViewerMainWindow")
        self.setWindowTitle(self._title())

        self._build_channels()
        self._build_views()
        self._build_docks()
        self._build_menus()
        self._build_status_bar()
        self._connect()
        self._restore(restore_layout)
        self.session_binding = StateBinding(self)
        from allen_viewer.gui.structure_menu import install_structure_styles

        self.structure_styles = install_structure_styles(self)  # tree menu, surface colours, slice labels
        from allen_viewer.gui.shortcuts import install_shortcuts

        self.shortcuts = install_shortcuts(self)  # camera, threshold and slice keys; Help > Keyboard shortcuts
        self._start()

    # ------------------------------------------------------------------ construction

    def _title(self, grid: ExpressionGrid | None = None) -> str:
        comparing = getattr(self, "stack", None) is not None and self.is_comparing
        return window_title(grid, self.compare_grid if grid is not None else None, comparing,
                            config.offline() or self.network in ("offline", "offline-mode"))

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

    def _build_views(self) -> None:
        self.scene = ExpressionScene(self)
        self.scene.setObjectName("expressionScene")
        self.controls = ExpressionControls(self)
        self.controls.setObjectName("expressionControls")
        self.camera_buttons: dict[str, QPushButton] = {}
        side = QVBoxLayout()
        side.setContentsMargins(4, 4, 4, 4)
        title = QLabel("<b>Expression display</b>")
        side.addWidget(title)
        side.addWidget(self.controls)
        side.addWidget(QLabel("<b>Camera</b>"))
        for name, text in (("dorsal", "Dorsal"), ("lateral", "Lateral"), ("anterior", "Anterior"),
                           ("reset", "Reset")):
            button = QPushButton(text)
            button.setObjectName(f"camera_{name}")
            button.setToolTip("Reset the camera to the default oblique view" if name == "reset"
                              else f"View the brain from the {name} side")
            self.camera_buttons[name] = button
            side.addWidget(button)
        side.addStretch(1)
        side_widget = QWidget()
        side_widget.setObjectName("displayPanel")
        side_widget.setLayout(side)
        from allen_viewer.gui.window_layout import display_dock

        # a dock of its own (issue 25): it stays in compare mode, where it acts on both genes,
        # and View > Display controls brings it back; its contents scroll in a small window
        self.display_dock = display_dock(self, side_widget)

        scene_panel = QWidget()
        scene_layout = QHBoxLayout(scene_panel)
        scene_layout.setContentsMargins(0, 0, 0, 0)
        scene_layout.addWidget(self.scene, 1)

        self.slices = SlicePanes(self)
        self.slices.setObjectName("slicePanes")
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(scene_panel)
        self.splitter.addWidget(self.slices)
        self.splitter.setStretchFactor(0, 11)
        self.splitter.setStretchFactor(1, 10)

        self.banner = MessageBanner()
        self.offline_note = offline_note_bar()
        self.nissl_offer = nissl_offer_bar(NISSL_SIZE_TEXT)
        self.stack = QStackedWidget()
        self.stack.setObjectName("centralStack")
        # a stack is as wide as its widest page's minimum: the compare view's bar would keep the
        # window from shrinking (and push docks) even after compare mode (issue 25)
        self.stack.setMinimumSize(320, 240)
        self.stack.addWidget(self.splitter)  # page 0; the compare view is page 1 once made
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.banner)
        layout.addWidget(self.offline_note)
        layout.addWidget(self.nissl_offer)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.search_panel = GeneSearchPanel()
        self.search_dock = QDockWidget("Genes", self)
        self.search_dock.setObjectName("geneSearchDock")
        self.search_dock.setWidget(self.search_panel)
        self.tree_panel = StructureTreePanel()
        self.tree_dock = QDockWidget("Structures", self)
        self.tree_dock.setObjectName("structureTreeDock")
        self.tree_dock.setWidget(self.tree_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.search_dock)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.tree_dock)
        self.splitDockWidget(self.search_dock, self.tree_dock, Qt.Orientation.Vertical)
        self.resizeDocks([self.search_dock], [330], Qt.Orientation.Horizontal)
        self.resizeDocks([self.search_dock, self.tree_dock], [380, 560], Qt.Orientation.Vertical)
        self.library_panel = LibrarySearchPanel(self.data)
        self.library_dock = QDockWidget("Library search", self)
        self.library_dock.setObjectName("librarySearchDock")
        self.library_dock.setWidget(self.library_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.library_dock)
        self.tabifyDockWidget(self.tree_dock, self.library_dock)  # the tallest dock; tables need height
        self.tree_dock.raise_()
        from allen_viewer.gui.section_dock import add_section_dock

        self.section_dock = add_section_dock(self)  # the ISH section behind a clicked point
        from allen_viewer.gui.window_layout import install_window_layout

        install_window_layout(self)  # docks scroll, never widen the window; View menu raises (issue 25)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        find = QAction("&Find gene…", self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.triggered.connect(self.focus_search)
        file_menu.addAction(find)
        shot = QAction("Save &screenshot…", self)
        shot.setShortcut(QKeySequence("Ctrl+Shift+S"))
        shot.triggered.connect(self._save_screenshot_dialog)
        file_menu.addAction(shot)
        self.exports = ExportActions(self.state, self.loaded, self._export_views(), self)
        self.slices.figureExportRequested.connect(self.exports.figures.export_slice)  # pane menu: vector figure
        file_menu.addMenu(self.exports.menu)
        file_menu.addSeparator()
        self.open_session_action = QAction("&Open session…", self)
        self.open_session_action.setShortcut(QKeySequence.StandardKey.Open)
        self.open_session_action.setToolTip("Open a saved session, or the .json sidecar of an exported image")
        self.open_session_action.triggered.connect(self._open_session_dialog)
        file_menu.addAction(self.open_session_action)
        self.save_session_action = QAction("Save sess&ion…", self)
        self.save_session_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_session_action.setToolTip("Save what is shown (genes, display, camera, cursor, structures) "
                                            "to a file that reopens it")
        self.save_session_action.triggered.connect(self._save_session_dialog)
        file_menu.addAction(self.save_session_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view = bar.addMenu("&View")
        for name in ("dorsal", "lateral", "anterior"):
            act = QAction(f"{name.capitalize()} view", self)
            act.triggered.connect(lambda _=False, n=name: self.camera_preset(n))
            view.addAction(act)
        reset = QAction("Reset camera", self)
        reset.triggered.connect(self.reset_camera)
        view.addAction(reset)
        self.outside_action = QAction("Show voxels &outside the brain", self, checkable=True)
        self.outside_action.setToolTip("Also draw the voxels with data that the 200 µm annotation does not label "
                                       "as brain, in magenta; they are never counted")
        # widgets write the state and follow it; the views follow the state (gui/binding.py)
        bind(self.outside_action.toggled, self.state.display, "show_outside_brain", self.outside_action.setChecked,
             widget=self.outside_action, convert=bool)
        follow(self.state.display, "show_outside_brain", lambda on, *_: self.scene.set_show_outside(on), self)
        view.addAction(self.outside_action)
        self.slices_follow_action = QAction("Slices follow the 3-D &threshold", self, checkable=True)
        self.slices_follow_action.setToolTip("Colour the slices only where energy reaches the 3-D view's threshold")
        bind(self.slices_follow_action.toggled, self.state, "slices_follow_threshold",
             self.slices_follow_action.setChecked, widget=self.slices_follow_action, convert=bool)
        follow(self.state, "slices_follow_threshold", lambda *_: self._sync_slice_threshold(), self)
        view.addAction(self.slices_follow_action)
        self.scene_figure = SceneFigureActions(self, self.scene, self.slices, self.state)  # planes, cut-aways
        self.scene_figure.add_to(view)
        view.addSeparator()
        self.compare_with_action = QAction("&Compare with another gene…", self)
        self.compare_with_action.setShortcut(QKeySequence("Ctrl+K"))
        self.compare_with_action.setToolTip("Show the gene on show and a second one side by side, "
                                            "with their difference and correlation")
        self.compare_with_action.triggered.connect(self._compare_dialog)
        view.addAction(self.compare_with_action)
        self.compare_mode_action = QAction("Compare &mode", self, checkable=True)
        self.compare_mode_action.setEnabled(False)
        self.compare_mode_action.setToolTip("Switch between the single-gene view and the comparison")
        self.compare_mode_action.toggled.connect(self.set_compare_mode)
        view.addAction(self.compare_mode_action)
        from allen_viewer.gui.many_genes import install_many_genes

        self.many_genes = install_many_genes(self, view)  # composites and gene-set maps (issue 23)
        view.addSeparator()
        group = QActionGroup(self)
        self.annotation_action = QAction("Slices: atlas annotation", self, checkable=True)
        self.nissl_action = QAction("Slices: Nissl", self, checkable=True)
        self.nissl_action.setEnabled(False)
        self.nissl_action.setToolTip("Download the Nissl volume first (Atlas menu)")
        for act in (self.annotation_action, self.nissl_action):
            group.addAction(act)
            view.addAction(act)
        self.annotation_action.setChecked(True)
        self.annotation_action.triggered.connect(lambda: self.set_slice_background("annotation"))
        self.nissl_action.triggered.connect(lambda: self.set_slice_background("nissl"))
        view.addSeparator()
        view.addAction(self.display_dock.toggleViewAction())
        view.addAction(self.search_dock.toggleViewAction())
        view.addAction(self.tree_dock.toggleViewAction())
        view.addAction(self.library_dock.toggleViewAction())
        view.addAction(self.section_dock.toggleViewAction())
        view.addAction(self.spatial_dock.toggleViewAction())

        atlas = bar.addMenu("&Atlas")
        self.download_nissl_action = QAction(f"Download the &Nissl volume ({NISSL_SIZE_TEXT})", self)
        self.download_nissl_action.triggered.connect(self.download_nissl)
        atlas.addAction(self.download_nissl_action)
        self.cancel_nissl_action = QAction("Cancel the Nissl download", self)
        self.cancel_nissl_action.setEnabled(False)
        self.cancel_nissl_action.triggered.connect(self.nissl_channel.cancel)
        atlas.addAction(self.cancel_nissl_action)

        help_menu = bar.addMenu("&Help")
        self.open_page_action = QAction("Open the Allen &experiment page", self)
        self.open_page_action.setObjectName("openExperimentPage")
        self.open_page_action.setShortcut(QKeySequence("Ctrl+E"))
        self.open_page_action.setEnabled(False)
        self.open_page_action.setToolTip("Open the loaded gene's experiment at mouse.brain-map.org in the web "
                                         "browser: the original ISH section images")
        self.open_page_action.triggered.connect(self.open_experiment_page)
        help_menu.addAction(self.open_page_action)
        self.guide_action = QAction("&User guide", self)
        self.guide_action.setObjectName("userGuideAction")
        self.guide_action.setShortcut(QKeySequence.StandardKey.HelpContents)
        self.guide_action.setToolTip("Open the user guide that came with the viewer in the web browser")
        self.guide_action.triggered.connect(self.open_user_guide)
        help_menu.addAction(self.guide_action)
        help_menu.addSeparator()
        about = QAction("&About Allen Viewer", self)
        about.setObjectName("aboutAction")
        about.triggered.connect(self._about)
        help_menu.addAction(about)
        self.about_action = about

    def _export_views(self) -> ExportViews:
        """What the exports need of the views on show (compare mode: the compare view's)."""
        def grab_3d():
            if self.is_comparing:
                self.compare_view.render()
                return self.compare_view.views.grab().toImage()
            self.scene.render()
            return self.scene.grab().toImage()

        return ExportViews(
            scene=lambda: self.compare_view.scene_a if self.is_comparing else self.scene,
            slices=lambda: self.compare_view.slices if self.is_comparing else self.slices,
            grab_3d=grab_3d, grab_window=self.grab_window, snapshot=lambda: self.session_binding.snapshot(),
            show_status=self.show_status, show_error=self.show_error, figure_slices=lambda: self.slices,
            scene_figure=lambda: getattr(self, "scene_figure", None))

    def _build_status_bar(self) -> None:
        self.status = WindowStatusBar(self.statusBar(), self.state, self.grid_channel, self.nissl_channel, self)
        """The status bar (:mod:`allen_viewer.gui.status_bar`); its network label follows ``state.network``."""
        st = self.status
        self.hover_label, self.message_label, self.network_label = st.hover_label, st.message_label, st.network_label
        self.grid_indicator, self.nissl_indicator = st.grid_indicator, st.nissl_indicator

    def _connect(self) -> None:
        # what the loaders load (self.loaded's events) and how they fail (their channels)
        loaded = self.loaded.events
        loaded.index.connect(self._on_index)
        loaded.space.connect(self._on_atlas)
        loaded.outline_mesh.connect(self._on_outline)
        loaded.grid.connect(self._on_grid)
        loaded.compare_grid.connect(self._on_compare_grid)
        loaded.nissl.connect(self._on_nissl)
        self.state.events.network.connect(self._on_network)
        self.index_channel.failed.connect(self._on_startup_failed)
        self.atlas_channel.failed.connect(self._on_startup_failed)
        self.loaders.outlineFailed.connect(lambda msg: self.show_error(f"Brain outline: {msg}"))
        self.loaders.surfaceMask.connect(self._on_surface)
        self.loaders.surfaceFailed.connect(lambda msg, sid: self.show_error(
            f"Surface of {self.ontology.by_id(sid).acronym}: {msg}"))
        self.grid_channel.failed.connect(self._on_grid_failed)
        self.grid_channel.cancelled.connect(
            lambda exp: self.show_status(f"Loading {exp.symbol if exp else 'the gene'} cancelled."))
        self.nissl_channel.failed.connect(self._on_nissl_failed)
        self.nissl_channel.cancelled.connect(lambda _t: self.show_status("Nissl download cancelled; "
                                                                         "it resumes where it stopped next time."))
        self.nissl_channel.busyChanged.connect(self._on_nissl_busy)
        self.compare_channel.failed.connect(self._on_compare_failed)
        self.compare_channel.cancelled.connect(
            lambda exp: self.show_status(f"Loading {exp.symbol if exp else 'the gene'} for comparison cancelled."))
        self.probe_channel.resultReady.connect(self._on_probe)
        self.nissl_offer.clicked.connect(self._on_nissl_offer)
        self.offline_note.clicked.connect(self._on_offline_note)
        # panels
        self.search_panel.experimentActivated.connect(self.load_experiment)
        self.library_panel.experimentActivated.connect(self.load_experiment)
        self.tree_panel.structureSelected.connect(self._on_structure_selected)
        self.tree_panel.visibilityChanged.connect(self._on_visibility_changed)
        self.slices.pointClicked.connect(self._on_point_clicked)
        self.slices.pointHovered.connect(self._on_point_hovered)
        self.slices.cursorMoved.connect(self._on_cursor_moved)
        self.scene.pointPicked.connect(self._on_scene_picked)
        self.controls.changed.connect(self._on_display_changed)
        self.controls.colorByChanged.connect(lambda key: self.scene.set_color_by(key))
        for name, button in self.camera_buttons.items():
            if name == "reset":
                button.clicked.connect(self.reset_camera)
            else:
                button.clicked.connect(lambda _=False, n=name: self.camera_preset(n))
        self._cursor_timer = QTimer(self)
        self._cursor_timer.setSingleShot(True)
        self._cursor_timer.setInterval(CURSOR_3D_DELAY_MS)
        self._cursor_timer.timeout.connect(self._update_3d_cursor)

    def _restore(self, restore_layout: bool) -> None:
        display = self.settings.display()
        if display:
            self.controls.set_values(**display)
        values = self.controls.values()
        self.scene.set_display(**values)
        self.scene.set_color_by(self.controls.current_color_by())
        self.slices.set_cmap(values["cmap"])
        self.slices.set_background(self.settings.background)
        self.resize(*DEFAULT_SIZE)
        if restore_layout:
            geometry = self.settings.window_geometry()
            if geometry is not None:
                self.restoreGeometry(geometry)
            state = self.settings.window_state()
            if state is not None:
                self.restoreState(state)
            for name, splitter in self._splitters().items():
                saved = self.settings.splitter_state(name)
                if saved is not None:
                    splitter.restoreState(saved)
        self._sizes_restored = restore_layout and all(
            self.settings.splitter_state(n) is not None for n in self._splitters())
        self.slices.set_cursor_um(DEFAULT_CURSOR_UM)
        self.scene.set_cursor(self.slices.cursor_um())

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._sizes_restored:
            self._sizes_restored = True
            from allen_viewer.gui.window_layout import fit_docks

            fit_docks(self)
            self.fit_splitters()

    def fit_splitters(self) -> None:
        """Give the slice row the height its images need at this width, the rest to 3-D."""
        self.centralWidget().layout().activate()
        total = self.splitter.height()
        slices = min(self.slices.preferred_height(self.splitter.width()), total // 2)
        self.splitter.setSizes([total - slices, slices])
        self.slices.fit_pane_widths()

    def _splitters(self) -> dict[str, QSplitter]:
        return {"main": self.splitter, "slices": self.slices.splitter}

    def _start(self) -> None:
        self.check_network()
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
                or self._pending_compare is not None)

    @property
    def atlas_loaded(self) -> bool:
        return self.loaded.atlas_loaded

    # ------------------------------------------------------------------ start-up results

    def _on_startup_failed(self, message: str, _exc, what) -> None:
        self.show_error(f"Could not load the {what}: {message}")  # (the loaders then start the atlas)

    def _on_index(self, index: GeneIndex, *_old) -> None:
        self.search_panel.set_locator(self.data.locate)
        self.search_panel.set_available(self.data.available_ids)  # ranked first among prefix matches
        self.search_panel.set_index(index)
        recent = [index.by_id(i) for i in self.settings.recent_experiments if index.has_id(i)]
        self.search_panel.set_recent(recent)
        if self.offline_note.isVisible():
            self.offline_note.show_text(self._offline_note_text())
        self.indexReady.emit()
        if self.space is not None and self.grid is None and not self.grid_channel.busy:
            self.show_status("Ready.")
        pending, self._pending_query = self._pending_query, None
        if pending is not None:
            self.request_gene(pending)
        pending, self._pending_compare = self._pending_compare, None
        if pending is not None:
            self.compare_with(pending)

    def _on_atlas(self, space: ReferenceSpace, *_old) -> None:
        self.tree_panel.set_ontology(self.ontology)
        self.library_panel.set_ontology(self.ontology)
        self.slices.set_reference_space(self.space)
        if self.index is not None and self.grid is None and not self.grid_channel.busy:
            self.show_status("Ready.")
        if self.data.has_nissl():
            self._load_nissl(download=False)
        if self._selected is not None:
            self._on_structure_selected(self._selected)
        self._update_summary()
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
        self._sync_slice_threshold()
        if layer is not None:
            layer.set_grid(grid)
        self.scene.request_render()
        self.slices.set_grid(grid)
        self._update_summary()
        self.setWindowTitle(self._title(grid))
        recent_ids = self.settings.remember_experiment(exp.id)
        if self.index is not None:
            self.search_panel.set_recent([self.index.by_id(i) for i in recent_ids if self.index.has_id(i)])
        self.search_panel.set_shown(exp)
        self.library_panel.set_seed(exp)
        self.search_panel.refresh_sources()
        self.show_status(grid_loaded_text(grid, self._grid_where, self.state.display.color_by))
        self.open_page_action.setEnabled(True)
        self.open_page_action.setText(f"Open the Allen &experiment page of {exp.symbol} ({exp.id})")
        if self._grid_where == "remote" and self.network == "offline":
            self._set_network("online", "a grid was just downloaded from the Allen API")
        if self.compare_grid is not None and (self.is_comparing or self._compare_waiting_for_a):
            self._show_compare()
        self.gridLoaded.emit(grid)

    def _on_grid_failed(self, message: str, exc, exp: Experiment) -> None:
        self.show_error(f"Could not load {exp.label}: {message}" if exp else message)
        self._note_offline_failure(exc, message)
        self.loadFailed.emit(message)

    # ------------------------------------------------------------------ compare mode

    @property
    def is_comparing(self) -> bool:
        """True while the compare view is on show."""
        return self.compare_view is not None and self.stack.currentWidget() is self.compare_view

    def compare_with(self, query: str | int | Experiment) -> Experiment | None:
        """Compare the gene on show with ``query`` (a symbol, an experiment id or an
        Experiment), loaded in the background; compare mode opens once both genes are in
        (also when the first gene is still loading).  Errors go to the banner.  Returns the
        experiment being loaded, or None."""
        if isinstance(query, Experiment):
            exp = query
        elif self.index is None:
            self._pending_compare = str(query)
            self.show_status(f"Waiting for the gene index to open {query} for comparison…")
            return None
        else:
            try:
                exp = self.data.experiment(query)
            except AllenViewerError as exc:
                self.show_error(str(exc))
                self.loadFailed.emit(str(exc))
                return None
        self._compare_waiting_for_a = True
        if self.compare_grid is not None and self.compare_grid.id == exp.id and not self.compare_channel.busy:
            if self.grid is not None:
                self._show_compare()
            return exp
        self.show_status(f"Loading {exp.label} for comparison…")
        self.loaders.load_compare(exp)
        return exp

    def _compare_dialog(self) -> None:
        if self.index is None:
            self.show_status("The gene index is still loading.")
            return
        if self.grid is None:
            self.show_error("Open a gene first; compare mode compares it with a second one.")
            return
        dialog = GenePickerDialog(self.index, self.data.locate, self, current=self.grid.gene)
        if dialog.exec() and dialog.experiment is not None:
            self.compare_with(dialog.experiment)

    def _on_compare_grid(self, grid: ExpressionGrid | None, *_old) -> None:
        """Gene B is in (``loaded.compare_grid``): compare once gene A is in too."""
        if grid is None:
            return
        exp = grid.experiment
        self.compare_mode_action.setEnabled(True)
        self.search_panel.refresh_sources()
        if self.grid is not None:
            self._show_compare()
        else:
            self.show_status(f"{exp.label} is ready; waiting for the first gene to compare it with…")

    def _on_compare_failed(self, message: str, exc, exp: Experiment) -> None:
        self._compare_waiting_for_a = False
        self.show_error(f"Could not load {exp.label} for comparison: {message}" if exp else message)
        self._note_offline_failure(exc, message)
        self.loadFailed.emit(message)

    def _ensure_compare_view(self) -> CompareView:
        if self.compare_view is None:
            view = CompareView(self)
            self.stack.addWidget(view)
            self.compare_view = view
            view.follow(self.loaded)  # the atlas, the outline and the Nissl volume, now and when they come
            self.session_binding.attach_compare_view(view)  # display, background, cursor, structure
            view.pointClicked.connect(self._on_point_clicked)
            view.pointHovered.connect(self._on_point_hovered)
            view.cursorMoved.connect(self._on_compare_cursor_moved)
            view.closeRequested.connect(lambda: self.set_compare_mode(False))
            view.swapRequested.connect(self.swap_compare)
        return self.compare_view

    def _show_compare(self) -> None:
        self._compare_waiting_for_a = False
        view = self._ensure_compare_view()
        view.set_grids(self.grid, self.compare_grid)
        self.set_compare_mode(True)
        a, b = self.grid, self.compare_grid
        self.show_status(comparing_text(a, b, view.whole_brain_r, view.whole_brain_n))
        self.compareReady.emit(a, b)

    def set_compare_mode(self, on: bool) -> None:
        """Show the comparison (True; needs a gene on show and a second gene loaded) or the
        single-gene view (False)."""
        on = bool(on) and self.grid is not None and self.compare_grid is not None
        changed = on != self.is_comparing
        if on:
            view = self._ensure_compare_view()
            if view.a is not self.grid or view.b is not self.compare_grid:
                view.set_grids(self.grid, self.compare_grid)
            self.stack.setCurrentWidget(view)
        else:
            self.stack.setCurrentWidget(self.splitter)
        self.compare_mode_action.blockSignals(True)
        self.compare_mode_action.setChecked(on)
        self.compare_mode_action.blockSignals(False)
        self.setWindowTitle(self._title(self.grid))
        if changed:
            self._update_3d_cursor()
            self.hover_label.setText("")  # the hover text described the other view's genes
            if not on and self.grid is not None:  # no "Comparing ..." left behind (issue 25)
                self.show_status(f"Showing {self.grid.experiment.label}; View > Compare mode shows the comparison "
                                 "again.")
            self.compareModeChanged.emit(on)

    def swap_compare(self) -> None:
        """Swap the two genes: B becomes the gene on show, A the one compared with."""
        if self.grid is None or self.compare_grid is None:
            return
        a, b = self.grid, self.compare_grid
        with self.loaded.events.compare_grid.blocked():  # A becomes B quietly: no new comparison to start
            self.loaded.compare_grid = a
        self.loaders.grid_where = self.data.locate(b.id)
        self.loaded.grid = b  # shown as a loaded gene A is

    # ------------------------------------------------------------------ display

    def _on_display_changed(self) -> None:
        values = self.controls.values()
        self.scene.set_display(**values)
        self.slices.set_cmap(values["cmap"])
        self.settings.save_display(self.controls.saved_values())
        self._sync_slice_threshold()

    def _sync_slice_threshold(self) -> None:
        on = self.state.slices_follow_threshold
        self.slices.set_min_energy(self.controls.values()["threshold"] if on else None)

    def camera_preset(self, name: str) -> None:
        """A camera preset (``dorsal``, ``lateral``, ``anterior``, ``oblique``) in the 3-D view
        on show (in compare mode: all three linked views)."""
        if self.is_comparing:
            self.compare_view.camera_preset(name)
        else:
            self.scene.camera_preset(name)
        self.session_binding.camera_preset_applied(name)

    def reset_camera(self) -> None:
        self.camera_preset("oblique")

    def set_slice_background(self, which: str) -> None:
        self.slices.set_background(which)
        self.state.slice_background = which  # the compare view follows the state
        self.settings.background = which
        (self.nissl_action if which == "nissl" else self.annotation_action).setChecked(True)

    # ------------------------------------------------------------------ Nissl

    def download_nissl(self) -> None:
        """Download (or, when it is there, just open) the Nissl volume in the background."""
        self._load_nissl(download=not self.data.has_nissl())

    def _load_nissl(self, download: bool) -> None:
        self.nissl_indicator.set_label("Nissl download" if download else "Nissl")
        self.show_status("Downloading the Nissl volume (136 MB)…" if download else "Opening the Nissl volume…")
        self.loaders.load_nissl(download)

    def _on_nissl_busy(self, busy: bool) -> None:
        self.cancel_nissl_action.setEnabled(busy)
        self.download_nissl_action.setEnabled(not busy)
        if busy:
            self.nissl_offer.hide()  # however the download was started

    def _on_nissl(self, gray: np.ndarray | None, *_old) -> None:
        if gray is None:
            return
        tag = self.loaders.nissl_tag
        self.slices.set_nissl(gray)  # (the compare view follows self.loaded itself)
        self.nissl_action.setEnabled(True)
        self.nissl_action.setToolTip("")
        self.download_nissl_action.setText("Nissl volume downloaded")
        if tag == "download" or self.settings.background == "nissl":
            self.set_slice_background("nissl")
        self.show_status("Nissl volume ready.")

    def _on_nissl_failed(self, message: str, exc, _tag) -> None:
        self.show_error(f"Nissl volume: {message}")
        self._note_offline_failure(exc, message)

    # ------------------------------------------------------------------ network and first run

    def check_network(self) -> None:
        """Decide whether the viewer is online (see :mod:`allen_viewer.gui.first_run`):
        offline mode asked for, or one probe of the API host in the background."""
        if config.offline():
            if self.probe_channel.busy:
                self.probe_channel.cancel_all()
            self._set_network("offline-mode", "offline mode is on (ALLEN_VIEWER_OFFLINE or --offline)")
            return
        self.loaders.probe()

    def _on_probe(self, result: ProbeResult, _tag) -> None:
        self.probe_result = result
        log.info("network probe: %s", result.detail)
        self._set_network("online" if result.online else "offline", result.detail)

    def _set_network(self, state: str, detail: str) -> None:
        """The network is ``state`` because of ``detail``: written into ``state.network``,
        which the status bar and :meth:`_on_network` follow (a repeated state with a new
        reason shows that reason)."""
        self.status.network_detail = detail
        if state == self.state.network:
            self.status.show_network(state)
            self._on_network(state, state)
        else:
            self.state.network = state

    def _on_network(self, state: str, old: str | None = None) -> None:
        """``state.network`` changed: the first-run bars, the title, ``networkChanged``."""
        if state == "online":
            self.offline_note.hide()
            self.maybe_offer_nissl()
        elif state != "unknown":
            self.nissl_offer.hide()
            if state == "offline" and self.notices:
                self.offline_note.show_text(self._offline_note_text())
        self.setWindowTitle(self._title(self.grid))
        if state != old:
            self.networkChanged.emit(state)

    @property
    def _offline_detail(self) -> str:
        return self.status.network_detail

    def _offline_note_text(self) -> str:
        embedded = sorted(int(p.stem) for p in (config.resources_dir() / "grids").glob("*.zip") if p.stem.isdigit())
        if self.index is not None:
            names = [self.index.by_id(i).symbol for i in embedded if self.index.has_id(i)]
        else:
            names = [str(i) for i in embedded]
        return offline_note_text(self._offline_detail, names, len(self.data.cache.grids()))

    def _note_offline_failure(self, exc, message: str) -> None:
        """A request failed because the host could not be reached: the viewer is offline."""
        if isinstance(exc, Offline) and not config.offline() and self.network != "offline":
            self._set_network("offline", message.rstrip("."))

    def _on_offline_note(self, key: str) -> None:
        if key == "retry":
            self.offline_note.hide()
            self.show_status("Checking the network…")
            self.check_network()

    def maybe_offer_nissl(self) -> bool:
        """Show the offer of the Nissl download if it is due: online, the Nissl volume not in
        the cache and not downloading, not declined for good, not offered yet in this run
        (and first-run notices on).  Returns whether the offer is shown."""
        due = (self.notices and self.network == "online" and not self._nissl_offered
               and not self.settings.nissl_offer_declined and not self.nissl_channel.busy
               and not self.data.has_nissl())
        if due:
            self._nissl_offered = True
            self.nissl_offer.show()
        return due

    def _on_nissl_offer(self, key: str) -> None:
        self.nissl_offer.hide()
        if key == "download":
            self.download_nissl()
        elif key == "never":
            self.settings.nissl_offer_declined = True
            self.settings.sync()
            self.show_status("The Nissl download will not be offered again; Atlas > Download the Nissl volume "
                             "still does it.")
        elif key in ("later", "dismiss"):
            self.show_status("Atlas > Download the Nissl volume downloads it when you want it.")

    # ------------------------------------------------------------------ structures

    def select_structure(self, structure_id: int | None) -> None:
        """Select a structure as if clicked in the tree (None clears)."""
        self.tree_panel.select_structure(structure_id)

    def go_to_structure(self, structure: int | str) -> bool:
        """Select a structure (Allen id or acronym) and move the cursor into it: to the voxel
        of its left-hemisphere part nearest that part's centre, so every slice pane cuts
        through it.  Needs the atlas (False before it is loaded); an unknown structure raises
        :class:`~allen_viewer.errors.UnknownStructure`."""
        if self.space is None or self.ontology is None:
            return False
        s = self.ontology.get(structure)
        um = focus_point_um(self.space, s)
        if um is not None:
            self.set_cursor_um(um, select=False)
        self.select_structure(s.id)
        return True

    def _on_structure_selected(self, structure_id: int | None) -> None:
        previous = self._selected
        self._selected = structure_id
        if previous is not None and previous != structure_id and previous not in self.tree_panel.visible_ids():
            self.loaders.cancel_surface(previous)
            self.scene.remove_structure_surface(previous)
        self.slices.set_highlight(structure_id)
        self.scene.highlight_structure(structure_id)
        self.state.selected_structure = structure_id  # the compare view follows the state
        if structure_id is not None and self.space is not None:
            if structure_id not in self.scene.structure_ids:
                self._request_surface(structure_id)
        self._update_summary()

    def _on_visibility_changed(self, structure_id: int, visible: bool) -> None:
        if visible:
            if structure_id not in self.scene.structure_ids:
                self._request_surface(structure_id)
        elif structure_id != self._selected:
            self.loaders.cancel_surface(structure_id)
            self.scene.remove_structure_surface(structure_id)

    def _surface_wanted(self, structure_id: int) -> bool:
        return structure_id == self._selected or structure_id in self.tree_panel.visible_ids()

    def _request_surface(self, structure_id: int) -> None:
        self.loaders.request_surface(structure_id)  # the mask in a worker; _on_surface makes the mesh

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
            mesh = structure_surface(self.space, structure_id, mask=mask)
        except Exception as exc:  # noqa: BLE001 - shown, as a failed background request would be
            log.exception("structure surface failed")
            self.show_error(f"Surface of {self.ontology.by_id(structure_id).acronym}: {error_message(exc)}")
            return
        s = self.ontology.by_id(structure_id)
        if mesh is None:
            self.show_status(f"{s.acronym} has no voxels in the 25 µm annotation; no surface to show.")
            return
        self.scene.set_structure_surface(structure_id, mesh, self.structure_styles.color(structure_id),
                                         self.structure_styles.opacity(structure_id))
        if structure_id == self._selected:
            self.scene.highlight_structure(structure_id)
        self.surfaceReady.emit(structure_id)

    def summary_text(self) -> str:
        """The structure panel's summary (HTML) for the selected structure and the loaded gene."""
        return summary_text(self._selected, self.ontology, self.space, self.grid)

    def _update_summary(self) -> None:
        self.tree_panel.set_summary(self.summary_text())

    # ------------------------------------------------------------------ cursor and picking

    def set_cursor_um(self, um, select: bool = True) -> None:
        """Move every pane and the 3-D cursor to a CCF point (µm, (AP, DV, ML)); with
        ``select``, select the structure there in the tree (outside the brain: none)."""
        self.slices.set_cursor_um(um)
        self._store_cursor()  # the compare view follows the state
        self._cursor_timer.stop()
        self._update_3d_cursor()
        if select and self.space is not None:
            sid = self.space.structure_id_at_um(self.slices.cursor_um())
            self.tree_panel.select_structure(sid or None)

    def _on_point_clicked(self, um) -> None:
        self.set_cursor_um(um)

    def _on_scene_picked(self, um) -> None:
        self.set_cursor_um(um)

    def _store_cursor(self) -> None:
        self.state.cursor_um = tuple(float(v) for v in self.slices.cursor_um())

    def _on_cursor_moved(self, um) -> None:
        self._store_cursor()
        if not self._cursor_timer.isActive():
            self._cursor_timer.start()

    def _on_compare_cursor_moved(self, um) -> None:
        self.slices.set_cursor_um(um)  # the main panes hold the one cursor of the window
        self._on_cursor_moved(um)

    def _update_3d_cursor(self) -> None:
        um = self.slices.cursor_um()
        if self.is_comparing:
            self.compare_view.set_cursor_3d(um)
        else:
            self.scene.set_cursor(um)

    def describe_point(self, um) -> str:
        """Status-bar text for a CCF point: structure, position and the gene's values there."""
        compare = self.compare_view.describe(np.asarray(um, dtype=float)) \
            if self.is_comparing and self.space is not None else None
        return describe_point(um, self.space, self.grid, compare)

    def _on_point_hovered(self, um) -> None:
        self.hover_label.setText("" if um is None else self.describe_point(um))

    # ------------------------------------------------------------------ screenshots, about, closing

    def grab_window(self):
        """The whole window as a QPixmap, the 3-D view(s) rendered first."""
        if self.is_comparing:
            self.compare_view.render()
        else:
            self.scene.render()
        return self.grab()

    def save_screenshot(self, path) -> bool:
        return self.grab_window().save(str(path))

    def _save_screenshot_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "allen-viewer.png", "PNG images (*.png)")
        if path:
            if self.save_screenshot(path):
                self.show_status(f"Screenshot saved to {path}.")
            else:
                self.show_error(f"Could not save the screenshot to {path}.")

    def _open_session_dialog(self) -> None:
        # starts in the folder of the last session saved or opened (issue 25)
        path, _ = QFileDialog.getOpenFileName(self, "Open session", self.settings.session_folder,
                                              "Sessions, sidecars and images (*.json *.png)")
        if path:
            if open_session_file(self, path):
                self._remember_session_folder(path)

    def _save_session_dialog(self) -> None:
        from pathlib import Path

        from allen_viewer.gui.save_paths import ask_session_path

        folder = self.settings.session_folder  # the last session's folder (issue 25)
        suggested = str(Path(folder) / "allen-viewer-session.json") if folder else "allen-viewer-session.json"
        try:  # asks about the final name (.json added), not the one typed
            path = ask_session_path(self, suggested)
        except AllenViewerError as exc:
            self.show_error(str(exc))
            return
        if path is not None and save_session_file(self, path):
            self._remember_session_folder(path)

    def _remember_session_folder(self, path) -> None:
        from pathlib import Path

        self.settings.session_folder = str(Path(path).resolve().parent)

    def _about(self) -> None:
        self.about_box = show_about(self)

    def experiment_page_url(self) -> str | None:
        """The Allen web page of the gene on show (gene A in compare mode), or None."""
        return experiment_page_url(self.grid.id) if self.grid is not None else None

    def open_experiment_page(self) -> bool:
        """Open the loaded gene's Allen experiment page (its ISH images) in the web browser."""
        url = self.experiment_page_url()
        if url is None:
            self.show_status("Open a gene first.")
            return False
        if not QDesktopServices.openUrl(QUrl(url)):
            self.show_error(f"Could not start a web browser; the page is {url}")
            return False
        self.show_status(f"Opened {url} in the web browser.")
        return True

    def open_user_guide(self) -> bool:
        """Open the installed user guide (rendered to HTML, see :mod:`allen_viewer.guide`) in the web browser."""
        from allen_viewer.guide import open_guide

        try:
            page = open_guide(opener=lambda url: QDesktopServices.openUrl(QUrl(url)))
        except AllenViewerError as exc:
            self.show_error(str(exc))
            return False
        self.show_status(f"Opened the user guide ({page}) in the web browser.")
        return True

    def save_settings(self) -> None:
        self.settings.save_layout(self.saveGeometry(), self.saveState(),
                                  {n: s.saveState() for n, s in self._splitters().items()})
        self.settings.save_display(self.controls.saved_values())
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if not self._closing:
            self._closing = True
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
