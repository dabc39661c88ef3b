"""The 3-D expression layer: point-gaussian sphere impostors against glyphed sphere meshes.

Compares, in the same run and the same off-screen render setup (1024 x 768, no
anti-aliasing, the same colour map and radii):

* ``gaussian``: the app's own code, :class:`allen_viewer.render.layers.ExpressionLayer` -- one
  point per voxel drawn by VTK's point-gaussian mapper with the app's sphere shader;
* ``glyph``: a plain ``pyvista.PolyData.glyph()`` of sphere meshes (10 x 10 resolution,
  180 triangles a sphere) at the same points, scaled by the same radius array.

on (a) the real Pdyn grid (experiment 71717084) at the app's default energy threshold and
(b) a GENERATED full grid: all 67 x 41 x 58 = 159,326 voxels drawn, energies drawn from a
seeded gamma distribution (not Allen data; only its size matters).

Figures, each case in a fresh process (so memory readings do not leak between cases):

* first frame: from handing the grid to the layer (gaussian: ``set_grid``; glyph: building
  the points, ``glyph()`` and ``add_mesh``) to the first frame finished
  (``Render()`` + ``WaitForCompletion()``; the GL context already exists);
* orbit: median frame time over camera azimuth steps of 10° (36 steps, a full turn; 12 for
  the glyphs of the full grid, whose frames take seconds);
* memory: the rendered dataset's size (``vtkDataObject.GetActualMemorySize``) and the
  process's resident-set growth (``/proc/self/statm``) from before building the layer to
  after the first frame; with Mesa llvmpipe the vertex buffers live in system memory, so
  the RSS growth includes them.

Also: switching genes in the app layer with the brain outline shown (Pdyn -> Nrp1 ->
Pdyn ...; ``set_grid`` until the frame is finished, median of 6 switches; the grids are
already loaded -- loading a cached grid is ``benchmarks/grid_load.py``'s business, its time
is printed for reference).  Start-up time is measured elsewhere.

    python benchmarks/render.py            # about 2-3 minutes on 2 cores with llvmpipe

Runs without X (pyvista off-screen rendering: EGL/OSMesa) or under ``xvfb-run``.  The last
line is ``RESULT frame_speedup=... memory_ratio=... first_frame_s=... orbit_median_ms=...
switch_s=...``, all for case (a) except ``switch_s``: ``frame_speedup`` = glyph orbit median /
gaussian orbit median, ``memory_ratio`` = glyph dataset bytes / point dataset bytes,
``first_frame_s`` and ``orbit_median_ms`` of the app's layer.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time
import traceback
from queue import Empty

WINDOW = (1024, 768)
GLYPH_RESOLUTION = 10
PDYN, NRP1 = 71717084, 74272479


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _load(experiment_id: int):
    from allen_viewer import config
    from allen_viewer.expression.grid import load_grid
    from allen_viewer.store.gene_index import GeneIndex

    index = GeneIndex.load(config.resources_dir() / "gene_index.tsv.gz")
    return load_grid(config.resources_dir() / "grids" / f"{experiment_id}.zip", index.by_id(experiment_id))


def _generated_full_grid():
    """A GENERATED grid: every voxel has data; gamma-distributed energies, seeded."""
    import numpy as np

    from allen_viewer.expression.grid import ExpressionGrid
    from allen_viewer.formats.grid_file import GRID_SHAPE
    from allen_viewer.records import Experiment

    rng = np.random.default_rng(20240601)
    energy = rng.gamma(1.2, 2.5, size=GRID_SHAPE).astype(np.float32)
    return ExpressionGrid(Experiment(0, "GENERATED", "generated full grid", None, "coronal"),
                          energy=energy, has_data=np.ones(GRID_SHAPE, bool), source="generated")


def _plotter():
    import pyvista as pv

    from allen_viewer.render.layers import BACKGROUND, GRID_BOUNDS_UM

    plotter = pv.Plotter(off_screen=True, window_size=WINDOW)
    plotter.render_window.SetMultiSamples(0)
    plotter.disable_anti_aliasing()
    plotter.set_background(BACKGROUND)
    plotter.renderer.ResetCamera(*GRID_BOUNDS_UM)
    cam = plotter.camera
    cam.SetViewUp(0.0, -1.0, 0.0)  # dorsal up
    cam.Azimuth(-40.0)
    cam.Elevation(25.0)
    cam.OrthogonalizeViewUp()
    plotter.renderer.ResetCamera(*GRID_BOUNDS_UM)
    plotter.camera_set = True
    return plotter


def _frame(plotter) -> float:
    win = plotter.render_window
    t = time.perf_counter()
    win.Render()
    win.WaitForCompletion()
    return time.perf_counter() - t


def run_case(approach: str, dataset: str, steps: int, queue) -> None:
    """One (approach, dataset) case in this (fresh) process; puts a dict on ``queue``."""
    import numpy as np
    import pyvista as pv

    from allen_viewer.render.layers import ExpressionLayer, build_expression_points
    from allen_viewer.state import DEFAULT_THRESHOLD

    grid = _load(PDYN) if dataset == "pdyn" else _generated_full_grid()
    threshold = DEFAULT_THRESHOLD if dataset == "pdyn" else 0.0
    plotter = _plotter()
    _frame(plotter)  # the GL context and the empty scene exist before anything is measured
    rss0 = _rss_bytes()
    t0 = time.perf_counter()
    if approach == "gaussian":
        layer = ExpressionLayer(plotter)
        layer.set_display(threshold=threshold)
        layer.set_grid(grid)
        dataset_obj = layer.poly
        n_points = layer.poly.n_points
    else:
        points = build_expression_points(grid, threshold)
        clim = (0.0, float(np.percentile(points["color_value"], 99.0)) if points.n_points else 1.0)
        sphere = pv.Sphere(radius=1.0, theta_resolution=GLYPH_RESOLUTION, phi_resolution=GLYPH_RESOLUTION)
        dataset_obj = points.glyph(geom=sphere, scale="radius", orient=False, factor=1.0)
        plotter.add_mesh(dataset_obj, scalars="color_value", cmap="viridis", clim=clim, show_scalar_bar=False,
                         reset_camera=False, render=False)
        n_points = points.n_points
    first = time.perf_counter() - t0 + _frame(plotter)
    rss1 = _rss_bytes()
    frames = []
    for _ in range(steps):
        plotter.camera.Azimuth(360.0 / 36)
        frames.append(_frame(plotter))
    queue.put({
        "approach": approach, "dataset": dataset, "n_points": int(n_points),
        "n_cells": int(dataset_obj.n_cells), "first_s": first, "orbit_ms": statistics.median(frames) * 1000,
        "steps": steps, "dataset_bytes": int(dataset_obj.GetActualMemorySize()) * 1024,
        "rss_delta": rss1 - rss0,
    })
    plotter.close()


def run_switch(repeats: int, queue) -> None:
    """Pdyn <-> Nrp1 in the app layer with the brain outline, ``set_grid`` to finished frame."""
    from allen_viewer import config
    from allen_viewer.atlas.ontology import Ontology
    from allen_viewer.atlas.reference_space import ReferenceSpace
    from allen_viewer.render.meshes import brain_outline
    from allen_viewer.render.layers import OUTLINE_COLOR, OUTLINE_OPACITY, ExpressionLayer

    res = config.resources_dir()
    space = ReferenceSpace.load(Ontology.load(res / "structure_graph_1.json"), res / "annotation_25.nrrd",
                                res / "P56_Mouse_gridAnnotation.zip")
    outline = brain_outline(space, use_cache=False)
    t = time.perf_counter()
    nrp1 = _load(NRP1)
    load_s = time.perf_counter() - t
    grids = [_load(PDYN), nrp1]
    plotter = _plotter()
    plotter.add_mesh(outline, color=OUTLINE_COLOR, opacity=OUTLINE_OPACITY, smooth_shading=True, render=False,
                     reset_camera=False)
    layer = ExpressionLayer(plotter)
    layer.set_grid(grids[0])
    _frame(plotter)
    switches = []
    for n in range(1, repeats + 1):
        t = time.perf_counter()
        layer.set_grid(grids[n % 2])
        _frame(plotter)
        switches.append(time.perf_counter() - t)
    queue.put({"switch_s": statistics.median(switches), "switches": switches, "grid_load_s": load_s})
    plotter.close()


def _guarded(target, args, queue) -> None:
    try:
        target(*args, queue)
    except BaseException:  # report it to the parent instead of leaving it waiting
        queue.put({"error": traceback.format_exc()})


def _in_fresh_process(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_guarded, args=(target, args, queue))
    proc.start()
    while True:
        try:
            result = queue.get(timeout=1.0)
            break
        except Empty:
            if not proc.is_alive():
                raise RuntimeError(f"benchmark case {target.__name__}{args} died (exit code {proc.exitcode})") from None
    proc.join()
    if "error" in result:
        raise RuntimeError(f"benchmark case {target.__name__}{args} failed:\n{result['error']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=36, help="orbit steps of 10 degrees (default 36)")
    parser.add_argument("--slow-steps", type=int, default=12,
                        help="orbit steps for the glyphs of the full generated grid (default 12)")
    args = parser.parse_args()

    import vtk

    print(f"VTK {vtk.vtkVersion.GetVTKVersion()}, window {WINDOW[0]}x{WINDOW[1]}, anti-aliasing off, "
          f"glyph spheres {GLYPH_RESOLUTION}x{GLYPH_RESOLUTION}")
    results = {}
    for dataset in ("pdyn", "full"):
        for approach in ("gaussian", "glyph"):
            steps = args.slow_steps if (dataset, approach) == ("full", "glyph") else args.steps
            r = _in_fresh_process(run_case, approach, dataset, steps)
            results[dataset, approach] = r
            label = "(a) real Pdyn grid" if dataset == "pdyn" else "(b) GENERATED full grid"
            print(f"{label:24s} {approach:8s} points {r['n_points']:7d}  cells {r['n_cells']:9d}  "
                  f"first frame {r['first_s']:6.2f} s  orbit median {r['orbit_ms']:8.1f} ms ({r['steps']} steps)  "
                  f"dataset {r['dataset_bytes'] / 1e6:8.1f} MB  RSS +{r['rss_delta'] / 1e6:8.1f} MB", flush=True)
    for dataset in ("pdyn", "full"):
        g, s = results[dataset, "gaussian"], results[dataset, "glyph"]
        print(f"{dataset}: glyph/gaussian frame time x{s['orbit_ms'] / g['orbit_ms']:.1f}, first frame "
              f"x{s['first_s'] / g['first_s']:.1f}, dataset bytes x{s['dataset_bytes'] / g['dataset_bytes']:.0f}, "
              f"RSS growth x{s['rss_delta'] / max(g['rss_delta'], 1):.1f}")
    sw = _in_fresh_process(run_switch, 6)
    print(f"gene switch Pdyn <-> Nrp1 (set_grid to finished frame, outline shown): median {sw['switch_s']:.3f} s "
          f"of {', '.join(f'{x:.3f}' for x in sw['switches'])}; loading the Nrp1 grid zip itself: "
          f"{sw['grid_load_s']:.3f} s")
    a_g, a_s = results["pdyn", "gaussian"], results["pdyn", "glyph"]
    print(f"RESULT frame_speedup={a_s['orbit_ms'] / a_g['orbit_ms']:.1f} "
          f"memory_ratio={a_s['dataset_bytes'] / a_g['dataset_bytes']:.0f} first_frame_s={a_g['first_s']:.3f} "
          f"orbit_median_ms={a_g['orbit_ms']:.1f} switch_s={sw['switch_s']:.3f}")


if __name__ == "__main__":
    main()
