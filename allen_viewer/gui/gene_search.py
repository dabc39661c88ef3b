"""The gene search panel: type-ahead over every ISH experiment, and the recently viewed ones.

:class:`ExperimentTableModel` lists experiments (gene, plane, experiment id, and where the
grid would come from: embedded, cached or remote, the words the CLI uses).  :class:`GeneSearchPanel` puts a
search box over it (``GeneIndex.search``: symbol prefix, exact symbol, Entrez id,
experiment id, gene-name words) and a one-click list of recent experiments.

The panel never loads anything: activating an experiment (Enter, double-click, or a click
on a recent one) emits :attr:`GeneSearchPanel.experimentActivated` and the main window
does the rest.  Where a grid lives is asked of a *locator* the window gives it
(``AtlasData.locate``: a few ``stat`` calls, fine in the UI thread).
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont, QKeyEvent
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from allen_viewer.errors import AllenViewerError
from allen_viewer.store.gene_index import GeneIndex
from allen_viewer.records import Experiment
from allen_viewer.gui.result_table import ResultTable

SOURCE_TEXT = {"embedded": "embedded", "cached": "cached", "remote": "remote"}
SOURCE_TIP = {
    "embedded": "Ships with the viewer: opens at once, also offline.",
    "cached": "Downloaded before: opens from the cache, also offline.",
    "remote": "Will be downloaded from the Allen API (about 1 MB).",
}
SOURCE_COLOR = {"embedded": QColor(30, 120, 40), "cached": QColor(30, 80, 160), "remote": QColor(120, 120, 120)}
ExperimentRole = Qt.ItemDataRole.UserRole + 1
SEARCH_LIMIT = 100


class ExperimentTableModel(QAbstractTableModel):
    """Rows of experiments; columns Gene, Plane, Id, Source.

    ``locator(experiment_id) -> "embedded" | "cached" | "remote"`` fills the Source column;
    it is asked lazily (only for rows that are painted) and remembered until
    :meth:`refresh_sources`.  :data:`ExperimentRole` gives the :class:`Experiment` of a row.
    """

    COLUMNS = ("Gene", "Plane", "Id", "Source")

    def __init__(self, locator: Callable[[int], str] | None = None, parent=None):
        super().__init__(parent)
        self._rows: list[Experiment] = []
        self._locator = locator
        self._where: dict[int, str] = {}
        self.shown_id: int | None = None
        """The experiment the window shows (its row is drawn bold)."""

    def set_locator(self, locator: Callable[[int], str] | None) -> None:
        self._locator = locator
        self.refresh_sources()

    def set_experiments(self, experiments: list[Experiment]) -> None:
        self.beginResetModel()
        self._rows = list(experiments)
        self.endResetModel()

    def experiments(self) -> list[Experiment]:
        return list(self._rows)

    def experiment(self, row: int) -> Experiment:
        return self._rows[row]

    def refresh_sources(self) -> None:
        """Forget the remembered sources (e.g. after a download filled the cache)."""
        self._where.clear()
        if self._rows:
            self.dataChanged.emit(self.index(0, 3), self.index(len(self._rows) - 1, 3))

    def source_of(self, experiment_id: int) -> str:
        """``embedded``, ``cached``, ``remote`` or ``unknown`` (no locator, or it failed)."""
        if experiment_id not in self._where:
            where = "unknown"
            if self._locator is not None:
                try:
                    where = self._locator(experiment_id)
                except (AllenViewerError, OSError):
                    where = "unknown"
            self._where[experiment_id] = where
        return self._where[experiment_id]

    # ---- Qt model API ---------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        exp = self._rows[index.row()]
        col = index.column()
        if role == ExperimentRole:
            return exp
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return exp.symbol
            if col == 1:
                return exp.plane
            if col == 2:
                return str(exp.id)
            if col == 3:
                where = self.source_of(exp.id)
                return SOURCE_TEXT.get(where, where)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{exp.symbol}: {exp.name}" + (f" (Entrez {exp.entrez_id})" if exp.entrez_id else "")
            if exp.alias:
                tip += f"; formerly {exp.alias}"
            if col == 3:
                tip = SOURCE_TIP.get(self.source_of(exp.id), tip)
            return tip
        if role == Qt.ItemDataRole.ForegroundRole and col == 3:
            return SOURCE_COLOR.get(self.source_of(exp.id))
        if role == Qt.ItemDataRole.FontRole and exp.id == self.shown_id:
            font = QFont()
            font.setBold(True)
            return font
        return None


class _SearchBox(QLineEdit):
    """A line edit that hands Up/Down to the result list (so the keyboard can pick a row)."""

    moveSelection = Signal(int)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Down:
            self.moveSelection.emit(1)
        elif event.key() == Qt.Key.Key_Up:
            self.moveSelection.emit(-1)
        else:
            super().keyPressEvent(event)


class GeneSearchPanel(QWidget):
    """Search box + result table + recent experiments.

    Signals: ``experimentActivated(Experiment)`` when the user picks one (Enter in the box
    or the table, a double-click, or a click on a recent one).

    With the search box empty, the table lists every experiment of the gene on show (see
    :meth:`set_shown`), so switching between its coronal and sagittal data is one
    double-click.
    """

    experimentActivated = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._index: GeneIndex | None = None
        self._shown: Experiment | None = None
        self._available_of: Callable[[], set[int]] | None = None
        self._available: set[int] = set()
        self.search_box = _SearchBox(self)
        self.search_box.setObjectName("geneSearchBox")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setPlaceholderText("Loading the gene index…")
        self.search_box.setEnabled(False)
        self.model = ExperimentTableModel(parent=self)
        self.results = ResultTable(self, "geneResults")
        self.results.setModel(self.model)
        header = self.results.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.count_label = QLabel("", self)
        self.count_label.setObjectName("geneResultCount")
        self.recent_label = QLabel("Recently viewed", self)
        self.recent = QListWidget(self)
        self.recent.setObjectName("recentGenes")
        self.recent.setMaximumHeight(110)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search_box)
        layout.addWidget(self.count_label)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.recent_label)
        layout.addWidget(self.recent)

        self.search_box.textChanged.connect(self.search)
        self.search_box.returnPressed.connect(self._activate_current)
        self.search_box.moveSelection.connect(self._move_selection)
        # ``activated``: a double-click (or a single click where the platform says so) and Enter
        self.results.activated.connect(self._activate_index)
        self.results.enterPressed.connect(self._activate_index)
        self.recent.itemClicked.connect(self._activate_recent)
        self.recent.itemActivated.connect(self._activate_recent)

    # ---- set-up from the window -----------------------------------------------------------

    def set_index(self, index: GeneIndex) -> None:
        """Enable searching over ``index`` (and re-run the current query)."""
        self._index = index
        self.search_box.setEnabled(True)
        self.search_box.setPlaceholderText("Gene symbol, name, Entrez id or experiment id")
        self.search(self.search_box.text())

    def set_locator(self, locator: Callable[[int], str] | None) -> None:
        self.model.set_locator(locator)
        self._refresh_recent_text()

    def set_available(self, available_of: Callable[[], set[int]] | None) -> None:
        """``available_of()``: the ids whose grids open without a download (embedded, cached),
        which the search ranks first among prefix matches (:func:`~allen_viewer.store.gene_index.prefix_rank`)."""
        self._available_of = available_of
        self._available = set(available_of()) if available_of is not None else set()
        if self._index is not None and self.search_box.text().strip():
            self.search(self.search_box.text())

    def refresh_sources(self) -> None:
        """Re-ask where grids live (after a download)."""
        if self._available_of is not None:
            self._available = set(self._available_of())
        self.model.refresh_sources()
        self._refresh_recent_text()

    def set_recent(self, experiments: list[Experiment]) -> None:
        """Show these experiments (newest first) as the recently viewed list."""
        self.recent.clear()
        for exp in experiments:
            item = QListWidgetItem(self.recent)
            item.setData(ExperimentRole, exp)
            item.setToolTip(f"{exp.symbol}: {exp.name}")
        self._refresh_recent_text()

    def recent_experiments(self) -> list[Experiment]:
        return [self.recent.item(i).data(ExperimentRole) for i in range(self.recent.count())]

    def _refresh_recent_text(self) -> None:
        for i in range(self.recent.count()):
            item = self.recent.item(i)
            exp: Experiment = item.data(ExperimentRole)
            where = SOURCE_TEXT.get(self.model.source_of(exp.id), "")
            item.setText(f"{exp.symbol}  ({exp.plane}, {exp.id})" + (f"  · {where}" if where else ""))

    # ---- searching ------------------------------------------------------------------------

    def set_shown(self, experiment: Experiment | None) -> None:
        """Tell the panel which experiment the window shows (bold; listed when the box is empty)."""
        self._shown = experiment
        self.model.shown_id = experiment.id if experiment is not None else None
        if not self.search_box.text().strip():
            self.search("")
        elif self.model.rowCount():
            self.model.dataChanged.emit(self.model.index(0, 0), self.model.index(self.model.rowCount() - 1, 3))

    def search(self, text: str) -> list[Experiment]:
        """Fill the result table with the matches of ``text``; select the first.

        Empty text lists the experiments of the gene on show, if any.
        """
        if self._index is None:
            hits = []
        elif text.strip():
            hits = self._index.search(text, limit=SEARCH_LIMIT, available=self._available)
        elif self._shown is not None:
            hits = self._index.exact_symbol(self._shown.symbol) or [self._shown]
        else:
            hits = []
        self.model.set_experiments(hits)
        if hits and text.strip():
            self.results.selectRow(0)
            more = "+" if len(hits) >= SEARCH_LIMIT else ""
            self.count_label.setText(f"{len(hits)}{more} experiment{'s' if len(hits) != 1 else ''}")
        elif hits:
            self.count_label.setText(f"Experiments of {self._shown.symbol} (bold: on show)")
        elif text.strip() and self._index is not None:
            self.count_label.setText("No experiment matches.")
        else:
            self.count_label.setText("")
        return hits

    def current_experiment(self) -> Experiment | None:
        idx = self.results.currentIndex()
        return self.model.experiment(idx.row()) if idx.isValid() else None

    def _move_selection(self, step: int) -> None:
        n = self.model.rowCount()
        if not n:
            return
        cur = self.results.currentIndex()
        row = min(max((cur.row() if cur.isValid() else -1) + step, 0), n - 1)
        self.results.selectRow(row)

    def _activate_current(self) -> None:
        if self.model.rowCount() and not self.results.currentIndex().isValid():
            self.results.selectRow(0)
        exp = self.current_experiment()
        if exp is not None:
            self.experimentActivated.emit(exp)

    def _activate_index(self, index: QModelIndex) -> None:
        if index.isValid():
            self.experimentActivated.emit(self.model.experiment(index.row()))

    def _activate_recent(self, item: QListWidgetItem) -> None:
        exp = item.data(ExperimentRole)
        if exp is not None:
            self.experimentActivated.emit(exp)
