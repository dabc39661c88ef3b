"""Requesting a gene, the threshold rule and swapping a comparison (Qt-free)."""
from __future__ import annotations

from allen_viewer.expression.brain import percentile_threshold


def resolve(data, query):
    """The experiment for ``query``: an Experiment as is, else a gene symbol or experiment id
    looked up in ``data`` (:class:`~allen_viewer.data.AtlasData`); raises
    :class:`~allen_viewer.errors.AllenViewerError` (one line) for an unknown one."""
    if hasattr(query, "id") and hasattr(query, "symbol"):
        return query
    return data.experiment(query)


def threshold_for(grid, display) -> float:
    """The energy threshold a gene opened gets (the threshold rule, ``display`` a
    :class:`~allen_viewer.state.DisplayState`): the pinned energy when ``threshold_pinned``,
    else ``threshold_percentile`` of the gene's own in-brain energies."""
    if display.threshold_pinned:
        return float(display.threshold)
    return percentile_threshold(grid, display.threshold_percentile)


def session_threshold(display, experiment_id: int, saved_experiment_id: int | None) -> float | None:
    """The threshold to restore exactly when a session opens gene ``experiment_id``: the
    saved one when the threshold is pinned or the gene is the one the session was saved with
    (``saved_experiment_id``; None: the session's own); None otherwise -- another gene gets
    the threshold rule, since one gene's percentile energy is meaningless for another."""
    saved = experiment_id if saved_experiment_id is None else int(saved_experiment_id)
    if display.threshold_pinned or saved == experiment_id:
        return float(display.threshold)
    return None


def swapped(state) -> tuple:
    """The state's (experiment, compare_with) after a swap: B becomes the gene on show."""
    return state.compare_with, state.experiment
