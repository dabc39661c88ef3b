"""How long ``allen-viewer --help`` and an argument error take, over a bare interpreter.

Runs each in fresh processes (``python -m allen_viewer ...`` from this checkout) and
compares the median wall time with ``python -c pass`` measured in the same run, so the
figure is the CLI's own cost whatever the machine.  Also lists which heavy modules
(numpy, requests, SimpleITK, Qt, VTK, pyvista) the ``--help`` process imported: none is
the rule (docs/design.md, "Start-up cost").  Aim: under 0.1 s above the bare interpreter.

    python benchmarks/cli_start.py [RUNS]
"""
from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "requests", "SimpleITK", "PySide6", "vtkmodules", "pyvista", "pyvistaqt")


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _median_s(args: list[str], runs: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of ``runs`` fresh ``python ARGS`` processes."""
    walls, cpus = [], []
    for _ in range(runs):
        c0, t0 = _child_cpu_s(), time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, check=False)
        walls.append(time.perf_counter() - t0)
        cpus.append(_child_cpu_s() - c0)
    return statistics.median(walls), statistics.median(cpus)


def heavy_imports(args: list[str]) -> list[str]:
    """Top-level heavy packages a ``python -X importtime ARGS`` run imported."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=REPO, capture_output=True, text=True)
    seen = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip().split(".")[0]
            if name in HEAVY:
                seen.add(name)
    return sorted(seen)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    _median_s(["-m", "allen_viewer", "--help"], 2)  # warm the page cache and the .pyc files
    bare = _median_s(["-c", "pass"], runs)
    helped = _median_s(["-m", "allen_viewer", "--help"], runs)
    error = _median_s(["-m", "allen_viewer", "export", "image", "Pdyn"], runs)  # --out missing: exit 2
    heavy = heavy_imports(["-m", "allen_viewer", "--help"])
    print(f"median of {runs} fresh processes      wall (over bare)        CPU (over bare)")
    for label, (wall, cpu) in (("bare interpreter (python -c pass)", bare), ("allen-viewer --help", helped),
                               ("allen-viewer export image (no --out)", error)):
        print(f"{label:<37} {wall * 1000:6.1f} ms (+{(wall - bare[0]) * 1000:5.1f})   "
              f"{cpu * 1000:6.1f} ms (+{(cpu - bare[1]) * 1000:5.1f})")
    print(f"heavy modules imported by --help:     {', '.join(heavy) or 'none'}")
    print(f"RESULT bare_s={bare[0]:.3f} help_s={helped[0]:.3f} help_over_bare_s={helped[0] - bare[0]:.3f} "
          f"help_cpu_over_bare_s={helped[1] - bare[1]:.3f} arg_error_over_bare_s={error[0] - bare[0]:.3f} "
          f"heavy_imports={len(heavy)} aim_over_bare_s=0.1")


if __name__ == "__main__":
    main()
