"""Fault-tolerance suite: every scenario of ``scenarios.SCENARIOS`` against the fake Allen
server, each asserting its three properties (clear message, keeps working, cache intact).

The same table is printed by ``python benchmarks/faults.py`` (see ``docs/reliability.md``).
"""
from __future__ import annotations

import pytest

from tests.faults import scenarios as sc

REQUIRED = {
    # the faults the issue names -> the scenarios that cover them
    "connection refused": "connection-refused",
    "DNS failure": "dns-failure",
    "timeout": "read-timeout",
    "HTTP 500": "http-500",
    "HTTP 503": "http-503",
    "HTTP 504": "http-504",
    "HTML outage page": "html-outage",
    "truncated zip": "truncated-zip",
    "corrupt zip": "corrupt-zip",
    "path traversal": "zip-path-traversal",
    "absurd member size": "member-claims-4gb",
    "absurd raw size": "raw-80mb",
    "absurd Content-Length": "content-length-1tb",
    "wrong dtype": "wrong-dtype",
    "wrong dimensions": "wrong-dimensions",
    "malformed JSON": "malformed-json",
    "failure envelope": "failure-envelope-cli",
    "malformed XML": "malformed-xml",
    "XML entity expansion": "xml-entity-expansion",
    "malformed structure graph": "graph-malformed-json",
    "disk full": "disk-full-grid",
    "read-only cache": "read-only-cache",
    "corrupted cache entry": "corrupt-cache-entry",
    "killed mid-write": "killed-mid-grid",
}


@pytest.fixture(scope="module")
def server():
    fake = sc.start_server()
    yield fake
    fake.stop()


def test_the_table_covers_every_fault_of_the_issue():
    names = [s.name for s in sc.SCENARIOS]
    assert len(names) == len(set(names)), "scenario names must be unique"
    missing = {fault: name for fault, name in REQUIRED.items() if name not in names}
    assert not missing


@pytest.mark.parametrize("scenario", sc.SCENARIOS, ids=[s.name for s in sc.SCENARIOS])
def test_fault(scenario, server, tmp_path):
    outcome = sc.run_scenario(scenario, server, tmp_path)
    assert outcome.message_problems == [], outcome.report()
    assert outcome.working_problems == [], outcome.report()
    assert outcome.cache_problems == [], outcome.report()


# ---- the judge itself can say no (so a passing table means something)


@pytest.mark.parametrize("text, problem", [
    ("", "empty message"),
    ("Download failed.\nTraceback (most recent call last):", "several lines"),
    ("HTTPConnectionPool(host='x', port=1): Max retries exceeded", "raw exception text"),
    ("data_set.xml is not valid XML (EntitiesForbidden(name='lol', system_id=None))", "exception repr"),
    ("[Errno 28] No space left on device", "raw exception text"),
    ("ConnectionRefusedError('refused')", "exception repr"),
    ("Something went wrong.", "does not mention 'HTTP 503'"),
])
def test_the_message_judge_rejects_unclear_messages(text, problem):
    assert any(problem in p for p in sc.message_problems(text, ("HTTP 503",)))


def test_the_message_judge_accepts_a_plain_sentence():
    text = ("The Allen API at 127.0.0.1:5000 returned HTTP 503 (2 tries); the service may be down. "
            "Try again later.")
    assert sc.message_problems(text, ("HTTP 503",)) == []


def _broken(act):
    """A copy of the truncated-zip scenario with another action."""
    base = next(s for s in sc.SCENARIOS if s.name == "truncated-zip")
    return sc.Scenario(base.name, base.fault_text, base.action_text, base.expect, base.mentions, base.fault, act)


def test_the_runner_notices_a_raw_exception(server, tmp_path):
    def act(run):
        raise OSError(28, "No space left on device")

    outcome = sc.run_scenario(_broken(act), server, tmp_path)
    assert not outcome.clear_message and "raw OSError" in outcome.message_problems[0]


def test_the_runner_notices_a_damaged_cache_entry(server, tmp_path):
    def act(run):
        path = run.cache / "grids" / f"{sc.PRECACHED_ID}.zip"
        path.write_bytes(path.read_bytes()[:1000])  # what a non-atomic write would leave
        return run.data().load_grid(sc.TARGET_ID)

    outcome = sc.run_scenario(_broken(act), server, tmp_path)
    assert not outcome.cache_intact  # the app quarantines and re-fetches it; the runner still says so
    assert any(str(sc.PRECACHED_ID) in p for p in outcome.cache_problems), outcome.cache_problems


def test_the_runner_notices_an_action_that_keeps_failing(server, tmp_path):
    def act(run):
        from allen_viewer.errors import CorruptDownload

        raise CorruptDownload(f"Experiment {sc.TARGET_ID} arrived damaged (it always does); nothing was saved.")

    outcome = sc.run_scenario(_broken(act), server, tmp_path)
    assert outcome.clear_message and not outcome.keeps_working
