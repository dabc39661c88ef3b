"""The window under load: rapid gene switching leaks no memory, and the event loop stays
responsive while big downloads run in the background.

Bounds, from measurements on the 2-core development VM with software OpenGL (llvmpipe),
Xvfb, other jobs running (``benchmarks/gui_load.py`` prints the same figures):

* 100 switches Pdyn/Nrp1 after 10 warm-up switches (median switch 0.25-0.3 s).  Raw RSS
  moved by -2 to +27 MB over the 100: glibc keeps freed heap resident, in one step at a
  random moment (see :mod:`tests.gui.load_probe`).  Measured after ``malloc_trim(0)`` --
  the memory in use -- it grew by 0.2 to 1 MB per 100 switches over a 300-switch run
  (about 6 KB a switch).  Bounds (trimmed): :data:`SWITCH_RSS_BOUND_MB` = 20 MB over the 100
  switches and :data:`SECOND_HALF_RSS_BOUND_MB` = 10 MB over the last 50.  Keeping every grid
  shown (a 0.8 MB leak a switch, tried) grows RSS by ~77 MB over 100 and fails both.
* Event-loop lateness of a 10 ms timer while the Nissl stand-in (4.7 MB) downloads slowly,
  is converted and shown, with a 100-experiment library sync running alongside: p95 about
  10 ms, max about 160 ms (the moment the Nissl slices are drawn, in the UI thread).
  That is speed, so no test asserts it (issue 24: no wall-time assertion in tests; on the
  shared machine it would fail under load or pass vacuously): the test checks that both
  jobs complete with the window working and prints the figure; ``benchmarks/gui_load.py``
  measures it (aim: p95 under :data:`LOOP_P95_AIM_MS` = 100 ms).

Both tests print their figures (``pytest -s`` shows them).
"""
from __future__ import annotations

import pytest

from allen_viewer.gui.workers import RequestChannel
from tests.gui.load_probe import (
    LoopLatency,
    expression_actor_names,
    library_sync_available,
    median,
    settled_rss_mb,
    switch_genes,
    sync_job,
)

pytestmark = [pytest.mark.gui, pytest.mark.window(network="fake_server", timeout=(5.0, 30.0), retries=2, backoff=0.05,
                                                 size=(800, 500))]
# 800 x 500, not 1600 x 1000: memory and event-loop figures are the same (RSS +5.8 MB over the
# 100 switches at both sizes), and each switch renders a quarter of the pixels (median 0.36 s
# -> 0.11 s a switch; the switching test 61 s -> 22 s on the shared 2-core machine)

PDYN, NRP1 = 71717084, 74272479
SWITCHES = 100
WARMUP = 10
SWITCH_RSS_BOUND_MB = 20.0
SECOND_HALF_RSS_BOUND_MB = 10.0
LOOP_P95_AIM_MS = 100.0  # printed for reference; benchmarks/gui_load.py measures it
SYNC_EXPERIMENTS = 100
NISSL_DIR = "/informatics-archive/current-release/mouse_ccf/ara_nissl/"


@pytest.fixture(scope="module")
def fake_server(fake_server):
    fake_server.data.nissl_path()  # build the GENERATED stand-in before any clock runs
    return fake_server


def test_rapid_gene_switching_leaks_no_memory(qapp, window, monkeypatch):
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")  # embedded grids only
    pair = [window.index.by_id(PDYN), window.index.by_id(NRP1)]
    assert [window.data.locate(e.id) for e in pair] == ["embedded", "embedded"]
    switch_genes(qapp, window, pair, WARMUP)
    actors_before = len(window.scene.plotter.renderer.actors)
    raw_before = settled_rss_mb(qapp, trim=False)
    before = settled_rss_mb(qapp)
    times = switch_genes(qapp, window, pair, SWITCHES // 2)
    middle = settled_rss_mb(qapp)
    times += switch_genes(qapp, window, pair, SWITCHES - SWITCHES // 2)
    raw_after = settled_rss_mb(qapp, trim=False)
    after = settled_rss_mb(qapp)
    growth, second_half = after - before, after - middle
    print(f"\n{SWITCHES} switches after {WARMUP} warm-up: median {median(times) * 1000:.0f} ms, slowest "
          f"{max(times) * 1000:.0f} ms; RSS {before:.0f} -> {middle:.0f} -> {after:.0f} MB ({growth:+.1f} MB "
          f"over {SWITCHES}, bound {SWITCH_RSS_BOUND_MB:.0f}; {second_half:+.1f} MB over the last "
          f"{SWITCHES - SWITCHES // 2}, bound {SECOND_HALF_RSS_BOUND_MB:.0f}; untrimmed {raw_before:.0f} -> "
          f"{raw_after:.0f} MB)")
    assert len(times) == SWITCHES
    assert window.grid.id == pair[(SWITCHES - 1) % 2].id  # the last switch is on show
    assert growth < SWITCH_RSS_BOUND_MB
    assert second_half < SECOND_HALF_RSS_BOUND_MB
    assert len(expression_actor_names(window)) == 1
    assert len(window.scene.plotter.renderer.actors) == actors_before
    assert window.grid_channel.in_flight == 0 and not window.banner.isVisible()


def test_event_loop_stays_responsive_during_background_downloads(qapp, qtbot, window, server, tmp_path):
    assert window.network == "online" and not window.data.has_nissl()
    server.reset()
    server.inject(NISSL_DIR, "slow_body", rate=800_000, chunk=32_768)  # ~6 s for the 4.7 MB stand-in
    experiments = []
    sync_channel = None
    if library_sync_available():
        pool = [e for e in sorted(window.index.experiments, key=lambda e: e.id) if e.id not in (PDYN, NRP1)]
        experiments = pool[::len(pool) // SYNC_EXPERIMENTS][:SYNC_EXPERIMENTS]
        for e in experiments:
            server.data.volumes(e.id)  # the fake server's own generation, before the clock runs
        server.inject("/grid_data/download/", "delay", times=len(experiments), seconds=0.15)
        sync_channel = RequestChannel("library-sync", parent=window)
    results: dict = {}
    window.nissl_channel.resultReady.connect(lambda *_: results.setdefault("nissl", True))
    window.nissl_channel.failed.connect(lambda msg, *_: results.setdefault("nissl_failed", msg))
    if sync_channel is not None:
        sync_channel.resultReady.connect(lambda report, _t: results.setdefault("sync", report))
        sync_channel.failed.connect(lambda msg, *_: results.setdefault("sync_failed", msg))

    monitor = LoopLatency(10)
    monitor.start()
    assert window.nissl_offer.isVisible()  # online, no Nissl in the cache: the first-run offer
    window.nissl_offer.buttons["download"].click()
    if sync_channel is not None:
        sync_channel.submit(sync_job(experiments, tmp_path / "sync", server.api_url, window.ontology), tag="sync")
    qtbot.waitUntil(lambda: ("nissl" in results or "nissl_failed" in results)
                    and (sync_channel is None or "sync" in results or "sync_failed" in results), timeout=120_000)
    summary = monitor.stop()
    what = "Nissl download" + (f" + library sync of {len(experiments)} experiments" if experiments else "")
    print(f"\nevent loop during the {what}: {summary.line()} (aim p95 < {LOOP_P95_AIM_MS:.0f} ms; not asserted)")
    assert "nissl_failed" not in results and "sync_failed" not in results, results
    assert window.data.has_nissl() and window.slices.background == "nissl"
    if sync_channel is not None:
        report = results["sync"]
        assert report.packed == len(experiments) and not report.failed
    assert summary.ticks > 0  # the UI thread's timer kept firing while the jobs ran


def test_meshes_are_made_in_the_ui_thread(qtbot, window, monkeypatch):
    """Surfaces and the outline: the masks in a worker, every VTK mesh in the UI thread.

    VTK objects made or freed in a worker thread can deadlock against rendering (the UI
    thread renders without the GIL, VTK's garbage collector then waits for it while the
    worker holds it); a window hung at start-up that way under test.  See
    ``StructureSurfaces._on_surface`` in gui/structure_surfaces.py.
    """
    import threading

    from allen_viewer.render import meshes as surfaces

    calls = []
    real = surfaces.mask_surface

    def recording(*args, **kwargs):
        calls.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(surfaces, "mask_surface", recording)
    cp = 672
    window.surfaces.select_structure(None)
    assert not surfaces.mesh_cache_path(cp).exists()  # this test's own, empty cache: made, not read
    with qtbot.waitSignal(window.surfaceReady, timeout=30_000, check_params_cb=lambda sid: sid == cp):
        window.surfaces.select_structure(cp)
    assert cp in window.scene.structure_ids
    window.surfaces.select_structure(None)
    # the brain outline, as when the atlas arrives at start-up
    with qtbot.waitSignal(window.outlineReady, timeout=30_000):
        window.loaders._on_atlas((window.ontology, window.space), "atlas")
    assert calls == [True, True]
    assert window.outline_mesh is not None and window.outline_mesh.n_points > 10_000
