"""Whole-genome search: time and memory of the library's correlation and differential search.

Builds a genome-sized library from GENERATED data (not Allen data): 26,000 experiments x
every in-brain voxel of the 200 µm grid (62,529, both hemispheres), in a temporary folder
that is removed at the end.  The generated grids are smooth random fields (Gaussian blobs
plus region-specific levels, noise, exact zeros) with realistic "no data" masks: 17 %
coronal experiments missing a few AP sections, 83 % sagittal ones covering the left
hemisphere and missing a few ML sections, plus scattered missing voxels.

Then, in a fresh process (so its peak memory is the search's own), it opens the library
and times a whole-brain correlation search (coronal seed: the costliest case), a
correlation search with a sagittal seed and one over a domain, and a differential search
(CP over Isocortex).  In the same run a plain numpy reference computes the same two
searches over the SAME in-brain columns (62,529 a row, not the full 67 x 41 x 58 grids,
so the speed-up is the library's own, not the cost of out-of-brain voxels), in float32
(NaN for no data, float32 products summed in float64), chunk by chunk (only its arithmetic
is timed, not the regeneration of its chunks), and the results are compared: to the
float32 columns (the float16 storage shows) and to the float16-rounded columns: r must
agree with the float16-rounded reference to 1e-6, the fold change (from
per-segment sums kept at full precision) with the float32 one to 1e-6 relative, and both
must rank their top 50 identically.  When that check fails the benchmark prints why and
exits with status 1 WITHOUT a RESULT line.

    python benchmarks/search.py [--experiments N]

Ends with ``RESULT corr_s=<s> diff_s=<s> peak_rss_gb=<GB> speedup=<x>``: the warm median
times of the whole-brain correlation search and the differential search, the search
process's peak resident memory (VmHWM; the memory-mapped library pages it touched count
here), and (reference correlation + differential time) / (library correlation + differential
time), both sides timed in the same run.
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

GENOME = 26_000
CHUNK = 256
SEED = 20240601
MAJOR = ["Isocortex", "OLF", "HPF", "CTXsp", "STR", "PAL", "TH", "HY", "MB", "P", "MY", "CB"]


# ---------------------------------------------------------------------------- generated data

class Generator:
    """GENERATED expression: deterministic chunks of (rows, V) float32 column values, NaN = no data."""

    def __init__(self, layout, ontology, n: int, basis: int = 96, seed: int = SEED):
        from allen_viewer.formats.grid_file import GRID_SHAPE

        self.layout, self.n, self.seed = layout, n, seed
        rng = np.random.default_rng(seed)
        v = layout.n_voxels
        coords = np.stack(np.unravel_index(layout.voxels.astype(np.int64), GRID_SHAPE), axis=1).astype(np.float32)
        self.ap, self.ml = coords[:, 0].astype(np.int16), coords[:, 2].astype(np.int16)
        regions = [layout.column_mask(layout.segment_mask(ontology.descendant_ids(a))) for a in MAJOR]
        self.basis = np.zeros((basis, v), np.float32)
        for k in range(basis):
            for _ in range(int(rng.integers(2, 5))):
                centre = coords[int(rng.integers(v))]
                sigma = float(rng.uniform(2.0, 8.0))
                d2 = ((coords - centre) ** 2).sum(axis=1)
                self.basis[k] += np.float32(rng.uniform(0.5, 3.0)) * np.exp(-d2 / (2 * sigma * sigma))
            for r in rng.choice(len(regions), size=2, replace=False):
                self.basis[k, regions[r]] += np.float32(rng.uniform(0.2, 2.0))
        self.noise = rng.random((32, v), dtype=np.float32)
        self.plane = np.where(rng.random(n) < 0.17, "coronal", "sagittal")

    def chunk(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of one block of CHUNK rows (blocks are generated whole, so
        the same rows come out however the caller slices)."""
        block = start // CHUNK
        if stop > (block + 1) * CHUNK or stop <= start:
            raise ValueError("chunk() takes rows within one block of CHUNK rows")
        return self._block(block)[start - block * CHUNK:stop - block * CHUNK]

    def _block(self, block: int) -> np.ndarray:
        start, stop = block * CHUNK, min(self.n, (block + 1) * CHUNK)
        rng = np.random.default_rng((self.seed, block))
        c, v = stop - start, self.layout.n_voxels
        idx = rng.integers(0, len(self.basis), size=(c, 3))
        w = rng.lognormal(0.0, 0.7, size=(c, 3)).astype(np.float32)
        out = np.zeros((c, v), np.float32)
        for j in range(3):
            out += w[:, j, None] * self.basis[idx[:, j]]
        out += rng.uniform(0.05, 0.6, size=(c, 1)).astype(np.float32) * self.noise[rng.integers(0, 32, size=c)]
        out *= rng.lognormal(0.0, 1.0, size=(c, 1)).astype(np.float32)
        out -= rng.uniform(0.0, 0.8, size=(c, 1)).astype(np.float32)  # below-threshold voxels: exact zeros
        np.maximum(out, 0.0, out=out)
        # missing sections: up to 5 AP slabs (coronal) or ML slabs (sagittal, which also lack
        # the right hemisphere), as per-row tables looked up per column
        coronal = self.plane[start:stop] == "coronal"
        rows = np.arange(c)
        ap_missing = np.zeros((c, 67), bool)
        ml_missing = np.zeros((c, 58), bool)
        ml_missing[~coronal, 29:] = True
        for _ in range(5):
            use = rng.random(c) < 0.5
            ap_missing[rows[use & coronal], rng.integers(0, 67, size=c)[use & coronal]] = True
            ml_missing[rows[use & ~coronal], rng.integers(0, 29, size=c)[use & ~coronal]] = True
        missing = ap_missing[:, self.ap] | ml_missing[:, self.ml]
        missing[np.repeat(rows, 60), rng.integers(0, v, size=c * 60)] = True  # scattered voxels
        out[missing] = np.nan
        return out


def build(root: Path, gen: Generator, ontology) -> float:
    from allen_viewer.library.store import Library, pack_rows

    t0 = time.perf_counter()
    library = Library(root)
    with library.writer(gen.layout, durable=False) as writer:
        for start in range(0, gen.n, CHUNK):
            stop = min(gen.n, start + CHUNK)
            ids = np.arange(start + 1, stop + 1)
            writer.append(pack_rows(gen.layout, ids, [f"GEN{i % 20000:05d}" for i in ids],
                                    list(gen.plane[start:stop]), gen.chunk(start, stop)))
            if (start // CHUNK) % 20 == 0:
                print(f"  built {stop:,} of {gen.n:,} rows ({time.perf_counter() - t0:.0f} s)", flush=True)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- the plain numpy reference

def reference(gen: Generator, seed_row: int, target_cols: np.ndarray,
              contrast_cols: np.ndarray) -> tuple[dict, dict, float, float]:
    """Pearson r (whole brain) and fold change computed with plain numpy over the SAME
    in-brain columns the library stores (62,529 a row, not the full 159,326-voxel grids),
    with float32 values (NaN = no data) and float32 products summed into float64, chunk by
    chunk; then again over the float16-rounded columns.

    Returns (float32 results, float16-rounded results, seconds of correlation arithmetic,
    seconds of differential arithmetic); only the float32 pass is timed (not the generation
    of its chunks)."""

    def corr(g, seed):
        m = ~np.isnan(g) & ~np.isnan(seed)
        n = m.sum(axis=1)
        y = np.where(m, g, np.float32(0))
        x = np.where(m, seed, np.float32(0))
        sx, sy = x.sum(1, dtype=np.float64), y.sum(1, dtype=np.float64)
        sxy = (x * y).sum(1, dtype=np.float64)
        sxx, syy = (x * x).sum(1, dtype=np.float64), (y * y).sum(1, dtype=np.float64)
        cov = n * sxy - sx * sy
        var = (n * sxx - sx * sx) * (n * syy - sy * sy)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where((n >= 50) & (var > 0), cov / np.sqrt(var), np.nan)

    def diff(g):
        with np.errstate(invalid="ignore", divide="ignore"):
            return (np.nanmean(g[:, target_cols], axis=1, dtype=np.float64)
                    / np.nanmean(g[:, contrast_cols], axis=1, dtype=np.float64))

    def f16(cols):
        return cols.astype(np.float16).astype(np.float32)

    seed_cols = gen.chunk(seed_row, seed_row + 1)
    seed32, seed16 = seed_cols[0], f16(seed_cols)[0]
    out32 = {"r": np.full(gen.n, np.nan), "fold": np.full(gen.n, np.nan)}
    out16 = {"r": np.full(gen.n, np.nan), "fold": np.full(gen.n, np.nan)}
    t_corr = t_diff = 0.0
    for start in range(0, gen.n, CHUNK):
        stop = min(gen.n, start + CHUNK)
        g = gen.chunk(start, stop)
        t = time.perf_counter()
        out32["r"][start:stop] = corr(g, seed32)
        t_corr += time.perf_counter() - t
        t = time.perf_counter()
        out32["fold"][start:stop] = diff(g)
        t_diff += time.perf_counter() - t
        g = f16(g)
        out16["r"][start:stop] = corr(g, seed16)
        out16["fold"][start:stop] = diff(g)
    return out32, out16, t_corr, t_diff


# ---------------------------------------------------------------------------- the timed searches (child process)

def measure(root: str, seed_id: int, sagittal_id: int, repeats: int = 4) -> dict:
    from allen_viewer.data import AtlasData
    from allen_viewer.library.search import correlation_search, differential_search
    from allen_viewer.library.store import Library

    ontology = AtlasData().ontology
    t = time.perf_counter()
    library = Library(root).refresh()
    open_s = time.perf_counter() - t
    out = {"open_s": open_s, "rows": len(library)}

    def timed(fn):
        times, result = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - t0)
        return times, result

    # timed as the command runs them (the top 50); then every score, untimed, for the comparison
    out["corr_times"], _ = timed(lambda: correlation_search(library, ontology, seed_id, top=50))
    out["corr_sag_times"], _ = timed(lambda: correlation_search(library, ontology, sagittal_id, top=50))
    out["corr_dom_times"], _ = timed(lambda: correlation_search(library, ontology, seed_id, domain="Isocortex",
                                                                 top=50))
    out["diff_times"], _ = timed(lambda: differential_search(library, ontology, "CP", "Isocortex", top=50))
    corr = correlation_search(library, ontology, seed_id, top=None)
    diff = differential_search(library, ontology, "CP", "Isocortex", top=None)
    out["corr"] = [[h.experiment_id, h.r] for h in corr]
    out["diff"] = [[h.experiment_id, h.fold_change] for h in diff]
    out["mem"] = process_memory()
    return out


def process_memory() -> dict:
    """This process's peak resident memory and its anonymous and file-backed parts, bytes:
    ``{"VmHWM", "RssAnon", "RssFile"}`` from /proc/self/status (only VmHWM, from getrusage,
    where there is no /proc)."""
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    mem = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in status.splitlines()
           if line.split(":")[0] in ("VmHWM", "RssAnon", "RssFile")}
    if "VmHWM" not in mem:
        import resource

        mem["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return mem


# ---------------------------------------------------------------------------- main

def compare(name: str, ours: list, ref: np.ndarray, n: int, top: int = 50,
            max_abs: float | None = None, max_rel: float | None = None) -> tuple[str, bool]:
    """One line comparing the library's scores with the reference, and whether they agree:
    the same experiments scored, every score within ``max_abs`` (absolute) or ``max_rel``
    (relative) of the reference and the top ``top`` in the same order.  Without a tolerance
    the comparison is informative only and gates nothing."""
    ids = np.array([i for i, _ in ours], dtype=np.int64)
    vals = np.array([v for _, v in ours])
    mine = np.full(n, np.nan)
    mine[ids - 1] = vals
    both = ~np.isnan(mine) & ~np.isnan(ref) & np.isfinite(ref) & np.isfinite(mine)
    same_set = np.array_equal(np.isnan(mine), np.isnan(ref))
    rel = np.abs(mine[both] - ref[both]) / np.maximum(np.abs(ref[both]), 1e-12)
    ref_rank = np.argsort(-np.where(np.isnan(ref), -np.inf, ref), kind="stable")[:top] + 1
    top_same = np.array_equal(ids[:top], ref_rank)
    rank_a = np.argsort(np.argsort(mine[both])).astype(np.float64)
    rank_b = np.argsort(np.argsort(ref[both])).astype(np.float64)
    rho = np.corrcoef(rank_a, rank_b)[0, 1]  # Spearman (no ties among floats here)
    ok = True  # an informative comparison gates nothing
    gated = max_abs is not None or max_rel is not None
    if gated:
        err = np.abs(mine[both] - ref[both]).max() if both.any() else np.inf
        within = err <= max_abs if max_abs is not None else rel.max() <= max_rel
        ok = bool(same_set) and bool(both.any()) and bool(within) and bool(top_same)
    line = (f"{name}: same experiments scored: {same_set}; max |diff| {np.abs(mine[both] - ref[both]).max():.2e} "
            f"(max relative {rel.max():.2e}); top-{top} order identical: {top_same}; Spearman {rho:.8f}")
    if gated:
        bound = f"|diff| <= {max_abs:g}" if max_abs is not None else f"relative <= {max_rel:g}"
        line += f" -> {'PASS' if ok else 'FAIL'} (need the same set, {bound}, the same top-{top})"
    return line, ok


def generated_library_plan(requested: int):
    """The ontology, the library layout of the in-brain voxels, how many experiments to
    generate (``requested``, fewer when the temporary folder has too little room, rounded
    to :data:`CHUNK`) and the folder to build in; prints a note when it had to build fewer.
    Shared by this benchmark and ``benchmarks/spatial.py``."""
    from allen_viewer import config
    from allen_viewer.atlas.ontology import Ontology
    from allen_viewer.atlas.reference_space import read_grid_annotation
    from allen_viewer.library.store import Layout

    ontology = Ontology.load(config.resources_dir() / "structure_graph_1.json")
    layout = Layout.build(read_grid_annotation(config.resources_dir() / "P56_Mouse_gridAnnotation.zip"), ontology)
    per_row = layout.n_voxels * 2 + layout.n_segments * 18 + 64 + 1000
    tmp_parent = Path(tempfile.gettempdir())
    free = shutil.disk_usage(tmp_parent).free
    n = requested
    if n * per_row * 1.2 > free:
        n = int(free / 1.2 / per_row) // CHUNK * CHUNK
        print(f"NOTE: only {free / 1e9:.1f} GB free in {tmp_parent}; building {n:,} experiments instead of "
              f"{requested:,}.")
    return ontology, layout, n, per_row, tmp_parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=GENOME)
    parser.add_argument("--measure", nargs=3, metavar=("ROOT", "SEED", "SAGITTAL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure[0], int(args.measure[1]), int(args.measure[2]))))
        return

    from allen_viewer.library.search import structure_label_ids

    ontology, layout, n, per_row, tmp_parent = generated_library_plan(args.experiments)
    print(f"GENERATED library (not Allen data): {n:,} experiments x {layout.n_voxels:,} in-brain voxels "
          f"(200 um, both hemispheres), {layout.n_segments} segments; ~{n * per_row / 1e9:.2f} GB")
    root = Path(tempfile.mkdtemp(prefix="allen_viewer_bench_library_", dir=tmp_parent))
    try:
        gen = Generator(layout, ontology, n)
        build_s = build(root, gen, ontology)
        size = sum(p.stat().st_size for p in root.iterdir())
        print(f"built in {build_s:.1f} s; library {size / 1e9:.2f} GB on disk "
              f"(energy.f16 {(root / 'energy.f16').stat().st_size / 1e9:.2f} GB)")
        if hasattr(os, "sync"):  # the build skipped fsync; a synced library is on disk, so flush it first
            t = time.perf_counter()
            os.sync()
            print(f"flushed to disk in {time.perf_counter() - t:.1f} s")

        seed_row = int(np.flatnonzero(gen.plane == "coronal")[0])
        sag_row = int(np.flatnonzero(gen.plane == "sagittal")[0])
        proc = subprocess.run([sys.executable, __file__, "--measure", str(root), str(seed_row + 1), str(sag_row + 1)],
                              capture_output=True, text=True)
        if proc.returncode:
            sys.exit(proc.stdout + proc.stderr)
        m = json.loads(proc.stdout.strip().splitlines()[-1])

        tcols = layout.column_mask(layout.segment_mask(structure_label_ids(ontology, ["CP"])))
        ccols = layout.column_mask(layout.segment_mask(structure_label_ids(ontology, ["Isocortex"])))
        ref32, ref16, ref_corr_s, ref_diff_s = reference(gen, seed_row, tcols, ccols)
        ref16["r"][seed_row] = np.nan  # the search leaves the seed out
        ref32["r"][seed_row] = np.nan

        def warm(times):
            return statistics.median(times[1:]) if len(times) > 1 else times[0]

        corr_s, diff_s = warm(m["corr_times"]), warm(m["diff_times"])
        mem = m["mem"]
        print(f"open: {m['open_s'] * 1e3:.1f} ms for {m['rows']:,} rows (memory-mapped)")
        print(f"correlation, whole brain, coronal seed: first {m['corr_times'][0]:.3f} s, warm median {corr_s:.3f} s; "
              f"plain numpy over the same in-brain columns in float32 {ref_corr_s:.2f} s -> "
              f"{ref_corr_s / corr_s:.1f}x")
        print(f"correlation, whole brain, sagittal seed: warm median {warm(m['corr_sag_times']):.3f} s")
        print(f"correlation, domain Isocortex: warm median {warm(m['corr_dom_times']):.3f} s")
        print(f"differential, CP over Isocortex: first {m['diff_times'][0]:.3f} s, warm median {diff_s:.3f} s; "
              f"plain numpy over the same in-brain columns in float32 {ref_diff_s:.2f} s -> "
              f"{ref_diff_s / diff_s:.1f}x")
        print(f"search process memory: peak RSS {mem['VmHWM'] / 1e9:.2f} GB (of which, at the end, "
              f"{mem.get('RssFile', 0) / 1e9:.2f} GB memory-mapped library pages from the page cache and "
              f"{mem.get('RssAnon', 0) / 1e9:.2f} GB private)")
        # r is computed from the float16-stored values: it must match the float16-rounded
        # reference; the fold change from per-segment sums kept at full precision when the
        # library was built: it must match the float32 reference.
        checks = [compare("r vs float32 reference (informative: the float16 storage shows)", m["corr"], ref32["r"], n),
                  compare("r vs float16-rounded reference", m["corr"], ref16["r"], n, max_abs=1e-6),
                  compare("fold change vs float32 reference", m["diff"], ref32["fold"], n, max_rel=1e-6),
                  compare("fold change vs float16-rounded reference (informative)", m["diff"], ref16["fold"], n)]
        for line, _ in checks:
            print(line)
        if hasattr(os, "getloadavg"):
            print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
                  + f" on {os.cpu_count()} CPUs (other work on the machine slows every figure)")
        failed = [line for line, ok in checks if not ok]
        if failed:
            print("CHECK FAILED: the library's results differ from the plain numpy reference; no RESULT",
                  file=sys.stderr)
            sys.exit(1)
        speedup = (ref_corr_s + ref_diff_s) / (corr_s + diff_s)
        print(f"RESULT corr_s={corr_s:.3f} diff_s={diff_s:.3f} peak_rss_gb={mem['VmHWM'] / 1e9:.2f} "
              f"speedup={speedup:.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("ALLEN_VIEWER_OFFLINE", "1")
    main()
