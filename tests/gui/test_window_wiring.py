"""The window as wiring: loaders write LoadedData, views subscribe; the status bar follows
``state.network``; the exports need no window; a gene switch asks for one 3-D frame."""
from __future__ import annotations

import numpy as np
import pytest
import pyvista as pv
from PySide6.QtTest import QTest

from allen_viewer.api.client import AllenClient
from allen_viewer.atlas.reference_space import ANNOTATION_SHAPE
from allen_viewer.data import AtlasData
from allen_viewer.gui.export_actions import ExportActions, ExportViews
from allen_viewer.gui.loaders import Loaders
from allen_viewer.gui.main_window import MainWindow
from allen_viewer.gui.settings import ViewerSettings
from allen_viewer.loaded_data import LoadedData
from allen_viewer.state import ViewerState
from allen_viewer.store.cache import Cache

pytestmark = pytest.mark.gui

PDYN, NRP1 = 71717084, 74272479
CLOSED = "http://127.0.0.1:9"


def _data(tmp_path_factory, ontology, reference_space, gene_index) -> AtlasData:
    client = AllenClient(CLOSED, CLOSED + "/informatics-archive/current-release", timeout=(1.0, 1.0), retries=0)
    data = AtlasData(cache=Cache(tmp_path_factory.mktemp("wiring_cache")), client=client)
    data.__dict__.update(ontology=ontology, reference_space=reference_space, gene_index=gene_index)
    return data


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory, ontology, reference_space, gene_index):
    pv.global_theme.anti_aliasing = None
    w = MainWindow(_data(tmp_path_factory, ontology, reference_space, gene_index),
                   ViewerSettings(tmp_path_factory.mktemp("settings") / "s.ini"), notices=False)
    w.resize(1400, 900)
    w.show()
    QTest.qWaitForWindowExposed(w)
    deadline = 60_000
    while deadline > 0 and (w.space is None or w.index is None or w.outline_mesh is None or w.is_busy()):
        QTest.qWait(20)
        deadline -= 20
    assert w.space is not None and w.outline_mesh is not None
    yield w
    w.close()
    w.deleteLater()
    QTest.qWait(50)


def test_what_the_window_shows_is_what_the_loaders_wrote(qtbot, window):
    loaded = window.loaded
    assert isinstance(loaded, LoadedData) and window.loaders.loaded is loaded
    assert window.space is loaded.space and window.ontology is loaded.ontology and window.index is loaded.index
    assert window.outline_mesh is loaded.outline_mesh
    with qtbot.waitSignal(window.gridLoaded, timeout=20_000):
        window.request_gene("Pdyn")
    assert loaded.grid is window.grid and loaded.grid.id == PDYN
    assert window.scene.layer.grid is loaded.grid and window.slices.layers.grid is loaded.grid


def test_a_newer_gene_request_wins_over_an_older_one(qtbot, window):
    seen = []

    def record(new, _old) -> None:
        seen.append(new.id)

    window.loaded.events.grid.connect(record)
    try:
        dropped = window.grid_channel.dropped
        want = window.grid.id if window.grid is not None else PDYN  # asked for again while another loads
        first = NRP1 if want == PDYN else PDYN
        window.load_experiment(window.index.by_id(first))
        window.load_experiment(window.index.by_id(want))
        assert window.grid_channel.tag.id == want
        qtbot.waitUntil(lambda: window.grid.id == want and not window.grid_channel.busy, timeout=20_000)
        qtbot.waitUntil(lambda: window.grid_channel.dropped == dropped + 1, timeout=20_000)
        assert seen == [want]  # the overtaken request never reached LoadedData
    finally:
        window.loaded.events.grid.disconnect(record)


def _until_idle(qtbot, rounds: int = 3) -> None:
    """Until the event loop is idle: a 0 ms timer fires once every pending event has been
    processed (Qt's documented meaning of a zero timeout); a few rounds, so events posted
    while handling the earlier ones are processed too.  A wait on a condition, not a sleep."""
    from PySide6.QtCore import QTimer

    for _ in range(rounds):
        fired = []
        QTimer.singleShot(0, lambda: fired.append(True))
        qtbot.waitUntil(lambda: bool(fired), timeout=10_000)


def test_a_gene_switch_draws_one_3d_frame(qtbot, window):
    rw = window.scene.plotter.render_window
    other = NRP1 if window.grid.id == PDYN else PDYN
    _until_idle(qtbot)  # earlier paints done
    frames = []
    observer = rw.AddObserver("EndEvent", lambda *_: frames.append(window.scene.layer.grid.id))
    panes = window.slices.panes
    before = {name: pane.render_count for name, pane in panes.items()}
    try:
        with qtbot.waitSignal(window.gridLoaded, timeout=20_000):
            window.load_experiment(window.index.by_id(other))
        assert frames == []  # nothing rendered while the window took the new gene in
        qtbot.waitUntil(lambda: len(frames) >= 1, timeout=10_000)
        _until_idle(qtbot)  # any further render (a timer, a paint) would have run by now
        assert frames[0] == other
        assert len(frames) == 1, frames  # one frame (it was three: display, grid, then the paint)
        # and each slice pane drew its section once for the new gene (issue 19: the state change
        # the switch makes -- gene, threshold -- repaints no pane a second time)
        assert {name: pane.render_count - before[name] for name, pane in panes.items()} == {
            name: 1 for name in panes}
    finally:
        rw.RemoveObserver(observer)


def test_a_new_genes_slice_panes_paint_after_its_3d_frame(qtbot, window):
    """Qt paints raster widgets before the OpenGL 3-D view in a paint cycle: the panes are
    held until the frame has ended (gui/frame_order.py), then each draws once."""
    rw = window.scene.plotter.render_window
    other = NRP1 if window.grid.id == PDYN else PDYN
    _until_idle(qtbot)
    panes = window.slices.panes
    before = {name: pane.render_count for name, pane in panes.items()}
    at_frame = []
    observer = rw.AddObserver("EndEvent", lambda *_: at_frame.append(
        {name: pane.render_count - before[name] for name, pane in panes.items()}))
    try:
        with qtbot.waitSignal(window.gridLoaded, timeout=20_000):
            window.load_experiment(window.index.by_id(other))
        assert not window.slices.updatesEnabled()  # held until the frame
        qtbot.waitUntil(lambda: len(at_frame) >= 1, timeout=10_000)
        qtbot.waitUntil(lambda: window.slices.updatesEnabled(), timeout=5_000)
        _until_idle(qtbot)
        assert at_frame[0] == {name: 0 for name in panes}  # no section drawn before the frame
        assert {name: pane.render_count - before[name] for name, pane in panes.items()} == {
            name: 1 for name in panes}
    finally:
        rw.RemoveObserver(observer)


def test_no_frame_coming_holds_no_pane(qtbot, window):
    window.scene.plotter.hide()  # as in compare mode: the 3-D view is not on show
    try:
        window.panes_after_frame.hold()
        assert window.slices.updatesEnabled() and not window.panes_after_frame.held
    finally:
        window.scene.plotter.show()
    _until_idle(qtbot)


def test_the_status_bar_follows_the_network_state(qtbot, window):
    before = window.state.network
    label = window.network_label
    try:
        with qtbot.waitSignal(window.networkChanged, timeout=1000, check_params_cb=lambda s: s == "offline-mode"):
            window.state.network = "offline-mode"  # written into the state only
        assert label.isVisible() and label.text() == "Offline mode" and "[offline]" in window.windowTitle()
        window.state.network = "online"
        assert not label.isVisible() and "[offline]" not in window.windowTitle()
        window.status.network_detail = "the probe found nothing"
        window.state.network = "offline"
        assert label.isVisible() and label.text() == "Offline"
        assert label.toolTip().startswith("The probe found nothing.")
    finally:
        window.state.network = before


def test_the_compare_view_follows_loaded_data(qtbot, window):
    with qtbot.waitSignal(window.compareReady, timeout=20_000):
        window.compare.compare_with("Nrp1" if window.grid.id == PDYN else "Pdyn")
    view = window.compare_view
    assert view.space is window.loaded.space
    # GENERATED Nissl stand-in (not Allen data): a ramp over AP, just its identity matters
    gray = np.broadcast_to(np.linspace(0, 255, ANNOTATION_SHAPE[0]).astype(np.uint8)[:, None, None],
                           ANNOTATION_SHAPE).copy()
    before = window.loaded.nissl
    window.loaded.nissl = gray  # as the Nissl loader does; nobody pushes it into the view
    assert view.slices.layers.nissl is gray and window.slices.layers.nissl is gray
    assert window.nissl_action.isEnabled()
    window.compare.set_compare_mode(False)
    window.slices.set_nissl(before)
    view.slices.set_nissl(before)
    window.set_slice_background("annotation")


def test_the_exports_need_no_window(qtbot, qapp, tmp_path, ontology, reference_space, gene_index,
                                     tmp_path_factory):
    data = _data(tmp_path_factory, ontology, reference_space, gene_index)
    loaded = LoadedData()
    messages = []
    views = ExportViews(scene=lambda: None, slices=lambda: None, grab_3d=lambda: None, grab_window=lambda: None,
                        snapshot=ViewerState, show_status=lambda t: messages.append(("status", t)),
                        show_error=lambda t: messages.append(("error", t)))
    exports = ExportActions(ViewerState(), loaded, views)
    exports.update_enabled()
    assert not exports.actions["volume"].isEnabled()  # nothing loaded
    exports.export_voxels()  # (the menu entry is disabled; the call says why)
    assert messages[-1] == ("error", "No gene is shown; open one first.")
    loaded.grid = data.load_grid(gene_index.by_id(PDYN))
    exports.update_enabled()
    assert exports.actions["volume"].isEnabled() and not exports.actions["voxels"].isEnabled()  # no atlas yet
    exports.ask_volume = lambda available: "energy"
    exports.ask_save_path = lambda caption, suggested, file_filter: tmp_path / "pdyn.nrrd"
    with qtbot.waitSignal(exports.exportFinished, timeout=30_000) as blocker:
        exports.export_volume()
    assert tmp_path / "pdyn.nrrd" in blocker.args[0]
    import SimpleITK as sitk

    from tests import numpy_reference as ref

    written = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "pdyn.nrrd"))).transpose(2, 1, 0)
    np.testing.assert_array_equal(written, ref.energy(PDYN))  # the grid as served, -1 for no data
    assert messages[-1][0] == "status" and messages[-1][1].startswith("Exported Pdyn energy volume")
    loaded.ontology, loaded.space = ontology, reference_space
    exports.update_enabled()
    assert exports.actions["voxels"].isEnabled()


def test_loaders_alone_fill_loaded_data(qtbot, qapp, tmp_path_factory, ontology, reference_space, gene_index):
    data = _data(tmp_path_factory, ontology, reference_space, gene_index)
    loaders = Loaders(data)
    names = []
    loaders.loaded.events.all.connect(lambda info: names.append(info.signal.name))
    loaders.start()
    qtbot.waitUntil(lambda: loaders.loaded.outline_mesh is not None, timeout=60_000)
    assert names[:3] == ["index", "ontology", "space"] and "outline_mesh" in names
    loaders.load_grid(gene_index.by_id(NRP1))
    assert loaders.grid_where == "embedded"
    qtbot.waitUntil(lambda: loaders.loaded.grid is not None, timeout=20_000)
    assert loaders.loaded.grid.id == NRP1 and loaders.loaded.grids == {NRP1: loaders.loaded.grid}
    loaders.cancel_all()
