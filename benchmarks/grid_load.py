"""Loading an expression grid from the cache: time and memory.

Copies the real Pdyn grid zip into a temporary cache as a cached download and times
``AtlasData.load_grid`` on it: the first read in a process (zip CRC check + validation +
parsing + masking) and later reads (validation remembered).  The reference, measured in the
same run, is the bare minimum any reader must do: unzip ``energy.raw`` and ``np.frombuffer``
it into (AP, DV, ML).

    python benchmarks/grid_load.py
"""
from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np

EXPERIMENT = 71717084  # Pdyn, embedded; copied into the cache under a cache-only id lookup


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="allen_viewer_bench_"))
    os.environ["ALLEN_VIEWER_CACHE"] = str(tmp)
    os.environ["ALLEN_VIEWER_OFFLINE"] = "1"
    from allen_viewer import config
    from allen_viewer.data import AtlasData
    from allen_viewer.expression.grid import load_grid

    src = config.resources_dir() / "grids" / f"{EXPERIMENT}.zip"
    data = AtlasData()
    cached = data.cache.grid_path(EXPERIMENT)
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, cached)
    exp = data.experiment(EXPERIMENT)

    def from_cache():
        path = data.cache.cached_grid(EXPERIMENT)  # the cache lookup, with validation
        return load_grid(path, exp, source="cached")

    t = time.perf_counter()
    grid = from_cache()
    first = time.perf_counter() - t
    later = []
    for _ in range(20):
        t = time.perf_counter()
        from_cache()
        later.append(time.perf_counter() - t)

    def reference():
        with zipfile.ZipFile(cached) as zf:
            return np.frombuffer(zf.read("energy.raw"), "<f4").reshape(58, 41, 67).transpose(2, 1, 0)

    ref = []
    for _ in range(20):
        t = time.perf_counter()
        reference()
        ref.append(time.perf_counter() - t)

    tracemalloc.start()
    from_cache()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    shutil.rmtree(tmp, ignore_errors=True)

    med, ref_med = statistics.median(later), statistics.median(ref)
    print(f"grid {exp.label}: {int(grid.has_data.sum())} voxels with data")
    print(f"first load in this process (validate + parse): {first * 1000:.1f} ms")
    print(f"later loads: median {med * 1000:.2f} ms; bare unzip+frombuffer reference: median {ref_med * 1000:.2f} ms "
          f"(ours / reference = {med / ref_med:.2f})")
    print(f"peak Python allocation during one load: {peak / 1e6:.2f} MB")
    print(f"RESULT load_first_ms={first * 1000:.1f} load_ms={med * 1000:.2f} "
          f"ratio_to_reference={med / ref_med:.2f} peak_mb={peak / 1e6:.2f}")


if __name__ == "__main__":
    main()
