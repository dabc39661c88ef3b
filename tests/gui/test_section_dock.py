"""The Section dock against the fake Allen server's GENERATED section images: fetches only
while shown, marks the synchronised pixel, toggles the expression mask, steps by section
number, shows cached images offline, and says so when there is no image."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from allen_viewer.api.client import AllenClient
from allen_viewer.data import AtlasData
from allen_viewer.gui.section_dock import SectionDock
from allen_viewer.records import Experiment
from allen_viewer.store.cache import Cache
from tests.fake_allen import sections as fake_sections

pytestmark = pytest.mark.gui

PDYN = Experiment(71717084, "Pdyn", "prodynorphin", 18610, "coronal")
POINT = (5230.0, 4010.0, 2000.0)


def make_dock(qtbot, cache_root) -> SectionDock:
    client = AllenClient(timeout=(2.0, 5.0), retries=2, backoff=0.01)
    dock = SectionDock(AtlasData(cache=Cache(cache_root), client=client))
    qtbot.addWidget(dock)
    dock.resize(700, 560)
    return dock


def wait_shown(qtbot, dock):
    with qtbot.waitSignal(dock.panel.shown, timeout=20_000) as blocker:
        pass
    return blocker.args[0]


def test_dock_fetches_only_when_shown_and_marks_the_point(qtbot, allen_env, tmp_path):
    dock = make_dock(qtbot, tmp_path / "c")
    panel = dock.panel
    panel.set_experiment(PDYN)
    generation = panel.channel.generation
    dock.show_point(POINT)  # the dock is hidden: nothing is fetched
    # a request would be submitted at once, in show_point: none was, so none can come later
    assert panel.channel.generation == generation and panel.channel.in_flight == 0
    assert not allen_env.requests_to("/api/v2/reference_to_image") and panel.current is None
    with qtbot.waitSignal(panel.shown, timeout=20_000) as blocker:
        dock.show()
    sec = blocker.args[0]
    number, col, row = fake_sections.expected_pixel("coronal", *POINT)
    assert sec.section_number == number and panel.section_number == number
    assert panel.view.marker_pixel() == pytest.approx((col / 16, row / 16))
    pix = panel.view.pixmap_item.pixmap()
    assert (pix.width(), pix.height()) == (-(-5900 // 16), -(-4200 // 16))
    assert f"section {number}" in panel.title.text()
    # the expression mask of the same section, marker kept
    with qtbot.waitSignal(panel.shown, timeout=20_000) as blocker:
        panel.mask_box.setChecked(True)
    assert blocker.args[0].view == "expression" and blocker.args[0].section_number == number
    assert panel.view.marker_pixel() == pytest.approx((col / 16, row / 16))
    req = allen_env.requests_to("/api/v2/image_download/")[-1]
    assert req.query["view"] == ["expression"] and req.query["downsample"] == ["4"]
    # next / previous by section number, without a marker
    numbers = fake_sections.section_numbers("coronal")
    with qtbot.waitSignal(panel.shown, timeout=20_000) as blocker:
        panel.next_button.click()
    assert blocker.args[0].section_number == numbers[numbers.index(number) + 1]
    assert panel.view.marker_pixel() is None and blocker.args[0].view == "expression"
    with qtbot.waitSignal(panel.shown, timeout=20_000) as blocker:
        panel.prev_button.click()
    assert blocker.args[0].section_number == number
    # zoom and pan work on the view
    before = panel.view.transform().m11()
    panel.zoom_in.click()
    assert panel.view.transform().m11() == pytest.approx(before * 1.25)
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(10, 10))


def test_newest_request_wins_and_offline_cache(qtbot, allen_env, tmp_path, monkeypatch):
    dock = make_dock(qtbot, tmp_path / "c")
    panel = dock.panel
    dock.show()
    panel.set_experiment(PDYN)
    allen_env.inject("/api/v2/image_download/", "delay", times=1, seconds=1.0)
    dropped = panel.channel.dropped
    dock.show_point((3000.0, 4000.0, 2000.0))
    dock.show_point(POINT)  # overtakes the slow first request
    sec = wait_shown(qtbot, dock)
    assert sec.section_number == fake_sections.expected_pixel("coronal", *POINT)[0]
    # wait until the slow first request has ended (its answer reached the channel), then check
    qtbot.waitUntil(lambda: panel.channel.in_flight == 0, timeout=20_000)
    assert panel.channel.dropped == dropped + 1
    assert panel.section_number == sec.section_number  # the older answer was dropped
    # offline, a fresh dock on the same cache shows the same section
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    served = len(allen_env.requests)
    other = make_dock(qtbot, tmp_path / "c")
    other.show()
    other.panel.set_experiment(PDYN)
    other.show_point(POINT)
    again = wait_shown(qtbot, other)
    assert again.section_number == sec.section_number and len(allen_env.requests) == served
    assert other.panel.view.marker_pixel() == panel.view.marker_pixel()


def test_no_image_is_a_message(qtbot, allen_env, tmp_path):
    allen_env.no_section_images.add(PDYN.id)
    dock = make_dock(qtbot, tmp_path / "c")
    dock.show()
    dock.set_experiment(PDYN)
    with qtbot.waitSignal(dock.panel.failedMessage, timeout=20_000) as blocker:
        dock.show_point(POINT)
    assert "no section image" in blocker.args[0] and "no section image" in dock.panel.status.text()
    assert dock.panel.current is None and not dock.panel.next_button.isEnabled()


# ---- the Spatial correlation dock ---------------------------------------------------------------

def small_library(root, ontology):
    """A library of 30 GENERATED coronal experiments: mixtures of three random fields."""
    import numpy as np

    from tests.library import build_library, make_layout

    layout = make_layout(ontology)
    rng = np.random.default_rng(5)
    base = rng.random((3, layout.n_voxels)).astype(np.float32) * 10
    rows = []
    for i in range(30):
        v = (rng.random(3).astype(np.float32) @ base + rng.random(layout.n_voxels).astype(np.float32))
        v[rng.random(layout.n_voxels) < 0.02] = np.nan
        rows.append((500 + i, f"Gen{i}", "coronal", v.astype(np.float32)))
    return build_library(root, layout, rows)


def test_spatial_dock_shows_the_map_and_enriched_genes(qtbot, tmp_path, ontology):
    import numpy as np

    from allen_viewer.gui.spatial_dock import SpatialDock, diverging_rgb, section_images
    from allen_viewer.library.spatial import enriched_at_seed, spatial_correlation
    library = small_library(tmp_path / "c" / "library", ontology)
    dock = SpatialDock(AtlasData(cache=Cache(tmp_path / "c"), client=AllenClient()))
    qtbot.addWidget(dock)
    panel = dock.panel
    panel.overlap_box.setValue(10)
    with qtbot.waitSignal(panel.computed, timeout=30_000) as blocker:
        dock.run_from((5400.0, 3000.0, 2000.0))
    got = blocker.args[0]
    want = spatial_correlation(library, (5400.0, 3000.0, 2000.0), min_overlap=10)
    assert got.seed_voxel == (27, 15, 10) and np.array_equal(np.isnan(got.r), np.isnan(want.r))
    assert np.nanmax(np.abs(got.r - want.r)) == 0
    enriched = enriched_at_seed(library, want.seed_column, top=50)
    assert panel.table.rowCount() == len(enriched) and panel.table.item(0, 0).text() == enriched[0].symbol
    pix = panel.maps["Coronal"].pixmap()
    assert (pix.width(), pix.height()) == (58 * 4, 41 * 4)
    with qtbot.waitSignal(panel.geneRequested) as req:
        panel.table.cellClicked.emit(0, 0)
    assert req.args == [enriched[0].experiment_id]
    # colours: -1 blue, 0 white, +1 red, NaN grey; sections oriented as the panes
    assert diverging_rgb(np.array([-1.0, 0.0, 1.0, np.nan])).tolist() == [
        [33, 102, 172], [247, 247, 247], [178, 24, 43], [70, 70, 70]]
    cuts = section_images(want.grid(), want.seed_voxel)
    assert cuts["Coronal"].shape == (41, 58) and cuts["Sagittal"].shape == (41, 67) and cuts["Horizontal"].shape == (67, 58)


def test_spatial_dock_without_library_says_how_to_make_one(qtbot, tmp_path):
    from allen_viewer.gui.spatial_dock import SpatialDock

    dock = SpatialDock(AtlasData(cache=Cache(tmp_path / "c"), client=AllenClient()))
    qtbot.addWidget(dock)
    with qtbot.waitSignal(dock.panel.failedMessage, timeout=10_000) as blocker:
        dock.run_from((5400.0, 3000.0, 2000.0))
    assert "library sync" in blocker.args[0]


# ---- in the main window -----------------------------------------------------------------------------

def test_window_click_shows_the_section_and_menu_offers_both(qtbot, allen_env, tmp_path, ontology, make_window):
    w = make_window(network="env", timeout=(2.0, 5.0), retries=2, backoff=0.01, cache="wc", settings="s.ini",
                    restore_layout=False, notices=False, size=(1500, 950))
    qtbot.waitUntil(lambda: w.space is not None and not w.atlas_channel.busy, timeout=60_000)
    w.request_gene("Pdyn")
    qtbot.waitUntil(lambda: w.grid is not None, timeout=60_000)
    dock = w.section_dock
    assert dock.panel.experiment.id == PDYN.id and not dock.isVisible()
    w.section_dock.show()
    pane = w.slices.panes["coronal"]
    canvas = pane.canvas
    rect = canvas.image_rect()
    with qtbot.waitSignal(dock.panel.shown, timeout=30_000) as blocker:
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton,
                         pos=QPoint(int(rect.x() + rect.width() * 0.3), int(rect.y() + rect.height() * 0.5)))
    um = w.slices.cursor_um()
    number, col, row = fake_sections.expected_pixel("coronal", *um)
    assert blocker.args[0].section_number == number
    assert dock.panel.view.marker_pixel() == pytest.approx((col / 16, row / 16))
    rect = canvas.image_rect()  # the panes gave the opened dock its width (issue 25): read it again
    canvas.customContextMenuRequested.emit(QPoint(int(rect.x() + rect.width() * 0.6),
                                                  int(rect.y() + rect.height() * 0.5)))
    menu = canvas._section_menu
    assert [a.text() for a in menu.actions() if not a.isSeparator()] == [
        "Show section here", "Spatial correlation from here", "Export slice (SVG/PDF/PNG)…"]  # one menu
    menu.close()
    names = [a.text() for a in w.menuBar().actions()[1].menu().actions()]
    assert "Section" in names and "Spatial correlation" in names
    # the r map as a 3-D layer, in place of the gene's spheres; off again on request
    import numpy as np

    small_library(tmp_path / "wc" / "library", ontology)
    panel = w.spatial_dock.panel
    panel.overlap_box.setValue(10)
    gene_title = w.scene.color_bar_title
    with qtbot.waitSignal(panel.computed, timeout=30_000) as blocker:
        w.spatial_dock.run_from((5400.0, 3000.0, 2000.0))
    r = blocker.args[0].r
    layer = w.spatial_dock.layer3d
    assert layer.actor is not None and layer.points == int((np.abs(np.nan_to_num(r)) >= 0.5).sum()) > 0
    assert not w.scene.expression_actor.GetVisibility()
    assert tuple(layer.actor.mapper.scalar_range) == (-1.0, 1.0)
    assert "r (spatial corr.)" == w.scene.color_bar_title != gene_title
    # ... and in the slice panes, in place of the gene's heat map
    assert w.slices.layers.rmap is not None and w.slices.layers.rmap_seed == (27, 15, 10)
    assert "r with seed at AP 5.4, DV 3.0, ML 2.0 mm" in w.slices.legend.text()[0]
    # the dock wrote the map into the loaded data; the slice panes and the 3-D layer follow it
    assert w.loaded.rmap is blocker.args[0]
    assert np.array_equal(w.slices.layers.rmap, blocker.args[0].grid(), equal_nan=True)
    panel.layer_box.setChecked(False)
    assert w.loaded.rmap is None
    assert layer.actor is None and w.scene.expression_actor.GetVisibility()
    assert w.slices.layers.rmap is None and "Pdyn" in w.slices.legend.text()[0]
    assert w.scene.color_bar_title == gene_title
    panel.layer_box.setChecked(True)
    assert w.loaded.rmap is blocker.args[0] and w.slices.layers.rmap is not None and layer.actor is not None
    # an experiment id the gene index does not know: one line in the dock, nothing asked of the window
    missing = next(i for i in range(1, 10_000) if not w.data.gene_index.has_id(i))
    panel.geneRequested.emit(missing)  # what a click on its enriched row emits
    assert str(missing) in panel.status.text() and "\n" not in panel.status.text()
    assert w.state.experiment.id == PDYN.id and not w.grid_channel.busy
    panel.geneRequested.emit(PDYN.id)  # the gene on show: said in the dock, nothing loads
    assert panel.status.text().startswith("Pdyn") and "on show" in panel.status.text()
    assert not w.grid_channel.busy and w.loaded.rmap is not None
    # a known one is asked for through the state, which the window loads; another gene brings
    # its heat map back
    panel.geneRequested.emit(74272479)  # what a click on an enriched Nrp1 row emits
    assert w.state.experiment.id == 74272479
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == 74272479, timeout=60_000)
    assert w.loaded.rmap is None
    assert w.slices.layers.rmap is None and layer.actor is None and "Nrp1" in w.slices.legend.text()[0]
