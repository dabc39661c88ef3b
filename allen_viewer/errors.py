"""Typed errors that say plainly what happened.

Every error a user can cause or meet (a mistyped gene, a service outage, a corrupt file)
is an :class:`AllenViewerError`; its ``str()`` is one sentence fit for a status bar or a
CLI message.  Anything else escaping is a bug.
"""
from __future__ import annotations

from allen_viewer.sanitize import clean_text


class AllenViewerError(Exception):
    """Base of all user-facing errors; ``str(error)`` is the message to show."""


class UnknownGene(AllenViewerError):
    """A gene symbol, name or Entrez id that matches no experiment."""

    def __init__(self, query: str, suggestions: list[str] | None = None):
        self.query = query
        self.suggestions = list(suggestions or [])
        msg = f"No ISH experiment for gene {clean_text(query, 80)!r}"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(self.suggestions) + "?"
        else:
            msg += "."
        super().__init__(msg)


class UnknownExperiment(AllenViewerError):
    """An experiment (SectionDataSet) id that the index and the service do not know."""

    def __init__(self, experiment_id: int | str):
        self.experiment_id = experiment_id
        super().__init__(f"No adult-mouse ISH experiment with id {clean_text(experiment_id, 40)}.")


class UnknownStructure(AllenViewerError):
    """A structure acronym or id that is not in the ontology."""

    def __init__(self, query: str, suggestions: list[str] | None = None):
        self.query = query
        self.suggestions = list(suggestions or [])
        msg = f"No brain structure {clean_text(query, 80)!r} in the ontology"
        msg += ("; did you mean " + ", ".join(self.suggestions) + "?") if self.suggestions else "."
        super().__init__(msg)


class ServiceUnavailable(AllenViewerError):
    """The Allen service answered, but not usefully (5xx, an HTML outage page, a failure envelope)."""


class Offline(AllenViewerError):
    """The network cannot be used: offline mode is on, or the host cannot be reached."""


class NotDownloaded(Offline):
    """An experiment whose grid is neither embedded nor cached, while the network cannot be
    used (offline mode, or no connection): names the gene and experiment and how to get it.
    Never suggests offline mode as the fix (docs/reliability.md, "Not downloaded")."""

    def __init__(self, symbol: str, experiment_id: int, offline_mode: bool, reason: str = "",
                 fetch_query: str | None = None):
        self.symbol, self.experiment_id, self.offline_mode = symbol, int(experiment_id), offline_mode
        if offline_mode:
            self.how = "offline mode is on (--offline or ALLEN_VIEWER_OFFLINE); turn offline mode off to download it"
        else:
            why = f" ({clean_text(reason, 160)})" if reason else ""
            self.how = (f"the network cannot be reached{why}; run `allen-viewer fetch "
                        f"{fetch_query or int(experiment_id)}` once connected")
        super().__init__(f"{clean_text(symbol, 40)} (experiment {int(experiment_id)}): its grid is not downloaded "
                         f"yet and {self.how}.")


class CorruptData(AllenViewerError):
    """A file (download, cache entry or user file) is not in the expected format."""


class CorruptDownload(CorruptData):
    """A download arrived damaged (truncated zip, wrong member sizes, ...); nothing was cached."""


class Cancelled(AllenViewerError):
    """The user (or a newer request) cancelled the operation."""

    def __init__(self, what: str = "Operation"):
        super().__init__(f"{what} cancelled.")
