"""First run: offline or online, the offer of the Nissl download, Help > About, the Allen page.

Each window here is a new "run" of the viewer with its own settings file: offline by
request, offline found by the start-up probe (the API URL points at a closed port), and
online against the loopback fake Allen server (whose Nissl volume is a GENERATED stand-in,
served slowly where a download must still be running when it is cancelled).
"""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from PySide6.QtGui import QDesktopServices

from allen_viewer import ALLEN_CITATION, __version__, config
from allen_viewer.gui import about
from allen_viewer.gui.first_run import probe_network
from allen_viewer.gui.settings import ViewerSettings

PDYN, NRP1 = 71717084, 74272479
CLOSED = "http://127.0.0.1:9"
NISSL_PATH = "/informatics-archive/current-release/mouse_ccf/ara_nissl/"

# each window is made by make_window (tests/gui/conftest.py): shown, nothing waited for
pytestmark = pytest.mark.window(size=(1400, 900))


def _wait_started(qtbot, w):
    qtbot.waitUntil(lambda: w.index is not None and w.space is not None and not w.probe_channel.busy,
                    timeout=30_000)


# ---- Qt-free: the probe and the About text ---------------------------------------------------

def test_probe_says_online_when_the_host_answers_and_why_not_otherwise(fake_server):
    result = probe_network(fake_server.api_url, timeout=2.0)
    assert result.online and "answered" in result.detail and result.host == f"127.0.0.1:{fake_server.port}"
    assert "(HTTP " in result.detail  # any answer will do: the fake has no HEAD handler (501)
    refused = probe_network(CLOSED, timeout=2.0)
    assert not refused.online and "refused" in refused.detail
    # a host that accepts the connection but never answers: offline after the timeout
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        mute = probe_network(f"http://127.0.0.1:{port}", timeout=0.5)
    assert not mute.online and "did not answer within 0.5 s" in mute.detail
    assert mute.elapsed_s < 6 * 0.5  # a deadline test: the silent host is given up on (margin 6x the timeout)


def test_about_text_is_built_without_qt():
    code = ("import sys\nfrom allen_viewer.gui import about\n"
            "text = about.about_html() + about.about_plain_text()\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyvistaqt', 'vtkmodules')]\n"
            "print(len(text), bad); sys.exit(1 if bad or len(text) < 1000 else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_about_text_has_versions_sources_and_citation():
    versions = about.collect_versions()
    for label in ("allen_viewer", "Python", "Qt for Python (PySide6)", "VTK", "pyvista", "numpy"):
        assert versions[label] and versions[label] != "not installed", label
    assert versions["allen_viewer"] == __version__
    html_text = about.about_html(versions)
    assert "Lein" in html_text and "doi:10.1038/nature05453" in html_text
    assert ALLEN_CITATION.split(".")[0] in html_text
    for value in versions.values():
        assert about.html.escape(value) in html_text
    # every embedded file is listed with what it is, from resources/NOTICE
    notice = about.read_notice()
    names = {s.name: s.description for s in about.notice_sources(notice)}
    res = config.resources_dir()
    shipped = {p.relative_to(res).as_posix() for p in res.rglob("*")
               if p.is_file() and p.name not in ("__init__.py", "NOTICE") and "__pycache__" not in p.parts}
    assert shipped and shipped <= set(names), shipped - set(names)
    assert all(names[n] for n in shipped)
    assert names["grids/71717084.zip"].startswith("Pdyn, coronal ISH")
    assert "Allen:" not in " ".join(names.values()) and "sha256" not in " ".join(names.values())
    plain = about.about_plain_text(versions)
    assert notice.strip() in plain and ALLEN_CITATION in plain


def test_experiment_page_url():
    assert about.experiment_page_url(PDYN) == "https://mouse.brain-map.org/experiment/show/71717084"


# ---- windows -----------------------------------------------------------------------------------

@pytest.mark.gui
def test_offline_mode_says_offline_and_offers_nothing(qtbot, make_window, fake_server, monkeypatch):
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    fake_server.reset()
    w = make_window(api_url=fake_server.api_url)
    _wait_started(qtbot, w)
    assert w.network == "offline-mode"
    assert w.probe_channel.generation == 0  # no probe when offline was asked for
    assert w.network_label.isVisible() and w.network_label.text() == "Offline mode"
    assert "ALLEN_VIEWER_OFFLINE" in w.network_label.toolTip()
    assert "[offline]" in w.windowTitle()
    assert not w.nissl_offer.isVisible() and not w.offline_note.isVisible()
    assert not w.first_run.maybe_offer_nissl()
    # the embedded data works, and nothing was sent
    w.request_gene("Pdyn")
    qtbot.waitUntil(lambda: w.grid is not None, timeout=20_000)
    assert w.grid.source == "embedded"
    assert fake_server.requests == []


@pytest.mark.gui
def test_no_network_found_at_start_then_retry_online_and_not_now(qtbot, make_window, server):
    with socket.socket() as silent:  # accepts connections, never answers: the probe times out
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        w = make_window(api_url=f"http://127.0.0.1:{silent.getsockname()[1]}")
        # the window is up and loads while the probe waits (3 s) in the background
        assert w.probe_channel.busy and w.network == "unknown" and not w.network_label.isVisible()
        qtbot.waitUntil(lambda: w.index is not None and w.space is not None, timeout=30_000)
        w.request_gene("Nrp1")
        qtbot.waitUntil(lambda: w.grid is not None, timeout=20_000)
        _wait_started(qtbot, w)
    assert w.network == "offline" and w.first_run.probe_result is not None and not w.first_run.probe_result.online
    assert w.network_label.isVisible() and w.network_label.text() == "Offline"
    assert w.offline_note.isVisible()
    assert "Offline" in w.offline_note.text and "did not answer within 3 s" in w.offline_note.text
    assert "Pdyn" in w.offline_note.text and "Nrp1" in w.offline_note.text  # what still works
    assert "[offline]" in w.windowTitle()
    assert not w.nissl_offer.isVisible()
    # the network is back: Retry finds it, and the Nissl download is offered (not started)
    w.data.client.api_url = server.api_url
    w.data.client.download_url = server.download_url
    with qtbot.waitSignal(w.networkChanged, timeout=10_000, check_params_cb=lambda s: s == "online"):
        w.offline_note.buttons["retry"].click()
    assert not w.offline_note.isVisible() and not w.network_label.isVisible()
    assert "[offline]" not in w.windowTitle()
    assert w.nissl_offer.isVisible()
    assert w.nissl_offer.buttons["download"].text() == "Download (136 MB)"
    assert {"later", "never"} <= set(w.nissl_offer.buttons)
    assert not w.nissl_channel.busy and not server.requests_to(NISSL_PATH)  # offered, never forced
    w.nissl_offer.buttons["later"].click()
    assert not w.nissl_offer.isVisible()
    assert not w.first_run.maybe_offer_nissl()  # once per run
    assert not w.settings.nissl_offer_declined and not ViewerSettings(w.settings.path).nissl_offer_declined
    assert "Atlas" in w.status_text
    assert not server.requests_to(NISSL_PATH)
    # later events correct the state: a download that cannot reach the host means offline ...
    w.data.client.api_url = CLOSED
    with qtbot.waitSignal(w.networkChanged, timeout=20_000, check_params_cb=lambda s: s == "offline"):
        w.request_gene("Gad1")  # not embedded: a download
    assert w.network_label.text() == "Offline" and w.offline_note.isVisible()
    assert "Gad1" not in w.windowTitle() and "[offline]" in w.windowTitle()
    # ... and a grid downloaded from the API means online again
    w.data.client.api_url = server.api_url
    with qtbot.waitSignal(w.networkChanged, timeout=20_000, check_params_cb=lambda s: s == "online"):
        w.request_gene("Gad1")
    assert w.grid.gene == "Gad1" and not w.offline_note.isVisible() and not w.network_label.isVisible()
    assert not w.nissl_offer.isVisible()  # still once per run


@pytest.mark.gui
def test_accepting_the_offer_downloads_with_progress_and_cancel(qtbot, make_window, server):
    # ~47 s for the 4.7 MB stand-in: a loaded machine must still see it part-way (cancelled long before)
    w = make_window(api_url=server.api_url, download_url=server.download_url)
    _wait_started(qtbot, w)
    assert w.network == "online" and not w.network_label.isVisible()
    qtbot.waitUntil(w.nissl_offer.isVisible, timeout=5000)
    # injected only now and for every request of this test: the module's server is shared, and a
    # late request from an earlier test's window must not use up a one-time fault
    server.inject(NISSL_PATH, "slow_body", times=1000, rate=100_000, chunk=32_768)
    progress = []
    w.nissl_channel.progressed.connect(lambda done, total, _tag: progress.append((done, total)))
    w.nissl_offer.buttons["download"].click()
    assert not w.nissl_offer.isVisible()
    assert w.nissl_channel.busy and w.nissl_indicator.isVisible()
    qtbot.waitUntil(lambda: any(done > 0 for done, _ in progress), timeout=15_000)
    done, total = progress[-1]
    assert total and 0 < done < total
    assert "MB" in w.nissl_indicator.bar.format() and w.nissl_indicator.bar.value() > 0
    with qtbot.waitSignal(w.nissl_channel.cancelled, timeout=15_000):
        w.nissl_indicator.cancel_button.click()
    assert not w.data.has_nissl() and not w.nissl_indicator.isVisible()
    assert "cancelled" in w.status_text
    assert server.requests_to(NISSL_PATH)


@pytest.mark.gui
def test_dont_ask_again_is_remembered(qtbot, make_window, server):
    w = make_window(api_url=server.api_url, settings="declines.ini", download_url=server.download_url)
    _wait_started(qtbot, w)
    qtbot.waitUntil(w.nissl_offer.isVisible, timeout=5000)
    w.nissl_offer.buttons["never"].click()
    assert not w.nissl_offer.isVisible() and not w.nissl_channel.busy
    assert ViewerSettings(w.settings.path).nissl_offer_declined
    w.close()
    again = make_window(api_url=server.api_url, settings="declines.ini", download_url=server.download_url)
    _wait_started(qtbot, again)
    assert again.network == "online"
    # the offer is decided in the same call that sets the network online (_on_network ->
    # maybe_offer_nissl), which has run once the probe's answer is in: nothing to wait for
    assert not again.nissl_offer.isVisible() and not again.first_run.maybe_offer_nissl()
    assert not server.requests_to(NISSL_PATH)


@pytest.mark.gui
def test_help_about_and_the_allen_experiment_page(qtbot, make_window, monkeypatch):
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True)
    w = make_window(api_url=CLOSED)
    _wait_started(qtbot, w)
    # About: versions, data sources, citation; non-modal
    w.about_action.trigger()
    box = w.dialogs.about_box
    assert box is not None and box.isVisible() and not box.isModal()
    text = box.text()
    versions = about.collect_versions()
    for label in ("allen_viewer", "VTK", "pyvista", "numpy", "Qt for Python (PySide6)", "Qt (running)"):
        assert label in text and about.html.escape(versions[label]) in text, label
    assert "Lein" in text and "annotation_25.nrrd" in text and "Pdyn, coronal ISH" in text
    assert "Terms of Use" in text
    assert "sha256" in box.detailedText()  # the whole NOTICE
    box.close()
    # the Allen page of the loaded gene: disabled with no gene, then the gene's id
    action = w.open_page_action
    assert not action.isEnabled() and not w.dialogs.open_experiment_page() and opened == []
    w.request_gene("Pdyn")
    qtbot.waitUntil(lambda: w.grid is not None and w.grid.id == PDYN, timeout=20_000)
    assert action.isEnabled() and "Pdyn" in action.text()
    action.trigger()
    assert opened == ["https://mouse.brain-map.org/experiment/show/71717084"]
    w.request_gene("Nrp1")
    qtbot.waitUntil(lambda: w.grid.id == NRP1, timeout=20_000)
    action.trigger()
    assert opened[-1] == "https://mouse.brain-map.org/experiment/show/74272479"
    assert "mouse.brain-map.org" in w.status_text
