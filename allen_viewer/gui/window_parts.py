"""What the main window is made of: its views, docks and menus (built by
:class:`~allen_viewer.gui.main_window.MainWindow`; the window then connects them).

Each function adds its widgets to the window ``w`` as attributes (``w.scene``,
``w.controls``, ``w.slices``, ``w.search_panel``, ``w.outside_action``...).  A widget that
shows a field of the state is bound to it here (:func:`~allen_viewer.gui.binding.bind`): it
writes ``w.state`` and follows its events; nothing here calls another widget.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from allen_viewer.gui.binding import bind, follow
from allen_viewer.gui.export_actions import ExportActions, ExportViews
from allen_viewer.gui.first_run import NISSL_SIZE_TEXT, nissl_offer_bar, offline_note_bar
from allen_viewer.gui.frame_order import PanesAfterFrame
from allen_viewer.gui.gene_search import GeneSearchPanel
from allen_viewer.gui.library_search import LibrarySearchPanel
from allen_viewer.gui.scene3d import ExpressionControls, ExpressionScene
from allen_viewer.gui.scene_figure import SceneFigureActions
from allen_viewer.gui.slice_follow import follow_slice_fields
from allen_viewer.gui.slice_view import SlicePanes
from allen_viewer.gui.status_bar import MessageBanner, WindowStatusBar
from allen_viewer.gui.structure_tree import StructureTreePanel
from allen_viewer.state import DEFAULT_CURSOR_UM

DEFAULT_SIZE = (1600, 1000)
"""The window's size before a saved layout is restored (and always for ``--screenshot``)."""


def build_views(w) -> None:
    """The 3-D scene, the Display dock (controls and camera buttons), the slice panes, the banner and first-run bars, the centre stack."""
    w.scene = ExpressionScene(w)
    w.scene.setObjectName("expressionScene")
    w.controls = ExpressionControls(w)
    w.controls.setObjectName("expressionControls")
    w.camera_buttons = {}
    side = QVBoxLayout()
    side.setContentsMargins(4, 4, 4, 4)
    title = QLabel("<b>Expression display</b>")
    side.addWidget(title)
    side.addWidget(w.controls)
    side.addWidget(QLabel("<b>Camera</b>"))
    for name, text in (("dorsal", "Dorsal"), ("lateral", "Lateral"), ("anterior", "Anterior"),
                       ("reset", "Reset")):
        button = QPushButton(text)
        button.setObjectName(f"camera_{name}")
        button.setToolTip("Reset the camera to the default oblique view" if name == "reset"
                          else f"View the brain from the {name} side")
        w.camera_buttons[name] = button
        side.addWidget(button)
    side.addStretch(1)
    side_widget = QWidget()
    side_widget.setObjectName("displayPanel")
    side_widget.setLayout(side)
    from allen_viewer.gui.window_layout import display_dock

    # a dock of its own (issue 25): it stays in compare mode, where it acts on both genes,
    # and View > Display controls brings it back; its contents scroll in a small window
    w.display_dock = display_dock(w, side_widget)

    scene_panel = QWidget()
    scene_layout = QHBoxLayout(scene_panel)
    scene_layout.setContentsMargins(0, 0, 0, 0)
    scene_layout.addWidget(w.scene, 1)

    w.slices = SlicePanes(w)
    w.slices.setObjectName("slicePanes")
    w.panes_after_frame = PanesAfterFrame(w.scene, w.slices, w.loaded, w)  # a new gene: 3-D frame first, then panes
    w.splitter = QSplitter(Qt.Orientation.Vertical)
    w.splitter.setObjectName("mainSplitter")
    w.splitter.addWidget(scene_panel)
    w.splitter.addWidget(w.slices)
    w.splitter.setStretchFactor(0, 11)
    w.splitter.setStretchFactor(1, 10)

    w.banner = MessageBanner()
    w.offline_note = offline_note_bar()
    w.nissl_offer = nissl_offer_bar(NISSL_SIZE_TEXT)
    w.stack = QStackedWidget()
    w.stack.setObjectName("centralStack")
    # a stack is as wide as its widest page's minimum: the compare view's bar would keep the
    # window from shrinking (and push docks) even after compare mode (issue 25)
    w.stack.setMinimumSize(320, 240)
    w.stack.addWidget(w.splitter)  # page 0; the compare view is page 1 once made
    central = QWidget()
    layout = QVBoxLayout(central)
    layout.setContentsMargins(2, 2, 2, 2)
    layout.setSpacing(2)
    layout.addWidget(w.banner)
    layout.addWidget(w.offline_note)
    layout.addWidget(w.nissl_offer)
    layout.addWidget(w.stack, 1)
    w.setCentralWidget(central)


def build_docks(w) -> None:
    """The Genes, Structures, Library search, Section and Spatial docks."""
    w.search_panel = GeneSearchPanel()
    w.search_dock = QDockWidget("Genes", w)
    w.search_dock.setObjectName("geneSearchDock")
    w.search_dock.setWidget(w.search_panel)
    w.tree_panel = StructureTreePanel()
    w.tree_dock = QDockWidget("Structures", w)
    w.tree_dock.setObjectName("structureTreeDock")
    w.tree_dock.setWidget(w.tree_panel)
    w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, w.search_dock)
    w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, w.tree_dock)
    w.splitDockWidget(w.search_dock, w.tree_dock, Qt.Orientation.Vertical)
    w.resizeDocks([w.search_dock], [330], Qt.Orientation.Horizontal)
    w.resizeDocks([w.search_dock, w.tree_dock], [380, 560], Qt.Orientation.Vertical)
    w.library_panel = LibrarySearchPanel(w.data)
    w.library_dock = QDockWidget("Library search", w)
    w.library_dock.setObjectName("librarySearchDock")
    w.library_dock.setWidget(w.library_panel)
    w.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, w.library_dock)
    w.tabifyDockWidget(w.tree_dock, w.library_dock)  # the tallest dock; tables need height
    w.tree_dock.raise_()
    from allen_viewer.gui.section_dock import add_section_dock

    w.section_dock = add_section_dock(w)  # the ISH section behind a clicked point
    from allen_viewer.gui.window_layout import install_window_layout

    install_window_layout(w)  # docks scroll, never widen the window; View menu raises (issue 25)
    follow_loaded(w)


def follow_loaded(w) -> None:
    """The Genes and Library search docks follow what is loaded (``w.loaded``): the index
    (searching, the recent genes), the atlas (structure completion) and the gene on show
    (remembered among the recent ones, marked in the search, the library search's seed)."""
    search, library, settings, data = w.search_panel, w.library_panel, w.settings, w.data

    def recent(index, ids) -> list:
        return [index.by_id(i) for i in ids if index.has_id(i)]

    def index_in(index, *_old) -> None:
        search.set_locator(data.locate)
        search.set_available(data.available_ids)  # ranked first among prefix matches
        search.set_index(index)
        search.set_recent(recent(index, settings.recent_experiments))

    def grid_in(grid, *_old) -> None:
        if grid is None:
            return
        ids = settings.remember_experiment(grid.experiment.id)
        if w.loaded.index is not None:
            search.set_recent(recent(w.loaded.index, ids))
        search.set_shown(grid.experiment)
        library.set_seed(grid.experiment)
        search.refresh_sources()

    w.loaded.events.index.connect(index_in)
    w.loaded.events.space.connect(lambda space, *_: library.set_ontology(w.loaded.ontology))
    w.loaded.events.grid.connect(grid_in)
    w.loaded.events.compare_grid.connect(lambda grid, *_: None if grid is None else search.refresh_sources())


def build_menus(w) -> None:
    """File, View, Atlas and Help; the widgets among them write ``w.state`` and follow it (:mod:`allen_viewer.gui.binding`)."""
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    find = QAction("&Find gene…", w)
    find.setShortcut(QKeySequence.StandardKey.Find)
    find.triggered.connect(w.focus_search)
    file_menu.addAction(find)
    shot = QAction("Save &screenshot…", w)
    shot.setShortcut(QKeySequence("Ctrl+Shift+S"))
    shot.triggered.connect(w.dialogs.save_screenshot_dialog)
    file_menu.addAction(shot)
    w.exports = ExportActions(w.state, w.loaded, export_views(w), w)
    w.slices.figureExportRequested.connect(w.exports.figures.export_slice)  # pane menu: vector figure
    file_menu.addMenu(w.exports.menu)
    file_menu.addSeparator()
    w.open_session_action = QAction("&Open session…", w)
    w.open_session_action.setShortcut(QKeySequence.StandardKey.Open)
    w.open_session_action.setToolTip("Open a saved session, or the .json sidecar of an exported image")
    w.open_session_action.triggered.connect(w.dialogs.open_session_dialog)
    file_menu.addAction(w.open_session_action)
    w.save_session_action = QAction("Save sess&ion…", w)
    w.save_session_action.setShortcut(QKeySequence.StandardKey.Save)
    w.save_session_action.setToolTip("Save what is shown (genes, display, camera, cursor, structures) "
                                        "to a file that reopens it")
    w.save_session_action.triggered.connect(w.dialogs.save_session_dialog)
    file_menu.addAction(w.save_session_action)
    file_menu.addSeparator()
    quit_action = QAction("&Quit", w)
    quit_action.setShortcut(QKeySequence.StandardKey.Quit)
    quit_action.triggered.connect(w.close)
    file_menu.addAction(quit_action)

    view = bar.addMenu("&View")
    for name in ("dorsal", "lateral", "anterior"):
        act = QAction(f"{name.capitalize()} view", w)
        act.triggered.connect(lambda _=False, n=name: w.camera_preset(n))
        view.addAction(act)
    reset = QAction("Reset camera", w)
    reset.triggered.connect(w.reset_camera)
    view.addAction(reset)
    w.outside_action = QAction("Show voxels &outside the brain", w, checkable=True)
    w.outside_action.setToolTip("Also draw the voxels with data that the 200 µm annotation does not label "
                                   "as brain, in magenta; they are never counted")
    # widgets write the state and follow it; the views follow the state (gui/binding.py)
    bind(w.outside_action.toggled, w.state.display, "show_outside_brain", w.outside_action.setChecked,
         widget=w.outside_action, convert=bool)
    follow(w.state.display, "show_outside_brain", lambda on, *_: w.scene.set_show_outside(on), w)
    view.addAction(w.outside_action)
    w.slices_follow_action = QAction("Slices follow the 3-D &threshold", w, checkable=True)
    w.slices_follow_action.setToolTip("Colour the slices only where energy reaches the 3-D view's threshold")
    bind(w.slices_follow_action.toggled, w.state, "slices_follow_threshold",
         w.slices_follow_action.setChecked, widget=w.slices_follow_action, convert=bool)
    follow_slice_fields(w.slices, w.state, w.loaded)  # the threshold they follow, the Spatial dock's r map
    view.addAction(w.slices_follow_action)
    w.scene_figure = SceneFigureActions(w, w.scene, w.slices, w.state)  # planes, cut-aways
    w.scene_figure.add_to(view)
    view.addSeparator()
    w.compare_with_action = QAction("&Compare with another gene…", w)
    w.compare_with_action.setShortcut(QKeySequence("Ctrl+K"))
    w.compare_with_action.setToolTip("Show the gene on show and a second one side by side, "
                                        "with their difference and correlation")
    w.compare_with_action.triggered.connect(w.compare.ask_gene)
    view.addAction(w.compare_with_action)
    w.compare_mode_action = QAction("Compare &mode", w, checkable=True)
    w.compare_mode_action.setEnabled(False)
    w.compare_mode_action.setToolTip("Switch between the single-gene view and the comparison")
    w.compare_mode_action.toggled.connect(w.compare.set_compare_mode)
    view.addAction(w.compare_mode_action)
    from allen_viewer.gui.many_genes import install_many_genes

    w.many_genes = install_many_genes(w, view)  # composites and gene-set maps (issue 23)
    view.addSeparator()
    group = QActionGroup(w)
    w.annotation_action = QAction("Slices: atlas annotation", w, checkable=True)
    w.nissl_action = QAction("Slices: Nissl", w, checkable=True)
    w.nissl_action.setEnabled(False)
    w.nissl_action.setToolTip("Download the Nissl volume first (Atlas menu)")
    for act in (w.annotation_action, w.nissl_action):
        group.addAction(act)
        view.addAction(act)
    w.annotation_action.setChecked(True)
    w.annotation_action.triggered.connect(lambda: w.set_slice_background("annotation"))
    w.nissl_action.triggered.connect(lambda: w.set_slice_background("nissl"))
    view.addSeparator()
    view.addAction(w.display_dock.toggleViewAction())
    view.addAction(w.search_dock.toggleViewAction())
    view.addAction(w.tree_dock.toggleViewAction())
    view.addAction(w.library_dock.toggleViewAction())
    view.addAction(w.section_dock.toggleViewAction())
    view.addAction(w.spatial_dock.toggleViewAction())

    atlas = bar.addMenu("&Atlas")
    w.download_nissl_action = QAction(f"Download the &Nissl volume ({NISSL_SIZE_TEXT})", w)
    w.download_nissl_action.triggered.connect(w.first_run.download_nissl)
    atlas.addAction(w.download_nissl_action)
    w.cancel_nissl_action = QAction("Cancel the Nissl download", w)
    w.cancel_nissl_action.setEnabled(False)
    w.cancel_nissl_action.triggered.connect(w.nissl_channel.cancel)
    atlas.addAction(w.cancel_nissl_action)

    help_menu = bar.addMenu("&Help")
    w.open_page_action = QAction("Open the Allen &experiment page", w)
    w.open_page_action.setObjectName("openExperimentPage")
    w.open_page_action.setShortcut(QKeySequence("Ctrl+E"))
    w.open_page_action.setEnabled(False)
    w.open_page_action.setToolTip("Open the loaded gene's experiment at mouse.brain-map.org in the web "
                                     "browser: the original ISH section images")
    w.open_page_action.triggered.connect(w.dialogs.open_experiment_page)
    help_menu.addAction(w.open_page_action)
    w.guide_action = QAction("&User guide", w)
    w.guide_action.setObjectName("userGuideAction")
    w.guide_action.setShortcut(QKeySequence.StandardKey.HelpContents)
    w.guide_action.setToolTip("Open the user guide that came with the viewer in the web browser")
    w.guide_action.triggered.connect(w.dialogs.open_user_guide)
    help_menu.addAction(w.guide_action)
    help_menu.addSeparator()
    about = QAction("&About Allen Viewer", w)
    about.setObjectName("aboutAction")
    about.triggered.connect(w.dialogs.about)
    help_menu.addAction(about)
    w.about_action = about


def export_views(w) -> ExportViews:
    """What the exports need of the views on show (compare mode: the compare view's)."""
    def grab_3d():
        if w.compare.is_comparing:
            w.compare_view.render()
            return w.compare_view.views.grab().toImage()
        w.scene.render()
        return w.scene.grab().toImage()

    return ExportViews(
        scene=lambda: w.compare_view.scene_a if w.compare.is_comparing else w.scene,
        slices=lambda: w.compare_view.slices if w.compare.is_comparing else w.slices,
        grab_3d=grab_3d, grab_window=w.grab_window, snapshot=lambda: w.session.snapshot(),
        show_status=w.show_status, show_error=w.show_error, figure_slices=lambda: w.slices,
        scene_figure=lambda: getattr(w, "scene_figure", None))


def build_status_bar(w) -> None:
    w.status = WindowStatusBar(w.statusBar(), w.state, w.grid_channel, w.nissl_channel, w)
    """The status bar (:mod:`allen_viewer.gui.status_bar`); its network label follows ``state.network``."""
    st = w.status
    w.hover_label, w.message_label, w.network_label = st.hover_label, st.message_label, st.network_label
    w.grid_indicator, w.nissl_indicator = st.grid_indicator, st.nissl_indicator


def restore_saved_layout(w, restore: bool) -> None:
    """The display settings saved last time, the window's size and (``restore``) its saved
    geometry, docks and splitters; the cursor at its default."""
    display = w.settings.display()
    if display:
        w.controls.set_values(**display)
    values = w.controls.values()
    w.scene.set_display(**values)
    w.scene.set_color_by(w.controls.current_color_by())
    w.slices.set_cmap(values["cmap"])
    w.slices.set_background(w.settings.background)
    w.resize(*DEFAULT_SIZE)
    if restore:
        geometry = w.settings.window_geometry()
        if geometry is not None:
            w.restoreGeometry(geometry)
        state = w.settings.window_state()
        if state is not None:
            w.restoreState(state)
        for name, splitter in splitters(w).items():
            saved = w.settings.splitter_state(name)
            if saved is not None:
                splitter.restoreState(saved)
    w.sizes_restored = restore and all(
        w.settings.splitter_state(n) is not None for n in splitters(w))
    w.slices.set_cursor_um(np.asarray(DEFAULT_CURSOR_UM, dtype=float))
    w.scene.set_cursor(w.slices.cursor_um())


def fit_splitters(w) -> None:
    """Give the slice row the height its images need at this width, the rest to 3-D."""
    w.centralWidget().layout().activate()
    total = w.splitter.height()
    slices = min(w.slices.preferred_height(w.splitter.width()), total // 2)
    w.splitter.setSizes([total - slices, slices])
    w.slices.fit_pane_widths()


def splitters(w) -> dict:
    return {"main": w.splitter, "slices": w.slices.splitter}
