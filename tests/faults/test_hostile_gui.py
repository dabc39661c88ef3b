"""Round two in the viewer: the same hostile servers and inputs end in a banner, and the
window stays usable (docs/reliability.md).  Grids the hostile server sends are the real
embedded grid 71717084 with GENERATED damage."""
from __future__ import annotations

import json

import pytest

from allen_viewer.api.limits import DownloadLimits
from tests.faults.hostile import HostileServer, drip, grid_zip_bytes, real_volume, send
from tests.gui.conftest import no_writes_under_the_real_home, window  # noqa: F401 - tests/gui/conftest.py

# the window talks to the module's hostile server, with fast retries and tight download limits
pytestmark = [pytest.mark.gui,
              pytest.mark.window(network="hostile", size=(1200, 800), timeout=(2.0, 5.0), retries=2, backoff=0.01,
                                 limits=DownloadLimits(min_rate=2000.0, window=1.0, deadline=30.0), ready="atlas")]

GRID = "/grid_data/download/"
PDYN = 71717084


@pytest.fixture(scope="module")
def hostile():
    with pytest.MonkeyPatch.context() as mp:
        for name in ("NO_PROXY", "no_proxy"):
            mp.setenv(name, "127.0.0.1,localhost")
        with HostileServer() as srv:
            yield srv


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
