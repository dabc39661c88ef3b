"""Round two in the viewer: the same hostile servers and inputs end in a banner, and the
window stays usable (docs/reliability.md).  Grids the hostile server sends are the real
embedded grid 71717084 with GENERATED damage."""
from __future__ import annotations

import json

import pytest
import pyvista as pv
from PySide6.QtTest import QTest

from allen_viewer.api.client import AllenClient
from allen_viewer.api.limits import DownloadLimits
from allen_viewer.data import AtlasData
from allen_viewer.gui.main_window import MainWindow
from allen_viewer.gui.settings import ViewerSettings
from allen_viewer.store.cache import Cache
from tests.faults.hostile import HostileServer, drip, grid_zip_bytes, real_volume, send

pytestmark = pytest.mark.gui

GRID = "/grid_data/download/"
PDYN = 71717084


@pytest.fixture(scope="module")
def hostile():
    with pytest.MonkeyPatch.context() as mp:
        for name in ("NO_PROXY", "no_proxy"):
            mp.setenv(name, "127.0.0.1,localhost")
        with HostileServer() as srv:
            yield srv


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory, hostile, ontology, reference_space, gene_index):
    pv.global_theme.anti_aliasing = None
    client = AllenClient(hostile.url, hostile.url + "/dl", timeout=(2.0, 5.0), retries=2, backoff=0.01,
                         limits=DownloadLimits(min_rate=2000.0, window=1.0, deadline=30.0))
    data = AtlasData(cache=Cache(tmp_path_factory.mktemp("hostile_cache")), client=client)
    data.__dict__.update(ontology=ontology, reference_space=reference_space, gene_index=gene_index)
    w = MainWindow(data, ViewerSettings(tmp_path_factory.mktemp("settings") / "s.ini"))
    w.resize(1200, 800)
    w.show()
    QTest.qWaitForWindowExposed(w)
    waited = 0
    while waited < 60_000 and (w.space is None or w.index is None or w.atlas_channel.busy):
        QTest.qWait(20)
        waited += 20
    yield w
    w.close()
    w.deleteLater()
    QTest.qWait(50)


def _absurd(req):
    vol = real_volume().copy()
    vol.reshape(-1)[::997] = 3e38
    exp_id = int(req.path.rsplit("/", 1)[-1].split("?")[0])
    send(req, grid_zip_bytes(vol, experiment_id=exp_id), ctype="application/zip")


FAULTS = {
    "drip": (lambda srv: drip(b"x" * 400_000, every=0.05), "abandoned"),
    "rate-limited": (lambda srv: lambda req: send(req, b"{}", 429, headers={"Retry-After": "3600"}), "rate-limiting"),
    "escape-codes": (lambda srv: lambda req: send(req, json.dumps(
        {"success": False, "msg": "\x1b[2J\x1b[31mTraceback\n  File <b>x</b>" + "A" * 3000}).encode(), 403),
        "refused"),
    "absurd-values": (lambda srv: _absurd, "absurd"),
}


@pytest.mark.parametrize("name", list(FAULTS))
def test_a_hostile_server_ends_in_a_banner_and_the_window_stays_usable(qtbot, window, hostile, name, gene_index):
    make, word = FAULTS[name]
    hostile.routes[GRID] = make(hostile)
    with qtbot.waitSignal(window.loadFailed, timeout=20_000) as blocker:
        window.request_gene("Gad2")  # not embedded: downloaded from the hostile server
    text = window.banner.text
    assert window.banner.isVisible() and word in text and word in blocker.args[0]
    assert "\x1b" not in text and "\n" not in text and len(text) <= 1000
    # usable: an embedded gene still loads, and the banner goes
    with qtbot.waitSignal(window.gridLoaded, timeout=20_000):
        window.request_gene(PDYN if window.grid is None or window.grid.id != PDYN else "Nrp1")
    assert not window.banner.isVisible()
    assert window.data.locate(gene_index.resolve("Gad2").id) == "remote"  # nothing cached


@pytest.mark.parametrize("query", [" ", "²", "9" * 5000], ids=["blank", "superscript", "5000-digits"])
def test_odd_queries_end_in_a_banner(qtbot, window, query):
    with qtbot.waitSignal(window.loadFailed, timeout=5_000):
        window.request_gene(query)
    assert window.banner.isVisible() and "\n" not in window.banner.text and len(window.banner.text) <= 1000
