"""Completion of comma-separated structure acronyms in a line edit (the library search's forms)."""
from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QStringListModel, Qt
from PySide6.QtWidgets import QCompleter, QLineEdit


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
