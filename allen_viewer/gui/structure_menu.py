"""Structures for figures: per-structure colour and opacity, and acronyms on the slices.

:class:`StructureStyles` (made by :func:`install_structure_styles`) adds to a
:class:`~allen_viewer.gui.main_window.MainWindow`:

* a **context menu on the structure tree** (right-click a structure): show/hide its
  surface, *Colour…* (a colour dialog), *Atlas colour*, *Opacity* (10 % to 100 %) and
  *Default colour and opacity*.  Choosing a colour or an opacity also shows the
  structure's surface.  The choices live in the window's
  :class:`~allen_viewer.state.ViewerState` (``structure_styles``), so sessions keep them;
  the tree's swatch shows the chosen colour;
* the colour rule for every structure surface in the 3-D view
  (:mod:`allen_viewer.render.structure_style`: the chosen colour, else a neutral colour
  while expression is shown, else the atlas colour);
* *View > Structure labels on slices* (``state.structure_labels``): acronyms at the
  structures' centres in each slice pane (:mod:`allen_viewer.gui.slice_labels`).
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QActionGroup, QColor
from PySide6.QtWidgets import QColorDialog, QMenu

from allen_viewer.gui.slice_labels import SliceLabelOverlay
from allen_viewer.gui.structure_tree import StructureIdRole
from allen_viewer.render.structure_style import (
    OPACITY_CHOICES,
    surface_color,
    surface_opacity,
)


def ask_color(initial: tuple[int, int, int], parent, title: str) -> tuple[int, int, int] | None:
    """A colour from the user (QColorDialog), or None when cancelled."""
    color = QColorDialog.getColor(QColor(*initial), parent, title)
    return (color.red(), color.green(), color.blue()) if color.isValid() else None


class StructureStyles:
    """Per-structure colours and opacities, the tree's context menu and the slice labels
    of one window (see the module docstring)."""

    def __init__(self, window):
        self.window = window
        self.state = window.state
        self.ask_color = ask_color
        """Asks the user for a colour: ``(initial rgb, parent, title) -> rgb | None`` (tests
        replace it)."""
        tree = window.tree_panel.tree
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._on_context_menu)
        self.state.events.structure_styles.connect(lambda *_: self.apply())
        window.gridLoaded.connect(lambda *_: self.apply())

        self.labels = SliceLabelOverlay(window.slices)
        window.atlasReady.connect(lambda: self.labels.set_reference_space(window.space))
        if window.space is not None:
            self.labels.set_reference_space(window.space)
        self.labels_action = QAction("Structure &labels on slices", window, checkable=True)
        self.labels_action.setObjectName("structureLabelsAction")
        self.labels_action.setToolTip("Write the structures' acronyms at their centres in each slice pane "
                                      "(the larger ones; layers are named by their area)")
        self.labels_action.toggled.connect(lambda on: setattr(self.state, "structure_labels", bool(on)))
        self.state.events.structure_labels.connect(self._on_labels)
        view = menu_named(window, "&View")
        if view is not None:
            view.addAction(self.labels_action)

    # ---- the colour rule -------------------------------------------------------------------

    @property
    def expression_shown(self) -> bool:
        return self.window.grid is not None

    def color(self, structure_id: int) -> tuple[int, int, int]:
        """The colour (r, g, b 0-255) of the structure's surface now."""
        s = self.window.ontology.by_id(structure_id)
        return surface_color(s.color, self.state.structure_style(structure_id), self.expression_shown)

    def opacity(self, structure_id: int) -> float:
        """The structure's surface opacity when nothing is highlighted."""
        return surface_opacity(self.state.structure_style(structure_id))

    def apply(self) -> None:
        """Recolour the shown surfaces and the tree's swatches from the state."""
        w = self.window
        if w.ontology is None:
            return
        for sid in w.scene.structure_ids:
            w.scene.set_structure_style(sid, self.color(sid), self.opacity(sid))
        styled = {s.id: s.color for s in self.state.structure_styles}
        w.tree_panel.model.set_swatch_colors({sid: c for sid, c in styled.items() if c is not None})

    # ---- choices ----------------------------------------------------------------------------

    def set_color(self, structure_id: int, color) -> None:
        """Draw the structure's surface in ``color`` (r, g, b 0-255; None: the default rule)
        and show it."""
        self.state.set_structure_style(structure_id, color=None if color is None else tuple(color))
        self._show(structure_id)

    def set_opacity(self, structure_id: int, opacity: float | None) -> None:
        """Draw the structure's surface at ``opacity`` ((0, 1]; None: the default) and show it."""
        self.state.set_structure_style(structure_id, opacity=opacity)
        self._show(structure_id)

    def reset(self, structure_id: int) -> None:
        """Back to the default colour and opacity (the surface stays as shown or hidden)."""
        self.state.set_structure_style(structure_id, color=None, opacity=None)

    def _show(self, structure_id: int) -> None:
        if structure_id not in self.window.tree_panel.visible_ids():
            self.window.tree_panel.set_visible(structure_id, True)

    def choose_color(self, structure_id: int) -> None:
        s = self.window.ontology.by_id(structure_id)
        color = self.ask_color(self.color(structure_id), self.window, f"Colour of {s.acronym}")
        if color is not None:
            self.set_color(structure_id, color)

    # ---- the context menu ---------------------------------------------------------------------

    def menu_for(self, structure_id: int) -> QMenu:
        """The context menu of one structure (actions named ``structureMenu_*``)."""
        w = self.window
        s = w.ontology.by_id(structure_id)
        style = self.state.structure_style(structure_id)
        menu = QMenu(w.tree_panel.tree)
        title = menu.addAction(f"{s.acronym}: {s.name}")
        title.setEnabled(False)
        menu.addSeparator()
        show = menu.addAction("Show surface in 3-D")
        show.setObjectName("structureMenu_show")
        show.setCheckable(True)
        show.setChecked(structure_id in w.tree_panel.visible_ids())
        show.toggled.connect(lambda on: w.tree_panel.set_visible(structure_id, on))
        colour = menu.addAction("Colour…")
        colour.setObjectName("structureMenu_colour")
        colour.triggered.connect(lambda: self.choose_color(structure_id))
        atlas = menu.addAction("Atlas colour")
        atlas.setObjectName("structureMenu_atlas")
        atlas.setToolTip("Draw the surface in the structure's Allen atlas colour, even while expression is shown")
        atlas.triggered.connect(lambda: self.set_color(structure_id, s.color))
        sub = menu.addMenu("Opacity")
        sub.setObjectName("structureMenu_opacity")
        group = QActionGroup(sub)
        current = self.opacity(structure_id)
        for value in OPACITY_CHOICES:
            act = sub.addAction(f"{round(value * 100)} %")
            act.setObjectName(f"structureMenu_opacity_{round(value * 100)}")
            act.setCheckable(True)
            act.setChecked(abs(value - current) < 1e-6)
            group.addAction(act)
            act.triggered.connect(lambda _=False, v=value: self.set_opacity(structure_id, v))
        reset = menu.addAction("Default colour and opacity")
        reset.setObjectName("structureMenu_reset")
        reset.setEnabled(style is not None)
        reset.triggered.connect(lambda: self.reset(structure_id))
        return menu

    def _on_context_menu(self, pos: QPoint) -> None:
        tree = self.window.tree_panel.tree
        index = tree.indexAt(pos)
        sid = index.data(StructureIdRole) if index.isValid() else None
        if sid is None or self.window.ontology is None:
            return
        menu = self.menu_for(int(sid))
        menu.exec(tree.viewport().mapToGlobal(pos))
        menu.deleteLater()

    # ---- labels -------------------------------------------------------------------------------

    def _on_labels(self, on, *_old) -> None:
        if self.labels_action.isChecked() != bool(on):
            self.labels_action.blockSignals(True)
            self.labels_action.setChecked(bool(on))
            self.labels_action.blockSignals(False)
        self.labels.set_enabled(bool(on))


def menu_named(window, title: str) -> QMenu | None:
    """The window's menu-bar menu called ``title`` (e.g. ``&View``), or None."""
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text() == title:
            return action.menu()
    return None


def install_structure_styles(window) -> StructureStyles:
    """Add per-structure styles, the tree's context menu and the slice labels to ``window``."""
    return StructureStyles(window)
