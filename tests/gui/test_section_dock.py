"""The Section dock against the fake Allen server's GENERATED section images: fetches only
while shown, marks the synchronised pixel, toggles the expression mask, steps by section
number, shows cached images offline, and says so when there is no image."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from allen_viewer.api.client import AllenClient
from allen_viewer.data import AtlasData
from allen_viewer.gui.section_dock import SectionDock
from allen_viewer.store.cache import Cache
from allen_viewer.store.gene_index import Experiment
from tests.fake_allen import sections as fake_sections
from tests.fake_allen.fixtures import allen_env, fake_allen, fake_allen_data  # noqa: F401

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
    dock.show_point(POINT)  # the dock is hidden: nothing is fetched
    qtbot.wait(300)
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
    dock.show_point((3000.0, 4000.0, 2000.0))
    dock.show_point(POINT)  # overtakes the slow first request
    sec = wait_shown(qtbot, dock)
    assert sec.section_number == fake_sections.expected_pixel("coronal", *POINT)[0]
    qtbot.wait(1200)
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
