"""The read-only result table the gene search and the library search panels share."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget


class ResultTable(QTableView):
    """Whole-row, single selection, no editing, compact rows; Enter on the current row
    emits ``enterPressed`` (a plain table's Enter would only try to edit)."""

    enterPressed = Signal(QModelIndex)

    def __init__(self, parent: QWidget | None = None, object_name: str = ""):
        super().__init__(parent)
        if object_name:
            self.setObjectName(object_name)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.enterPressed.emit(self.currentIndex())
        else:
            super().keyPressEvent(event)
