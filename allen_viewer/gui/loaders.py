"""The viewer's background loads: one :class:`~allen_viewer.gui.workers.RequestChannel` per
kind of request, the jobs they run, and the :class:`~allen_viewer.loaded_data.LoadedData`
they write.

:class:`Loaders` owns the channels (``index``, ``atlas``, ``outline``, ``grid``,
``compare``, ``nissl``, ``probe`` and one ``surface-<id>`` per structure surface) and
writes every job they run: a newer request on a channel cancels and overtakes the one in
flight, exactly as before.  Results land in :attr:`Loaders.loaded` (in the UI thread, when
the channel delivers them): ``index``; ``ontology`` then ``space``; ``outline_mesh``;
``grid`` (gene A), ``compare_grid`` (gene B); ``nissl``.  The window and the compare view
subscribe to those fields; the channels' ``failed``/``cancelled``/``busyChanged`` signals
stay where a view wants them (the status bar's progress, the error banner).

Start-up order (:meth:`Loaders.start`): the gene index first; the atlas (ontology and
reference space) once the index is in and no embedded or cached grid is loading (the
first frame needs only the index and the grid; a download does not hold the atlas back);
the brain outline once the atlas is in; the Nissl volume then too when it is in the cache.

Threads: the jobs run numpy and file work only.  VTK objects (the outline mesh) are made
in the UI thread when the job's result arrives -- VTK objects created or freed in a worker
can deadlock against the UI thread's rendering (see ``StructureSurfaces._on_surface`` in gui/structure_surfaces.py).
"""
from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from allen_viewer.atlas.ontology import ROOT_ID
from allen_viewer.data import AtlasData
from allen_viewer.errors import AllenViewerError
from allen_viewer.gui.first_run import probe_network
from allen_viewer.gui.slice_view import nissl_to_gray
from allen_viewer.gui.workers import RequestChannel, error_message, shared_pool
from allen_viewer.loaded_data import LoadedData
from allen_viewer.render.meshes import brain_outline, mesh_cache_path

log = logging.getLogger(__name__)


class Loaders(QObject):
    """The window's channels and their jobs (see the module docstring).

    Signals: ``outlineFailed(str)`` (the brain outline could not be made: the message);
    ``surfaceMask(object, int)`` (a structure's 25 µm mask, or None when its mesh is in the
    mesh cache, arrived for structure id); ``surfaceFailed(str, int)``.
    """

    outlineFailed = Signal(str)
    surfaceMask = Signal(object, int)
    surfaceFailed = Signal(str, int)

    def __init__(self, data: AtlasData, loaded: LoadedData | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.data = data
        self.loaded = loaded if loaded is not None else LoadedData()
        pool = shared_pool()
        self.index_channel = RequestChannel("index", pool, self)
        self.atlas_channel = RequestChannel("atlas", pool, self)
        self.outline_channel = RequestChannel("outline", pool, self)
        self.grid_channel = RequestChannel("grid", pool, self)
        self.nissl_channel = RequestChannel("nissl", pool, self)
        self.compare_channel = RequestChannel("compare", pool, self)
        self.probe_channel = RequestChannel("probe", pool, self)
        self.surface_channels: dict[int, RequestChannel] = {}
        self.grid_where = ""
        """Where the newest gene-A grid request reads from: ``embedded``, ``cached``,
        ``remote`` (:meth:`AtlasData.locate`)."""
        self.nissl_tag: str | None = None
        """``download`` or ``open``: how the Nissl volume now in :attr:`loaded` came."""
        self._atlas_started = False
        self._index_started = False
        self.index_channel.resultReady.connect(self._on_index)
        self.index_channel.failed.connect(lambda *_: self.start_atlas())  # the atlas does not need the index
        self.atlas_channel.resultReady.connect(self._on_atlas)
        self.outline_channel.resultReady.connect(self._on_outline_mask)
        self.outline_channel.failed.connect(lambda msg, *_: self.outlineFailed.emit(msg))
        self.grid_channel.resultReady.connect(lambda grid, _exp: setattr(self.loaded, "grid", grid))
        self.compare_channel.resultReady.connect(lambda grid, _exp: setattr(self.loaded, "compare_grid", grid))
        self.nissl_channel.resultReady.connect(self._on_nissl)

    def channels(self) -> list[RequestChannel]:
        """Every channel, the surfaces' included."""
        return [self.index_channel, self.atlas_channel, self.outline_channel, self.grid_channel,
                self.nissl_channel, self.compare_channel, self.probe_channel, *self.surface_channels.values()]

    def cancel_all(self) -> None:
        for channel in self.channels():
            channel.cancel_all()

    # ---- start-up -------------------------------------------------------------------------

    def start(self) -> None:
        """Load the gene index (unless :meth:`start_index` did); the atlas follows (module docstring)."""
        self.start_index()
        self.grid_channel.busyChanged.connect(lambda busy: None if busy else self.start_atlas())

    def start_index(self) -> None:
        """Load the gene index in the background, once.  The window calls this first thing, so
        that the index (which the first frame waits for) loads while the window is built:
        the result is delivered queued, in the event loop, after the window has subscribed."""
        if self._index_started:
            return
        self._index_started = True
        data = self.data
        self.index_channel.submit(lambda progress, cancel: data.gene_index, tag="index")

    def start_atlas(self) -> None:
        """Load the ontology and the reference space in the background, once."""
        if self._atlas_started:
            return
        self._atlas_started = True
        data = self.data

        def load_atlas(progress, cancel):
            # the labels are memory-mapped (data.reference_space): nothing else is read here;
            # the brain mask is made by the outline request, and only when its mesh is not cached
            return data.ontology, data.reference_space

        self.atlas_channel.submit(load_atlas, tag="atlas")

    def _on_index(self, index, _tag) -> None:
        self.loaded.index = index  # the window's handler may ask for a waiting gene here
        if not (self.grid_channel.busy and self.grid_where in ("embedded", "cached")):
            self.start_atlas()  # else once that grid is in (a download does not hold the atlas back)

    def _on_atlas(self, result, _tag) -> None:
        ontology, space = result
        self.loaded.ontology = ontology
        self.loaded.space = space

        def outline(progress, cancel):
            # numpy only: the VTK part runs in the UI thread (_on_outline_mask);
            # a cached outline mesh needs no mask (its 77 MB are then never made)
            if mesh_cache_path(ROOT_ID).is_file():
                return None
            return space.brain_mask25

        self.outline_channel.submit(outline, tag="outline")

    def _on_outline_mask(self, _brain_mask, _tag) -> None:
        try:
            mesh = brain_outline(self.loaded.space)  # VTK: in the UI thread
        except Exception as exc:  # noqa: BLE001 - shown, as a failed background request would be
            log.exception("brain outline failed")
            self.outlineFailed.emit(error_message(exc))
            return
        self.loaded.outline_mesh = mesh

    # ---- genes ----------------------------------------------------------------------------

    def load_grid(self, exp) -> str:
        """Load gene A's grid (``exp``: an Experiment) in the background; a later call
        overtakes this one.  Returns where it reads from (:attr:`grid_where`)."""
        self.grid_where = self.data.locate(exp.id)
        data = self.data
        self.grid_channel.submit(lambda progress, cancel: data.load_grid(exp, progress, cancel), tag=exp)
        return self.grid_where

    def load_compare(self, exp) -> None:
        """Load gene B's grid in the background; a later call overtakes this one."""
        data = self.data
        self.compare_channel.submit(lambda progress, cancel: data.load_grid(exp, progress, cancel), tag=exp)

    # ---- Nissl ----------------------------------------------------------------------------

    def load_nissl(self, download: bool) -> None:
        """Open the cached Nissl volume (``download``: download it first, resuming) and make
        the slice panes' greyscale of it, in the background."""
        data = self.data
        space = self.loaded.space

        def job(progress, cancel):
            if download:
                data.download_nissl(progress=progress, cancel=cancel)
            volume = data.nissl()
            if volume is None:
                raise AllenViewerError("The Nissl volume is not in the cache.")
            brain = space.brain_mask25 if space is not None else None
            return nissl_to_gray(volume, brain)

        self.nissl_channel.submit(job, tag="download" if download else "open")

    def _on_nissl(self, gray, tag) -> None:
        self.nissl_tag = tag
        self.loaded.nissl = gray

    # ---- network --------------------------------------------------------------------------

    def probe(self) -> None:
        """One probe of the API host in the background (``probe_channel.resultReady`` gives
        the :class:`~allen_viewer.gui.first_run.ProbeResult`)."""
        url = self.data.client.api_url
        self.probe_channel.submit(lambda progress, cancel: probe_network(url), tag="probe")

    # ---- structure surfaces ---------------------------------------------------------------

    def request_surface(self, structure_id: int) -> None:
        """The 25 µm mask of a structure, in the background (None when its mesh is cached:
        it is then read from the mesh cache in the UI thread); ``surfaceMask`` delivers it.
        Needs the atlas (nothing happens before)."""
        space = self.loaded.space
        if space is None:
            return
        channel = self.surface_channels.get(structure_id)
        if channel is None:
            channel = RequestChannel(f"surface-{structure_id}", shared_pool(), self)
            channel.resultReady.connect(lambda mask, sid: self.surfaceMask.emit(mask, sid))
            channel.failed.connect(lambda msg, _e, sid: self.surfaceFailed.emit(msg, sid))
            self.surface_channels[structure_id] = channel

        def job(progress, cancel):
            # numpy only (the 25 µm mask, ~0.1 s); the mesh is made in the UI thread
            if mesh_cache_path(structure_id).is_file():
                return None  # read from the cache there, no mask needed
            return space.mask25(structure_id)

        channel.submit(job, tag=structure_id)

    def cancel_surface(self, structure_id: int) -> None:
        """Forget a structure's surface request in flight, if any."""
        channel = self.surface_channels.get(structure_id)
        if channel is not None:
            channel.cancel_all()
