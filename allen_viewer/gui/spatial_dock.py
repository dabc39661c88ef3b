"""The *Spatial correlation* dock: Allen's AGEA from a clicked point, over the local library.

*Spatial correlation from here* (a slice pane's context menu) computes, in the background,
:func:`~allen_viewer.library.spatial.spatial_correlation` for the grid voxel nearest the
point and shows:

* the r map in three sections through the seed voxel (coronal, sagittal, horizontal, at
  the 200 µm grid, drawn as the main slice panes orient theirs), with a diverging colour
  map centred on 0 (blue -1, white 0, red +1), grey where there is no result, a cross at
  the seed;
* with a 3-D scene attached (the window's), the map as a layer of the 3-D view in place of
  the gene's spheres (voxels with |r| >= 0.5; the 3-D colour bar then shows r, -1..+1) and
  in the window's slice panes in place of the gene's heat map (every voxel with an r), the
  slice legend naming the seed; *In the 3-D view and slices* turns both off, and a newly
  loaded gene clears them (the map on show is ``loaded.rmap``: :func:`add_spatial_dock`);
* the experiments most enriched at the seed (energy there over the experiment's in-brain
  mean); click one to load it in the viewer (``state.experiment``: :func:`request_experiment`).

Plane (coronal / all) and the minimum overlap are chosen in the dock; a newer request
cancels the one in flight (one :class:`~allen_viewer.gui.workers.RequestChannel`).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from allen_viewer.gui.workers import RequestChannel, shared_pool
from allen_viewer.render.slice_images import NO_RESULT_RGB, diverging_rgb  # noqa: F401 (re-exported)

LAYER_MIN_ABS_R = 0.5
"""The 3-D layer draws voxels with |r| at least this (the rest would hide the structure)."""
LAYER_NAME = "spatial_correlation_r"
SCALE = 4
"""Screen pixels per 200 µm voxel in the r-map sections."""
BAR_TITLE = "r (spatial corr.)"
"""The 3-D colour bar's title while the r map is shown there."""


def section_images(grid: np.ndarray, seed: tuple[int, int, int]) -> dict[str, np.ndarray]:
    """The three (rows, cols) r sections through ``seed`` of an (AP, DV, ML) grid, oriented
    as the slice panes: coronal (DV down, ML left to right), sagittal (DV down, AP left to
    right), horizontal (AP down, ML left to right)."""
    ap, dv, ml = seed
    return {"Coronal": grid[ap, :, :], "Sagittal": grid[:, :, ml].T, "Horizontal": grid[:, dv, :]}


def _pixmap(values: np.ndarray, seed_rc: tuple[int, int]) -> QPixmap:
    rgb = np.ascontiguousarray(np.repeat(np.repeat(diverging_rgb(values), SCALE, 0), SCALE, 1))
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    pix = QPixmap.fromImage(image)
    painter = QPainter(pix)
    painter.setPen(QPen(QColor(0, 0, 0), 1))
    cy, cx = (seed_rc[0] + 0.5) * SCALE, (seed_rc[1] + 0.5) * SCALE
    painter.drawLine(int(cx - 6), int(cy), int(cx + 6), int(cy))
    painter.drawLine(int(cx), int(cy - 6), int(cx), int(cy + 6))
    painter.end()
    return pix


class SpatialLayer3D:
    """The r map as a layer of the window's 3-D scene: one sphere per in-brain voxel with
    |r| >= :data:`LAYER_MIN_ABS_R`, coloured blue (-1) - white (0) - red (+1); the gene's own
    spheres are hidden while it is shown.  Made and removed in the UI thread (VTK)."""

    def __init__(self, scene):
        self.scene = scene
        self.actor = None
        self.points = 0

    def show(self, result, min_abs_r: float = LAYER_MIN_ABS_R) -> None:
        import pyvista as pv

        self.clear(render=False)
        keep = ~np.isnan(result.r) & (np.abs(np.nan_to_num(result.r)) >= min_abs_r)
        vox = result.voxels()[keep].astype(np.float64) * 200.0
        self.points = int(keep.sum())
        if self.points:
            cloud = pv.PolyData(vox)
            cloud["r"] = result.r[keep].astype(np.float32)
            self.actor = self.scene.plotter.add_mesh(
                cloud, scalars="r", cmap="RdBu_r", clim=(-1.0, 1.0), style="points", point_size=7,
                render_points_as_spheres=True, name=LAYER_NAME, show_scalar_bar=False, pickable=False,
                reset_camera=False, render=False)
            gene = self.scene.expression_actor
            if gene is not None:
                gene.SetVisibility(False)
            self._bar(self.actor.mapper.GetLookupTable(), BAR_TITLE)
        self.scene.render()

    def _bar(self, lut, title: str | None) -> None:
        """Point the scene's colour bar at ``lut`` titled ``title``; (None, None): give it back
        to the gene's layer as that layer last set it."""
        layer = self.scene.layer
        if layer is None:
            return
        if lut is None:
            gene = self.scene.expression_actor
            if gene is not None:
                layer.colour_bar.set_lookup_table(gene.mapper.GetLookupTable())
            layer.set_display()  # re-applies the gene's title, range and bar visibility
            return
        layer.colour_bar.set_lookup_table(lut)
        layer.colour_bar.set_range(-1.0, 1.0)
        layer.colour_bar.set_title(title)
        layer.colour_bar.set_visible(True)

    def clear(self, render: bool = True) -> None:
        if self.actor is not None:
            self.scene.plotter.remove_actor(self.actor, render=False)
            self.actor = None
            self.points = 0
            gene = self.scene.expression_actor
            if gene is not None:
                gene.SetVisibility(True)
            self._bar(None, None)
        if render:
            self.scene.render()


class SpatialPanel(QWidget):
    """See the module docstring.  ``geneRequested(experiment_id)``: load that experiment;
    ``computed(result)``: a map is on screen; ``failedMessage(text)``."""

    geneRequested = Signal(int)
    computed = Signal(object)
    failedMessage = Signal(str)

    def __init__(self, data, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("spatialPanel")
        self.data = data
        self.channel = RequestChannel("spatial", shared_pool(), self)
        self.result = None
        self.enriched: list = []
        self.title = QLabel("Right-click a slice pane: <i>Spatial correlation from here</i> (needs the "
                            "whole-genome library: <tt>allen-viewer library sync</tt>).")
        self.title.setWordWrap(True)
        self.plane_box = QComboBox()
        self.plane_box.addItems(["coronal", "all"])
        self.plane_box.setToolTip("coronal experiments only (both hemispheres), or all (sagittal ones: left only)")
        self.overlap_box = QSpinBox()
        self.overlap_box.setRange(3, 100000)
        self.overlap_box.setValue(20)
        self.overlap_box.setToolTip("fewest experiments with data at both voxels for an r")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Experiments:"))
        controls.addWidget(self.plane_box)
        controls.addWidget(QLabel("min. overlap:"))
        controls.addWidget(self.overlap_box)
        self.layer_box = QCheckBox(f"In the 3-D view (|r| ≥ {LAYER_MIN_ABS_R:g}) and slices")
        self.layer_box.setToolTip("Draw the r map in the 3-D view instead of the gene's spheres, and in the "
                                  "slice panes instead of the gene's heat map")
        self.layer_box.setChecked(True)
        self.layer_box.setVisible(False)  # shown when a 3-D scene is attached
        controls.addWidget(self.layer_box)
        controls.addStretch(1)
        self.maps: dict[str, QLabel] = {}
        maps = QHBoxLayout()
        for name in ("Coronal", "Sagittal", "Horizontal"):
            box = QVBoxLayout()
            box.addWidget(QLabel(name))
            label = QLabel()
            label.setObjectName(f"spatialMap{name}")
            label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            self.maps[name] = label
            box.addWidget(label)
            box.addStretch(1)
            maps.addLayout(box)
        maps.addStretch(1)
        self.legend = QLabel("r: <span style='color:#2166ac'>■</span> −1 &nbsp; <span style='color:#f7f7f7; background:#999'>■</span> 0 &nbsp; "
                             "<span style='color:#b2182b'>■</span> +1 &nbsp; "
                             "<span style='color:#464646'>■</span> no result")
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("spatialEnriched")
        self.table.setHorizontalHeaderLabels(["gene", "plane", "id", "seed / mean", "energy at seed"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.cellClicked.connect(self._on_click)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(controls)
        layout.addLayout(maps)
        layout.addWidget(self.legend)
        layout.addWidget(QLabel("Most enriched at the seed (click one to load it):"))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        self.channel.resultReady.connect(self._on_result)
        self.channel.failed.connect(self._on_failed)

    def run_from(self, um) -> None:
        """Compute the map for the grid voxel nearest ``um`` (CCF µm, (AP, DV, ML))."""
        from allen_viewer.library.spatial import enriched_at_seed, spatial_correlation
        from allen_viewer.library.store import Library

        root = self.data.cache.root / "library"
        at = tuple(float(v) for v in um)
        plane, min_overlap = self.plane_box.currentText(), self.overlap_box.value()

        def job(progress, cancel):
            library = Library(root)
            if not library.exists():
                from allen_viewer.errors import AllenViewerError

                raise AllenViewerError(f"No whole-genome library at {root} yet; run `allen-viewer library sync` "
                                       "first.")
            result = spatial_correlation(library, at, plane=plane, min_overlap=min_overlap)
            return result, enriched_at_seed(library, result.seed_column, plane=plane, top=50)

        self.status.setText(f"Computing the spatial correlation from AP {at[0] / 1000:.2f}, DV {at[1] / 1000:.2f}, "
                            f"ML {at[2] / 1000:.2f} mm…")
        self.channel.submit(job, at)

    def _on_result(self, payload, _at) -> None:
        result, enriched = payload
        self.result, self.enriched = result, enriched
        grid = result.grid()
        ap, dv, ml = result.seed_voxel
        seeds = {"Coronal": (dv, ml), "Sagittal": (dv, ap), "Horizontal": (ap, ml)}
        for name, values in section_images(grid, result.seed_voxel).items():
            self.maps[name].setPixmap(_pixmap(values, seeds[name]))
        n = int((~np.isnan(result.r)).sum())
        self.title.setText(f"<b>Seed voxel</b> (AP, DV, ML) = ({ap}, {dv}, {ml}), at {200 * ap}, {200 * dv}, "
                           f"{200 * ml} µm: {result.experiments} {result.plane} experiments have data there; "
                           f"r for {n:,} voxels (min. overlap {result.min_overlap}).")
        self.table.setRowCount(len(enriched))
        for i, h in enumerate(enriched):
            for j, value in enumerate((h.symbol, h.plane, str(h.experiment_id), f"{h.ratio:.3g}",
                                       f"{h.seed_energy:.3g}")):
                self.table.setItem(i, j, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self.status.setText("")
        self.computed.emit(result)

    def _on_failed(self, message: str, _exc, _tag) -> None:
        self.status.setText(message)
        self.failedMessage.emit(message)

    def _on_click(self, row: int, _col: int) -> None:
        if 0 <= row < len(self.enriched):
            self.geneRequested.emit(self.enriched[row].experiment_id)


class SpatialDock(QDockWidget):
    def __init__(self, data, parent: QWidget | None = None, state=None):
        super().__init__("Spatial correlation", parent)
        self.state = state
        """The window's :class:`~allen_viewer.state.ViewerState` (its ``spatial_seed_um``), or None."""
        self.setObjectName("spatialDock")
        self.panel = SpatialPanel(data, self)
        self.setWidget(self.panel)

    def run_from(self, um) -> None:
        self.show()
        self.raise_()
        self.panel.run_from(um)

    def seed_at(self, um) -> None:
        """*Spatial correlation from here*: the seed goes into ``state.spatial_seed_um``,
        which this dock follows (:func:`add_spatial_dock`); the same seed again computes again
        (with the dock's current options)."""
        at = tuple(float(v) for v in um)
        if self.state is None or self.state.spatial_seed_um == at:
            self.run_from(at)
        else:
            self.state.spatial_seed_um = at


def add_spatial_dock(window) -> SpatialDock:
    """Make the dock (hidden until used), tabbed with the Section dock when there is one.

    The dock writes, the views follow (docs/design.md "The data path"): the map on show is
    ``window.loaded.rmap`` (the result while *In the 3-D view and slices* is ticked, else
    None), which the dock's 3-D layer and the slice panes (:mod:`allen_viewer.gui.slice_follow`)
    draw; a new gene A clears it.  Clicking an enriched gene sets ``state.experiment``, which
    the window loads (:meth:`~allen_viewer.gui.session_views.SessionViews.sync_genes`)."""
    from allen_viewer.gui.binding import follow

    dock = SpatialDock(window.data, window, window.state)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    section = getattr(window, "section_dock", None)
    if section is not None:
        window.tabifyDockWidget(section, dock)
    dock.hide()
    loaded, state = window.loaded, window.state
    dock.panel.geneRequested.connect(lambda exp_id: request_experiment(window.data, state, exp_id, dock.panel))
    layer = SpatialLayer3D(window.scene)
    dock.layer3d = layer
    panel = dock.panel
    panel.layer_box.setVisible(True)

    def draw(result, *_old) -> None:  # loaded.rmap -> the 3-D layer
        if result is None:
            layer.clear(render=False)
            window.scene.request_render()  # one frame with whatever else changes (a new gene)
        else:
            layer.show(result)

    def shown(*_args) -> None:  # the dock -> loaded.rmap
        loaded.rmap = panel.result if panel.layer_box.isChecked() else None

    panel.computed.connect(shown)
    panel.layer_box.toggled.connect(shown)
    follow(loaded, "rmap", draw, dock)
    follow(loaded, "grid", lambda *_: setattr(loaded, "rmap", None), dock)  # a new gene A shows its own values
    follow(state, "spatial_seed_um", lambda um, *_: None if um is None else dock.run_from(um), dock)
    return dock


def request_experiment(data, state, experiment_id: int, panel: SpatialPanel | None = None) -> bool:
    """Ask for experiment ``experiment_id`` through the state (``state.experiment``; the window
    loads what it names).  An id the gene index does not know: its one-line message in
    ``panel``'s status line, and False; the gene the state names already (on show, or being
    loaded): says so there (the state fires only on a change), and False."""
    from allen_viewer.errors import AllenViewerError
    from allen_viewer.model.genes import resolve
    from allen_viewer.state import ExperimentRef

    try:
        exp = resolve(data, int(experiment_id))
    except AllenViewerError as exc:
        if panel is not None:
            panel.status.setText(str(exc))
        return False
    ref = ExperimentRef.of(exp)
    if state.experiment == ref:
        if panel is not None:
            panel.status.setText(f"{exp.label} is the gene on show (or being loaded).")
        return False
    state.experiment = ref
    return True
