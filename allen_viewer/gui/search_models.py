"""Qt item models of the search panels: the rows of a library search
(:class:`SearchResultModel`, columns from a :class:`~allen_viewer.library.searches.SearchSpec`)
and the proxy that sorts them (:class:`ResultProxy`).

Models only: no widgets, no searching; the panel (``gui/library_search.py``) fills them.
"""
from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QFont

from allen_viewer.library.searches import ALLEN, CORRELATION, DIFFERENTIAL, LOCAL, SOURCE_TEXT, SearchSpec

SOURCE_COLOR = {LOCAL: QColor(30, 100, 40), ALLEN: QColor(150, 70, 0)}
ALLEN_TINT = QColor(255, 200, 120, 60)
"""Allen's rows are tinted (translucent, so alternating row colours still show)."""
HitRole = Qt.ItemDataRole.UserRole + 1
"""The hit of a row (:class:`DifferentialHit`, :class:`CorrelationHit`, ...)."""
SortRole = Qt.ItemDataRole.UserRole + 2
"""A row's value for sorting (numbers as numbers)."""


class SearchResultModel(QAbstractTableModel):
    """The rows of one search: local hits first, then Allen's, each in its own rank order.

    The columns, their tooltips and each cell's text and sort value come from the spec
    (:meth:`clear` switches it); Allen's rows are tinted and the Source column coloured.
    :data:`HitRole` gives a row's hit, :data:`SortRole` a sortable value.
    """

    DIFF_COLUMNS = DIFFERENTIAL.titles  # the two kinds' columns, by the names the tests know them
    CORR_COLUMNS = CORRELATION.titles

    def __init__(self, parent=None, spec: SearchSpec = DIFFERENTIAL):
        super().__init__(parent)
        self.spec = spec
        self._local: list = []
        self._allen: list = []
        self._rows: list = []
        self._other_rank: dict[tuple[str, int], int] = {}
        self.shown_id: int | None = None
        """The experiment the window shows (its rows are drawn bold)."""

    # ---- contents -------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[str, ...]:
        return self.spec.titles

    def clear(self, spec: SearchSpec | None = None) -> None:
        """Drop every row (and switch to ``spec``'s columns)."""
        self.beginResetModel()
        if spec is not None:
            self.spec = spec
        self._local, self._allen = [], []
        self._rebuild()
        self.endResetModel()

    def set_hits(self, source: str, hits: Sequence) -> None:
        """Replace the rows of one source (``local`` or ``allen``)."""
        self.beginResetModel()
        if source == ALLEN:
            self._allen = list(hits)
        else:
            self._local = list(hits)
        self._rebuild()
        self.endResetModel()

    def _rebuild(self) -> None:
        self._rows = self._local + self._allen
        local = {h.experiment_id: h.rank for h in self._local}
        allen = {h.experiment_id: h.rank for h in self._allen}
        self._other_rank = {(LOCAL, i): r for i, r in allen.items()}
        self._other_rank.update({(ALLEN, i): r for i, r in local.items()})

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

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.spec.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole):
        columns = self.spec.columns
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return columns[section].title
        if role == Qt.ItemDataRole.ToolTipRole:
            return columns[section].tip
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        h = self._rows[index.row()]
        column = self.spec.columns[index.column()]
        if role == HitRole:
            return h
        if role in (Qt.ItemDataRole.DisplayRole, SortRole):
            text, value = column.cell(h)
            return text if role == Qt.ItemDataRole.DisplayRole else value
        if role == Qt.ItemDataRole.TextAlignmentRole and not column.text:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column.title == "Source":
            return SOURCE_COLOR.get(h.source)
        if role == Qt.ItemDataRole.BackgroundRole and h.source == ALLEN:
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
        other_src = SOURCE_TEXT[ALLEN] if h.source == LOCAL else SOURCE_TEXT[LOCAL]
        if other is not None:
            tip += f"; {other_src} rank {other}"
        elif (self._allen if h.source == LOCAL else self._local):
            tip += f"; not in the {other_src} rows"
        return tip + self.spec.hit_note(h) + ". Click to load."


class ResultProxy(QSortFilterProxyModel):
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
