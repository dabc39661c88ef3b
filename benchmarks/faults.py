"""Fault-tolerance report: every scenario of ``tests/faults/scenarios.py``, as a table.

Starts the loopback fake Allen server (``tests/fake_allen``; its grids and Nissl volume
are GENERATED stand-ins, not Allen data) in this process, runs each fault in a fresh
temporary cache with the environment (``ALLEN_API_URL``, ``ALLEN_DOWNLOAD_URL``,
``ALLEN_VIEWER_CACHE``) pointed at them, and prints a Markdown table::

    fault | how it was made | action | message shown (truncated) | clear | keeps working | cache intact

then the problems of any scenario that failed.  Then it runs **every pytest case of
``tests/faults/``** (``test_hostile_*.py``, ``test_round3_*.py``, ...; all but
``test_faults.py``, which runs the scenarios above once more) in a child ``python -m pytest``
with ``--junitxml`` into a temporary folder -- under ``xvfb-run -a`` when there is no
display, for the GUI cases -- and tabulates each case (test, outcome, seconds) from that
XML (this program's own output, read with ``xml.etree``).  It ends with one line::

    RESULT faults=<n> passed=<n> cases=<n> cases_passed=<n> cases_failed=<n> cases_skipped=<n>

Exit status 1 when a scenario or a case failed.  ``docs/reliability.md`` explains the
columns and keeps a copy of the output: ``--docs docs/reliability.md`` rewrites the part
between its ``<!-- faults-table:begin -->`` and ``<!-- faults-table:end -->`` markers
(atomically) with this run's output, so regenerating the table is one command.

    python benchmarks/faults.py [--only NAME ...] [--width CHARS] [--no-cases] [--docs FILE]
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.faults, tests.fake_allen


def main(argv: list[str] | None = None) -> int:
    from tests.faults import scenarios as sc

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scenarios")
    parser.add_argument("--width", type=int, default=100, help="characters of each message to show (default 100)")
    parser.add_argument("--no-cases", action="store_true", help="run the scenario table only, not the pytest cases")
    parser.add_argument("--docs", metavar="FILE", help="also write the output between the faults-table markers of FILE")
    args = parser.parse_args(argv)
    if args.docs:
        text = Path(args.docs).read_text(encoding="utf-8")
        if BEGIN not in text or END not in text:
            parser.error(f"{args.docs} has no {BEGIN} ... {END} markers")
    out = io.StringIO()
    with redirect_stdout(Tee(sys.stdout, out)):
        code = run(args)
    if args.docs:
        write_docs(Path(args.docs), out.getvalue(), args)
    return code


BEGIN, END = "<!-- faults-table:begin -->", "<!-- faults-table:end -->"


class Tee(io.TextIOBase):
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)


def write_docs(path: Path, output: str, args) -> None:
    """Put ``output`` between the markers of ``path`` (atomically, through the one atomic writer)."""
    from allen_viewer.io.atomic import atomic_write

    text = path.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    command = "python benchmarks/faults.py --docs docs/reliability.md"
    block = (f"{BEGIN}\n<!-- regenerate with: {command} (do not edit by hand) -->\n\n"
             f"Output of `{command}` ({time.strftime('%Y-%m-%d', time.gmtime())}; ports and temporary names "
             f"differ from run to run):\n\n{as_markdown(output)}\n\n{END}")
    with atomic_write(path, "w") as fh:
        fh.write(head + block + tail)


def as_markdown(output: str) -> str:
    """The output with its tables and headings as they are and every other run of lines fenced."""
    out, plain = [], []

    def flush() -> None:
        while plain and not plain[-1].strip():
            plain.pop()
        if plain:
            out.extend(["```", *plain, "```", ""])
        plain.clear()

    for line in output.strip().splitlines():
        if line.startswith("|") or line.startswith("#"):
            flush()
            out.append(line)
        elif not line.strip() and not plain:
            out.append(line)
        else:
            plain.append(line)
    flush()
    return "\n".join(out).strip()


def run(args) -> int:
    from tests.faults import scenarios as sc

    chosen = [s for s in sc.SCENARIOS if not args.only or s.name in args.only]
    unknown = sorted(set(args.only or []) - {s.name for s in sc.SCENARIOS})
    if unknown:
        print(f"no scenario {', '.join(unknown)}; known: {', '.join(s.name for s in sc.SCENARIOS)}", file=sys.stderr)
        return 2

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
    cases = [] if args.no_cases or args.only else pytest_cases()
    if cases:
        print("\n### Every pytest case of tests/faults/\n")
        print(format_cases(cases))
        counts = {k: sum(1 for c in cases if c[1] == k) for k in ("passed", "failed", "skipped")}
        print(f"\n{len(cases)} cases: {counts['passed']} passed, {counts['failed']} failed, "
              f"{counts['skipped']} skipped, in {sum(c[2] for c in cases):.0f} s")
        bad = [c for c in cases if c[1] == "failed"]
        for name, _, _, detail in bad:
            print(f"FAILED {name}: {detail}")
    else:
        counts, bad = {"passed": 0, "failed": 0, "skipped": 0}, []
    print(f"RESULT faults={len(outcomes)} passed={passed} cases={len(cases)} cases_passed={counts['passed']} "
          f"cases_failed={counts['failed']} cases_skipped={counts['skipped']}")
    return 0 if not failed and not bad else 1


def pytest_cases() -> list[tuple[str, str, float, str]]:
    """Every pytest case of ``tests/faults/`` but ``test_faults.py``: (test id, outcome, seconds,
    the first line of a failure or skip reason), from a child pytest's JUnit XML."""
    import xml.etree.ElementTree as ET  # the XML is this program's own output, not untrusted input

    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "faults").glob("test_*.py")
                   if p.name != "test_faults.py")
    with tempfile.TemporaryDirectory(prefix="allen_fault_cases_") as work:
        xml_path = Path(work) / "cases.xml"
        command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={xml_path}",
                   "-o", "junit_family=xunit1", *files]
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and shutil.which("xvfb-run"):
            command = ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", *command]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        print(f"running {len(files)} test files of tests/faults/ ...", file=sys.stderr, flush=True)
        subprocess.run(command, cwd=ROOT, env=env, stdout=sys.stderr, stderr=sys.stderr, check=False)
        if not xml_path.is_file():
            return [("(pytest did not run: no JUnit XML)", "failed", 0.0, "see the output above")]
        root = ET.parse(xml_path).getroot()
    out = []
    for case in root.iter("testcase"):
        module = (case.get("file") or case.get("classname", "").replace(".", "/") + ".py")
        name = f"{Path(module).name}::{case.get('name')}"
        outcome, detail = "passed", ""
        for kind in ("failure", "error", "skipped"):
            node = case.find(kind)
            if node is not None:
                outcome = "skipped" if kind == "skipped" else "failed"
                detail = (node.get("message") or node.text or "").strip().splitlines()[0:1]
                detail = detail[0][:160] if detail else ""
                break
        out.append((name, outcome, float(case.get("time") or 0.0), detail))
    return out


def format_cases(cases) -> str:
    """A Markdown table: test, outcome, seconds (and the reason of a skip or failure)."""
    width = max(len(c[0]) for c in cases) + 2
    lines = [f"| {'test (tests/faults/...)':<{width}} | outcome | seconds | note",
             f"|{'-' * (width + 2)}|---------|---------|-----"]
    for name, outcome, seconds, detail in cases:
        lines.append(f"| {'`' + name + '`':<{width}} | {outcome:<7} | {seconds:7.2f} | {detail}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
