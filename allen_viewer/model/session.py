"""Opening a session: what of it still waits for loaded data (Qt-free).

Opening a session is setting the :class:`~allen_viewer.state.ViewerState` (``update_from``);
the views follow the state.  Some of it can only be shown once something is loaded: the
gene (its grid), the comparison (gene B's grid), the session's exact threshold (a
percentile threshold needs the gene's energies; see :func:`~allen_viewer.model.genes.session_threshold`),
the camera (after the brain outline first fits the view), the cursor and the structures
(after the atlas).  :class:`SessionWaits` lists those; ``--screenshot`` waits until it is
empty (:attr:`SessionWaits.pending`)."""
from __future__ import annotations

from allen_viewer.model.genes import session_threshold


class SessionWaits:
    """What of an opened session waits: ``grid`` and ``compare`` (experiment ids),
    ``threshold`` ((experiment id, energy)), ``camera``, ``cursor``, ``selection``."""

    def __init__(self) -> None:
        self.todo: dict[str, object] = {}

    @property
    def pending(self) -> bool:
        """True while parts of an opened session wait for what they need."""
        return bool(self.todo)

    def open(self, session, saved_experiment_id: int | None = None) -> None:
        """A session is being opened: everything that needs loaded data waits (what waited
        for an earlier session is dropped)."""
        self.todo = {"camera": True, "cursor": True, "selection": True}
        if session.experiment is not None:
            exp_id = session.experiment.id
            self.todo["grid"] = exp_id
            exact = session_threshold(session.display, exp_id, saved_experiment_id)
            if exact is not None:
                self.todo["threshold"] = (exp_id, exact)
        if session.comparing and session.compare_with is not None:
            self.todo["compare"] = session.compare_with.id

    def waits_for(self, key: str) -> bool:
        return key in self.todo

    def done(self, key: str):
        """``key`` is shown: no longer waits; returns what it waited with (None if it did not)."""
        return self.todo.pop(key, None)

    def grid_loaded(self, experiment_id: int) -> float | None:
        """Gene ``experiment_id`` is shown: the exact threshold to restore for it, or None
        (the threshold rule applies)."""
        if self.todo.get("grid") == experiment_id:
            self.todo.pop("grid")
        exact = self.todo.pop("threshold", None)
        return exact[1] if exact is not None and exact[0] == experiment_id else None

    def compare_loaded(self, experiment_id: int) -> None:
        if self.todo.get("compare") == experiment_id:
            self.todo.pop("compare")

    def failed(self) -> None:
        """A gene of the session could not be loaded: nothing more comes for the genes."""
        for key in ("grid", "compare", "threshold"):
            self.todo.pop(key, None)
