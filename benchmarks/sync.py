"""Library sync: parallel downloads versus one at a time, against a slow server.

Starts the loopback fake Allen server (``tests/fake_allen``; GENERATED grids, not Allen
data) in its own process, with an injected latency on every grid request (as a distant,
busy server has), and syncs the same few hundred experiments twice into fresh temporary
caches: with the default number of workers, then with one.  Prints both times and rates
and ends with ``RESULT speedup=<x>`` (one-worker time / default-workers time).

    python benchmarks/sync.py [--experiments N] [--latency SECONDS]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.fake_allen


def serve(ids, latency, ready, stop) -> None:
    """The fake server process: grids of ``ids`` pre-generated, ``latency`` s per grid request."""
    from tests.fake_allen.server import FakeAllen

    with FakeAllen(grid_ids=ids) as fake:
        try:
            for i in ids:
                fake.data.volumes(i)  # generate once, so the server's own work is only zipping
            fake.inject("/grid_data/download/", "delay", times=10**9, seconds=latency)
            ready.put(fake.api_url)
            stop.wait()
        finally:
            fake.data.close()  # its temporary folder (a child process skips atexit)


def timed_sync(experiments, api_url: str, workers: int) -> tuple[float, object]:
    from allen_viewer.api.client import AllenClient
    from allen_viewer.atlas.ontology import Ontology
    from allen_viewer import config
    from allen_viewer.library.store import Library
    from allen_viewer.library.sync import sync
    from allen_viewer.store.cache import Cache

    ontology = Ontology.load(config.resources_dir() / "structure_graph_1.json")
    tmp = Path(tempfile.mkdtemp(prefix="allen_viewer_bench_sync_"))
    try:
        cache = Cache(tmp)
        with AllenClient(api_url=api_url, retries=3, backoff=0.1) as client:
            t = time.perf_counter()
            report = sync(experiments, library=Library(tmp / "library"), cache=cache, client=client,
                          ontology=ontology, workers=workers)
            elapsed = time.perf_counter() - t
        if report.failed or report.packed != len(experiments):
            sys.exit(f"sync with {workers} workers did not complete: {report}")
        return elapsed, report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--experiments", type=int, default=240)
    parser.add_argument("--latency", type=float, default=0.08, help="seconds added to every grid request")
    args = parser.parse_args()
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
    os.environ.pop("ALLEN_VIEWER_OFFLINE", None)

    from allen_viewer.library.sync import DEFAULT_WORKERS
    from allen_viewer.store.gene_index import GeneIndex
    from allen_viewer import config

    index = GeneIndex.load(config.resources_dir() / "gene_index.tsv.gz")
    embedded = {71717084, 74272479}
    pool = [e for e in sorted(index.experiments, key=lambda e: e.id) if e.id not in embedded]
    experiments = pool[::max(1, len(pool) // args.experiments)][:args.experiments]
    ids = [e.id for e in experiments]

    ready, stop = mp.Queue(), mp.Event()
    server = mp.Process(target=serve, args=(ids, args.latency, ready, stop), daemon=True)
    server.start()
    try:
        api_url = ready.get(timeout=300)
        print(f"fake Allen server (GENERATED grids) at {api_url}, {args.latency * 1000:.0f} ms added to every "
              f"grid request; {len(ids)} experiments ({sum(e.plane == 'coronal' for e in experiments)} coronal)")
        t_par, _ = timed_sync(experiments, api_url, DEFAULT_WORKERS)
        print(f"{DEFAULT_WORKERS} workers (default): {t_par:.1f} s, {len(ids) / t_par:.1f} experiments/s")
        t_one, _ = timed_sync(experiments, api_url, 1)
        print(f"1 worker:            {t_one:.1f} s, {len(ids) / t_one:.1f} experiments/s")
        print(f"(at least {len(ids) * args.latency:.1f} s of pure latency one at a time)")
        print(f"RESULT speedup={t_one / t_par:.2f}")
    finally:
        stop.set()
        server.join(10)


if __name__ == "__main__":
    main()
