"""Gene-index type-ahead speed: time per query over the embedded ~26,000-experiment index.

Queries are what a user types letter by letter ("P", "Pd", "Pdy", ...) plus Entrez ids,
experiment ids and gene-name words.  The reference is a plain linear scan over the same
experiments (lower-cased symbol startswith), measured in the same run, so the ratio is
meaningful on a noisy machine.  Target: < 5 ms a query.

    python benchmarks/gene_index.py
"""
from __future__ import annotations

import statistics
import time

from allen_viewer import config
from allen_viewer.store.gene_index import GeneIndex

TYPED = ["Pdyn", "Nrp1", "Gad1", "Slc17a7", "Calb1", "Drd1", "Penk", "Sst", "0610007C21Rik"]
OTHER = ["18610", "71717084", "prodynorphin", "neuropilin", "glutamate decarboxylase", "zzzz"]


def _queries() -> list[str]:
    qs = []
    for word in TYPED:
        qs += [word[: i + 1] for i in range(len(word))]
    return qs + OTHER


def _time_each(fn, queries, repeat=5) -> list[float]:
    times = []
    for q in queries:
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            fn(q)
            best = min(best, time.perf_counter() - t)
        times.append(best)
    return times


def main() -> None:
    t = time.perf_counter()
    index = GeneIndex.load(config.resources_dir() / "gene_index.tsv.gz")
    load_s = time.perf_counter() - t
    queries = _queries()
    ours = _time_each(lambda q: index.search(q, limit=50), queries)
    experiments = index.experiments

    def linear(q):
        q = q.lower()
        return [e for e in experiments if e.symbol.lower().startswith(q)][:50]

    ref = _time_each(linear, queries)
    med, worst = statistics.median(ours), max(ours)
    ref_med = statistics.median(ref)
    print(f"index: {len(index)} experiments, {len(index.symbols)} symbols, loaded in {load_s * 1000:.0f} ms")
    print(f"{len(queries)} queries; ours: median {med * 1000:.3f} ms, worst {worst * 1000:.3f} ms "
          f"(worst query {queries[ours.index(worst)]!r})")
    print(f"linear-scan reference (symbol prefix only): median {ref_med * 1000:.3f} ms")
    print(f"speed-up over the linear scan (median): {ref_med / med:.1f}x; target < 5 ms a query: "
          f"{'met' if worst < 0.005 else 'NOT met'}")
    print(f"RESULT query_median_ms={med * 1000:.3f} query_worst_ms={worst * 1000:.3f} "
          f"speedup={ref_med / med:.1f} load_ms={load_s * 1000:.0f}")


if __name__ == "__main__":
    main()
