"""Gene sets: time of a 100-gene set's score map and of the search by that set over a library.

Builds a GENERATED library (not Allen data) as ``benchmarks/search.py`` does (its
:class:`Generator`: smooth random fields with realistic no-data masks, 17 % coronal, 83 %
sagittal one-hemisphere experiments), by default genome-sized (26,000 experiments), in a
temporary folder removed at the end.  Then it times, warm (median of repeats after a first
run):

* ``score_s``: the score map of a 100-experiment set from the library (the fast path:
  reading the 100 rows, ranking each, the mean and ``n_genes``,
  :func:`allen_viewer.expression.gene_sets.score_map`);
* ``search_s``: the search by that set over the whole library
  (:func:`allen_viewer.library.gene_set_search.set_search`: the score as the seed of the
  library's correlation search, the set's genes left out);

and checks the score map against plain numpy (ranks by searching the sorted values) on the same rows.

    python benchmarks/gene_sets.py [--experiments N] [--repeats R]

With ``--frame`` (needs a display, e.g. under ``xvfb-run``) it also times, in the same run
and off-screen window, a composite's "click to frame" against a single gene's: ranking the
loaded Pdyn and Nrp1 grids, building the composite layer and rendering one frame, against
building Pdyn's expression layer and rendering one frame (median of 9, alternating).

Ends with ``RESULT score_s=<s> search_s=<s> experiments=<N> max_score_error=<e>`` (with
``--frame``: ``composite_frame_s=<s> single_frame_s=<s> ratio=<x>`` added).
"""
from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search import CHUNK, GENOME, Generator, build, generated_library_plan  # noqa: E402

SET_SIZE = 100


def numpy_score(library, rows) -> np.ndarray:
    """The plain numpy score over the library's rows (mid-ranks by searching the sorted values)."""
    ranks = []
    for r in rows:
        v = library.grid(r).astype(np.float64)
        has = ~np.isnan(v)
        out = np.full(v.shape, np.nan)
        x = v[has]
        ordered = np.sort(x)
        below = np.searchsorted(ordered, x, side="left")
        ties = np.searchsorted(ordered, x, side="right") - below
        out[has] = (below + (ties - 1) / 2.0) / (x.size - 1)
        ranks.append(out)
    stack = np.stack(ranks)
    n = np.sum(~np.isnan(stack), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(stack, axis=0) / n
    mean[n < math.ceil(len(rows) / 2)] = np.nan
    return mean


def frame_times(repeats: int = 9) -> tuple[float, float, float]:
    """Median seconds to a finished frame: (composite with its ranking, composite from ranks
    already computed -- the window ranks in its worker thread, with the grid loads --, single
    gene), from grids in memory."""
    import pyvista as pv

    from allen_viewer import config
    from allen_viewer.expression.gene_sets import palette, percentile_ranks
    from allen_viewer.expression.grid import load_grid
    from allen_viewer.render.gene_set_layers import CompositeLayer
    from allen_viewer.render.layers import ExpressionLayer
    from allen_viewer.store.gene_index import GeneIndex

    index = GeneIndex.load(config.resources_dir() / "gene_index.tsv.gz")
    grids = [load_grid(config.resources_dir() / "grids" / f"{i}.zip", index.by_id(i)) for i in (71717084, 74272479)]
    plotter = pv.Plotter(off_screen=True, window_size=(960, 720))
    plotter.disable_anti_aliasing()
    single, composite = ExpressionLayer(plotter), CompositeLayer(plotter)
    colours = palette(2)
    t_single, t_comp, t_layer = [], [], []
    try:
        for _ in range(repeats):
            t = time.perf_counter()
            ranks = percentile_ranks(grids)
            t_rank = time.perf_counter()
            composite.set_data(ranks, colours, ["Pdyn", "Nrp1"])
            plotter.render()
            t_comp.append(time.perf_counter() - t)
            t_layer.append(time.perf_counter() - t_rank)
            composite.set_data(None)
            t = time.perf_counter()
            single.set_grid(grids[0])
            plotter.render()
            t_single.append(time.perf_counter() - t)
            single.set_grid(None)
    finally:
        single.detach()
        composite.detach()
        plotter.close()
    return statistics.median(t_comp), statistics.median(t_layer), statistics.median(t_single)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=GENOME)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--frame", action="store_true", help="also time a composite's frame against a gene's")
    args = parser.parse_args()
    frame = ""
    if args.frame:
        comp_s, layer_s, single_s = frame_times()
        print(f"to a frame, Pdyn+Nrp1 composite: {comp_s:.3f} s with the ranking, {layer_s:.3f} s from ranks (the "
              f"window ranks in its worker); Pdyn alone (layer, one frame): {single_s:.3f} s; ratios "
              f"{comp_s / single_s:.2f} and {layer_s / single_s:.2f} (aim <= 1.5)")
        frame = (f" composite_frame_s={comp_s:.3f} composite_layer_frame_s={layer_s:.3f} single_frame_s={single_s:.3f}"
                 f" ratio={comp_s / single_s:.2f} layer_ratio={layer_s / single_s:.2f}")

    from allen_viewer.expression.gene_sets import GeneSet, score_map
    from allen_viewer.library.gene_set_search import set_search
    from allen_viewer.library.store import Library
    from allen_viewer.records import Experiment

    ontology, layout, n, per_row, tmp_parent = generated_library_plan(max(args.experiments, CHUNK))
    print(f"GENERATED library (not Allen data): {n:,} experiments x {layout.n_voxels:,} in-brain voxels; "
          f"~{n * per_row / 1e9:.2f} GB")
    root = Path(tempfile.mkdtemp(prefix="allen_viewer_bench_genesets_", dir=tmp_parent))
    try:
        gen = Generator(layout, ontology, n)
        print(f"built in {build(root, gen, ontology):.1f} s")
        library = Library(root).refresh()
        rng = np.random.default_rng(23)
        rows = np.sort(rng.choice(n, size=min(SET_SIZE, n), replace=False))
        exps = [Experiment(int(library.ids[r]), library.symbols[r], "GENERATED", None, library.planes[r])
                for r in rows]
        gene_set = GeneSet(exps, [e.symbol for e in exps])

        def timed(fn):
            times, result = [], None
            for _ in range(max(2, args.repeats)):
                t = time.perf_counter()
                result = fn()
                times.append(time.perf_counter() - t)
            return statistics.median(times[1:]), times[0], result

        score_s, score_first, smap = timed(lambda: score_map(None, gene_set, library))
        assert smap.source == "library"
        search_s, search_first, hits = timed(lambda: set_search(library, ontology, smap, top=50))
        ref = numpy_score(library, rows)
        same_nan = bool(np.array_equal(np.isnan(ref), np.isnan(smap.score)))
        err = float(np.nanmax(np.abs(ref - smap.score)))
        print(f"score map of {len(rows)} experiments (library path): first {score_first:.3f} s, warm median "
              f"{score_s:.3f} s; voxels with a score {int((~np.isnan(smap.score)).sum()):,}; "
              f"vs plain numpy: max |difference| {err:.2e}, same voxels {same_nan}")
        print(f"set search over {n:,} experiments: first {search_first:.3f} s, warm median {search_s:.3f} s; "
              f"top hit r = {hits[0].r:.4f}" if hits else "no hits")
        import os

        if hasattr(os, "getloadavg"):
            print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg())
                  + f" on {os.cpu_count()} CPUs (other work on the machine slows every figure)")
        print(f"RESULT score_s={score_s:.3f} search_s={search_s:.3f} experiments={n} max_score_error={err:.2e}"
              + frame)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
