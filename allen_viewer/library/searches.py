"""The library's searches as use cases and specs, shared by the CLI and the GUI panel.

A search *kind* is one :class:`SearchSpec`: the fields of its form, the columns of its
result table (how a hit becomes a cell), the CSV columns and the rows the CLI prints and
writes, its sidecar record, and how it runs over the local library
(:mod:`allen_viewer.library.search`) and against Allen's service
(:mod:`allen_viewer.library.remote`).  :data:`SPECS` lists them in the order the panel
offers them; ``allen-viewer search-differential`` / ``search-correlated`` and the
*Library search* panel (``gui/library_search.py``) only read the spec, so neither branches
on the kind, and a new search is one new spec (a subclass with its fields, columns and
two search methods) added to :data:`SPECS`.

The use cases:

* :func:`resolve_seed` (an id, a symbol or an experiment label -> what
  :func:`~allen_viewer.library.search.correlation_search` takes) and :func:`remote_seed`
  (the experiment id Allen's service is asked about): the one place a seed is chosen;
* :func:`run_local` and :func:`run_remote`: one search, to a :class:`SearchOutcome`
  (hits, the experiments a click loads, the seed, the time taken, the library searched).

Qt-free; the spatial (voxel-seeded) search of :mod:`allen_viewer.library.spatial` is not a
spec: its answer is an r map over voxels, not a ranked table of experiments.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from allen_viewer.errors import AllenViewerError, Cancelled
from allen_viewer.library.defaults import MIN_OVERLAP
from allen_viewer.library.results import (
    CORR_COLUMNS,
    CORR_METHOD,
    DIFF_COLUMNS,
    DIFF_METHOD,
    correlation_rows,
    differential_rows,
    library_record,
)
from allen_viewer.sanitize import is_id

LOCAL, ALLEN = "local", "allen"
"""A hit's ``source``: the library on this computer, or Allen's search service."""
SOURCE_TEXT = {LOCAL: "local", ALLEN: "Allen"}
DEFAULT_TOP = 50
STRUCTURES, EXPERIMENT = "structures", "experiment"
"""The kinds of form field: comma-separated acronyms (each with its descendants), or one
experiment (an id, a gene symbol or an experiment label)."""
_LABEL_ID = re.compile(r"\(\s*(?:[A-Za-z]+\s*,\s*)?(\d+)\s*\)\s*$")


# ---------------------------------------------------------------------------- the parts of a spec


@dataclass(frozen=True)
class FormField:
    """One field of a search form."""

    name: str
    """The request parameter it fills (``target``, ``seed``, ...)."""
    label: str
    kind: str
    """:data:`STRUCTURES` or :data:`EXPERIMENT`."""
    placeholder: str = ""
    tooltip: str = ""
    missing: str | None = None
    """The message when it is left empty; None: optional."""


@dataclass(frozen=True)
class Column:
    """One column of the result table: ``cell(hit)`` gives (display text, sort value)."""

    title: str
    cell: Callable[[Any], tuple[str, Any]]
    tip: str | None = None
    text: bool = False
    """Text (left-aligned) rather than a number (right-aligned)."""


@dataclass(frozen=True)
class SearchRequest:
    """One search: its spec (:meth:`SearchSpec.request` makes requests), its parameters (by
    form field name, plus any extra such as ``min_overlap``), the plane (None: any) and the
    rows wanted from each source."""

    spec: "SearchSpec"
    params: tuple[tuple[str, Any], ...] = ()
    plane: str | None = None
    top: int = DEFAULT_TOP

    @property
    def kind(self) -> str:
        return self.spec.kind

    def __getitem__(self, name: str):
        return self.get(name)

    def get(self, name: str, default=None):
        for key, value in self.params:
            if key == name:
                return value
        return default

    def describe(self, seed=None) -> str:
        """One line: what was searched (``seed``: the experiment the seed resolved to)."""
        return self.spec.summary(self, seed)


@dataclass
class SearchOutcome:
    """What one search (local or Allen's) hands back."""

    request: SearchRequest
    source: str
    """:data:`LOCAL` or :data:`ALLEN`."""
    hits: list = field(default_factory=list)
    experiments: dict = field(default_factory=dict)
    """The gene index's Experiment for every hit it knows (what a click loads), by id."""
    seed: Any = None
    """The seed's Experiment (searches with a seed; None when the gene index lacks it)."""
    note: str = ""
    """A sentence about the seed chosen, for the panel (empty when there is nothing to say)."""
    elapsed_s: float = 0.0
    library_record: dict = field(default_factory=dict)
    """The library behind the rows, as the CSV sidecar records it (local searches)."""
    library_genes: int = 0
    """Genes in that library snapshot."""


# ---------------------------------------------------------------------------- seeds


def seed_query(text: str) -> str:
    """The id or symbol in a seed field: ``"Pdyn (coronal, 71717084)"`` -> ``"71717084"``."""
    text = (str(text) if text is not None else "").strip()
    m = _LABEL_ID.search(text)
    return m.group(1) if m else text


@dataclass(frozen=True)
class Seed:
    """A seed chosen for a correlation search.

    ``value``: what :func:`~allen_viewer.library.search.correlation_search` takes (the
    experiment id when it is in the library, else its loaded ExpressionGrid);
    ``experiment``: the gene index's Experiment (None for an id it lacks); ``candidates``:
    the experiments of the symbol typed (1 for an id); ``in_library``.
    """

    value: Any
    experiment: Any
    candidates: int = 1
    in_library: bool = True

    def note(self) -> str:
        """The panel's sentence about this choice (empty when there is nothing to say)."""
        exp = self.experiment
        parts = []
        if self.candidates > 1:
            parts.append(f"{exp.symbol} has {self.candidates} experiments; the seed is {exp.plane} {exp.id} "
                         "(type an id to choose)")
        if not self.in_library:
            parts.append(f"the seed {exp.label} is not in the library; its grid was loaded")
        return "; ".join(parts)


def _has_rows(library) -> bool:
    return library.exists() and len(library) > 0


def _pick(data, library, symbol: str):
    """(the experiment a symbol means for a search, its candidates, whether it is in the
    library): the gene's library experiment, coronal first, else the gene's default."""
    from allen_viewer.store.gene_index import pick_default

    candidates = data.gene_index.experiments_of(symbol)
    in_library = _has_rows(library)
    in_lib = [e for e in candidates if in_library and library.row_of(e.id) is not None]
    return pick_default(in_lib or candidates), candidates, bool(in_lib)


def _empty_seed() -> AllenViewerError:
    return AllenViewerError("Give a seed experiment: a gene symbol or an experiment id.")


def resolve_seed(data, library, text: str, progress=None, cancel=None) -> Seed:
    """The seed of a local correlation search, from an id, a symbol or an experiment label.

    An id in the library is searched as its stored row; a symbol means the gene's library
    experiment (coronal first, then the lowest id).  An experiment that is not in the
    library is loaded (embedded, cached or downloaded, with ``progress``/``cancel``) and
    taken at the library's precision.  ``data``: an :class:`~allen_viewer.data.AtlasData`.
    """
    query = seed_query(text)
    if not query:
        raise _empty_seed()
    index = data.gene_index
    if is_id(query):
        exp_id = int(query)
        exp = index.by_id(exp_id) if index.has_id(exp_id) else None
        if _has_rows(library) and library.row_of(exp_id) is not None:
            return Seed(exp_id, exp)
        if exp is None:
            raise AllenViewerError(f"Experiment {exp_id} is neither in the library nor in the gene index.")
        return Seed(data.load_grid(exp, progress, cancel), exp, 1, False)
    exp, candidates, in_lib = _pick(data, library, query)
    if in_lib:
        return Seed(exp.id, exp, len(candidates), True)
    return Seed(data.load_grid(exp, progress, cancel), exp, len(candidates), False)


def remote_seed(data, open_library: Callable[[], Any], text: str) -> tuple[int, Any]:
    """(experiment id, its Experiment or None) that Allen's correlation service is asked
    about: the experiment :func:`resolve_seed` would choose, without loading its grid (an
    id is sent as it is; the library is opened only for a symbol)."""
    query = seed_query(text)
    if not query:
        raise _empty_seed()
    index = data.gene_index
    if is_id(query):
        return int(query), (index.by_id(int(query)) if index.has_id(int(query)) else None)
    exp, _candidates, _in_lib = _pick(data, open_library(), query)
    return exp.id, exp


# ---------------------------------------------------------------------------- the use cases


def require_rows(library, how_to_fill: str) -> None:
    """Refuse a missing or empty library: ``how_to_fill`` ends the message."""
    from allen_viewer.library.store import LibraryError

    if not _has_rows(library):
        raise LibraryError(f"The library at {library.root} holds no experiments yet; {how_to_fill}.")


def _check(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled("Search")


def _known(data, hits: Sequence) -> dict:
    index = data.gene_index
    return {h.experiment_id: index.by_id(h.experiment_id) for h in hits if index.has_id(h.experiment_id)}


def safe_library_record(library) -> dict:
    """:func:`~allen_viewer.library.results.library_record`, or root and 0 experiments when
    the library cannot be read."""
    try:
        return library_record(library)
    except AllenViewerError:
        return {"root": str(library.root), "experiments": 0}


def run_local(data, library, request: SearchRequest, progress=None, cancel=None,
              how_to_fill: str = "run `allen-viewer library sync` first",
              on_seed: Callable[[Seed], None] | None = None) -> SearchOutcome:
    """``request`` over the library (``data``: an AtlasData; ``library``: an open Library).

    Refuses an empty library (``how_to_fill`` ends that message) and unknown structures
    (with suggestions); ``on_seed`` hears the seed chosen before the search runs.
    """
    t0 = time.perf_counter()
    spec = request.spec
    require_rows(library, how_to_fill)
    spec.check(data.ontology, request)
    _check(cancel)
    hits, seed = spec.search_local(data, library, request, progress, cancel, on_seed)
    return SearchOutcome(request, LOCAL, hits, _known(data, hits), seed.experiment if seed else None,
                         seed.note() if seed else "", time.perf_counter() - t0, safe_library_record(library),
                         len(set(library.symbols)))


def run_remote(data, open_library: Callable[[], Any], request: SearchRequest, cancel=None,
               seed=None) -> SearchOutcome:
    """``request`` sent to Allen's service.  The seed (searches with one) is chosen as the
    local search chooses it (:func:`remote_seed`), so both compare the same experiment;
    ``seed``: an Experiment already chosen (skips that)."""
    t0 = time.perf_counter()
    spec = request.spec
    spec.check(data.ontology, request)
    hits, seed_exp = spec.search_remote(data, open_library, request, cancel, seed)
    return SearchOutcome(request, ALLEN, hits, _known(data, hits), seed_exp, "", time.perf_counter() - t0)


# ---------------------------------------------------------------------------- specs


def num_text(v: float | None, digits: int = 4) -> str:
    """A table cell's number: ``–`` for none or NaN, ``∞``, else ``digits`` significant."""
    if v is None or v != v:
        return "–"
    if v == float("inf"):
        return "∞"
    return f"{v:.{digits}g}"


RANK = Column("#", lambda h: (str(h.rank), h.rank), "Rank within its source")
SOURCE = Column("Source", lambda h: (SOURCE_TEXT.get(h.source, h.source), h.source),
                "local: the library on this computer; Allen: Allen's own search service", text=True)
GENE = Column("Gene", lambda h: (h.symbol, h.symbol.lower()), text=True)
PLANE = Column("Plane", lambda h: (h.plane, h.plane), text=True)
ID = Column("Id", lambda h: (str(h.experiment_id), h.experiment_id))


class SearchSpec:
    """A search kind: its form, its table, its rows and how it runs.

    Subclasses set the class attributes and implement :meth:`summary`, :meth:`csv_rows`
    and :meth:`search_local`; :meth:`search_remote` when Allen's service offers the search
    (the default says it does not), and :meth:`heading`, :meth:`record`, :meth:`print_row`,
    :meth:`hit_note` and :meth:`file_stem` where their defaults do not fit.  Table columns
    come first the rank and the source (ranks count per source), the scores before plane
    and id, so they stay in sight in a narrow dock.
    """

    kind: str = ""
    """The request's ``kind`` and the panel's mode name."""
    title: str = ""
    """The panel's radio button."""
    tooltip: str = ""
    fields: tuple[FormField, ...] = ()
    columns: tuple[Column, ...] = ()
    csv_columns: list[str] = []
    print_columns: list[tuple[str, int]] = []
    """The CLI table's (name, width) columns; :meth:`print_row` maps a CSV row to them."""
    export: str = ""
    """The sidecar's ``export`` (the CLI command's name)."""
    service: str = ""
    """What Allen's service is called in a warning ("differential search")."""

    @property
    def titles(self) -> tuple[str, ...]:
        return tuple(c.title for c in self.columns)

    def request(self, plane: str | None = None, top: int = DEFAULT_TOP, validate: bool = False,
                **values) -> SearchRequest:
        """A request from field texts (``target="CP, ACB"``, ``seed="Pdyn"``) and extra
        parameters.  Structure fields become tuples of acronyms; ``validate``: an empty
        required field raises :class:`AllenViewerError` with the field's message."""
        from allen_viewer.library.search import parse_structures

        params = []
        for f in self.fields:
            raw = values.pop(f.name, None)
            value = tuple(parse_structures(raw)) if f.kind == STRUCTURES else ("" if raw is None else str(raw))
            if validate and f.missing and not (value if f.kind == STRUCTURES else seed_query(value)):
                raise AllenViewerError(f.missing)
            params.append((f.name, value))
        params += sorted(values.items())
        return SearchRequest(self, tuple(params), plane, int(top))

    def check(self, ontology, request: SearchRequest) -> None:
        """Refuse unknown structures (with suggestions) before any work."""
        for f in self.fields:
            if f.kind == STRUCTURES:
                for s in request[f.name]:
                    ontology.get(s)

    def structure_ids(self, ontology, request: SearchRequest, name: str) -> list[int]:
        return [ontology.get(s).id for s in request[name]]

    def file_stem(self, request: SearchRequest) -> str:
        """A file name stem for the rows' CSV."""
        return re.sub(r"[^\w.-]+", "_", self.kind)

    def print_row(self, row: list) -> list:
        return row

    def hit_note(self, hit) -> str:
        """More for a row's tooltip (``. ...`` sentences; empty for nothing)."""
        return ""

    def summary(self, request: SearchRequest, seed=None) -> str:
        """What was searched, in one line (the panel's summary; ``seed``: its Experiment)."""
        raise NotImplementedError(f"{type(self).__name__} must say what it searched (summary)")

    def heading(self, request: SearchRequest, seed=None) -> str:
        """The line the CLI prints over its table."""
        return self.summary(request, seed) + ":"

    def csv_rows(self, hits: Sequence) -> list[list]:
        """Rows of :attr:`csv_columns` for hits (local and Allen's)."""
        raise NotImplementedError(f"{type(self).__name__} must turn hits into rows (csv_rows)")

    def record(self, request: SearchRequest, seed, remote: bool, library: dict) -> dict:
        """What the CSV's sidecar says about the search: by default its parameters (structure
        lists as lists), plane, top, whether Allen's service was asked, and the library."""
        out = {name: list(value) if isinstance(value, tuple) else value for name, value in request.params}
        out.update(plane=request.plane, top=request.top, remote=remote, library=library)
        return out

    def search_local(self, data, library, request, progress, cancel, on_seed) -> tuple[list, Seed | None]:
        """(hits, the Seed or None) over an open, non-empty library (``data``: an AtlasData)."""
        raise NotImplementedError(f"{type(self).__name__} must search the library (search_local)")

    def search_remote(self, data, open_library, request, cancel, seed) -> tuple[list, Any]:
        """(hits, the seed's Experiment or None) from Allen's service."""
        raise AllenViewerError(f"Allen's service offers no {self.title.lower() or self.kind} search.")

    def __repr__(self) -> str:
        return f"<search spec {self.kind}>"


def _plane_text(request: SearchRequest) -> str:
    return f", {request.plane} only" if request.plane else ""


def _mean_or_sum(mean, total) -> tuple[str, Any]:
    """Allen's differential rows carry structure sums, not means: shown marked Σ."""
    if mean is None and total is not None:
        return num_text(total) + " Σ", total
    return num_text(mean), mean if mean is not None else -math.inf


class DifferentialSpec(SearchSpec):
    """Genes enriched in target structures over contrast structures, by fold change of mean
    energy (:func:`~allen_viewer.library.search.differential_search`)."""

    kind = "differential"
    title = "Differential"
    tooltip = "Genes enriched in target structures over contrast structures"
    fields = (
        FormField("target", "Target", STRUCTURES, "e.g. CP, ACB",
                  "Target structures: comma-separated acronyms, each with its descendants",
                  "Give the target structures (e.g. CP)."),
        FormField("contrast", "Contrast", STRUCTURES, "e.g. Isocortex",
                  "Contrast structures: comma-separated acronyms, each with its descendants",
                  "Give the contrast structures (e.g. Isocortex)."),
    )
    columns = (
        RANK, SOURCE, GENE,
        Column("Fold", lambda h: (num_text(h.fold_change), h.fold_change),
               "Fold change: mean energy over the target voxels with data / the same over the contrast "
               "(∞: contrast mean 0)"),
        Column("Target", lambda h: _mean_or_sum(h.target_mean, h.target_sum),
               "Mean energy over the target structures' voxels with data (Σ: Allen's service sends the sum)"),
        Column("Contrast", lambda h: _mean_or_sum(h.contrast_mean, h.contrast_sum),
               "Mean energy over the contrast structures' voxels with data (Σ: Allen's service sends the sum)"),
        PLANE, ID,
    )
    csv_columns = DIFF_COLUMNS
    print_columns = [("rank", 4), ("id", 10), ("gene", 14), ("plane", 8), ("fold", 8), ("target", 8),
                     ("contrast", 8), ("source", 6)]
    export = "search-differential"
    service = "differential search"

    def summary(self, request, seed=None) -> str:
        return f"Genes enriched in {', '.join(request['target'])} over {', '.join(request['contrast'])}" \
               f"{_plane_text(request)}"

    def heading(self, request, seed=None) -> str:
        return (f"Genes enriched in {','.join(request['target'])} over {','.join(request['contrast'])} (fold "
                "change of mean energy, voxels with data, structures with descendants):")

    def print_row(self, r: list) -> list:
        return [r[0], r[1], r[2], r[3], r[4], r[5] if r[5] is not None else r[9],
                r[6] if r[6] is not None else r[10], r[11]]

    def csv_rows(self, hits):
        return differential_rows(hits)

    def file_stem(self, request) -> str:
        return re.sub(r"[^\w.-]+", "_", "diff-" + "-".join(request["target"]))

    def hit_note(self, h) -> str:
        note = ""
        if h.source == ALLEN:
            note += ". Allen's service sends structure sums (Σ), not means; its voxel set differs from the library's"
        if h.target_voxels is not None:
            note += f". {h.target_voxels:,} target and {h.contrast_voxels:,} contrast voxels with data"
        return note

    def record(self, request, seed, remote, library) -> dict:
        return {"target": list(request["target"]), "contrast": list(request["contrast"]), "plane": request.plane,
                "top": request.top, "remote": remote, "library": library, "method": DIFF_METHOD}

    def search_local(self, data, library, request, progress, cancel, on_seed):
        from allen_viewer.library.search import differential_search

        return differential_search(library, data.ontology, list(request["target"]), list(request["contrast"]),
                                   plane=request.plane, top=request.top), None

    def search_remote(self, data, open_library, request, cancel, seed):
        from allen_viewer.library.remote import remote_differential

        target = self.structure_ids(data.ontology, request, "target")
        contrast = self.structure_ids(data.ontology, request, "contrast")
        _check(cancel)
        return remote_differential(data.client, target, contrast, plane=request.plane, top=request.top), None


class CorrelationSpec(SearchSpec):
    """Experiments whose expression correlates with a seed experiment's over a domain, by
    Pearson r (:func:`~allen_viewer.library.search.correlation_search`)."""

    kind = "correlation"
    title = "Correlated"
    tooltip = "Experiments whose expression correlates with a seed experiment"
    fields = (
        FormField("seed", "Seed", EXPERIMENT, "gene symbol or experiment id",
                  "The seed experiment: follows the gene on show until you type another one",
                  "Give a seed experiment (a gene symbol or an experiment id), or load a gene."),
        FormField("domain", "Domain", STRUCTURES, "whole brain (root)",
                  "Structures to correlate over (comma-separated acronyms, with descendants); "
                  "empty: the whole brain"),
    )
    columns = (
        RANK, SOURCE, GENE,
        Column("r", lambda h: (f"{h.r:.4f}", h.r), "Pearson r with the seed over the domain voxels where both "
                                                    "have data"),
        Column("Voxels", lambda h: ("–" if h.voxels is None else f"{h.voxels:,}", -1 if h.voxels is None
                                    else h.voxels),
               "Domain voxels where both the seed and this experiment have data"),
        PLANE, ID,
    )
    csv_columns = CORR_COLUMNS
    print_columns = [("rank", 4), ("id", 10), ("gene", 14), ("plane", 8), ("r", 8), ("voxels", 7), ("source", 6)]
    export = "search-correlated"
    service = "correlation search"

    @staticmethod
    def _label(request, seed) -> str:
        return seed.label if seed is not None else request["seed"]

    @staticmethod
    def _min_overlap(request) -> int:
        return int(request.get("min_overlap", MIN_OVERLAP))

    def summary(self, request, seed=None) -> str:
        where = ", ".join(request["domain"]) if request["domain"] else "the whole brain"
        return f"Experiments correlated with {self._label(request, seed)} over {where}{_plane_text(request)}"

    def heading(self, request, seed=None) -> str:
        where = ",".join(request["domain"]) if request["domain"] else "the whole brain"
        return (f"Experiments correlated with {self._label(request, seed)} over {where} (Pearson r over voxels "
                "where both have data):")

    def csv_rows(self, hits):
        return correlation_rows(hits)

    def file_stem(self, request) -> str:
        return re.sub(r"[^\w.-]+", "_", "corr-" + re.sub(r"[^\w.-]+", "_", seed_query(request["seed"])))

    def record(self, request, seed, remote, library) -> dict:
        n = self._min_overlap(request)
        return {"seed": self._label(request, seed), "seed_experiment_id": seed.id if seed else None,
                "domain": list(request["domain"]) or ["root"], "plane": request.plane, "top": request.top,
                "min_voxels": n, "remote": remote, "library": library, "method": CORR_METHOD.format(min_voxels=n)}

    def search_local(self, data, library, request, progress, cancel, on_seed):
        from allen_viewer.library.search import correlation_search

        seed = resolve_seed(data, library, request["seed"], progress, cancel)
        if on_seed is not None:
            on_seed(seed)
        _check(cancel)
        hits = correlation_search(library, data.ontology, seed.value, domain=list(request["domain"]) or None,
                                  plane=request.plane, top=request.top, min_overlap=self._min_overlap(request))
        return hits, seed

    def search_remote(self, data, open_library, request, cancel, seed):
        from allen_viewer.library.remote import remote_correlation
        from allen_viewer.library.search import ROOT_ID

        domain = self.structure_ids(data.ontology, request, "domain") or [ROOT_ID]
        if seed is not None:
            seed_id = seed.id
        else:
            seed_id, seed = remote_seed(data, open_library, request["seed"])
        _check(cancel)
        return remote_correlation(data.client, seed_id, domain, plane=request.plane, top=request.top), seed


DIFFERENTIAL, CORRELATION = DifferentialSpec(), CorrelationSpec()
SPECS: tuple[SearchSpec, ...] = (DIFFERENTIAL, CORRELATION)
"""Every search kind, in the order the panel offers them."""


def spec_of(kind: str) -> SearchSpec:
    """The spec of a kind (``differential``, ``correlation``); ValueError for another."""
    for spec in SPECS:
        if spec.kind == kind:
            return spec
    raise ValueError(f"no search kind {kind!r}; there are {', '.join(s.kind for s in SPECS)}")
