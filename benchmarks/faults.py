"""Fault-tolerance report: every scenario of ``tests/faults/scenarios.py``, as a table.

Starts the loopback fake Allen server (``tests/fake_allen``; its grids and Nissl volume
are GENERATED stand-ins, not Allen data) in this process, runs each fault in a fresh
temporary cache with the environment (``ALLEN_API_URL``, ``ALLEN_DOWNLOAD_URL``,
``ALLEN_VIEWER_CACHE``) pointed at them, and prints a Markdown table::

    fault | how it was made | action | message shown (truncated) | clear | keeps working | cache intact

then the problems of any scenario that failed, and one line
``RESULT faults=<n> passed=<n>``.  Exit status 1 when a scenario failed.
``docs/reliability.md`` explains the columns and keeps a copy of the output.

    python benchmarks/faults.py [--only NAME ...] [--width CHARS]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.faults, tests.fake_allen


def main(argv: list[str] | None = None) -> int:
    from tests.faults import scenarios as sc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scenarios")
    parser.add_argument("--width", type=int, default=100, help="characters of each message to show (default 100)")
    args = parser.parse_args(argv)
    chosen = [s for s in sc.SCENARIOS if not args.only or s.name in args.only]
    unknown = sorted(set(args.only or []) - {s.name for s in sc.SCENARIOS})
    if unknown:
        parser.error(f"no scenario {', '.join(unknown)}; known: {', '.join(s.name for s in sc.SCENARIOS)}")

    start = time.monotonic()
    server = sc.start_server()
    outcomes = []
    try:
        with tempfile.TemporaryDirectory(prefix="allen_faults_") as work:
            for s in chosen:
                try:
                    outcome = sc.run_scenario(s, server, Path(work))
                except Exception as exc:  # the harness itself broke: report it as a failed row
                    problem = [f"the scenario could not run: {type(exc).__name__}: {exc}"]
                    outcome = sc.Outcome(s.name, s.fault_text, s.action_text, "(not run)", problem, problem,
                                         problem, [], 0.0)
                outcomes.append(outcome)
                print(f"{'ok  ' if outcome.passed else 'FAIL'} {s.name} ({outcome.seconds:.1f} s)", file=sys.stderr,
                      flush=True)
    finally:
        server.stop()

    print(sc.format_table(outcomes, message_width=args.width))
    notes = [(o.name, n) for o in outcomes for n in o.notes]
    if notes:
        print()
        for name, note in notes:
            print(f"note: {name}: {note}")
    failed = [o for o in outcomes if not o.passed]
    if failed:
        print()
        for o in failed:
            print(o.report())
    passed = len(outcomes) - len(failed)
    print(f"\n{len(outcomes)} faults in {time.monotonic() - start:.0f} s")
    print(f"RESULT faults={len(outcomes)} passed={passed}")
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
