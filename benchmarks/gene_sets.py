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

Ends with ``RESULT score_s=<s> search_s=<s> experiments=<N> max_score_error=<e>``.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=GENOME)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()

    from allen_viewer.expression.gene_sets import GeneSet, score_map
    from allen_viewer.library.gene_set_search import set_search
    from allen_viewer.library.store import Library
    from allen_viewer.store.gene_index import Experiment

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
        print(f"RESULT score_s={score_s:.3f} search_s={search_s:.3f} experiments={n} max_score_error={err:.2e}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
