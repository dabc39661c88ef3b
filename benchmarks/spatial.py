"""Spatial (voxel-seeded) correlation over the whole genome: time and memory.

Builds the same GENERATED genome-sized library as ``benchmarks/search.py`` (not Allen data:
26,000 experiments x 62,529 in-brain voxels, 17 % coronal, 83 % sagittal covering the left
hemisphere, realistic no-data masks) in a temporary folder that is removed at the end.

Then, in a fresh process (so its peak memory is the computation's own), it opens the
library and times :func:`allen_viewer.library.spatial.spatial_correlation` for a seed in
the left striatum region (grid voxel (27, 15, 10), 5400,3000,2000 µm): with the coronal
experiments (the default) and with ``--plane all``.  A plain numpy computation of r for
400 random voxels (from the generated float32 grids rounded to float16, per voxel pair,
two-pass) checks the results: the same voxels must have an r and every r must agree to
1e-5; when they do not, it prints why and exits with status 1 WITHOUT a RESULT line.

    python benchmarks/spatial.py [--experiments N]

Ends with ``RESULT spatial_s=<s> all_s=<s> peak_rss_gb=<GB>``: the warm median times of the
coronal and the all-planes maps, and the measuring process's peak resident memory (VmHWM;
the memory-mapped library pages it touched count here, as in ``benchmarks/search.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(Path(__file__).resolve().parent)]  # this checkout's allen_viewer, then search.py
from search import (  # noqa: E402  (the same generated library)
    CHUNK, GENOME, Generator, build, generated_library_plan, process_memory,
)

SEED_UM = (5400.0, 3000.0, 2000.0)
CHECK_VOXELS = 400
CHECK_TOLERANCE = 1e-5  # |r| difference allowed against the float64 two-pass reference


def measure(root: str, repeats: int = 3) -> dict:
    from allen_viewer.library.spatial import spatial_correlation
    from allen_viewer.library.store import Library

    t = time.perf_counter()
    library = Library(root).refresh()
    out = {"open_s": time.perf_counter() - t, "rows": len(library)}

    def timed(plane, n):
        times, result = [], None
        for _ in range(n):
            t0 = time.perf_counter()
            result = spatial_correlation(library, SEED_UM, plane=plane)
            times.append(time.perf_counter() - t0)
        return times, result

    out["coronal_times"], cor = timed("coronal", repeats)
    out["all_times"], allp = timed("all", max(2, repeats - 1))
    for name, res in (("coronal", cor), ("all", allp)):
        out[name] = {"r": np.where(np.isnan(res.r), None, res.r).tolist(), "experiments": res.experiments,
                     "with_result": int((~np.isnan(res.r)).sum()), "column": res.seed_column}
    out["mem"] = process_memory()
    return out


def reference(gen: Generator, column: int, voxels: np.ndarray, planes: tuple[str, ...], min_overlap: int = 20):
    """Plain numpy r (two-pass, per voxel pair) for ``voxels`` columns, from the generated grids."""
    keep = np.isin(gen.plane, planes)
    xs, ys = [], []
    for start in range(0, gen.n, CHUNK):
        stop = min(gen.n, start + CHUNK)
        block = gen.chunk(start, stop)[keep[start:stop]].astype(np.float16).astype(np.float64)
        xs.append(block[:, column])
        ys.append(block[:, voxels])
    x, y = np.concatenate(xs), np.concatenate(ys)
    out = np.full(len(voxels), np.nan)
    for k in range(len(voxels)):
        m = ~np.isnan(x) & ~np.isnan(y[:, k])
        if m.sum() < min_overlap:
            continue
        a, b = x[m] - x[m].mean(), y[m, k] - y[m, k].mean()
        if (a * a).sum() > 0 and (b * b).sum() > 0:
            out[k] = (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=GENOME)
    parser.add_argument("--measure", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return

    ontology, layout, n, per_row, tmp_parent = generated_library_plan(args.experiments)
    print(f"GENERATED library (not Allen data): {n:,} experiments x {layout.n_voxels:,} in-brain voxels; "
          f"~{n * per_row / 1e9:.2f} GB")
    root = Path(tempfile.mkdtemp(prefix="allen_viewer_bench_spatial_", dir=tmp_parent))
    try:
        gen = Generator(layout, ontology, n)
        build_s = build(root, gen, ontology)
        print(f"built in {build_s:.1f} s; {sum(p.stat().st_size for p in root.iterdir()) / 1e9:.2f} GB on disk")
        if hasattr(os, "sync"):
            os.sync()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run([sys.executable, __file__, "--measure", str(root)], capture_output=True, text=True,
                              env=env)
        if proc.returncode:
            sys.exit(proc.stdout + proc.stderr)
        m = json.loads(proc.stdout.strip().splitlines()[-1])

        def warm(times):
            return statistics.median(times[1:]) if len(times) > 1 else times[0]

        spatial_s, all_s = warm(m["coronal_times"]), warm(m["all_times"])
        print(f"open: {m['open_s'] * 1e3:.1f} ms for {m['rows']:,} rows")
        for name, times in (("coronal", m["coronal_times"]), ("all planes", m["all_times"])):
            key = "coronal" if name == "coronal" else "all"
            print(f"spatial correlation, seed {SEED_UM} um, {name}: first {times[0]:.2f} s, warm median "
                  f"{warm(times):.2f} s; {m[key]['experiments']:,} experiments with data at the seed, "
                  f"r for {m[key]['with_result']:,} voxels")
        rng = np.random.default_rng(3)
        failed = []
        check = np.sort(rng.choice(layout.n_voxels, CHECK_VOXELS, replace=False))
        for key, planes in (("coronal", ("coronal",)), ("all", ("coronal", "sagittal"))):
            ours = np.array([np.nan if v is None else v for v in m[key]["r"]])[check]
            ref = reference(gen, m[key]["column"], check, planes)
            same = np.array_equal(np.isnan(ours), np.isnan(ref))
            diff = np.nanmax(np.abs(ours - ref)) if (~np.isnan(ref)).any() else 0.0
            ok = bool(same) and bool((~np.isnan(ref)).any()) and bool(diff <= CHECK_TOLERANCE)
            print(f"check vs plain numpy ({key}, {CHECK_VOXELS} random voxels): same voxels with a result: {same}; "
                  f"max |r diff| {diff:.2e} -> {'PASS' if ok else 'FAIL'} (need the same voxels, "
                  f"|r diff| <= {CHECK_TOLERANCE:g})")
            if not ok:
                failed.append(key)
        mem = m["mem"]
        print(f"process memory: peak RSS {mem['VmHWM'] / 1e9:.2f} GB (at the end {mem.get('RssFile', 0) / 1e9:.2f} GB "
              f"memory-mapped library pages, {mem.get('RssAnon', 0) / 1e9:.2f} GB private)")
        if hasattr(os, "getloadavg"):
            print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
                  + f" on {os.cpu_count()} CPUs")
        if failed:
            print(f"CHECK FAILED ({', '.join(failed)}): the library's r differs from plain numpy; no RESULT",
                  file=sys.stderr)
            sys.exit(1)
        print(f"RESULT spatial_s={spatial_s:.3f} all_s={all_s:.3f} peak_rss_gb={mem['VmHWM'] / 1e9:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("ALLEN_VIEWER_OFFLINE", "1")
    main()
