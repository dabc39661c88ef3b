"""The structure tree panel: the whole ontology with colour swatches, a filter and checkboxes.

* :class:`StructureTreeModel` (a :class:`QAbstractItemModel`) exposes the ontology as a tree:
  column 0 the acronym with the atlas colour as a swatch and a visibility checkbox
  (checked: the structure's surface is shown in the 3-D scene), column 1 the full name.
* :class:`StructureFilterProxy` filters on acronym or name, keeping the ancestors of every
  match (Qt's recursive filtering).
* :class:`StructureTreePanel` holds the filter box, the tree and a summary area where the
  window shows the loaded gene's numbers for the selected structure.

The panel only reports what the user does (``structureSelected``, ``visibilityChanged``);
meshes, highlights and summaries are the window's business.
"""
from __future__ import annotations

from PySide6.QtCore import (
    QAbstractItemModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from allen_viewer.atlas.ontology import Ontology, Structure

StructureIdRole = Qt.ItemDataRole.UserRole + 1
SearchTextRole = Qt.ItemDataRole.UserRole + 2


def _check_state(value) -> Qt.CheckState:
    """A check state from whatever a view passed to ``setData`` (enum or int)."""
    if isinstance(value, Qt.CheckState):
        return value
    try:
        return Qt.CheckState(int(value))
    except (TypeError, ValueError):
        return Qt.CheckState.Unchecked


class StructureTreeModel(QAbstractItemModel):
    """The ontology as a two-column tree (acronym, name), children in graph order.

    Each index points at its :class:`Structure`; :data:`StructureIdRole` gives the Allen id.
    Column 0 is user-checkable; a change emits ``visibilityChanged(structure_id, visible)``.
    """

    COLUMNS = ("Acronym", "Name")
    visibilityChanged = Signal(int, bool)

    def __init__(self, ontology: Ontology | None = None, parent=None):
        super().__init__(parent)
        self._ontology: Ontology | None = None
        self._row: dict[int, int] = {}
        self._visible: set[int] = set()
        self._icons: dict[int, QIcon] = {}
        self._swatch: dict[int, tuple[int, int, int]] = {}
        if ontology is not None:
            self.set_ontology(ontology)

    def set_ontology(self, ontology: Ontology) -> None:
        self.beginResetModel()
        self._ontology = ontology
        self._row = {}
        for s in ontology:
            for i, child in enumerate(s.children):
                self._row[child.id] = i
        self._row[ontology.root.id] = 0
        self._visible.clear()
        self._icons.clear()
        self.endResetModel()

    @property
    def ontology(self) -> Ontology | None:
        return self._ontology

    # ---- lookups --------------------------------------------------------------------------

    def structure(self, index: QModelIndex | QPersistentModelIndex) -> Structure | None:
        return index.internalPointer() if index.isValid() else None

    def index_of(self, structure_id: int, column: int = 0) -> QModelIndex:
        """The model index of a structure (invalid when unknown)."""
        if self._ontology is None or structure_id not in self._ontology:
            return QModelIndex()
        s = self._ontology.by_id(structure_id)
        return self.createIndex(self._row[s.id], column, s)

    def visible_ids(self) -> set[int]:
        return set(self._visible)

    def set_visible(self, structure_id: int, visible: bool, notify: bool = True) -> None:
        """Check or uncheck a structure; emits ``visibilityChanged`` when it changes and ``notify``."""
        if (structure_id in self._visible) == bool(visible):
            return
        if visible:
            self._visible.add(structure_id)
        else:
            self._visible.discard(structure_id)
        idx = self.index_of(structure_id)
        if idx.isValid():
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.CheckStateRole])
        if notify:
            self.visibilityChanged.emit(structure_id, bool(visible))

    # ---- Qt model API ---------------------------------------------------------------------

    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> QModelIndex:
        if self._ontology is None or column < 0 or column >= len(self.COLUMNS):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, self._ontology.root) if row == 0 else QModelIndex()
        s: Structure = parent.internalPointer()
        if 0 <= row < len(s.children):
            return self.createIndex(row, column, s.children[row])
        return QModelIndex()

    def parent(self, index=QModelIndex()) -> QModelIndex:  # type: ignore[override]  # also QObject.parent()
        if not index.isValid():
            return QModelIndex()
        s: Structure = index.internalPointer()
        if s.parent is None:
            return QModelIndex()
        return self.createIndex(self._row[s.parent.id], 0, s.parent)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        if self._ontology is None:
            return 0
        if not parent.isValid():
            return 1
        if parent.column() != 0:
            return 0
        return len(parent.internalPointer().children)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return len(self.COLUMNS)

    def hasChildren(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        return self.rowCount(parent) > 0

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0:
            f |= Qt.ItemFlag.ItemIsUserCheckable
        return f

    def set_swatch_colors(self, colors: dict[int, tuple[int, int, int]]) -> None:
        """Swatches in these colours (Allen id -> r, g, b 0-255; e.g. the colours the user
        chose for figures) instead of the atlas colours; structures not named get theirs back."""
        changed = set(colors) ^ set(self._swatch)
        changed |= {sid for sid in set(colors) & set(self._swatch) if colors[sid] != self._swatch[sid]}
        self._swatch = {int(k): tuple(v) for k, v in colors.items()}
        for sid in changed:
            self._icons.pop(sid, None)
            idx = self.index_of(sid)
            if idx.isValid():
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def swatch_color(self, structure_id: int) -> tuple[int, int, int] | None:
        """The swatch colour of a structure (None: unknown structure)."""
        if structure_id in self._swatch:
            return self._swatch[structure_id]
        if self._ontology is None or structure_id not in self._ontology:
            return None
        return tuple(self._ontology.by_id(structure_id).color)

    def _icon(self, s: Structure) -> QIcon:
        icon = self._icons.get(s.id)
        if icon is None:
            pix = QPixmap(12, 12)
            pix.fill(QColor(*self._swatch.get(s.id, s.color)))
            icon = QIcon(pix)
            self._icons[s.id] = icon
        return icon

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        s: Structure = index.internalPointer()
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return s.acronym if col == 0 else s.name
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{s.acronym}: {s.name} (id {s.id})"
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return self._icon(s)
        if role == Qt.ItemDataRole.CheckStateRole and col == 0:
            return Qt.CheckState.Checked if s.id in self._visible else Qt.CheckState.Unchecked
        if role == StructureIdRole:
            return s.id
        if role == SearchTextRole:
            return f"{s.acronym}\n{s.name}".lower()
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.CheckStateRole or index.column() != 0:
            return False
        s: Structure = index.internalPointer()
        self.set_visible(s.id, _check_state(value) == Qt.CheckState.Checked)
        return True


class StructureFilterProxy(QSortFilterProxyModel):
    """Keeps structures whose acronym or name contains every word of the filter text
    (case-insensitive), with their ancestors, so matches stay in their place in the tree."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setAutoAcceptChildRows(False)
        self._words: list[str] = []

    def set_filter_text(self, text: str) -> None:
        # A reset, not an incremental re-filter: with ~1,300 rows and recursive filtering,
        # Qt's incremental path calls parent() about a million times (seconds in Python);
        # a reset costs tens of ms.  The panel restores the selection afterwards.
        self.beginResetModel()
        self._words = text.lower().split()
        self.endResetModel()

    @property
    def filter_words(self) -> list[str]:
        return list(self._words)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if not self._words:
            return True
        idx = self.sourceModel().index(source_row, 0, source_parent)
        text = idx.data(SearchTextRole) or ""
        return all(w in text for w in self._words)


class StructureTreePanel(QWidget):
    """Filter box, structure tree and the summary of the selected structure.

    Signals: ``structureSelected(int | None)`` (Allen id of the current structure, None
    when the selection is cleared); ``visibilityChanged(int, bool)`` (a checkbox changed).
    """

    structureSelected = Signal(object)
    visibilityChanged = Signal(int, bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = StructureTreeModel(parent=self)
        self.proxy = StructureFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.filter_box = QLineEdit(self)
        self.filter_box.setObjectName("structureFilter")
        self.filter_box.setPlaceholderText("Filter structures (acronym or name)")
        self.filter_box.setClearButtonEnabled(True)
        self.tree = QTreeView(self)
        self.tree.setObjectName("structureTree")
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.tree.header().setStretchLastSection(True)
        self.tree.setIndentation(12)
        self.tree.setColumnWidth(0, 200)  # room for the deepest levels (about 10) and the acronym
        self.summary = QLabel("", self)
        self.summary.setObjectName("structureSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setMinimumHeight(70)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._selected: int | None = None
        self._filtering = False

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filter_box)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.summary)

        self.filter_box.textChanged.connect(self._on_filter)
        self.model.visibilityChanged.connect(self.visibilityChanged)
        self.tree.selectionModel().currentRowChanged.connect(self._on_current)

    def set_ontology(self, ontology: Ontology) -> None:
        self.model.set_ontology(ontology)
        self.tree.expandToDepth(1)

    # ---- selection ------------------------------------------------------------------------

    def selected_id(self) -> int | None:
        """Allen id of the selected structure (kept while a filter hides it), or None."""
        return self._selected

    def select_structure(self, structure_id: int | None) -> None:
        """Select (and reveal) a structure, as if clicked; None clears the selection.

        ``structureSelected`` is emitted when the selection changes.
        """
        if structure_id is None:
            self.tree.selectionModel().setCurrentIndex(QModelIndex(), QItemSelectionModel.SelectionFlag.Clear)
            self._set_selected(None)
            return
        src = self.model.index_of(int(structure_id))
        if not src.isValid():
            return
        proxy_idx = self.proxy.mapFromSource(src)
        if not proxy_idx.isValid():  # hidden by the filter: drop the filter to show it
            self.filter_box.clear()
            proxy_idx = self.proxy.mapFromSource(src)
        parent = proxy_idx.parent()
        while parent.isValid():
            self.tree.expand(parent)
            parent = parent.parent()
        self.tree.selectionModel().setCurrentIndex(
            proxy_idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.tree.scrollTo(proxy_idx, QAbstractItemView.ScrollHint.PositionAtCenter)
        self._set_selected(int(structure_id))

    def _set_selected(self, structure_id: int | None) -> None:
        if structure_id != self._selected:
            self._selected = structure_id
            self.structureSelected.emit(structure_id)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._filtering:  # rows come and go while filtering; that is not the user's choice
            return
        self._set_selected(current.data(StructureIdRole) if current.isValid() else None)

    # ---- visibility and summary -----------------------------------------------------------

    def set_visible(self, structure_id: int, visible: bool) -> None:
        self.model.set_visible(structure_id, visible)

    def visible_ids(self) -> set[int]:
        return self.model.visible_ids()

    def set_summary(self, html: str) -> None:
        self.summary.setText(html)

    def _on_filter(self, text: str) -> None:
        self._filtering = True
        try:
            self.proxy.set_filter_text(text)
            if text.strip():
                self.tree.expandAll()
            else:
                self.tree.collapseAll()
                self.tree.expandToDepth(1)
            # keep showing the selected structure when the filter lets it through
            if self._selected is not None:
                idx = self.proxy.mapFromSource(self.model.index_of(self._selected))
                if idx.isValid():
                    parent = idx.parent()
                    while parent.isValid():
                        self.tree.expand(parent)
                        parent = parent.parent()
                    self.tree.selectionModel().setCurrentIndex(
                        idx, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
                    self.tree.scrollTo(idx)
        finally:
            self._filtering = False
