"""The viewer under load: start-up, event-loop latency during downloads, rapid gene switching.

Run under a display (``xvfb-run -a -s "-screen 0 1920x1080x24" python benchmarks/gui_load.py``).
Four measurements, each printed, then one ``RESULT`` line:

1. **Start-up** (``startup_s``, ``startup_ratio``, ``screenshot_peak_mb``): fresh ``python``
   processes (offline, fresh settings) from launch to the first frame the 3-D view renders
   with the embedded Pdyn grid's spheres in it -- interpreter start, imports, the window,
   the gene index, the grid and a render, as a user waits for them.  One cold run fills a
   new cache (the outline mesh, the uncompressed 25 µm labels), then ``--startup-runs``
   warm runs use it (the median is ``startup_s``).  Also printed: the time until the atlas
   (tree, slices) and the brain outline are in too, and the peak resident memory then.
   ``startup_ratio``: ``startup_s`` over the first frame of a bare pyvistaqt window (one
   sphere, no data) timed in the same run, so that the figure compares across machines.
   ``screenshot_peak_mb``: the peak resident memory (``ru_maxrss``) of
   ``allen-viewer --gene Pdyn --screenshot`` with the warm cache.
2. **Event-loop latency** (``loop_p95_ms``, ``loop_max_ms``): a 10 ms timer in the UI thread
   records how late each tick fires while, in the background, the Nissl volume downloads
   from the loopback fake Allen server (its GENERATED 4.7 MB stand-in, slowed with
   ``slow_body`` so the download lasts seconds) and is converted and shown, and -- when
   ``allen_viewer.library.sync`` exists -- a library sync of ``--sync`` GENERATED experiments
   runs in a worker thread at the same time (``--sync-latency`` seconds added to each grid
   request, as a distant server has, so that it lasts about as long as the download).
   The fake server runs in this process, so its
   own work (generating and zipping grids) competes with the UI thread too: the figures
   are if anything pessimistic.
3. **Rapid gene switching** (``switch_rss_growth_mb``, ``switch_median_s``): 10 warm-up
   switches, then ``--switches`` more alternating Pdyn / Nrp1 (embedded, offline) through the
   gene search panel's signal, the window's grid channel, the 3-D scene and the slice
   panes, each waited for; resident memory (``/proc/self/statm``, after garbage collection
   and glibc's ``malloc_trim(0)``, i.e. the memory in use; the untrimmed growth is printed
   too) after the warm-up, half way and at the end.

4. **Click to frame** (``click_to_frame_median_s``, ``layer_only_median_s``): ``--clicks``
   gene clicks (Pdyn / Nrp1, embedded, i.e. a cached gene) from the gene search panel's
   ``experimentActivated`` to the end of the first 3-D frame whose expression layer holds
   the gene clicked (the render window's ``EndEvent``, then ``WaitForCompletion``, as the
   reference waits), in a real ``QEventLoop``: the grid
   load in the worker, the window's update of every pane, and the frame.  In the same
   window and run, the layer alone: ``set_grid`` and one finished frame (what
   ``benchmarks/render.py``'s ``switch_s`` times), the floor the click can reach.  Aim:
   click-to-frame < 0.15 s.

    python benchmarks/gui_load.py [--switches 100] [--clicks 20] [--sync 100] [--nissl-rate 600000]
    python benchmarks/gui_load.py --startup-only     # 1. alone
    python benchmarks/gui_load.py --switch-only      # 3. and 4. alone
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.fake_allen, tests.gui.load_probe

PDYN, NRP1 = 71717084, 74272479

STARTUP_CHILD = r"""
import os, sys
from allen_viewer.gui.app import ensure_app
from allen_viewer.data import AtlasData
from allen_viewer.gui.main_window import MainWindow
from allen_viewer.gui.settings import ViewerSettings
app = ensure_app()
window = MainWindow(AtlasData(), ViewerSettings(sys.argv[1]))
marks = {}
def on_render(*_):
    if "frame" not in marks and window.grid is not None and window.scene.expression_points is not None:
        marks["frame"] = True
        print("FIRST_FRAME", flush=True)
    if "all" not in marks and window.grid is not None and window.atlas_loaded and window.outline_mesh is not None:
        marks["all"] = True
        with open("/proc/self/status") as fh:
            peak = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
        print("ALL_LOADED", peak, flush=True)
        from PySide6.QtCore import QTimer
        QTimer.singleShot(0, app.quit)
window.scene.plotter.render_window.AddObserver("EndEvent", on_render)
window.show()
window.request_gene("Pdyn")
app.exec()
"""


BARE_CHILD = r"""
import pyvista as pv
from pyvistaqt import QtInteractor
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
window = QMainWindow()
plotter = QtInteractor(window, multi_samples=0)
window.setCentralWidget(plotter)
plotter.add_mesh(pv.Sphere())
def on_render(*_):
    print("FIRST_FRAME", flush=True)
    QTimer.singleShot(0, app.quit)
plotter.render_window.AddObserver("EndEvent", on_render)
window.resize(1600, 1000)
window.show()
app.exec()
"""


def _child_env(cache: Path) -> dict:
    return dict(os.environ, ALLEN_VIEWER_OFFLINE="1", ALLEN_VIEWER_CACHE=str(cache),
                PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _startup_once(cache: Path, settings: Path) -> tuple[float, float, float]:
    """(s to the first frame with spheres, s until atlas and outline are in, peak MB then)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", STARTUP_CHILD, str(settings)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(cache))
    first = everything = peak = None
    for line in proc.stdout:
        if line.startswith("FIRST_FRAME"):
            first = time.perf_counter() - t0
        elif line.startswith("ALL_LOADED"):
            everything = time.perf_counter() - t0
            peak = float(line.split()[1])
    proc.wait(120)
    if first is None or everything is None:
        sys.exit(f"the start-up child did not render: {proc.stderr.read()[-2000:]}")
    return first, everything, peak


def bare_pyvista_first_frame_s(runs: int) -> float:
    """Median seconds from launch to the first frame of a bare pyvistaqt window (one sphere)."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", BARE_CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        first = None
        for line in proc.stdout:
            if line.startswith("FIRST_FRAME") and first is None:
                first = time.perf_counter() - t0
        proc.wait(120)
        if first is None:
            sys.exit(f"the bare pyvista window did not render: {proc.stderr.read()[-2000:]}")
        times.append(first)
    return sorted(times)[len(times) // 2]


def screenshot_peak_mb(cache: Path, settings: Path, out: Path) -> float:
    """Peak resident MB (``ru_maxrss``) of ``allen-viewer --gene Pdyn --screenshot OUT``."""
    proc = subprocess.Popen([sys.executable, "-m", "allen_viewer", "--gene", "Pdyn", "--screenshot", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
                            env=dict(_child_env(cache), ALLEN_VIEWER_SETTINGS=str(settings)))
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0 or not out.is_file():
        sys.exit(f"the screenshot run failed: {proc.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024


def measure_startup(runs: int = 3) -> dict:
    """One cold run (new cache), then medians over ``runs`` warm runs, the bare pyvista window
    (same number of runs) and the warm screenshot run's peak memory."""
    with tempfile.TemporaryDirectory(prefix="allen_viewer_bench_start_") as tmp_name:
        tmp = Path(tmp_name)
        cache = tmp / "cache"
        cold = _startup_once(cache, tmp / "cold.ini")
        warm = [_startup_once(cache, tmp / f"warm{i}.ini") for i in range(runs)]
        bare = bare_pyvista_first_frame_s(runs)
        shot_peak = screenshot_peak_mb(cache, tmp / "shot.ini", tmp / "shot.png")
    mid = len(warm) // 2
    first, everything, peak = (sorted(w[k] for w in warm)[mid] for k in range(3))
    return {"cold": cold, "first_s": first, "all_s": everything, "peak_mb": peak, "bare_s": bare,
            "ratio": first / bare, "screenshot_peak_mb": shot_peak, "runs": runs}


def make_window(api_url: str, download_url: str, tmp: Path):
    from allen_viewer.api.client import AllenClient
    from allen_viewer.data import AtlasData
    from allen_viewer.gui.main_window import MainWindow
    from allen_viewer.gui.settings import ViewerSettings
    from allen_viewer.store.cache import Cache

    client = AllenClient(api_url, download_url, timeout=(5.0, 30.0), retries=2, backoff=0.05)
    data = AtlasData(cache=Cache(tmp / "cache"), client=client)
    window = MainWindow(data, ViewerSettings(tmp / "settings.ini"))
    window.resize(1600, 1000)
    window.show()
    return window


def loaded_window(app, server, tmp: Path):
    """:func:`make_window` on the fake server, once its index, atlas and outline are in."""
    from allen_viewer.gui.app import wait_until

    window = make_window(server.api_url, server.download_url, tmp)
    if not wait_until(app, lambda: window.index is not None and window.space is not None
                      and window.outline_mesh is not None and not window.probe_channel.busy, 120):
        sys.exit("the window did not load")
    return window


def measure_switching(app, window, switches: int) -> dict:
    from tests.gui.load_probe import expression_actor_names, median, settled_rss_mb, switch_genes

    index = window.index
    pair = [index.by_id(PDYN), index.by_id(NRP1)]
    os.environ["ALLEN_VIEWER_OFFLINE"] = "1"
    try:
        warm = switch_genes(app, window, pair, 10)
        raw_before = settled_rss_mb(app, trim=False)
        before = settled_rss_mb(app)
        times = switch_genes(app, window, pair, switches // 2)
        middle = settled_rss_mb(app)
        times += switch_genes(app, window, pair, switches - switches // 2)
        raw_after = settled_rss_mb(app, trim=False)
        after = settled_rss_mb(app)
    finally:
        os.environ.pop("ALLEN_VIEWER_OFFLINE", None)
    return {"warmup_median_s": median(warm), "median_s": median(times), "max_s": max(times),
            "rss_before_mb": before, "rss_middle_mb": middle, "rss_after_mb": after, "growth_mb": after - before,
            "second_half_mb": after - middle, "raw_growth_mb": raw_after - raw_before,
            "actors": len(expression_actor_names(window)), "switches": switches}


def measure_click_to_frame(app, window, count: int) -> dict:
    """Click-to-frame for a cached gene, and the layer alone, in the same window and run.

    ``click_to_frame``: from the gene search panel's ``experimentActivated`` (what Enter or
    a click on a listed gene emits) to the end of the first 3-D frame (the render window's
    ``EndEvent``, then ``WaitForCompletion`` as in ``layer_only``, so both sides are timed
    the same way) drawn with that gene's spheres -- loading the grid from the embedded data
    in the worker, the window's update of every pane, and the frame.  ``layer_only``: the
    same switches straight into the scene's expression layer (``set_grid``, then one
    ``render()`` finished with ``WaitForCompletion``): what ``benchmarks/render.py``'s
    ``switch_s`` measures, here in the same window, process and load."""
    from PySide6.QtCore import QEventLoop, QTimer

    from allen_viewer.gui.app import wait_until
    from tests.gui.load_probe import median

    index = window.index
    pair = [index.by_id(PDYN), index.by_id(NRP1)]
    if window.grid is not None and window.grid.id == PDYN:
        pair.reverse()  # every click asks for the gene not on show
    rw = window.scene.plotter.render_window
    target = {}

    loop = QEventLoop()  # a real event loop, as the app runs (no polling delays)
    timeout = QTimer()
    timeout.setSingleShot(True)
    timeout.timeout.connect(loop.quit)

    def on_frame(*_) -> None:  # the first frame whose expression layer holds the gene clicked
        layer = window.scene.layer
        if "t" not in target and "id" in target and layer is not None and layer.grid is not None \
                and layer.grid.id == target["id"]:
            rw.WaitForCompletion()  # the frame finished on the GPU, as the layer-alone reference waits
            target["t"] = time.perf_counter()
            loop.quit()

    observer = rw.AddObserver("EndEvent", on_frame)
    clicks = []
    try:
        os.environ["ALLEN_VIEWER_OFFLINE"] = "1"
        for n in range(count + 2):  # the first two: warm-up
            exp = pair[n % 2]
            target.clear()
            target["id"] = exp.id
            timeout.start(30_000)
            t0 = time.perf_counter()
            window.search_panel.experimentActivated.emit(exp)
            if "t" not in target:
                loop.exec()
            timeout.stop()
            if "t" not in target:
                sys.exit(f"no frame with {exp.label} in 30 s")
            if n >= 2:
                clicks.append(target["t"] - t0)
            wait_until(app, lambda: not window.grid_channel.busy, 5)
            for _ in range(3):
                app.processEvents()
        grids = [window.data.load_grid(e) for e in pair]
        layer = window.scene.layer
        alone = []
        for n in range(count + 2):
            app.processEvents()
            t0 = time.perf_counter()
            layer.set_grid(grids[n % 2])
            window.scene.render()
            rw.WaitForCompletion()
            if n >= 2:
                alone.append(time.perf_counter() - t0)
        layer.set_grid(window.grid)  # back to the gene the window shows
        window.scene.render()
    finally:
        os.environ.pop("ALLEN_VIEWER_OFFLINE", None)
        rw.RemoveObserver(observer)
    return {"click_median_s": median(clicks), "click_max_s": max(clicks), "layer_median_s": median(alone),
            "count": count}


def measure_latency(app, window, server, n_sync: int, nissl_rate: float, tmp: Path,
                    sync_latency: float = 0.2) -> dict:
    from allen_viewer.gui.app import wait_until
    from allen_viewer.gui.workers import RequestChannel
    from tests.fake_allen.data import NISSL_RELPATH
    from tests.gui.load_probe import LoopLatency, library_sync_available, sync_job

    server.inject("/informatics-archive/current-release/" + NISSL_RELPATH.rsplit("/", 1)[0], "slow_body",
                  rate=nissl_rate, chunk=32_768)
    sync_channel = None
    experiments = []
    if n_sync and library_sync_available():
        embedded = {PDYN, NRP1}
        pool = [e for e in sorted(window.index.experiments, key=lambda e: e.id) if e.id not in embedded]
        experiments = pool[::max(1, len(pool) // n_sync)][:n_sync]
        for e in experiments:  # the server's own generation, done before the clock starts
            server.data.volumes(e.id)
        # a distant server's latency on every grid request: the sync lasts about as long as the download
        server.inject("/grid_data/download/", "delay", times=len(experiments), seconds=sync_latency)
        sync_channel = RequestChannel("library-sync")
    results = {}
    if sync_channel is not None:
        sync_channel.resultReady.connect(lambda report, _t: results.__setitem__("sync", report))
        sync_channel.failed.connect(lambda msg, _e, _t: results.__setitem__("sync_failed", msg))
    window.nissl_channel.resultReady.connect(lambda *_: results.__setitem__("nissl", time.monotonic()))
    window.nissl_channel.failed.connect(lambda msg, *_: results.__setitem__("nissl_failed", msg))

    monitor = LoopLatency(10)
    monitor.start()
    t0 = time.monotonic()
    if window.nissl_offer.isVisible():
        window.nissl_offer.buttons["download"].click()  # the first-run offer, as a user accepts it
    else:
        window.first_run.download_nissl()
    if sync_channel is not None:
        sync_channel.submit(sync_job(experiments, tmp / "sync", server.api_url, window.ontology), tag="sync")

    def done() -> bool:
        nissl = "nissl" in results or "nissl_failed" in results
        synced = sync_channel is None or "sync" in results or "sync_failed" in results
        return nissl and synced

    if not wait_until(app, done, 300):
        sys.exit("the background work did not finish in 300 s")
    summary = monitor.stop()
    if "nissl_failed" in results or "sync_failed" in results:
        sys.exit(f"background work failed: {results}")
    out = {"summary": summary, "nissl_s": results["nissl"] - t0, "sync": results.get("sync"),
           "experiments": len(experiments)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--switches", type=int, default=100, help="gene switches after the warm-up (default 100)")
    parser.add_argument("--sync", type=int, default=100,
                        help="experiments to sync during the latency run (0: none; default 100)")
    parser.add_argument("--nissl-rate", type=float, default=600_000,
                        help="bytes/s the fake server sends the Nissl stand-in at (default 600000)")
    parser.add_argument("--sync-latency", type=float, default=0.2,
                        help="seconds the fake server waits before each grid of the sync (default 0.2)")
    parser.add_argument("--clicks", type=int, default=20, help="gene clicks timed to the frame (default 20)")
    parser.add_argument("--switch-only", action="store_true",
                        help="skip the start-up and latency runs: gene switching and click-to-frame only")
    parser.add_argument("--startup-runs", type=int, default=3, help="fresh processes to time (median)")
    parser.add_argument("--startup-only", action="store_true", help="measure the start-up (1.) only")
    args = parser.parse_args()
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    os.environ.pop("ALLEN_VIEWER_OFFLINE", None)

    if args.switch_only:
        return _switch_only(args)
    st = measure_startup(args.startup_runs)
    first = st["first_s"]
    cold_first, cold_all, cold_peak = st["cold"]
    print(f"start-up, cold cache (fresh process, offline, embedded Pdyn): first frame with spheres "
          f"{cold_first:.2f} s, atlas and outline in {cold_all:.2f} s, peak {cold_peak:.0f} MB resident")
    print(f"start-up, warm cache (median of {st['runs']}): first frame with spheres {first:.2f} s, atlas and "
          f"outline in {st['all_s']:.2f} s, peak {st['peak_mb']:.0f} MB resident; a bare pyvistaqt window's "
          f"first frame {st['bare_s']:.2f} s (ratio {st['ratio']:.2f})")
    print(f"--gene Pdyn --screenshot, warm cache: peak {st['screenshot_peak_mb']:.0f} MB resident (aim < 700)")
    startup_result = (f"startup_s={first:.2f} startup_ratio={st['ratio']:.2f} bare_pyvista_s={st['bare_s']:.2f} "
                      f"startup_peak_mb={st['peak_mb']:.0f} screenshot_peak_mb={st['screenshot_peak_mb']:.0f}")
    if args.startup_only:
        print(f"RESULT {startup_result}")
        return

    import pyvista as pv

    from allen_viewer.gui.app import ensure_app
    from tests.fake_allen.data import FakeAllenData
    from tests.fake_allen.server import FakeAllen

    pv.global_theme.anti_aliasing = None
    app = ensure_app()
    with tempfile.TemporaryDirectory(prefix="allen_viewer_bench_load_") as tmp_name, \
            FakeAllen(FakeAllenData.shared()) as server:
        tmp = Path(tmp_name)
        os.environ["ALLEN_VIEWER_CACHE"] = str(tmp / "cache")
        FakeAllenData.shared().nissl_path()  # build the stand-in before any clock runs
        window = loaded_window(app, server, tmp)
        try:
            sw = measure_switching(app, window, args.switches)
            print(f"gene switching: {sw['switches']} switches Pdyn/Nrp1 after 10 warm-up: median "
                  f"{sw['median_s'] * 1000:.0f} ms, slowest {sw['max_s'] * 1000:.0f} ms; RSS "
                  f"{sw['rss_before_mb']:.0f} MB -> {sw['rss_middle_mb']:.0f} MB (half way) -> "
                  f"{sw['rss_after_mb']:.0f} MB ({sw['growth_mb']:+.1f} MB; {sw['second_half_mb']:+.1f} MB over "
                  f"the second half; {sw['raw_growth_mb']:+.1f} MB untrimmed); expression actors at the end: "
                  f"{sw['actors']}")
            cf = measure_click_to_frame(app, window, args.clicks)
            print(f"click-to-frame, cached gene ({cf['count']} clicks Pdyn/Nrp1 after 2 warm-up): median "
                  f"{cf['click_median_s'] * 1000:.0f} ms, slowest {cf['click_max_s'] * 1000:.0f} ms (aim < 150 ms); "
                  f"the layer alone (set_grid + one finished frame, same window): median "
                  f"{cf['layer_median_s'] * 1000:.0f} ms")
            lat = measure_latency(app, window, server, args.sync, args.nissl_rate, tmp, args.sync_latency)
            s = lat["summary"]
            what = "Nissl download (GENERATED stand-in, 4.7 MB, slowed)"
            if lat["sync"] is not None:
                r = lat["sync"]
                what += (f" + library sync of {lat['experiments']} GENERATED experiments "
                         f"({r.packed} packed, {r.downloaded} downloaded, {r.elapsed_s:.1f} s)")
            print(f"event loop during {what}; Nissl shown after {lat['nissl_s']:.1f} s: {s.line()}")
        finally:
            window.close()
            window.deleteLater()
            app.processEvents()
    print(f"RESULT loop_p95_ms={s.p95_ms:.1f} loop_max_ms={s.max_ms:.1f} switch_rss_growth_mb={sw['growth_mb']:.1f} "
          f"switch_median_s={sw['median_s']:.3f} click_to_frame_median_s={cf['click_median_s']:.3f} "
          f"layer_only_median_s={cf['layer_median_s']:.3f} {startup_result}")


def _switch_only(args) -> None:
    """``--switch-only``: gene switching and click-to-frame, nothing else."""
    import pyvista as pv

    from allen_viewer.gui.app import ensure_app
    from tests.fake_allen.data import FakeAllenData
    from tests.fake_allen.server import FakeAllen

    pv.global_theme.anti_aliasing = None
    app = ensure_app()
    with tempfile.TemporaryDirectory(prefix="allen_viewer_bench_load_") as tmp_name, \
            FakeAllen(FakeAllenData.shared()) as server:
        tmp = Path(tmp_name)
        os.environ["ALLEN_VIEWER_CACHE"] = str(tmp / "cache")
        window = loaded_window(app, server, tmp)
        try:
            sw = measure_switching(app, window, args.switches)
            cf = measure_click_to_frame(app, window, args.clicks)
        finally:
            window.close()
            window.deleteLater()
            app.processEvents()
    print(f"gene switching: {sw['switches']} switches, median {sw['median_s'] * 1000:.0f} ms, slowest "
          f"{sw['max_s'] * 1000:.0f} ms; RSS {sw['growth_mb']:+.1f} MB")
    print(f"click-to-frame, cached gene ({cf['count']} clicks): median {cf['click_median_s'] * 1000:.0f} ms, "
          f"slowest {cf['click_max_s'] * 1000:.0f} ms (aim < 150 ms); the layer alone, same window: median "
          f"{cf['layer_median_s'] * 1000:.0f} ms")
    print(f"RESULT switch_median_s={sw['median_s']:.3f} switch_rss_growth_mb={sw['growth_mb']:.1f} "
          f"click_to_frame_median_s={cf['click_median_s']:.3f} layer_only_median_s={cf['layer_median_s']:.3f}")


if __name__ == "__main__":
    main()
