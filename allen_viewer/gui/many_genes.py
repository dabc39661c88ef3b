"""Many genes in the window: *View > Composite of genes…* and *View > Gene-set map…* (issue 23).

The menu's dialog (:class:`ManyGenesDialog`: paste a list or load a file; for three genes
the palette) resolves the genes and writes the :class:`~allen_viewer.state.ViewerState`:
``mode`` (``composite`` or ``gene-set``) and ``mode_experiments``.  :class:`ManyGenes`
follows those two fields (so a session saved in either mode reopens it): it loads the grids
in a worker (the library when it holds all of them, else the grid files; cancellable by
choosing again) and shows them in a :class:`ManyGenesView` window, a 3-D scene with a
:class:`~allen_viewer.render.gene_set_layers.CompositeLayer` (legend: each gene in its
colour) or a :class:`~allen_viewer.render.gene_set_layers.ScoreLayer` (colour bar
"gene-set score (mean percentile rank)", threshold the 90th percentile of the score), and
for a gene set a *Genes like this set* button: the library search by the set, listed with r.
Closing the window sets ``mode`` back to ``gene``.  No widget calls another: the dialog
writes the state, the view follows it.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from allen_viewer.errors import AllenViewerError
from allen_viewer.expression import gene_sets as gs
from allen_viewer.gui.scene3d import ExpressionScene
from allen_viewer.gui.workers import RequestChannel

MODES = {"composite": "Composite of genes", "gene-set": "Gene-set map"}


class ManyGenesDialog(QDialog):
    """Paste or load a list of genes (symbols or ids); for a composite, the palette."""

    def __init__(self, parent, mode: str, text: str = ""):
        super().__init__(parent)
        self.mode = mode
        self.setWindowTitle(MODES[mode])
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Two or three genes, one colour each (symbols or ids, comma or line separated):"
                                if mode == "composite" else
                                "The gene set: 2-500 symbols or ids, one a line or comma separated; # comments"))
        self.text = QPlainTextEdit(text)
        layout.addWidget(self.text)
        load = QPushButton("Load list…")
        load.clicked.connect(self._load)
        layout.addWidget(load)
        self.palette = QComboBox()
        self.palette.addItems(list(gs.PALETTES[3]))
        self.palette.setToolTip("Three genes: red/green/blue, or a colour-blind-safe orange/sky blue/reddish purple "
                                "(two genes are always green and magenta)")
        if mode == "composite":
            layout.addWidget(QLabel("Colours for three genes:"))
            layout.addWidget(self.palette)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _load(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a gene list", "", "Text (*.txt *.csv *.tsv);;All files (*)")
        if path:
            try:
                self.text.setPlainText("\n".join(gs.read_gene_set_file(path)))
            except AllenViewerError as exc:
                QMessageBox.warning(self, "Gene list", str(exc))

    def members(self) -> list[str]:
        return gs.parse_gene_set(self.text.toPlainText())


class ManyGenesView(QMainWindow):
    """The 3-D scene of a composite or a gene-set map, with a line of notes and (gene sets)
    *Genes like this set*.  ``closed`` is emitted when the user closes it."""

    closed = Signal()

    def __init__(self, parent, mode: str):
        from allen_viewer.render.gene_set_layers import CompositeLayer, ScoreLayer

        super().__init__(parent)
        self.mode = mode
        self.setWindowTitle(MODES[mode])
        central = QWidget()
        layout = QVBoxLayout(central)
        self.scene = ExpressionScene(central, layer=CompositeLayer if mode == "composite" else ScoreLayer)
        layout.addWidget(self.scene, 1)
        row = QHBoxLayout()
        self.slices = {}
        for plane in ("coronal", "sagittal", "horizontal"):
            label = QLabel(plane)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setToolTip(f"The {plane} 200 µm slice through the cursor, coloured as the 3-D view; grey: brain "
                             "where nothing reaches the threshold")
            row.addWidget(label)
            self.slices[plane] = label
        layout.addLayout(row)
        self.slice_pixels: dict = {}
        self.notes = QLabel("Loading…")
        self.notes.setWordWrap(True)
        layout.addWidget(self.notes)
        self.like = QPushButton("Genes like this set")
        self.like.setToolTip("The library's experiments ranked by Pearson r with the score map, the set's genes left "
                             "out (search-correlated --gene-set)")
        self.like.setVisible(mode == "gene-set")
        self.like.setEnabled(False)
        layout.addWidget(self.like)
        self.hits = QListWidget()
        self.hits.setVisible(False)
        layout.addWidget(self.hits)
        self.setCentralWidget(central)
        self.resize(1000, 1000)
        self.payload = None
        self.energies = None
        self.scene.pointPicked.connect(self.report)

    @property
    def layer(self):
        return self.scene.layer

    def show_composite(self, ranks, colors, labels, note: str, cursor=None) -> None:
        from allen_viewer.render.gene_set_layers import voxel_colours_composite

        self.payload = (ranks, colors, labels)
        self.layer.set_data(ranks, colors, labels)
        self.scene.render()
        self.notes.setText(note)
        self._show_slices(*voxel_colours_composite(ranks, colors, self.layer.display.threshold), cursor)

    def show_score(self, smap, note: str, cursor=None) -> None:
        from allen_viewer.render.gene_set_layers import voxel_colours_score

        self.payload = smap
        threshold, _, _ = gs.score_threshold(smap.score)
        self.layer.set_display(threshold=threshold)
        self.layer.set_data(smap.score)
        self.scene.render()
        self.notes.setText(note)
        self.like.setEnabled(True)
        self._show_slices(*voxel_colours_score(smap.score, threshold, self.layer.cmap), cursor)

    def report(self, um) -> str:
        """The line a click on the 3-D view shows: the voxel, and each gene's energy and
        rank (composite) or the score and n_genes (gene set) there."""
        if self.payload is None:
            return ""
        shape = (67, 41, 58)
        i = tuple(int(np.clip(round(float(c) / 200.0), 0, s - 1)) for c, s in zip(um, shape))
        where = f"voxel AP {i[0]}, DV {i[1]}, ML {i[2]}: "

        def num(v):
            return "no data" if v != v else f"{v:.3g}"

        if self.mode == "composite":
            ranks, _colors, labels = self.payload
            parts = [f"{label} energy {num(float(e[i]))}, rank {num(float(r[i]))}"
                     for label, e, r in zip(labels, self.energies, ranks)]
        else:
            parts = [f"score {num(float(self.payload.score[i]))}, n_genes {int(self.payload.n_genes[i])} of "
                     f"{self.payload.gene_set.k}"]
        text = where + "; ".join(parts)
        self.notes.setText(text)
        return text

    def _show_slices(self, rgb, drawn, cursor) -> None:
        from allen_viewer.expression.brain import brain_mask
        from allen_viewer.render.gene_set_layers import mapping_slices
        from allen_viewer.render.layers import BACKGROUND

        shape = drawn.shape
        index = [s // 2 for s in shape] if cursor is None else [
            int(np.clip(round(c / 200.0), 0, s - 1)) for c, s in zip(cursor, shape)]
        bg = tuple(int(BACKGROUND[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
        self.slice_pixels = mapping_slices(rgb, drawn, brain_mask(), index, bg)
        for plane, px in self.slice_pixels.items():
            px = np.ascontiguousarray(np.repeat(np.repeat(px, 3, axis=0), 3, axis=1))  # 3 screen pixels a voxel
            image = QImage(px.data, px.shape[1], px.shape[0], px.strides[0], QImage.Format.Format_RGB888).copy()
            self.slices[plane].setPixmap(QPixmap.fromImage(image))
            self.slices[plane].setMinimumSize(image.width(), image.height())

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.scene.close_scene()
        super().closeEvent(event)
        self.closed.emit()


class ManyGenes(QObject):
    """The menu actions, and the view that follows ``state.mode`` / ``state.mode_experiments``."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.view: ManyGenesView | None = None
        self.channel = RequestChannel("many genes", parent=self)
        self.channel.resultReady.connect(self._loaded)
        self.channel.failed.connect(self._failed)
        self.search_channel = RequestChannel("gene-set search", parent=self)
        self.search_channel.resultReady.connect(self._found)
        self.search_channel.failed.connect(self._failed)
        self.palette_name: str | None = None
        self.actions = {}
        for mode, title in MODES.items():
            act = QAction(f"{title}…", window)
            act.setToolTip("Two or three genes, one colour each" if mode == "composite" else
                           "The mean percentile rank of a gene set, drawn as a gene is")
            act.triggered.connect(lambda _=False, m=mode: self.ask(m))
            self.actions[mode] = act
        self.state.events.mode.connect(self._follow)
        self.state.events.mode_experiments.connect(self._follow)

    def add_to(self, menu) -> None:
        for act in self.actions.values():
            menu.addAction(act)

    # ---- writing the state ---------------------------------------------------------------------

    def ask(self, mode: str) -> None:
        current = self.window.grid.gene if getattr(self.window, "grid", None) is not None else ""
        dialog = ManyGenesDialog(self.window, mode, current)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.choose(mode, dialog.members(), dialog.palette.currentText())

    def choose(self, mode: str, members: list[str], palette: str | None = None) -> None:
        """Resolve ``members`` and write the state (a message box for a refused set)."""
        try:
            s = gs.resolve_gene_set(self.window.data.gene_index, members,
                                    what="composite" if mode == "composite" else "gene set")
            if mode == "composite" and s.k > 3:
                raise AllenViewerError(f"A composite shows 2 or 3 genes, not {s.k}.")
        except AllenViewerError as exc:
            QMessageBox.warning(self.window, MODES[mode], str(exc))
            return
        self.palette_name = palette
        same = self.state.mode == mode and tuple(self.state.mode_experiments) == tuple(s.ids)
        self.state.mode_experiments = tuple(s.ids)  # each change is followed (_follow)
        self.state.mode = mode
        if same:  # the same genes again (another palette, or the view was closed)
            self._follow()

    # ---- following it -------------------------------------------------------------------------

    def _follow(self, *_args) -> None:
        mode, ids = self.state.mode, tuple(self.state.mode_experiments)
        if mode not in MODES:
            if self.view is not None:
                view, self.view = self.view, None
                view.close()
            return
        if self.view is None or self.view.mode != mode:
            if self.view is not None:
                old, self.view = self.view, None
                old.close()
            view = self.view = ManyGenesView(self.window, mode)
            outline = getattr(self.window, "outline_mesh", None)
            if outline is not None:
                view.scene.set_brain_outline(outline)
                view.scene.camera_preset("oblique")  # fitted to the outline
            view.like.clicked.connect(self._search)
            view.closed.connect(lambda v=view: self._closed(v))
            view.show()
        data = self.window.data
        index = data.gene_index
        palette = self.palette_name

        def job(progress, cancel):
            s = gs.GeneSet([index.by_id(i) for i in ids], [str(i) for i in ids])
            library = _library(data)
            if mode == "gene-set":
                return gs.score_map(data, s, library, progress, cancel)
            grids, source = gs.load_set_grids(data, s, library, progress, cancel)
            colors = gs.palette(s.k, None if s.k == 2 else (palette or None))
            energies = [g.energy for g in grids]
            return gs.percentile_ranks(grids), colors, [e.symbol for e in s.experiments], source, energies

        self.channel.submit(job, (mode, ids))

    def _closed(self, view) -> None:
        if self.view is view:  # closed by the user: back to the single gene
            self.view = None
            self.channel.cancel()  # a set still loading stops between experiments
            self.state.mode = "gene"

    def _loaded(self, result, tag) -> None:
        mode, _ids = tag
        if self.view is None or self.view.mode != mode:
            return
        if mode == "composite":
            ranks, colors, labels, source, energies = result
            self.view.energies = energies
            self.view.show_composite(ranks, colors, labels, f"{', '.join(labels)}: a voxel is drawn where one gene's "
                                     f"percentile rank is >= 0.9; grids from {_where(source)}", self.state.cursor_um)
        else:
            smap = result
            notes = "; ".join(smap.gene_set.notes)
            self.view.show_score(smap, f"{smap.gene_set.k} experiments, grids from {_where(smap.source)}; score >= its "
                                       "90th percentile drawn" + (f". {notes}" if notes else ""),
                                 self.state.cursor_um)

    def _failed(self, message, _exc, _tag) -> None:
        if self.view is not None:
            self.view.notes.setText(message)

    def _search(self) -> None:
        view = self.view
        if view is None or view.payload is None:
            return
        smap, data = view.payload, self.window.data

        def job(progress, cancel):
            from allen_viewer.library.gene_set_search import set_search

            library = _library(data)
            if not gs.in_library(library, []):
                raise AllenViewerError("The library holds no experiments yet; run `allen-viewer library sync` first.")
            return set_search(library, data.ontology, smap, top=50)

        view.like.setEnabled(False)
        self.search_channel.submit(job, None)

    def _found(self, hits, _tag) -> None:
        if self.view is None:
            return
        self.view.like.setEnabled(True)
        self.view.hits.clear()
        self.view.hits.addItems([f"{h.rank:>3}  {h.symbol:<14} {h.plane:<9} {h.experiment_id:>10}  r = {h.r:.4f}"
                                 for h in hits])
        self.view.hits.setVisible(True)


def _where(source: str) -> str:
    return "the local library" if source == gs.LIBRARY else "the grid files (embedded, cache or download)"


def _library(data):
    from allen_viewer.library.store import Library

    return Library(data.cache.root / "library")


def install_many_genes(window, menu) -> ManyGenes:
    """Add *Composite of genes…* and *Gene-set map…* to ``menu`` (the View menu) of ``window``."""
    many = ManyGenes(window)
    many.add_to(menu)
    return many
