"""Seconds per test module from a pytest JUnit XML report, longest first.

    python -m pytest ... --junitxml=/tmp/report.xml      # (tools/run_tests.sh passes "$@" on)
    python tools/module_times.py /tmp/report.xml [--top N]

A test case's time is its set-up, call and tear-down together, so a module's shared window
and fake server count in the module's first test.  The modules at the top are the ones
``SLOW_MODULES`` in tests/conftest.py sends first to the pytest-xdist workers; the order
only schedules the run, it never changes what a test checks.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree


def module_times(report: Path) -> dict[str, tuple[float, int]]:
    """``{module path: (seconds, test cases)}`` from a JUnit XML report."""
    totals: dict[str, list] = defaultdict(lambda: [0.0, 0])
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        module = case.get("file") or (case.get("classname") or "").replace(".", "/") + ".py"
        totals[module][0] += float(case.get("time") or 0.0)
        totals[module][1] += 1
    return {m: (t, n) for m, (t, n) in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="module_times.py", description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="a pytest --junitxml report")
    parser.add_argument("--top", type=int, default=30, help="how many modules to print (default 30)")
    args = parser.parse_args(argv)
    try:
        times = module_times(args.report)
    except (OSError, ElementTree.ParseError) as exc:
        print(f"module_times.py: cannot read {args.report}: {exc}", file=sys.stderr)
        return 1
    total = sum(t for t, _ in times.values())
    for module, (seconds, cases) in sorted(times.items(), key=lambda kv: -kv[1][0])[:args.top]:
        print(f"{seconds:8.1f} s  {cases:4d} tests  {module}")
    print(f"{total:8.1f} s  {sum(n for _, n in times.values()):4d} tests  in {len(times)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main())
