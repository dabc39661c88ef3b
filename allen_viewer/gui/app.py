"""Starting the viewer: the QApplication, the window, and scripted screenshots.

:func:`run_gui` is what ``allen-viewer`` (no subcommand) calls:

* ``allen-viewer`` opens the window on the last gene shown (else Pdyn);
* ``allen-viewer --gene SYMBOL|ID`` opens it on that gene (an unknown gene prints one
  ``allen-viewer: error: ...`` line and returns 1 before any window opens);
* ``allen-viewer --gene SYMBOL|ID --screenshot FILE.png`` opens a 1600 x 1000 window,
  waits until the gene, the atlas and the brain outline are shown, saves the whole window
  (3-D view included) to FILE.png and returns 0; any failure on the way prints one line and
  returns 1.  Screenshot runs read the user's settings but never change them.
* ``allen-viewer --gene A --compare B`` opens the window in compare mode (A and B side by
  side, their difference and correlation; see :mod:`allen_viewer.gui.compare_view`); with
  ``--screenshot FILE.png`` it saves the compare view once both genes, the atlas and the
  outline are shown.
* ``--structure ACRONYM|ID`` selects that structure once the atlas is in and moves the
  cursor into it (the slice panes cut through it, its surface is shown in 3-D); with
  ``--screenshot`` the picture waits for the surface.
* ``--session FILE`` opens a saved session (*File > Save session…*), the sidecar of an
  export that embeds one, or the export itself (for ``fig.png`` its PNG text chunk, then
  ``fig.png.json``, then an older ``fig.json``:
  :func:`allen_viewer.export.provenance.read_session_source`): its gene(s),
  display, threshold rule, camera, cursor and structures; ``--gene`` is then not needed
  (given, it replaces the session's gene, which then gets its threshold by the session's
  rule: its own percentile, or the pinned energy; the exact saved energy only goes with
  the saved experiment).  With ``--screenshot FILE.png`` the picture
  waits until all of the session is applied.
* Every ``--screenshot FILE.png`` also writes its sidecar ``FILE.png.json``: the image's
  provenance with the session it shows, so ``--session FILE.png`` reopens it.  An existing
  file (the image or its sidecar) is refused unless ``force`` (``--force``), a sidecar
  allen_viewer did not write always; the session file read is never written over
  (:func:`allen_viewer.io.guard.check_output_path`, checked before the window opens
  and again, under the output's lock, when the files are written).
* ``--offline`` (or ``ALLEN_VIEWER_OFFLINE=1``) keeps everything on the embedded data and
  the cache.  Otherwise the window probes the network in the background at start-up (see
  :mod:`allen_viewer.gui.first_run`); screenshot runs show no first-run bars.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from allen_viewer.config import PROG

SCREENSHOT_TIMEOUT_S = 300.0
"""How long ``--screenshot`` waits for the gene (a download included) and the atlas."""


def surface_format():
    """The OpenGL surface format of every 3-D view: desktop OpenGL 3.2 core, as VTK needs.

    pyvistaqt's own (``pyvistaqt.rwi._default_format``, which each ``QtInteractor`` installs
    as the default again) when it has one, else the same values written out.
    """
    try:
        from pyvistaqt.rwi import _default_format

        return _default_format()
    except ImportError:
        from PySide6.QtGui import QSurfaceFormat

        fmt = QSurfaceFormat()
        fmt.setRenderableType(QSurfaceFormat.RenderableType.OpenGL)
        fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
        fmt.setVersion(3, 2)
        fmt.setSwapBehavior(QSurfaceFormat.SwapBehavior.DoubleBuffer)
        for colour in ("Red", "Green", "Blue", "Alpha", "Depth"):
            getattr(fmt, f"set{colour}BufferSize")(8)
        fmt.setStencilBufferSize(0)
        fmt.setSamples(0)
        return fmt


def ensure_app():
    """The running QApplication, made (with the viewer's names) if there is none.

    The OpenGL default surface format is set once, before the QApplication and so before
    any OpenGL context exists (:func:`surface_format`).  Qt's global shared context
    (``AA_ShareOpenGLContexts``) is not asked for: no view shares GL resources across
    top-level windows (the 3-D views live in the central widget, never in a floating dock),
    and with it every later ``QSurfaceFormat.setDefaultFormat`` (pyvistaqt makes one per
    ``QtInteractor``) printed a warning on stderr.
    """
    from PySide6.QtGui import QSurfaceFormat
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QSurfaceFormat.setDefaultFormat(surface_format())
        app = QApplication(sys.argv[:1])
        app.setOrganizationName("allen_viewer")
        app.setApplicationName("Allen Viewer")
    return app


def _no_display() -> str | None:
    """Why no window can be opened (:mod:`allen_viewer.gui.display`), or None; not asked when a
    QApplication already runs (tests, a caller's own application)."""
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is not None and widgets.QApplication.instance() is not None:
        return None
    from allen_viewer.gui.display import display_problem

    return display_problem()


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 1


class _SignalCatcher:
    """SIGINT/SIGTERM while the viewer runs (:func:`allen_viewer.signals.on_signal`): the
    signal is recorded and every window closed (settings saved), which ends ``app.exec()``;
    :func:`wait_until` and :func:`run_gui` then raise :class:`allen_viewer.signals.Interrupted`
    from plain Python code, never from inside a Qt slot, so the CLI prints its one line and
    exits 130/143.  A 200 ms timer lets Python run its signal handlers while Qt waits."""

    def __init__(self):
        self.signum: int | None = None
        self.closes_windows = False  # True while app.exec() runs (the window's own loop)
        self._timer = None

    def install(self, app) -> None:
        from PySide6.QtCore import QTimer

        from allen_viewer import signals

        signals.on_signal(self._caught)
        if self._timer is None:
            self._timer = QTimer(app)
            self._timer.setInterval(200)
            self._timer.timeout.connect(lambda: None)  # back to Python: its signal handlers run
            self._timer.start()

    def _caught(self, signum: int) -> None:
        """Record only; the windows are closed from the event loop (a zero timer), never from
        inside whatever callback (a render, a worker's signal) the handler interrupted."""
        self.signum = signum
        if self.closes_windows:
            from PySide6.QtCore import QTimer
            from PySide6.QtWidgets import QApplication

            def close() -> None:
                app = QApplication.instance()
                if app is not None:
                    app.closeAllWindows()
                    app.quit()

            QTimer.singleShot(0, close)

    def check(self) -> None:
        """Raise :class:`~allen_viewer.signals.Interrupted` once a signal was caught."""
        if self.signum is not None:
            from allen_viewer import signals

            signum, self.signum = self.signum, None
            raise signals.Interrupted(signum)


_SIGNALS = _SignalCatcher()


def wait_until(app, predicate, timeout_s: float) -> bool:
    """Process events until ``predicate()`` is true; False after ``timeout_s`` seconds
    (:class:`~allen_viewer.signals.Interrupted` on SIGINT/SIGTERM)."""
    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + timeout_s
    while not predicate():
        _SIGNALS.check()
        if time.monotonic() > deadline:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.005)
    return True


def run_gui(gene: str | None = None, screenshot: Path | None = None, offline: bool = False,
            compare: str | None = None, structure: str | None = None, session: Path | None = None,
            force: bool = False, part: str = "window") -> int:
    """Open the viewer (see the module docstring); returns the process exit status.

    ``compare``: a second gene (symbol or id) to compare with ``gene`` in compare mode.
    ``structure``: a structure (acronym or Allen id) to select and move the cursor into.
    ``session``: a session file (or an export sidecar embedding one) to open.
    ``force``: with ``screenshot``, replace an existing image and its own sidecar.
    ``part``: with ``screenshot``, the part of the window saved
    (:data:`allen_viewer.model.screenshot.PARTS`; default the whole window).
    """
    if offline:
        os.environ["ALLEN_VIEWER_OFFLINE"] = "1"

    from allen_viewer import signals

    with signals.deferred():  # Ctrl-C inside Qt's or VTK's initialisation aborts the interpreter
        import pyvista  # noqa: F401
        import pyvistaqt  # noqa: F401
        from PySide6 import QtWidgets  # noqa: F401
    from allen_viewer.data import AtlasData
    from allen_viewer.errors import AllenViewerError

    if screenshot is not None:  # before any work: an existing file, a FIFO, the session it reads
        from allen_viewer.io.guard import check_output_path

        try:
            check_output_path(Path(screenshot), force, reads=[session], make_folder=True)
        except AllenViewerError as exc:
            return _error(str(exc))
    data = AtlasData()
    state = saved_id = None
    if session is not None:
        from allen_viewer.export.provenance import read_session_source

        try:
            state = read_session_source(session)
            saved_id = None if state.experiment is None else state.experiment.id
            if gene is not None:
                from allen_viewer.state import ExperimentRef

                state.experiment = ExperimentRef.of(data.experiment(gene))
            if state.experiment is None:
                return _error(f"the session {session} shows no gene; pass --gene too")
            data.experiment(state.experiment.id)
            if state.comparing:
                data.experiment(state.compare_with.id)
        except AllenViewerError as exc:
            return _error(str(exc))
        gene = str(state.experiment.id)
    experiment = None
    if gene is not None:
        try:
            experiment = data.experiment(gene)
        except AllenViewerError as exc:
            return _error(str(exc))
    other = None
    if compare is not None:
        if experiment is None:
            return _error("--compare needs --gene")
        try:
            other = data.experiment(compare)
        except AllenViewerError as exc:
            return _error(str(exc))
    if screenshot is not None and experiment is None:
        return _error("--screenshot needs --gene")
    structure_id = None
    if structure is not None:
        try:
            structure_id = data.ontology.get(structure).id
        except AllenViewerError as exc:
            return _error(str(exc))

    problem = _no_display()
    if problem is not None:  # Qt would abort (qFatal, core dump): say it in one line instead
        return _error(problem)
    app = ensure_app()
    _SIGNALS.install(app)
    from allen_viewer.gui.main_window import MainWindow, default_query
    from allen_viewer.gui.window_parts import DEFAULT_SIZE
    from allen_viewer.gui.settings import ViewerSettings

    if screenshot is None:
        settings = ViewerSettings()
        window = MainWindow(data, settings)
        window.show()
        if state is not None:
            window.session.open(state, saved_id)  # another --gene: its own threshold by the rule
        else:
            window.request_gene(experiment if experiment is not None else default_query(settings))
        if other is not None and state is None:
            window.compare.compare_with(other)
        if structure_id is not None:
            _go_to_structure_when_ready(window, structure_id)
        _SIGNALS.closes_windows = True
        try:
            status = app.exec()
        finally:
            _SIGNALS.closes_windows = False
        _SIGNALS.check()  # Ctrl-C in the terminal closed the window: one line, 130
        return status

    return _screenshot(app, data, experiment, Path(screenshot), DEFAULT_SIZE, MainWindow, ViewerSettings, other,
                       structure_id, state, saved_id, force=force, reads=[session], part=part)


def _go_to_structure_when_ready(window, structure_id: int) -> None:
    """Select the structure and move the cursor into it once the atlas is loaded."""
    if window.atlas_loaded:
        window.surfaces.go_to_structure(structure_id)
    else:
        window.atlasReady.connect(lambda: window.surfaces.go_to_structure(structure_id))


def _screenshot(app, data, experiment, path: Path, size, window_class, settings_class, other=None,
                structure_id: int | None = None, state=None, saved_id: int | None = None, force: bool = False,
                reads=(), part: str = "window") -> int:
    from allen_viewer.errors import AllenViewerError
    from allen_viewer.io.guard import claim_output
    from allen_viewer.io.sidecars import sidecar_path

    window = window_class(data, settings_class(read_only=True), restore_layout=False, notices=False)
    failures: list[str] = []
    window.loadFailed.connect(failures.append)
    window.resize(*size)
    window.show()
    if state is not None:
        window.session.open(state, saved_id)
        if state.comparing:
            other = data.experiment(state.compare_with.id)
    else:
        window.load_experiment(experiment)
    if other is not None and state is None:
        window.compare.compare_with(other)
    if structure_id is not None:
        _go_to_structure_when_ready(window, structure_id)

    def ready() -> bool:
        if failures:
            return True
        if window.is_busy():  # the outline mesh is requested once the atlas is in
            return False
        if window.session.pending:  # parts of the session wait for the atlas, gene or outline
            return False
        if structure_id is not None and window.tree_panel.selected_id() != structure_id:
            return False  # selected once the atlas is in; its surface request then keeps it busy
        if other is not None and not window.compare.is_comparing:
            return window.banner.kind == "error" and window.banner.isVisible()
        return (window.grid is not None and window.atlas_loaded) or window.banner.kind == "error"

    what = experiment.label if other is None else f"{experiment.label} and {other.label}"
    try:
        if not wait_until(app, ready, SCREENSHOT_TIMEOUT_S):
            return _error(f"timed out after {SCREENSHOT_TIMEOUT_S:.0f} s waiting for {what} to load")
        if failures:
            return _error(window.banner.text or failures[0])
        if window.banner.isVisible() and window.banner.kind == "error":
            return _error(window.banner.text)
        wait_until(app, lambda: False, 0.3)  # let layouts settle and panes paint
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return _error(f"cannot create the folder {path.parent} ({exc.strerror or exc})")
        try:
            with claim_output(path, force, reads=reads):  # checked again, locked: image and sidecar together
                _write_screenshot(window, path, part)
        except AllenViewerError as exc:
            return _error(str(exc))
        from allen_viewer.model.screenshot import part_words

        print(f"Screenshot of {what}{' (compare mode)' if other is not None else ''}"
              f"{'' if part == 'window' else ' (the ' + part_words(part) + ')'} saved to {path} "
              f"(its session in {sidecar_path(path)})")
        return 0
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()


def grab_part(window, part: str = "window"):
    """A part of the window as a QImage (:data:`allen_viewer.model.screenshot.PARTS`): the
    whole window, the 3-D view(s) or one slice pane with the panes' colour legend below it, the
    3-D view(s) rendered first."""
    if part == "window":
        return window.grab_window().toImage()
    comparing = window.compare.is_comparing
    if part == "3d":
        if comparing:
            window.compare_view.render()
            return window.compare_view.views.grab().toImage()
        window.scene.render()
        return window.scene.grab().toImage()
    slices = window.compare_view.slices if comparing else window.slices
    pane = slices.panes[part].grab().toImage()
    legend = getattr(slices, "legend", None)  # the panes' shared colour legend, below the pane
    if legend is None or not legend.isVisible():
        return pane
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QImage, QPainter

    left, right = legend.text()  # the legend's drawn width: its texts and the 160 px ramp (ColorLegend)
    fm = legend.fontMetrics()
    used = min(legend.width(), 4 + fm.horizontalAdvance(left) + 6 + 160 + 6 + fm.horizontalAdvance(right) + 8)
    key = legend.grab(QRect(0, 0, used, legend.height())).toImage()
    out = QImage(max(pane.width(), key.width()), pane.height() + key.height(), QImage.Format.Format_RGB32)
    out.fill(slices.palette().window().color())
    painter = QPainter(out)
    try:
        painter.drawImage(0, 0, pane)
        painter.drawImage(0, pane.height(), key)
    finally:
        painter.end()
    return out


def _write_screenshot(window, path: Path, part: str = "window") -> None:
    """The window (or ``part`` of it) as ``path`` (PNG) and its sidecar ``path.json``: the image's
    provenance with the session it shows (both atomic; AllenViewerError when either cannot be written)."""
    from allen_viewer.export.image import image_record, write_png
    from allen_viewer.gui.export_actions import qimage_to_array
    from allen_viewer.model.screenshot import part_words

    image = grab_part(window, part)
    pixels = qimage_to_array(image)
    grids = [g for g in (window.grid, window.compare_grid if window.compare.is_comparing else None) if g is not None]
    record = image_record(grids, part_words(part, window.compare.is_comparing), pixels,
                          text_scale=1.0 if part == "3d" else None,  # the window's text is at on-screen sizes
                          session=window.session.snapshot().to_dict())
    if path.suffix.lower() == ".png":
        write_png(path, pixels, record)
        return
    from allen_viewer.errors import AllenViewerError
    from allen_viewer.export.provenance import write_sidecar
    from allen_viewer.io.atomic import atomic_path
    from allen_viewer.io.guard import output_errors, undo_on_failure

    # another format Qt writes (JPEG, BMP, ...): to a temporary sibling with the same suffix (Qt picks the
    # format by it), renamed over path; never written through a FIFO or a link
    with output_errors(path), atomic_path(path, path.suffix) as tmp:
        if not image.save(str(tmp)):
            raise AllenViewerError(f"could not write the screenshot {path} (Qt has no writer for "
                                   f"{path.suffix or 'files without a suffix'})")
    with undo_on_failure(path):
        write_sidecar(path, record)
