"""The library search panel: differential and correlation search over the local library,
optionally side by side with Allen's own search services.

The panel knows no search kind: it draws one radio button and one form per
:class:`~allen_viewer.library.searches.SearchSpec` (:data:`~allen_viewer.library.searches.SPECS`),
runs :func:`~allen_viewer.library.searches.run_local` / ``run_remote`` in its channels, and
shows the rows in a :class:`~allen_viewer.gui.search_models.SearchResultModel` whose
columns the spec gives.  The two kinds today:

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
:class:`~allen_viewer.records.Experiment`; the window loads it.  A single click,
not a double-click, because the whole point of the table is to flip through hits; moving
the selection with the arrow keys does not load anything until Enter.  Rows whose
experiment the gene index does not know (e.g. generated test data) cannot be loaded; the
panel says so instead.

"Export CSV…" writes the rows (local and Allen's) with the same columns and JSON sidecar as
``allen-viewer search-differential/search-correlated --out`` (the CLI's own writer,
atomic).  The status line says how many experiments the library holds, or how to fill it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
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
from allen_viewer.errors import AllenViewerError
from allen_viewer.gui.result_table import ResultTable
from allen_viewer.gui.structure_completer import StructureListCompleter
from allen_viewer.gui.search_models import HitRole, ResultProxy, SearchResultModel
from allen_viewer.gui.workers import RequestChannel, shared_pool
from allen_viewer.export.library_tables import write_results_csv
from allen_viewer.library.searches import (
    ALLEN,
    DEFAULT_TOP,
    EXPERIMENT,
    LOCAL,
    SPECS,
    STRUCTURES,
    SearchOutcome,
    SearchRequest,
    SearchSpec,
    run_local,
    run_remote,
    safe_library_record,
    seed_query,
)
from allen_viewer.library.store import Library, LibraryError
from allen_viewer.records import Experiment

__all__ = ["LibrarySearchPanel", "SearchResultModel", "seed_query"]

PLANES = (("any plane", None), ("coronal", "coronal"), ("sagittal", "sagittal"))
MAX_TOP = 2000
SYNC_HINT = ("`allen-viewer library sync --all` (the whole genome: ~10 GB of grids, a 3.9 GB library), "
             "`allen-viewer library sync --plane coronal`, or `allen-viewer library sync Pdyn Penk …` "
             "for a few genes")

LibrarySource = Library | Callable[[], Library] | None


def _seconds(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


# ---------------------------------------------------------------------------- the panel


class LibrarySearchPanel(QWidget):
    """The library searches (:data:`~allen_viewer.library.searches.SPECS`) over the local
    library (and Allen's service): one radio button and one form per spec.

    ``data``: the window's :class:`AtlasData` (gene index, ontology, client; used in worker
    threads).  ``library``: a :class:`Library` (each search opens a fresh snapshot of its
    folder, so rows synced meanwhile are seen), a callable returning one (called in the
    worker for every search and for the status line), or None for ``<cache>/library``.

    Each form field is a line edit ``<name>_edit`` (``target_edit``, ``seed_edit``, ...);
    structure fields have a completer ``<name>_completer``, experiment fields a *Shown*
    button ``<name>_shown_button`` and follow the gene on show.  ``mode_buttons`` maps a
    kind to its radio button.

    Signals: ``experimentActivated(Experiment)`` when a result row is clicked (or Enter is
    pressed on it); ``searchFinished(str)`` with ``local`` or ``allen`` when that source's
    rows are in the table (also after a failure: the table then lacks them).
    """

    experimentActivated = Signal(object)
    searchFinished = Signal(str)

    def __init__(self, data: AtlasData, library: LibrarySource = None, parent: QWidget | None = None,
                 specs: Sequence[SearchSpec] = SPECS):
        super().__init__(parent)
        self.data = data
        self.specs = tuple(specs)
        self._library_source = library
        self._shown: Experiment | None = None
        self._auto_text: dict[QLineEdit, str] = {}
        """Per experiment field: the text the panel put there (the gene on show)."""
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
        self.set_mode(self.specs[0].kind)
        self.refresh_library_status()

    # ---- construction ---------------------------------------------------------------------

    def _build(self) -> None:
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        self.edits: dict[tuple[str, str], QLineEdit] = {}
        """(kind, field name) -> its line edit."""
        self.completers: list[StructureListCompleter] = []
        self.shown_buttons: list[tuple[QToolButton, QLineEdit]] = []
        self.forms = QStackedWidget(self)
        modes = QHBoxLayout()
        for spec in self.specs:
            button = QRadioButton(spec.title, self)
            button.setToolTip(spec.tooltip)
            self.mode_group.addButton(button)
            self.mode_buttons[spec.kind] = button
            modes.addWidget(button)
            self.forms.addWidget(self._form(spec))
        modes.addStretch(1)
        self.forms.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        # the two kinds' buttons by the names the window's tests know them
        self.differential_button = self.mode_buttons.get("differential")
        self.correlated_button = self.mode_buttons.get("correlation")

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

        self.model = SearchResultModel(self, self.specs[0])
        self.proxy = ResultProxy(self)
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

    def _form(self, spec: SearchSpec) -> QWidget:
        """The form of one spec: a line edit per field (a completer for structures, a
        *Shown* button for an experiment), named ``<name>_edit`` on the panel."""
        form = QWidget(self)
        f = QFormLayout(form)
        f.setContentsMargins(0, 0, 0, 0)
        for field in spec.fields:
            edit = QLineEdit(self)
            edit.setObjectName("librarySearch" + field.name.capitalize())
            edit.setPlaceholderText(field.placeholder)
            edit.setToolTip(field.tooltip)
            self.edits[(spec.kind, field.name)] = edit
            setattr(self, f"{field.name}_edit", edit)
            row = edit
            if field.kind == STRUCTURES:
                completer = StructureListCompleter(edit, self)
                self.completers.append(completer)
                setattr(self, f"{field.name}_completer", completer)
            elif field.kind == EXPERIMENT:
                button = QToolButton(self)
                button.setText("Shown")
                button.setToolTip("Use the gene on show as the " + field.label.lower())
                button.setEnabled(False)
                self.shown_buttons.append((button, edit))
                setattr(self, f"{field.name}_shown_button", button)
                row = QHBoxLayout()
                row.setContentsMargins(0, 0, 0, 0)
                row.addWidget(edit, 1)
                row.addWidget(button)
            f.addRow(field.label + ":", row)
        return form

    def _connect(self) -> None:
        for kind, button in self.mode_buttons.items():
            button.toggled.connect(lambda on, kind=kind: on and self.set_mode(kind))
        self.search_button.clicked.connect(lambda: self.search())
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self._export_dialog)
        for button, edit in self.shown_buttons:
            button.clicked.connect(lambda _=False, edit=edit: self._use_shown(edit))
        for edit in self.edits.values():
            edit.returnPressed.connect(self._return_pressed)
        self.results.clicked.connect(self._activate_index)
        self.results.enterPressed.connect(self._activate_index)
        self.local_channel.resultReady.connect(self._on_result)
        self.local_channel.failed.connect(self._on_local_failed)
        self.local_channel.cancelled.connect(lambda _tag: self._on_cancelled(LOCAL))
        self.local_channel.busyChanged.connect(self._on_busy)
        self.remote_channel.resultReady.connect(self._on_result)
        self.remote_channel.failed.connect(self._on_remote_failed)
        self.remote_channel.cancelled.connect(lambda _tag: self._on_cancelled(ALLEN))
        self.remote_channel.busyChanged.connect(self._on_busy)

    # ---- set-up from the window -----------------------------------------------------------

    def set_ontology(self, ontology) -> None:
        """Complete structure fields with the ontology's acronyms (graph order)."""
        words = [s.acronym for s in ontology]
        for c in self.completers:
            c.set_words(words)
        self._completion_words = bool(words)

    def set_seed(self, experiment: Experiment | None) -> None:
        """The gene on show: fills the experiment fields (the correlation seed) unless the
        user typed another one there, and is the experiment drawn bold in the table."""
        self._shown = experiment
        for button, _edit in self.shown_buttons:
            button.setEnabled(experiment is not None)
        self.model.set_shown(experiment.id if experiment is not None else None)
        if experiment is None:
            return
        for _button, edit in self.shown_buttons:
            current = edit.text().strip()
            if not current or current == self._auto_text.get(edit, ""):
                self._set_auto_text(edit, experiment.label)

    def _set_auto_text(self, edit: QLineEdit, text: str) -> None:
        self._auto_text[edit] = text
        edit.setText(text)

    def _use_shown(self, edit: QLineEdit) -> None:
        if self._shown is not None:
            self._set_auto_text(edit, self._shown.label)

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
    def spec(self) -> SearchSpec:
        """The spec of the form on show."""
        return self.specs[self.forms.currentIndex()]

    @property
    def mode(self) -> str:
        """The kind of the form on show (``differential``, ``correlation``, ...)."""
        return self.spec.kind

    def set_mode(self, mode: str) -> None:
        """Show the form of search kind ``mode`` (``differential`` / ``correlation``)."""
        kinds = [s.kind for s in self.specs]
        if mode not in kinds:
            raise ValueError(f"mode must be one of {', '.join(map(repr, kinds))}, not {mode!r}")
        button = self.mode_buttons[mode]
        if not button.isChecked():
            button.setChecked(True)  # re-enters through toggled
            return
        self.forms.setCurrentIndex(kinds.index(mode))

    def request(self) -> SearchRequest:
        """The search the form describes (raises :class:`AllenViewerError` when incomplete)."""
        spec = self.spec
        texts = {f.name: self.edits[(spec.kind, f.name)].text().strip() for f in spec.fields}
        return spec.request(plane=self.plane_combo.currentData(), top=self.top_spin.value(), validate=True,
                            **texts)

    # ---- searching ------------------------------------------------------------------------

    def _return_pressed(self) -> None:
        if any(c.popup().isVisible() for c in self.completers):
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
        self._state = {LOCAL: "busy", ALLEN: "busy" if remote else "off"}
        self.model.clear(req.spec)
        self.results.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self._show_error("")
        self.result_label.setText("")
        data, opener = self.data, self.open_library
        how_to_fill = f"fill it with {SYNC_HINT}"
        self.local_channel.submit(lambda progress, cancel: run_local(data, opener(), req, progress, cancel,
                                                                     how_to_fill=how_to_fill), tag=req)
        if remote:
            self._show_remote("Asking Allen's service…", "")
            self.remote_channel.submit(lambda progress, cancel: run_remote(data, opener, req, cancel), tag=req)
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
        if outcome.seed is not None and (outcome.source == LOCAL or self._seed_exp is None):
            self._seed_exp = outcome.seed
        if not self._completion_words:
            self.set_ontology(self.data.ontology)  # the search job has loaded it already
        if outcome.source == ALLEN:
            self._show_remote(f"Allen's service: {len(outcome.hits)} rows ({_seconds(outcome.elapsed_s)}).", "ok")
        else:
            rec = outcome.library_record
            self._show_library_status(int(rec.get("experiments", 0)), outcome.library_genes, str(rec.get("root", "")))
        self.export_button.setEnabled(self.model.rowCount() > 0)
        self._update_summary()
        self.searchFinished.emit(outcome.source)

    def _on_local_failed(self, message: str, exc, _tag) -> None:
        self._state[LOCAL] = "failed"
        self._show_error(f"Library search: {message}")
        if isinstance(exc, LibraryError):  # missing, empty or damaged: say so in the status line too
            self.refresh_library_status()
        self._update_summary()
        self.searchFinished.emit(LOCAL)

    def _on_remote_failed(self, message: str, _exc, _tag) -> None:
        self._state[ALLEN] = "failed"
        local = ("the local results are shown" if self._state.get(LOCAL) in ("busy", "done")
                 else "the library can still be searched")
        self._show_remote(f"Allen's service could not be used; {local}. {message}", "error")
        self._update_summary()
        self.searchFinished.emit(ALLEN)

    def _on_cancelled(self, source: str) -> None:
        self._state[source] = "cancelled"
        if source == ALLEN:
            self._show_remote("Allen's service: cancelled.", "")
        self._update_summary()

    def _update_summary(self) -> None:
        """The line under the table: what was searched, and where each source stands."""
        req = self._request
        if req is None:
            return
        what = req.describe(self._seed_exp)
        local = {"busy": "searching the library…", "cancelled": "library search cancelled",
                 "failed": "library search failed",
                 "done": f"{len(self.model.hits(LOCAL))} local rows "
                         f"({_seconds(self._notes.get(LOCAL, ('', 0.0))[1])})"}
        allen = {"busy": "waiting for Allen's service…", "cancelled": "Allen's search cancelled",
                 "failed": "no rows from Allen", "done": f"{len(self.model.hits(ALLEN))} rows from Allen"}
        parts = [local.get(self._state.get(LOCAL, ""), ""), allen.get(self._state.get(ALLEN, ""), "")]
        text = f"{what}: {', '.join(p for p in parts if p)}."
        note = self._notes.get(LOCAL, ("", 0))[0]
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
        spec = req.spec
        rows = spec.csv_rows(self.model.hits())
        library = self._records.get(LOCAL) or safe_library_record(self.open_library())
        record = spec.record(req, self._seed_exp, bool(self.model.hits(ALLEN)), library)
        record["made_with"] = "allen-viewer GUI, library search panel"
        write_results_csv(Path(path), spec.csv_columns, rows, spec.export, **record)
        return len(rows)

    def _export_dialog(self) -> None:
        req = self._request
        name = "search.csv" if req is None else req.spec.file_stem(req) + ".csv"
        from allen_viewer.gui.save_paths import ask_table_path
        from allen_viewer.io.guard import claim_output

        try:  # the final name, asked about with its sidecar; a foreign sidecar-named file refused
            path = ask_table_path(self, "Export the search results", name)
            if path is None:
                return
            with claim_output(path, True):
                n = self.export_csv(path)
        except (AllenViewerError, OSError) as exc:
            self._show_error(f"Export failed: {getattr(exc, 'strerror', None) or exc}")
            return
        self.result_label.setText(f"Wrote {n} rows to {path} (and its sidecar {path}.json).")
