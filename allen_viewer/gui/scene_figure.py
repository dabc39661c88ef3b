"""View menu items for figures in 3-D: the slice planes and the cut-aways (issue 13).

*View > Slice planes in 3-D* draws the three current slices as planes in the 3-D view,
textured exactly as the slice panes draw them (the panes' own
:class:`~allen_viewer.render.slice_images.SliceLayers`), moving with the sliders and clicks
(they follow the 3-D cursor, which is where the three slices cross) and redrawn when the
panes' look changes (gene, colour map, highlight, background).

*View > Cut away* hides one hemisphere, or everything on one side of the current coronal,
sagittal or horizontal slice (:data:`~allen_viewer.render.cuts.CUT_AWAYS`), for the spheres,
the brain outline and the structure surfaces (closed with a cut face) and the slice planes.
The slice-relative cuts move with the slices.

Both act on the single-gene 3-D view (not the compare view's two scenes).  The image export
dialog offers the same (:mod:`allen_viewer.gui.export_actions`).  Both are held in the
:class:`~allen_viewer.state.ViewerState` (``cut_away``, ``slice_planes``): the menu writes
the state and the scene follows the state, so sessions save and reopen them.
"""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QCheckBox, QComboBox, QMenu

from allen_viewer.render.cuts import CUT_AWAYS

CUT_LABELS = {
    "none": "Nothing",
    "left": "Left hemisphere",
    "right": "Right hemisphere",
    "anterior": "Anterior of the coronal slice",
    "posterior": "Posterior of the coronal slice",
    "sagittal-left": "Left of the sagittal slice",
    "sagittal-right": "Right of the sagittal slice",
    "dorsal": "Dorsal of the horizontal slice",
    "ventral": "Ventral of the horizontal slice",
}
"""Menu text of each cut-away (the keys are :data:`CUT_AWAYS`' names)."""
assert set(CUT_LABELS) == set(CUT_AWAYS)


def figure_option_widgets(clip: str = "none", planes: bool = False) -> tuple[QComboBox, QCheckBox]:
    """A *Cut away* combo box (data: the cut-away name) and a *Slice planes* check box, set
    to ``clip`` and ``planes``: the image (and movie) export dialogs' figure options."""
    box = QComboBox()
    box.setObjectName("cutAwayBox")
    for name, text in CUT_LABELS.items():
        box.addItem(text, name)
    box.setCurrentIndex(max(0, box.findData(clip)))
    box.setToolTip("Hide this part (spheres, surfaces with their cut face, slice planes); the slice-relative "
                   "cuts are at the slice panes' current slices")
    check = QCheckBox("Slice planes (the three current slices, as the slice panes show them)")
    check.setObjectName("slicePlanesBox")
    check.setChecked(bool(planes))
    return box, check


class SceneFigureActions(QObject):
    """The *Slice planes in 3-D* toggle and the *Cut away* menu for ``scene`` (an
    :class:`~allen_viewer.gui.scene3d.ExpressionScene`) and ``slices`` (the
    :class:`~allen_viewer.gui.slice_view.SlicePanes` whose slices the planes show), bound to
    ``state`` (a :class:`~allen_viewer.state.ViewerState`; None: the menu drives the scene
    directly)."""

    def __init__(self, parent, scene, slices, state=None):
        super().__init__(parent)
        self.scene = scene
        self.slices = slices
        self.state = state
        self.planes_action = QAction("Slice &planes in 3-D", parent, checkable=True)
        self.planes_action.setObjectName("slicePlanesAction")
        self.planes_action.setToolTip("Draw the three current slices as planes in the 3-D view, as the slice "
                                      "panes show them; they move with the sliders")
        self.planes_action.toggled.connect(self.set_planes)
        self.cut_menu = QMenu("C&ut away", parent)
        self.cut_menu.setObjectName("cutAwayMenu")
        self.cut_menu.setToolTipsVisible(True)
        group = QActionGroup(self)
        self.cut_actions: dict[str, QAction] = {}
        for name, text in CUT_LABELS.items():
            act = QAction(text, parent, checkable=True)
            act.setToolTip(f"Hide {CUT_AWAYS[name]} in the 3-D view (spheres, surfaces with their cut face, "
                           f"slice planes)")
            act.triggered.connect(lambda _on=False, n=name: self.set_cut(n))
            group.addAction(act)
            self.cut_menu.addAction(act)
            self.cut_actions[name] = act
        self.cut_actions["none"].setChecked(True)
        changed = getattr(slices, "layersChanged", None)
        if changed is not None:
            changed.connect(scene.refresh_slice_planes)
        if state is not None:
            state.events.cut_away.connect(self._show_cut)
            state.events.slice_planes.connect(self._show_planes)
            if state.cut_away != "none":
                self._show_cut(state.cut_away)
            if state.slice_planes:
                self._show_planes(True)

    def add_to(self, menu: QMenu) -> None:
        menu.addAction(self.planes_action)
        menu.addMenu(self.cut_menu)

    def set_planes(self, on: bool) -> None:
        """Show (``on``) or hide the slice planes (through the state when there is one)."""
        if self.state is not None:
            self.state.slice_planes = bool(on)  # -> _show_planes
        else:
            self._show_planes(on)

    def set_cut(self, name: str) -> None:
        """Cut away ``name`` (a :data:`CUT_AWAYS` key) in the 3-D view (through the state
        when there is one)."""
        if name not in CUT_AWAYS:
            raise ValueError(f"unknown cut-away {name!r}")
        if self.state is not None:
            self.state.cut_away = name  # -> _show_cut
        else:
            self._show_cut(name)

    def _show_planes(self, on: bool, _old=None) -> None:
        if self.planes_action.isChecked() != bool(on):
            self.planes_action.blockSignals(True)
            self.planes_action.setChecked(bool(on))
            self.planes_action.blockSignals(False)
        self.scene.show_slice_planes(self.slices.layers if on else None)

    def _show_cut(self, name: str, _old=None) -> None:
        self.cut_actions[name].setChecked(True)
        self.scene.set_cut_away(name)

    @property
    def planes_shown(self) -> bool:
        return self.planes_action.isChecked()

    @property
    def cut(self) -> str:
        return self.scene.cut_away_name
