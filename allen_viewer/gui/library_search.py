"""The library search panel: differential and correlation search over the local library,
optionally side by side with Allen's own search services.

* **Differential** ("which genes are enriched here?"): target structures against contrast
  structures, ranked by fold change of mean energy
  (:func:`~allen_viewer.library.search.differential_search`).
* **Correlated** ("which experiments look like this one?"): Pearson r with a seed
  experiment over a domain of structures, the whole brain by default
  (:func:`~allen_viewer.library.search.correlation_search`).  The seed follows the gene on
  show (:meth:`LibrarySearchPanel.set_seed`) until the user types another one.

Structures are comma-separated acronyms (each with its descendants), completed from the
ontology as they are typed.  A search runs in a :class:`RequestChannel` (off the UI thread;
a newer search overtakes the one in flight, and Cancel drops it).  With "Also ask Allen's
service" ticked, the same search goes to ``service::mouse_differential`` /
``service::mouse_correlation`` in a second channel
(:mod:`allen_viewer.library.remote`) and its rows join the same table with Source
"Allen", so the two can be compared (sort by Gene or Id to put them side by side; a row's
tooltip gives the other source's rank).  When the service is down or the viewer is offline
the error is shown above the table and the local rows stay.

**Loading a gene:** a single click on a row (or Enter on the current row) emits
:attr:`LibrarySearchPanel.experimentActivated` with the row's
:class:`~allen_viewer.store.gene_index.Experiment`; the window loads it.  A single click,
not a double-click, because the whole point of the table is to flip through hits; moving
the selection with the arrow keys does not load anything until Enter.  Rows whose
experiment the gene index does not know (e.g. generated test data) cannot be loaded; the
panel says so instead.

"Export CSV…" writes the rows (local and Allen's) with the same columns and JSON sidecar as
``allen-viewer search-differential/search-correlated --out`` (the CLI's own writer,
atomic).  The status line says how many experiments the library holds, or how to fill it.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    QStringListModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from allen_viewer.data import AtlasData
from allen_viewer.errors import AllenViewerError, Cancelled
from allen_viewer.gui.result_table import ResultTable
from allen_viewer.gui.workers import RequestChannel, shared_pool
from allen_viewer.library.results import (
    CORR_COLUMNS,
    CORR_METHOD,
    DIFF_COLUMNS,
    DIFF_METHOD,
    correlation_rows,
    differential_rows,
    library_record,
    write_results_csv,
)
from allen_viewer.sanitize import is_id
from allen_viewer.library.search import MIN_OVERLAP, ROOT_ID, CorrelationHit, DifferentialHit, parse_structures
from allen_viewer.library.store import Library, LibraryError
from allen_viewer.store.gene_index import Experiment, pick_default

DIFFERENTIAL, CORRELATION = "differential", "correlation"
PLANES = (("any plane", None), ("coronal", "coronal"), ("sagittal", "sagittal"))
DEFAULT_TOP = 50
MAX_TOP = 2000
SOURCE_TEXT = {"local": "local", "allen": "Allen"}
SOURCE_COLOR = {"local": QColor(30, 100, 40), "allen": QColor(150, 70, 0)}
ALLEN_TINT = QColor(255, 200, 120, 60)
"""Allen's rows are tinted (translucent, so alternating row colours still show)."""
HitRole = Qt.ItemDataRole.UserRole + 1
"""The :class:`DifferentialHit` / :class:`CorrelationHit` of a row."""
SortRole = Qt.ItemDataRole.UserRole + 2
"""A row's value for sorting (numbers as numbers)."""
SYNC_HINT = ("`allen-viewer library sync --all` (the whole genome: ~10 GB of grids, a 3.9 GB library), "
             "`allen-viewer library sync --plane coronal`, or `allen-viewer library sync Pdyn Penk …` "
             "for a few genes")
_LABEL_ID = re.compile(r"\(\s*(?:[A-Za-z]+\s*,\s*)?(\d+)\s*\)\s*$")

LibrarySource = Library | Callable[[], Library] | None


# ---------------------------------------------------------------------------- requests (Qt-free)


@dataclass(frozen=True)
class SearchRequest:
    """What the user asked for: one search, local and/or sent to Allen's service."""

    kind: str
    """:data:`DIFFERENTIAL` or :data:`CORRELATION`."""
    target: tuple[str, ...] = ()
    contrast: tuple[str, ...] = ()
    seed: str = ""
    """An experiment id, a gene symbol, or an experiment label ``"Pdyn (coronal, 71717084)"``."""
    domain: tuple[str, ...] = ()
    """Empty: the whole brain."""
    plane: str | None = None
    top: int = DEFAULT_TOP

    def describe(self, seed: Experiment | None = None) -> str:
        """One line for the result summary (``seed``: the experiment the seed resolved to)."""
        plane = f", {self.plane} only" if self.plane else ""
        if self.kind == DIFFERENTIAL:
            return f"{', '.join(self.target)} over {', '.join(self.contrast)}{plane}"
        where = ", ".join(self.domain) if self.domain else "the whole brain"
        return f"correlated with {seed.label if seed else self.seed} over {where}{plane}"


@dataclass
class SearchOutcome:
    """What a search job hands back to the UI thread."""

    request: SearchRequest
    source: str
    """``local`` or ``allen``."""
    hits: list[DifferentialHit | CorrelationHit] = field(default_factory=list)
    experiments: dict[int, Experiment] = field(default_factory=dict)
    """The gene index's experiment for every hit it knows (what a click loads)."""
    seed: Experiment | None = None
    note: str = ""
    elapsed_s: float = 0.0
    library_record: dict = field(default_factory=dict)
    """The library behind the rows, as the CLI's CSV sidecar records it."""
    library_genes: int = 0
    """Genes in that library snapshot (for the status line)."""


def seed_query(text: str) -> str:
    """The id or symbol in a seed field: ``"Pdyn (coronal, 71717084)"`` -> ``"71717084"``."""
    text = (text or "").strip()
    m = _LABEL_ID.search(text)
    return m.group(1) if m else text


def _library_record(library: Library) -> dict:
    try:
        return library_record(library)
    except AllenViewerError:
        return {"root": str(library.root), "experiments": 0}


def resolve_seed(data: AtlasData, library: Library, text: str, progress=None, cancel=None):
    """``(seed for correlation_search, its Experiment or None, a note)`` for a seed field.

    An id in the library is searched as its stored row; a symbol means the gene's library
    experiment (coronal first, then the lowest id), like the CLI.  An experiment that is not
    in the library is loaded (embedded, cached or downloaded, with ``progress``/``cancel``)
    and taken at the library's precision.
    """
    query = seed_query(text)
    if not query:
        raise AllenViewerError("Give a seed experiment: a gene symbol or an experiment id (the gene on show "
                               "is used when the field is left as it is).")
    index = data.gene_index
    in_library = library.exists() and len(library) > 0
    if is_id(query):
        exp_id = int(query)
        exp = index.by_id(exp_id) if index.has_id(exp_id) else None
        if in_library and library.row_of(exp_id) is not None:
            return exp_id, exp, ""
        if exp is None:
            raise AllenViewerError(f"Experiment {exp_id} is neither in the library nor in the gene index.")
        grid = data.load_grid(exp, progress, cancel)
        return grid, exp, f"the seed {exp.label} is not in the library; its grid was loaded"
    candidates = index.experiments_of(query)
    in_lib = [e for e in candidates if in_library and library.row_of(e.id) is not None]
    exp = pick_default(in_lib or candidates)
    note = ""
    if len(candidates) > 1:
        note = (f"{exp.symbol} has {len(candidates)} experiments; the seed is {exp.plane} {exp.id} "
                "(type an id to choose)")
    if in_lib:
        return exp.id, exp, note
    grid = data.load_grid(exp, progress, cancel)
    return grid, exp, (note + "; " if note else "") + f"the seed {exp.label} is not in the library; its grid was loaded"


def _known(data: AtlasData, hits: Sequence) -> dict[int, Experiment]:
    index = data.gene_index
    return {h.experiment_id: index.by_id(h.experiment_id) for h in hits if index.has_id(h.experiment_id)}


def _check(cancel) -> None:
    if cancel is not None and cancel():
        raise Cancelled("Search")


def run_local_search(data: AtlasData, open_library: Callable[[], Library], request: SearchRequest,
                     progress=None, cancel=None) -> SearchOutcome:
    """The local search of ``request`` over a fresh snapshot of the library (a worker job)."""
    from allen_viewer.library.search import correlation_search, differential_search

    t0 = time.perf_counter()
    ontology = data.ontology
    library = open_library()
    if not library.exists() or len(library) == 0:
        raise LibraryError(f"The library at {library.root} holds no experiments yet; fill it with {SYNC_HINT}.")
    _check(cancel)
    seed_exp, note = None, ""
    if request.kind == DIFFERENTIAL:
        hits = differential_search(library, ontology, list(request.target), list(request.contrast),
                                   plane=request.plane, top=request.top)
    else:
        for s in request.domain:
            ontology.get(s)  # an unknown acronym fails here, with suggestions
        seed, seed_exp, note = resolve_seed(data, library, request.seed, progress, cancel)
        _check(cancel)
        hits = correlation_search(library, ontology, seed, domain=list(request.domain) or None,
                                  plane=request.plane, top=request.top)
    return SearchOutcome(request, "local", hits, _known(data, hits), seed_exp, note, time.perf_counter() - t0,
                         _library_record(library), len(set(library.symbols)))


def run_remote_search(data: AtlasData, open_library: Callable[[], Library], request: SearchRequest,
                      progress=None, cancel=None) -> SearchOutcome:
    """The same search sent to Allen's service (a worker job); the seed is resolved like the
    local search's, so both compare the same experiment."""
    from allen_viewer.library.remote import remote_correlation, remote_differential

    t0 = time.perf_counter()
    ontology = data.ontology
    seed_exp = None
    if request.kind == DIFFERENTIAL:
        target = [ontology.get(s).id for s in request.target]
        contrast = [ontology.get(s).id for s in request.contrast]
        _check(cancel)
        hits = remote_differential(data.client, target, contrast, plane=request.plane, top=request.top)
    else:
        domain = [ontology.get(s).id for s in request.domain] or [ROOT_ID]
        query = seed_query(request.seed)
        if not query:
            raise AllenViewerError("Give a seed experiment: a gene symbol or an experiment id.")
        index = data.gene_index
        if is_id(query):
            seed_exp = index.by_id(int(query)) if index.has_id(int(query)) else None
            seed_id = int(query)
        else:
            library = open_library()
            candidates = index.experiments_of(query)
            in_library = library.exists() and len(library) > 0
            in_lib = [e for e in candidates if in_library and library.row_of(e.id) is not None]
            seed_exp = pick_default(in_lib or candidates)
            seed_id = seed_exp.id
        _check(cancel)
        hits = remote_correlation(data.client, seed_id, domain, plane=request.plane, top=request.top)
    return SearchOutcome(request, "allen", hits, _known(data, hits), seed_exp, "", time.perf_counter() - t0)


def csv_rows(kind: str, hits: Sequence) -> tuple[list[str], list[list]]:
    """(columns, rows) as ``allen-viewer search-differential/search-correlated --out`` writes them."""
    if kind == DIFFERENTIAL:
        return DIFF_COLUMNS, differential_rows(hits)
    return CORR_COLUMNS, correlation_rows(hits)


# ---------------------------------------------------------------------------- the table


def _seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


def _num(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "–"
    if v != v:  # NaN
        return "–"
    if v == float("inf"):
        return "∞"
    return f"{v:.{digits}g}"


class SearchResultModel(QAbstractTableModel):
    """The rows of one search: local hits first, then Allen's, each in its own rank order.

    Columns (differential): #, Source, Gene, Fold (change), Target (mean), Contrast (mean),
    Plane, Id; (correlated): #, Source, Gene, r, Voxels, Plane, Id.  The source comes second,
    next to its rank (ranks count per source), and the scores before plane and id, so they
    stay in sight in a narrow dock; Allen's rows are also tinted.  Allen's differential rows
    carry structure *sums*, not means (the service sends nothing else); they are shown in
    the mean columns marked "Σ".  :data:`HitRole` gives a row's hit, :data:`SortRole` a
    sortable value.
    """

    DIFF_COLUMNS = ("#", "Source", "Gene", "Fold", "Target", "Contrast", "Plane", "Id")
    CORR_COLUMNS = ("#", "Source", "Gene", "r", "Voxels", "Plane", "Id")
    TEXT_COLUMNS = frozenset({"Source", "Gene", "Plane"})
    """Left-aligned; the others are numbers (right-aligned)."""
    TIPS = {
        "Source": "local: the library on this computer; Allen: Allen's own search service",
        "Fold": "Fold change: mean energy over the target voxels with data / the same over the contrast "
                "(∞: contrast mean 0)",
        "Target": "Mean energy over the target structures' voxels with data (Σ: Allen's service sends the sum)",
        "Contrast": "Mean energy over the contrast structures' voxels with data (Σ: Allen's service sends the sum)",
        "r": "Pearson r with the seed over the domain voxels where both have data",
        "Voxels": "Domain voxels where both the seed and this experiment have data",
        "#": "Rank within its source",
    }

    def __init__(self, parent=None):
        super().__init__(parent)
        self.kind = DIFFERENTIAL
        self._local: list = []
        self._allen: list = []
        self._rows: list = []
        self._other_rank: dict[tuple[str, int], int] = {}
        self.shown_id: int | None = None
        """The experiment the window shows (its rows are drawn bold)."""

    # ---- contents -------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        return self.DIFF_COLUMNS if self.kind == DIFFERENTIAL else self.CORR_COLUMNS

    def clear(self, kind: str | None = None) -> None:
        """Drop every row (and switch to ``kind``'s columns)."""
        self.beginResetModel()
        if kind is not None:
            self.kind = kind
        self._local, self._allen = [], []
        self._rebuild()
        self.endResetModel()

    def set_hits(self, source: str, hits: Sequence) -> None:
        """Replace the rows of one source (``local`` or ``allen``)."""
        self.beginResetModel()
        if source == "allen":
            self._allen = list(hits)
        else:
            self._local = list(hits)
        self._rebuild()
        self.endResetModel()

    def _rebuild(self) -> None:
        self._rows = self._local + self._allen
        local = {h.experiment_id: h.rank for h in self._local}
        allen = {h.experiment_id: h.rank for h in self._allen}
        self._other_rank = {("local", i): r for i, r in allen.items()}
        self._other_rank.update({("allen", i): r for i, r in local.items()})

    def hits(self, source: str | None = None) -> list:
        """The rows (of one source), in model order."""
        return [h for h in self._rows if source is None or h.source == source]

    def hit(self, row: int):
        return self._rows[row]

    def set_shown(self, experiment_id: int | None) -> None:
        self.shown_id = experiment_id
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, self.columnCount() - 1))

    # ---- Qt model API ---------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.TIPS.get(self.columns[section])
        return None

    def _values(self, h) -> dict[str, tuple[str, object]]:
        """Column name -> (display text, sort value) for hit ``h``."""
        out = {"#": (str(h.rank), h.rank), "Source": (SOURCE_TEXT.get(h.source, h.source), h.source),
               "Gene": (h.symbol, h.symbol.lower()), "Plane": (h.plane, h.plane),
               "Id": (str(h.experiment_id), h.experiment_id)}
        if self.kind == DIFFERENTIAL:
            out["Fold"] = (_num(h.fold_change), h.fold_change)
            for name, mean, total in (("Target", h.target_mean, h.target_sum),
                                      ("Contrast", h.contrast_mean, h.contrast_sum)):
                if mean is None and total is not None:
                    out[name] = (_num(total) + " Σ", total)
                else:
                    out[name] = (_num(mean), mean if mean is not None else float("-inf"))
        else:
            out["r"] = (f"{h.r:.4f}", h.r)
            out["Voxels"] = ("–" if h.voxels is None else f"{h.voxels:,}", -1 if h.voxels is None else h.voxels)
        return out

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        h = self._rows[index.row()]
        col = index.column()
        if role == HitRole:
            return h
        if role in (Qt.ItemDataRole.DisplayRole, SortRole):
            text, value = self._values(h)[self.columns[col]]
            return text if role == Qt.ItemDataRole.DisplayRole else value
        if role == Qt.ItemDataRole.TextAlignmentRole and self.columns[col] not in self.TEXT_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and self.columns[col] == "Source":
            return SOURCE_COLOR.get(h.source)
        if role == Qt.ItemDataRole.BackgroundRole and h.source == "allen":
            return ALLEN_TINT
        if role == Qt.ItemDataRole.FontRole and h.experiment_id == self.shown_id:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(h)
        return None

    def _tooltip(self, h) -> str:
        src = SOURCE_TEXT.get(h.source, h.source)
        tip = f"{h.symbol} ({h.plane}, {h.experiment_id}): {src} rank {h.rank}"
        other = self._other_rank.get((h.source, h.experiment_id))
        other_src = "Allen" if h.source == "local" else "local"
        if other is not None:
            tip += f"; {other_src} rank {other}"
        elif (self._allen if h.source == "local" else self._local):
            tip += f"; not in the {other_src} rows"
        if self.kind == DIFFERENTIAL and h.source == "allen":
            tip += ". Allen's service sends structure sums (Σ), not means; its voxel set differs from the library's"
        if self.kind == DIFFERENTIAL and h.target_voxels is not None:
            tip += f". {h.target_voxels:,} target and {h.contrast_voxels:,} contrast voxels with data"
        return tip + ". Click to load."


class _ResultProxy(QSortFilterProxyModel):
    """Sorts on :data:`SortRole`; unsorted (model order) until a header is clicked."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SortRole)

    def lessThan(self, left, right) -> bool:  # noqa: N802 - Qt override
        a, b = left.data(SortRole), right.data(SortRole)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)


class StructureListCompleter(QCompleter):
    """Completes the *last* acronym of a comma-separated list in a line edit.

    The popup offers the ontology acronyms starting with what is typed after the last
    comma; picking one replaces that part and leaves the earlier acronyms alone.
    """

    def __init__(self, edit: QLineEdit, parent=None):
        super().__init__(parent)
        self.edit = edit
        self.setModel(QStringListModel(self))
        self.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterMode(Qt.MatchFlag.MatchStartsWith)
        self.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.setMaxVisibleItems(12)
        self.setWidget(edit)
        edit.textEdited.connect(self._on_edited)
        self.activated[str].connect(self.insert)

    def set_words(self, words: Sequence[str]) -> None:
        self.model().setStringList(list(words))

    @staticmethod
    def last_token(text: str) -> str:
        return text.rsplit(",", 1)[-1].strip()

    def _on_edited(self, text: str) -> None:
        token = self.last_token(text)
        if not token or not self.model().rowCount():
            self.popup().hide()
            return
        self.setCompletionPrefix(token)
        if self.completionCount():
            self.complete()
        else:
            self.popup().hide()

    def insert(self, word: str) -> None:
        """Replace the acronym being typed with ``word``."""
        text = self.edit.text()
        head = text.rsplit(",", 1)[0].rstrip() + ", " if "," in text else ""
        self.edit.setText(head + word)


# ---------------------------------------------------------------------------- the panel


class LibrarySearchPanel(QWidget):
    """Differential / correlation search over the local library (and Allen's service).

    ``data``: the window's :class:`AtlasData` (gene index, ontology, client; used in worker
    threads).  ``library``: a :class:`Library` (each search opens a fresh snapshot of its
    folder, so rows synced meanwhile are seen), a callable returning one (called in the
    worker for every search and for the status line), or None for ``<cache>/library``.

    Signals: ``experimentActivated(Experiment)`` when a result row is clicked (or Enter is
    pressed on it); ``searchFinished(str)`` with ``local`` or ``allen`` when that source's
    rows are in the table (also after a failure: the table then lacks them).
    """

    experimentActivated = Signal(object)
    searchFinished = Signal(str)

    def __init__(self, data: AtlasData, library: LibrarySource = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.data = data
        self._library_source = library
        self._shown: Experiment | None = None
        self._auto_seed = ""
        self._experiments: dict[int, Experiment] = {}
        self._request: SearchRequest | None = None
        self._records: dict[str, dict] = {}
        self._state: dict[str, str] = {}
        """Per source (``local``/``allen``): ``busy``, ``done``, ``failed`` or ``cancelled``."""
        self._notes: dict[str, tuple[str, float]] = {}
        self._seed_exp: Experiment | None = None
        self._completion_words = False
        pool = shared_pool()
        self.local_channel = RequestChannel("library-search", pool, self)
        self.remote_channel = RequestChannel("allen-search", pool, self)
        self._build()
        self._connect()
        self.set_mode(DIFFERENTIAL)
        self.refresh_library_status()

    # ---- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        self.differential_button = QRadioButton("Differential", self)
        self.differential_button.setToolTip("Genes enriched in target structures over contrast structures")
        self.correlated_button = QRadioButton("Correlated", self)
        self.correlated_button.setToolTip("Experiments whose expression correlates with a seed experiment")
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.differential_button)
        self.mode_group.addButton(self.correlated_button)
        modes = QHBoxLayout()
        modes.addWidget(self.differential_button)
        modes.addWidget(self.correlated_button)
        modes.addStretch(1)

        self.target_edit = QLineEdit(self)
        self.target_edit.setObjectName("librarySearchTarget")
        self.target_edit.setPlaceholderText("e.g. CP, ACB")
        self.target_edit.setToolTip("Target structures: comma-separated acronyms, each with its descendants")
        self.contrast_edit = QLineEdit(self)
        self.contrast_edit.setObjectName("librarySearchContrast")
        self.contrast_edit.setPlaceholderText("e.g. Isocortex")
        self.contrast_edit.setToolTip("Contrast structures: comma-separated acronyms, each with its descendants")
        diff_form = QWidget(self)
        f = QFormLayout(diff_form)
        f.setContentsMargins(0, 0, 0, 0)
        f.addRow("Target:", self.target_edit)
        f.addRow("Contrast:", self.contrast_edit)

        self.seed_edit = QLineEdit(self)
        self.seed_edit.setObjectName("librarySearchSeed")
        self.seed_edit.setPlaceholderText("gene symbol or experiment id")
        self.seed_edit.setToolTip("The seed experiment: follows the gene on show until you type another one")
        self.seed_shown_button = QToolButton(self)
        self.seed_shown_button.setText("Shown")
        self.seed_shown_button.setToolTip("Use the gene on show as the seed")
        self.seed_shown_button.setEnabled(False)
        seed_row = QHBoxLayout()
        seed_row.setContentsMargins(0, 0, 0, 0)
        seed_row.addWidget(self.seed_edit, 1)
        seed_row.addWidget(self.seed_shown_button)
        self.domain_edit = QLineEdit(self)
        self.domain_edit.setObjectName("librarySearchDomain")
        self.domain_edit.setPlaceholderText("whole brain (root)")
        self.domain_edit.setToolTip("Structures to correlate over (comma-separated acronyms, with descendants); "
                                    "empty: the whole brain")
        corr_form = QWidget(self)
        f = QFormLayout(corr_form)
        f.setContentsMargins(0, 0, 0, 0)
        f.addRow("Seed:", seed_row)
        f.addRow("Domain:", self.domain_edit)

        self.forms = QStackedWidget(self)
        self.forms.addWidget(diff_form)
        self.forms.addWidget(corr_form)
        self.forms.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

        self.target_completer = StructureListCompleter(self.target_edit, self)
        self.contrast_completer = StructureListCompleter(self.contrast_edit, self)
        self.domain_completer = StructureListCompleter(self.domain_edit, self)

        self.plane_combo = QComboBox(self)
        for text, value in PLANES:
            self.plane_combo.addItem(text, value)
        self.plane_combo.setToolTip("Only experiments cut in this plane")
        self.top_spin = QSpinBox(self)
        self.top_spin.setRange(1, MAX_TOP)
        self.top_spin.setValue(DEFAULT_TOP)
        self.top_spin.setPrefix("top ")
        self.top_spin.setToolTip("Rows to show (from each source)")
        self.remote_check = QCheckBox("Also ask Allen's service", self)
        self.remote_check.setToolTip("Send the same search to Allen's own search service (online) and show its "
                                     "rows in the same table, to compare")
        self.search_button = QPushButton("Search", self)
        self.search_button.setObjectName("librarySearchButton")
        self.search_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.export_button = QPushButton("Export CSV…", self)
        self.export_button.setEnabled(False)
        self.export_button.setToolTip("Write the rows to a CSV (+ a JSON sidecar), as the CLI's --out does")
        options = QHBoxLayout()  # plane, top N, Search, Cancel on one row: the table gets the height
        options.addWidget(self.plane_combo)
        options.addWidget(self.top_spin)
        options.addStretch(1)
        options.addWidget(self.search_button)
        options.addWidget(self.cancel_button)

        self.status_label = QLabel("", self)
        self.status_label.setObjectName("libraryStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label = QLabel("", self)
        self.error_label.setObjectName("librarySearchError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color:#b00020;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.remote_label = QLabel("", self)
        self.remote_label.setObjectName("allenSearchStatus")
        self.remote_label.setWordWrap(True)
        self.remote_label.hide()
        self.result_label = QLabel("", self)
        self.result_label.setObjectName("librarySearchSummary")
        self.result_label.setWordWrap(True)

        self.model = SearchResultModel(self)
        self.proxy = _ResultProxy(self)
        self.proxy.setSourceModel(self.model)
        self.results = ResultTable(self, "librarySearchResults")
        self.results.setModel(self.proxy)
        header = self.results.horizontalHeader()
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # model order until a header is clicked
        self.results.setSortingEnabled(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)  # fills a wide dock; a narrow one scrolls

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(modes)
        layout.addWidget(self.forms)
        layout.addLayout(options)
        layout.addWidget(self.remote_check)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.remote_label)
        layout.addWidget(self.results, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.result_label, 1)
        bottom.addWidget(self.export_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(bottom)

    def _connect(self) -> None:
        self.differential_button.toggled.connect(
            lambda on: self.set_mode(DIFFERENTIAL if on else CORRELATION))
        self.search_button.clicked.connect(lambda: self.search())
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self._export_dialog)
        self.seed_shown_button.clicked.connect(self._use_shown_seed)
        for edit in (self.target_edit, self.contrast_edit, self.seed_edit, self.domain_edit):
            edit.returnPressed.connect(self._return_pressed)
        self.results.clicked.connect(self._activate_index)
        self.results.enterPressed.connect(self._activate_index)
        self.local_channel.resultReady.connect(self._on_result)
        self.local_channel.failed.connect(self._on_local_failed)
        self.local_channel.cancelled.connect(lambda _tag: self._on_cancelled("local"))
        self.local_channel.busyChanged.connect(self._on_busy)
        self.remote_channel.resultReady.connect(self._on_result)
        self.remote_channel.failed.connect(self._on_remote_failed)
        self.remote_channel.cancelled.connect(lambda _tag: self._on_cancelled("allen"))
        self.remote_channel.busyChanged.connect(self._on_busy)

    # ---- set-up from the window -----------------------------------------------------------

    def set_ontology(self, ontology) -> None:
        """Complete structure fields with the ontology's acronyms (graph order)."""
        words = [s.acronym for s in ontology]
        for c in (self.target_completer, self.contrast_completer, self.domain_completer):
            c.set_words(words)
        self._completion_words = bool(words)

    def set_seed(self, experiment: Experiment | None) -> None:
        """The gene on show: the correlation seed (unless the user typed another one), and
        the experiment drawn bold in the table."""
        self._shown = experiment
        self.seed_shown_button.setEnabled(experiment is not None)
        self.model.set_shown(experiment.id if experiment is not None else None)
        if experiment is None:
            return
        current = self.seed_edit.text().strip()
        if not current or current == self._auto_seed:
            self._set_seed_text(experiment.label)

    def _set_seed_text(self, text: str) -> None:
        self._auto_seed = text
        self.seed_edit.setText(text)

    def _use_shown_seed(self) -> None:
        if self._shown is not None:
            self._set_seed_text(self._shown.label)

    def open_library(self) -> Library:
        """A fresh snapshot of the library (see the class docstring for ``library``)."""
        src = self._library_source
        if src is None:
            return Library(self.data.cache.root / "library")
        if isinstance(src, Library):
            return Library(src.root)
        return src()

    def refresh_library_status(self) -> int:
        """Say how many experiments the library holds (or how to fill it); returns the count.

        Opens the library in the calling (UI) thread: a manifest read, a few milliseconds.
        After each search the status comes from the search's own snapshot instead.
        """
        try:
            library = self.open_library()
            rows = len(library) if library.exists() else 0
            genes = len(set(library.symbols)) if rows else 0
        except AllenViewerError as exc:
            self.status_label.setText(f"The library cannot be read: {exc}")
            return 0
        self._show_library_status(rows, genes, str(library.root))
        return rows

    def _show_library_status(self, rows: int, genes: int, root: str) -> None:
        if rows:
            self.status_label.setText(f"Library: {rows:,} experiments of {genes:,} genes.")
        else:
            self.status_label.setText(f"The library is empty. Fill it with {SYNC_HINT}; "
                                      "Allen's service can be asked meanwhile.")
        self.status_label.setToolTip(root)

    # ---- mode and form --------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return DIFFERENTIAL if self.differential_button.isChecked() else CORRELATION

    def set_mode(self, mode: str) -> None:
        """Show the differential or the correlated form (``differential`` / ``correlation``)."""
        if mode not in (DIFFERENTIAL, CORRELATION):
            raise ValueError(f"mode must be {DIFFERENTIAL!r} or {CORRELATION!r}, not {mode!r}")
        button = self.differential_button if mode == DIFFERENTIAL else self.correlated_button
        if not button.isChecked():
            button.setChecked(True)  # re-enters through toggled
            return
        self.forms.setCurrentIndex(0 if mode == DIFFERENTIAL else 1)

    def request(self) -> SearchRequest:
        """The search the form describes (raises :class:`AllenViewerError` when incomplete)."""
        plane = self.plane_combo.currentData()
        top = self.top_spin.value()
        if self.mode == DIFFERENTIAL:
            target = tuple(parse_structures(self.target_edit.text()))
            contrast = tuple(parse_structures(self.contrast_edit.text()))
            if not target:
                raise AllenViewerError("Give the target structures (e.g. CP).")
            if not contrast:
                raise AllenViewerError("Give the contrast structures (e.g. Isocortex).")
            return SearchRequest(DIFFERENTIAL, target=target, contrast=contrast, plane=plane, top=top)
        seed = self.seed_edit.text().strip()
        if not seed_query(seed):
            raise AllenViewerError("Give a seed experiment (a gene symbol or an experiment id), or load a gene.")
        return SearchRequest(CORRELATION, seed=seed, domain=tuple(parse_structures(self.domain_edit.text())),
                             plane=plane, top=top)

    # ---- searching ------------------------------------------------------------------------

    def _return_pressed(self) -> None:
        for c in (self.target_completer, self.contrast_completer, self.domain_completer):
            if c.popup().isVisible():
                return
        self.search()

    def search(self, remote: bool | None = None) -> SearchRequest | None:
        """Start the search the form describes (local; and Allen's when ``remote`` or, when
        None, the checkbox says so).  Returns the request, or None when the form is incomplete."""
        if remote is None:
            remote = self.remote_check.isChecked()
        try:
            req = self.request()
        except AllenViewerError as exc:
            self._show_error(str(exc))
            return None
        self._request = req
        self._experiments = {}
        self._records = {}
        self._notes = {}
        self._seed_exp = None
        self._state = {"local": "busy", "allen": "busy" if remote else "off"}
        self.model.clear(req.kind)
        self.results.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._show_error("")
        self.result_label.setText("")
        data, opener = self.data, self.open_library
        self.local_channel.submit(lambda progress, cancel: run_local_search(data, opener, req, progress, cancel),
                                  tag=req)
        if remote:
            self._show_remote("Asking Allen's service…", "")
            self.remote_channel.submit(lambda progress, cancel: run_remote_search(data, opener, req, progress, cancel),
                                       tag=req)
        else:
            self.remote_channel.cancel_all()
            self._show_remote("", "")
        self._update_summary()
        return req

    def cancel(self) -> None:
        """Stop both searches; their results, when they come, are dropped."""
        self.local_channel.cancel()
        self.remote_channel.cancel()

    @property
    def busy(self) -> bool:
        """True while the local or Allen's search is in flight."""
        return self.local_channel.busy or self.remote_channel.busy

    def channels(self) -> list[RequestChannel]:
        """The panel's background channels (for the window's busy state and shutdown)."""
        return [self.local_channel, self.remote_channel]

    def _on_busy(self, _busy: bool) -> None:
        self.cancel_button.setEnabled(self.busy)
        self._update_summary()

    def _on_result(self, outcome: SearchOutcome, _tag) -> None:
        self._state[outcome.source] = "done"
        self.model.set_hits(outcome.source, outcome.hits)
        self._experiments.update(outcome.experiments)
        self._notes[outcome.source] = (outcome.note, outcome.elapsed_s)
        if outcome.library_record:
            self._records[outcome.source] = outcome.library_record
        if outcome.seed is not None and (outcome.source == "local" or self._seed_exp is None):
            self._seed_exp = outcome.seed
        if not self._completion_words:
            self.set_ontology(self.data.ontology)  # the search job has loaded it already
        if outcome.source == "allen":
            self._show_remote(f"Allen's service: {len(outcome.hits)} rows ({_seconds(outcome.elapsed_s)}).", "ok")
        else:
            rec = outcome.library_record
            self._show_library_status(int(rec.get("experiments", 0)), outcome.library_genes, str(rec.get("root", "")))
        self.export_button.setEnabled(self.model.rowCount() > 0)
        self._update_summary()
        self.searchFinished.emit(outcome.source)

    def _on_local_failed(self, message: str, exc, _tag) -> None:
        self._state["local"] = "failed"
        self._show_error(f"Library search: {message}")
        if isinstance(exc, LibraryError):  # missing, empty or damaged: say so in the status line too
            self.refresh_library_status()
        self._update_summary()
        self.searchFinished.emit("local")

    def _on_remote_failed(self, message: str, _exc, _tag) -> None:
        self._state["allen"] = "failed"
        local = ("the local results are shown" if self._state.get("local") in ("busy", "done")
                 else "the library can still be searched")
        self._show_remote(f"Allen's service could not be used; {local}. {message}", "error")
        self._update_summary()
        self.searchFinished.emit("allen")

    def _on_cancelled(self, source: str) -> None:
        self._state[source] = "cancelled"
        if source == "allen":
            self._show_remote("Allen's service: cancelled.", "")
        self._update_summary()

    def _update_summary(self) -> None:
        """The line under the table: what was searched, and where each source stands."""
        req = self._request
        if req is None:
            return
        what = ("Genes enriched in " if req.kind == DIFFERENTIAL else "Experiments ") + req.describe(self._seed_exp)
        local = {"busy": "searching the library…", "cancelled": "library search cancelled",
                 "failed": "library search failed",
                 "done": f"{len(self.model.hits('local'))} local rows "
                         f"({_seconds(self._notes.get('local', ('', 0.0))[1])})"}
        allen = {"busy": "waiting for Allen's service…", "cancelled": "Allen's search cancelled",
                 "failed": "no rows from Allen", "done": f"{len(self.model.hits('allen'))} rows from Allen"}
        parts = [local.get(self._state.get("local", ""), ""), allen.get(self._state.get("allen", ""), "")]
        text = f"{what}: {', '.join(p for p in parts if p)}."
        note = self._notes.get("local", ("", 0))[0]
        if note:
            text += f" Note: {note}."
        self.result_label.setText(text)

    def _show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _show_remote(self, text: str, state: str) -> None:
        color = {"error": "#b00020", "ok": "#7a4a00"}.get(state, "#555555")
        self.remote_label.setStyleSheet(f"color:{color};")
        self.remote_label.setText(text)
        self.remote_label.setVisible(bool(text))

    # ---- rows -----------------------------------------------------------------------------

    def experiment_at(self, row: int) -> Experiment | None:
        """The Experiment of a row *in view order* (None when the gene index lacks it)."""
        hit = self.proxy.index(row, 0).data(HitRole)
        return None if hit is None else self._experiments.get(hit.experiment_id)

    def _activate_index(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        hit = index.data(HitRole)
        if hit is None:
            return
        exp = self._experiments.get(hit.experiment_id)
        if exp is None:
            self.result_label.setText(f"Experiment {hit.experiment_id} ({hit.symbol}) is not in the gene index, so "
                                      "it cannot be loaded.")
            return
        self.experimentActivated.emit(exp)

    # ---- export ---------------------------------------------------------------------------

    def export_csv(self, path: Path | str) -> int:
        """Write the rows (model order: local, then Allen's) to ``path`` (+ ``.json``), as the
        CLI's ``--out`` does; returns the row count.  Raises :class:`AllenViewerError`/``OSError``."""
        req = self._request
        if req is None or not self.model.rowCount():
            raise AllenViewerError("There are no results to export; run a search first.")
        columns, rows = csv_rows(req.kind, self.model.hits())
        library = self._records.get("local") or _library_record(self.open_library())
        remote = bool(self.model.hits("allen"))
        if req.kind == DIFFERENTIAL:
            what = "search-differential"
            record = {"target": list(req.target), "contrast": list(req.contrast),
                      "plane": req.plane, "top": req.top, "remote": remote, "library": library,
                      "method": DIFF_METHOD}
        else:
            seed = self._seed_exp
            what = "search-correlated"
            record = {"seed": seed.label if seed else req.seed,
                      "seed_experiment_id": seed.id if seed else None, "domain": list(req.domain) or ["root"],
                      "plane": req.plane, "top": req.top, "remote": remote, "library": library,
                      "method": CORR_METHOD.format(min_voxels=MIN_OVERLAP)}
        record["made_with"] = "allen-viewer GUI, library search panel"
        write_results_csv(Path(path), columns, rows, what, **record)
        return len(rows)

    def _export_dialog(self) -> None:
        req = self._request
        name = "search.csv"
        if req is not None:
            stem = ("diff-" + "-".join(req.target) if req.kind == DIFFERENTIAL
                    else "corr-" + re.sub(r"[^\w.-]+", "_", seed_query(req.seed)))
            name = re.sub(r"[^\w.-]+", "_", stem) + ".csv"
        path, _ = QFileDialog.getSaveFileName(self, "Export the search results", name, "CSV files (*.csv)")
        if not path:
            return
        if not path.lower().endswith(".csv"):
            path += ".csv"
        try:
            n = self.export_csv(path)
        except (AllenViewerError, OSError) as exc:
            self._show_error(f"Export failed: {getattr(exc, 'strerror', None) or exc}")
            return
        self.result_label.setText(f"Wrote {n} rows to {path} (and its .json sidecar).")
