"""Compare mode: gene A (the gene on show) beside gene B in a
:class:`~allen_viewer.gui.compare_view.CompareView` (``View > Compare with another gene…``).

:meth:`CompareMode.compare_with` loads B through its own channel; the comparison opens
once both genes are in (also when A is still loading).  ``View > Compare mode`` switches
back and forth once B is loaded (:meth:`CompareMode.set_compare_mode`); the swap button
makes B the gene on show.  The window's ``compareReady`` and ``compareModeChanged`` report
it; :mod:`allen_viewer.gui.session_views` writes that into the state (``compare_with``,
``comparing``) and the compare view follows the state's display, cursor, background,
structure and compare options.
"""
from __future__ import annotations

from PySide6.QtCore import QObject

from allen_viewer.errors import AllenViewerError
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.gui.compare_view import CompareView, GenePickerDialog
from allen_viewer.model.texts import comparing_text
from allen_viewer.records import Experiment


class CompareMode(QObject):
    """The window's compare mode (module docstring).  ``pending``: a gene asked for before
    the gene index was in; ``waiting_for_a``: B is loading or in, waiting for gene A."""

    def __init__(self, window):
        super().__init__(window)
        self.w = window
        self.pending: str | None = None
        self.waiting_for_a = False
        window.loaded.events.compare_grid.connect(self._on_compare_grid)
        window.compare_channel.failed.connect(self._on_compare_failed)
        window.compare_channel.cancelled.connect(
            lambda exp: window.show_status(f"Loading {exp.symbol if exp else 'the gene'} for comparison cancelled."))

    @property
    def is_comparing(self) -> bool:
        """True while the compare view is on show."""
        return self.w.compare_view is not None and self.w.stack.currentWidget() is self.w.compare_view

    def compare_with(self, query: str | int | Experiment) -> Experiment | None:
        """Compare the gene on show with ``query`` (a symbol, an experiment id or an
        Experiment), loaded in the background; compare mode opens once both genes are in
        (also when the first gene is still loading).  Errors go to the banner.  Returns the
        experiment being loaded, or None."""
        if isinstance(query, Experiment):
            exp = query
        elif self.w.index is None:
            self.pending = str(query)
            self.w.show_status(f"Waiting for the gene index to open {query} for comparison…")
            return None
        else:
            try:
                exp = self.w.data.experiment(query)
            except AllenViewerError as exc:
                self.w.show_error(str(exc))
                self.w.loadFailed.emit(str(exc))
                return None
        self.waiting_for_a = True
        if self.w.compare_grid is not None and self.w.compare_grid.id == exp.id and not self.w.compare_channel.busy:
            if self.w.grid is not None:
                self.show_comparison()
            return exp
        self.w.show_status(f"Loading {exp.label} for comparison…")
        self.w.loaders.load_compare(exp)
        return exp

    def ask_gene(self) -> None:
        if self.w.index is None:
            self.w.show_status("The gene index is still loading.")
            return
        if self.w.grid is None:
            self.w.show_error("Open a gene first; compare mode compares it with a second one.")
            return
        dialog = GenePickerDialog(self.w.index, self.w.data.locate, self.w, current=self.w.grid.gene)
        if dialog.exec() and dialog.experiment is not None:
            self.compare_with(dialog.experiment)

    def _on_compare_grid(self, grid: ExpressionGrid | None, *_old) -> None:
        """Gene B is in (``loaded.compare_grid``): compare once gene A is in too."""
        if grid is None:
            return
        exp = grid.experiment
        self.w.compare_mode_action.setEnabled(True)
        if self.w.grid is not None:
            self.show_comparison()
        else:
            self.w.show_status(f"{exp.label} is ready; waiting for the first gene to compare it with…")

    def _on_compare_failed(self, message: str, exc, exp: Experiment) -> None:
        self.waiting_for_a = False
        self.w.show_error(f"Could not load {exp.label} for comparison: {message}" if exp else message)
        self.w.first_run.note_offline_failure(exc, message)
        self.w.loadFailed.emit(message)

    def _ensure_compare_view(self) -> CompareView:
        if self.w.compare_view is None:
            view = CompareView(self.w)
            self.w.stack.addWidget(view)
            self.w.compare_view = view
            view.follow(self.w.loaded)  # the atlas, the outline and the Nissl volume, now and when they come
            self.w.session.attach_compare_view(view)  # display, background, cursor, structure
            view.pointClicked.connect(self.w.set_cursor_um)
            view.pointHovered.connect(self.w.show_hover)
            view.cursorMoved.connect(self.w.follow_compare_cursor)
            view.closeRequested.connect(lambda: self.set_compare_mode(False))
            view.swapRequested.connect(self.swap_compare)
        return self.w.compare_view

    def show_comparison(self) -> None:
        self.waiting_for_a = False
        view = self._ensure_compare_view()
        view.set_grids(self.w.grid, self.w.compare_grid)
        self.set_compare_mode(True)
        a, b = self.w.grid, self.w.compare_grid
        self.w.show_status(comparing_text(a, b, view.whole_brain_r, view.whole_brain_n))
        self.w.compareReady.emit(a, b)

    def set_compare_mode(self, on: bool) -> None:
        """Show the comparison (True; needs a gene on show and a second gene loaded) or the
        single-gene view (False)."""
        on = bool(on) and self.w.grid is not None and self.w.compare_grid is not None
        changed = on != self.is_comparing
        if on:
            view = self._ensure_compare_view()
            if view.a is not self.w.grid or view.b is not self.w.compare_grid:
                view.set_grids(self.w.grid, self.w.compare_grid)
            self.w.stack.setCurrentWidget(view)
        else:
            self.w.stack.setCurrentWidget(self.w.splitter)
        self.w.compare_mode_action.blockSignals(True)
        self.w.compare_mode_action.setChecked(on)
        self.w.compare_mode_action.blockSignals(False)
        self.w.refresh_title()
        if changed:
            self.w.update_3d_cursor()
            self.w.hover_label.setText("")  # the hover text described the other view's genes
            if not on and self.w.grid is not None:  # no "Comparing ..." left behind (issue 25)
                self.w.show_status(f"Showing {self.w.grid.experiment.label}; View > Compare mode shows the comparison "
                                 "again.")
            self.w.compareModeChanged.emit(on)

    def swap_compare(self) -> None:
        """Swap the two genes: B becomes the gene on show, A the one compared with."""
        if self.w.grid is None or self.w.compare_grid is None:
            return
        a, b = self.w.grid, self.w.compare_grid
        with self.w.loaded.events.compare_grid.blocked():  # A becomes B quietly: no new comparison to start
            self.w.loaded.compare_grid = a
        self.w.loaders.grid_where = self.w.data.locate(b.id)
        self.w.loaded.grid = b  # shown as a loaded gene A is
