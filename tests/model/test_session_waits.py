"""Opening a session: what waits for loaded data (model/session.py), without Qt."""
from __future__ import annotations

from allen_viewer.model.screenshot import PARTS, part_words
from allen_viewer.model.session import SessionWaits
from allen_viewer.state import ExperimentRef, ViewerState

PDYN, NRP1 = 71717084, 74272479


def _session(comparing: bool = False, pinned: bool = False) -> ViewerState:
    s = ViewerState()
    s.experiment = ExperimentRef(PDYN, "Pdyn", "coronal")
    s.display.threshold = 3.25
    s.display.threshold_pinned = pinned
    if comparing:
        s.compare_with, s.comparing = ExperimentRef(NRP1, "Nrp1", "coronal"), True
    return s


def test_a_session_waits_for_its_gene_then_gets_its_own_threshold_back():
    waits = SessionWaits()
    assert not waits.pending
    waits.open(_session())
    assert set(waits.todo) == {"camera", "cursor", "selection", "grid", "threshold"}
    assert waits.grid_loaded(NRP1) is None  # another gene came first: it is not the session's
    assert waits.grid_loaded(PDYN) is None  # (the exact threshold was for the first gene only once)
    waits.open(_session())
    assert waits.grid_loaded(PDYN) == 3.25
    for key in ("camera", "cursor", "selection"):
        waits.done(key)
    assert not waits.pending


def test_another_gene_gets_the_rule_unless_the_threshold_is_pinned():
    waits = SessionWaits()
    waits.open(_session(), saved_experiment_id=NRP1)  # --session FILE --gene Pdyn, saved with Nrp1
    assert "threshold" not in waits.todo
    waits.open(_session(pinned=True), saved_experiment_id=NRP1)
    assert waits.todo["threshold"] == (PDYN, 3.25)


def test_a_comparison_waits_for_gene_b_and_a_failure_ends_the_genes_waits():
    waits = SessionWaits()
    waits.open(_session(comparing=True))
    assert waits.todo["compare"] == NRP1
    waits.compare_loaded(PDYN)
    assert waits.waits_for("compare")
    waits.compare_loaded(NRP1)
    assert not waits.waits_for("compare")
    waits.open(_session(comparing=True))
    waits.failed()
    assert set(waits.todo) == {"camera", "cursor", "selection"}


def test_screenshot_parts_have_words_for_the_sidecar():
    assert PARTS[0] == "window"
    assert part_words("3d") == "3-D view" and part_words("window", comparing=True) == "whole window (compare mode)"
    assert [part_words(p) for p in ("coronal", "sagittal", "horizontal")] == [
        "coronal slice pane", "sagittal slice pane", "horizontal slice pane"]
