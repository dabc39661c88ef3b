"""The window's vector figures: a slice pane's *Export slice (SVG/PDF/PNG)…* (its context
menu) and *File > Export > Region map…*.  Thin: a small dialog, a save path, then the same
core functions as ``allen-viewer export slice`` / ``export region-map``
(:func:`allen_viewer.export.slice_figure.export_slice_figure`,
:func:`allen_viewer.export.region_map.export_region_map`), run in the thread pool through
:class:`~allen_viewer.gui.export_actions.ExportActions` (its save dialog, overwrite question,
status and error banner).

What is drawn comes from the window's state: the cursor (the point the section goes through,
read from the views' snapshot), the colour map, the slice background and labels; the slice
panes' threshold when they follow the 3-D one.  The dialogs are the only places the user is
asked (``ask_slice_options``, ``ask_region_options``; tests replace them).
"""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from allen_viewer.errors import AllenViewerError
from allen_viewer.io.sidecars import sidecar_path

FIGURE_FILTER = "SVG (*.svg);;PDF (*.pdf);;PNG (*.png)"
FIGURE_SUFFIXES = (".svg", ".pdf", ".png")
PLANE_NAMES = ("coronal", "sagittal", "horizontal")


class SliceFigureDialog(QDialog):
    """Labels on or off and the background (Nissl only when it is loaded)."""

    def __init__(self, parent: QWidget | None, labels: bool, background: str, nissl: bool):
        super().__init__(parent)
        self.setWindowTitle("Export slice figure")
        self.setObjectName("sliceFigureDialog")
        self.labels = QCheckBox("Structure acronyms", self)
        self.labels.setChecked(labels)
        self.background = QComboBox(self)
        for name in ("annotation", "nissl", "none"):
            if name != "nissl" or nissl:
                self.background.addItem(name.capitalize() if name != "none" else "None (white)", name)
        index = self.background.findData(background)
        self.background.setCurrentIndex(max(0, index))
        form = QFormLayout(self)
        form.addRow("Labels:", self.labels)
        form.addRow("Background:", self.background)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict:
        return {"labels": self.labels.isChecked(), "background": self.background.currentData()}


class RegionMapDialog(QDialog):
    """The plane, which structures paint (finest, at a depth, or a list) and the value."""

    def __init__(self, parent: QWidget | None, available: list[str]):
        super().__init__(parent)
        self.setWindowTitle("Export region map")
        self.setObjectName("regionMapDialog")
        self.plane = QComboBox(self)
        self.plane.addItems(PLANE_NAMES)
        self.mode = QComboBox(self)
        self.mode.addItem("Structures at a depth", "depth")
        self.mode.addItem("Finest structures", "finest")
        self.mode.addItem("Only these structures", "list")
        self.depth = QSpinBox(self)
        self.depth.setRange(0, 12)
        self.depth.setValue(5)
        self.structures = QLineEdit(self)
        self.structures.setPlaceholderText("e.g. CP, ACB, Isocortex")
        self.value = QComboBox(self)
        self.value.addItems([v for v in ("energy", "density", "intensity") if v in available])
        form = QFormLayout(self)
        form.addRow("Plane:", self.plane)
        form.addRow("Paint:", self.mode)
        form.addRow("Depth:", self.depth)
        form.addRow("Structures:", self.structures)
        form.addRow("Value:", self.value)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.mode.currentIndexChanged.connect(self._enable)
        self._enable()

    def _enable(self) -> None:
        mode = self.mode.currentData()
        self.depth.setEnabled(mode == "depth")
        self.structures.setEnabled(mode == "list")

    def values(self) -> dict:
        mode = self.mode.currentData()
        names = [a.strip() for a in self.structures.text().split(",") if a.strip()]
        return {"plane": self.plane.currentText(), "depth": self.depth.value() if mode == "depth" else None,
                "structures": names if mode == "list" else None, "value": self.value.currentText()}


class SectionFigureExport(QObject):
    """The two figure exports of the window; ``actions``: the window's
    :class:`~allen_viewer.gui.export_actions.ExportActions` (state, loaded data, views,
    save dialog and background runs)."""

    def __init__(self, actions):
        super().__init__(actions)
        self.actions = actions

    # ---- asking (tests replace these) -------------------------------------------------------

    def ask_slice_options(self, labels: bool, background: str, nissl: bool) -> dict | None:
        dialog = SliceFigureDialog(self.actions.window, labels, background, nissl)
        return dialog.values() if dialog.exec() else None

    def ask_region_options(self, available: list[str]) -> dict | None:
        dialog = RegionMapDialog(self.actions.window, available)
        return dialog.values() if dialog.exec() else None

    # ---- what is on show ----------------------------------------------------------------

    def _cursor_um(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in self.actions.views.snapshot().cursor_um)

    def _layers(self):
        slices = self.actions.views.figure_slices()
        return None if slices is None else slices.layers

    # ---- the exports --------------------------------------------------------------------

    def export_slice(self, plane: str) -> None:
        """The slice of ``plane`` through the cursor, as the panes show it (context menu)."""
        def go():
            from allen_viewer.export.slice_figure import export_slice_figure

            grid, space = self.actions._grid(), self.actions._space()
            state = self.actions.state
            layers = self._layers()
            nissl = None if layers is None else layers.nissl
            options = self.ask_slice_options(bool(state.structure_labels), state.slice_background, nissl is not None)
            if options is None:
                return
            path = self.actions._target(f"Export the {plane} slice", f"{grid.gene}_{grid.id}_{plane}_slice.svg",
                                        FIGURE_FILTER, FIGURE_SUFFIXES)
            if path is None:
                return
            at, cmap = self._cursor_um(), state.display.cmap
            threshold = None if layers is None else layers.min_energy
            rule = "" if threshold is None else "the 3-D view's threshold (the slice panes follow it)"
            background = options["background"]

            def job():
                export_slice_figure(grid, space, path, plane, at, labels=options["labels"], background=background,
                                    nissl=nissl if background == "nissl" else None, cmap=cmap,
                                    threshold=threshold, threshold_rule=rule)
                return [path, sidecar_path(path)]

            self.actions._run(f"{grid.gene} {plane} slice", job)
        self.actions._guarded(go)

    def export_region_map(self) -> None:
        """File > Export > Region map…: the section through the cursor, per hemisphere."""
        def go():
            from allen_viewer.export.region_map import export_region_map

            grid, space = self.actions._grid(), self.actions._space()
            options = self.ask_region_options(list(grid.available))
            if options is None:
                return
            if options["structures"] is not None and not options["structures"]:
                raise AllenViewerError("Name at least one structure (acronyms, separated by commas).")
            plane = options["plane"]
            path = self.actions._target("Export a region map", f"{grid.gene}_{grid.id}_{plane}_regions.svg",
                                        FIGURE_FILTER, FIGURE_SUFFIXES)
            if path is None:
                return
            at, cmap = self._cursor_um(), self.actions.state.display.cmap

            def job():
                export_region_map(grid, space, path, plane, at, depth=options["depth"],
                                  structures=options["structures"], value=options["value"], cmap=cmap)
                return [path, sidecar_path(path)]

            self.actions._run(f"{grid.gene} region map", job)
        self.actions._guarded(go)
