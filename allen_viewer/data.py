"""AtlasData: the one entry point the CLI and the GUI use to get at the core's data.

It owns the gene index, the ontology, the reference space and the grid store, and looks
everything up in a fixed order: embedded resources, then the cache, then the Allen API
(never the network when ``ALLEN_VIEWER_OFFLINE=1``).  Heavy objects are built on first use.
Nothing here imports Qt; the GUI calls these methods from worker threads.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

import numpy as np

from allen_viewer import config
from allen_viewer.api.client import AllenClient
from allen_viewer.atlas.ontology import Ontology
from allen_viewer.atlas.reference_space import ANNOTATION_SHAPE, ReferenceSpace, read_nrrd_volume
from allen_viewer.errors import AllenViewerError, CorruptData, NotDownloaded, Offline
from allen_viewer.expression.grid import ExpressionGrid, load_grid
from allen_viewer.records import Experiment
from allen_viewer.store.cache import Cache
from allen_viewer.store.gene_index import GeneIndex
from allen_viewer.store.grid_store import GridStore

Progress = Callable[[int, "int | None"], None]
Cancel = Callable[[], bool]

REFERENCE_VOLUMES = {
    # kind: (file name in the cache, path under ALLEN_DOWNLOAD_URL, what it is)
    "nissl": ("ara_nissl_25.nrrd", "mouse_ccf/ara_nissl/ara_nissl_25.nrrd", "25 um Nissl volume (136 MB)"),
    "template": ("average_template_25.nrrd", "mouse_ccf/average_template/average_template_25.nrrd",
                 "25 um two-photon average template (33 MB)"),
}
REFERENCE_MAX_BYTES = {"nissl": 200_000_000, "template": 60_000_000}
"""Largest size accepted for each reference download (about 1.5 x the real file): a server
offering more is refused, and a body without a length is cut off there."""
GENE_INDEX_FILE = "gene_index.tsv.gz"


class AtlasData:
    """Gene index, ontology, reference space and expression grids, from one place."""

    def __init__(self, cache: Cache | None = None, client: AllenClient | None = None):
        self.cache = cache or Cache()
        self.client = client or AllenClient()
        self.grid_store = GridStore(self.cache, self.client)

    # ---- embedded or cached reference data ---------------------------------------------

    @functools.cached_property
    def gene_index(self) -> GeneIndex:
        """The refreshed index in the cache if there is a valid one, else the embedded one."""
        cached = self.cache.root / GENE_INDEX_FILE
        if cached.is_file():
            try:
                return GeneIndex.load(cached)
            except CorruptData as exc:
                self.cache.quarantine(cached, str(exc))
        return GeneIndex.load(config.resources_dir() / GENE_INDEX_FILE)

    @functools.cached_property
    def ontology(self) -> Ontology:
        return Ontology.load(config.resources_dir() / "structure_graph_1.json")

    @functools.cached_property
    def reference_space(self) -> ReferenceSpace:
        """The CCFv3 annotation; its 25 µm labels memory-mapped from ``<cache>/atlas/`` (decoded
        from the embedded NRRD and saved there on the first run; see :func:`cached_labels25`)."""
        res = config.resources_dir()
        return ReferenceSpace.load(self.ontology, res / "annotation_25.nrrd", res / "P56_Mouse_gridAnnotation.zip",
                                   cache_dir=self.atlas_cache_dir)

    @property
    def atlas_cache_dir(self) -> Path:
        """``<cache>/atlas``: derived atlas data (the uncompressed 25 µm labels)."""
        return self.cache.root / "atlas"

    # ---- experiments ---------------------------------------------------------------------

    def experiment(self, query: str | int) -> Experiment:
        """An experiment id or a gene symbol -> one experiment (coronal preferred)."""
        return self.gene_index.resolve(query)

    def locate(self, experiment_id: int) -> str:
        """``embedded``, ``cached`` or ``remote``: where the grid would come from."""
        return self.grid_store.locate(experiment_id)

    def available_ids(self) -> set[int]:
        """Ids of the experiments whose grid opens without a download (embedded or in the
        cache; files checked for existence only): the gene search ranks them first."""
        embedded = {int(p.stem) for p in (config.resources_dir() / "grids").glob("*.zip") if p.stem.isdigit()}
        try:
            cached = set(self.cache.grids())
        except AllenViewerError:
            cached = set()
        return embedded | cached

    def load_grid(self, query: str | int | Experiment, progress: Progress | None = None,
                  cancel: Cancel | None = None) -> ExpressionGrid:
        """The expression grid of an experiment (id, symbol or Experiment), fetched if needed."""
        exp = query if isinstance(query, Experiment) else self.experiment(query)
        where = self.locate(exp.id)
        try:
            path = self.grid_store.zip_path(exp.id, progress=progress, cancel=cancel)
        except NotDownloaded:
            raise
        except Offline as exc:
            if where != "remote":
                raise
            raise self.not_downloaded(exp, str(exc)) from None
        return load_grid(path, exp, source=self.locate(exp.id))

    def not_downloaded(self, exp: Experiment, reason: str = "") -> NotDownloaded:
        """The error for ``exp``'s grid, neither embedded nor cached, when the network cannot be
        used: offline mode or ``reason`` (the network failure, its first sentence)."""
        try:
            default = self.gene_index.resolve(exp.symbol).id == exp.id
        except AllenViewerError:
            default = False
        first = reason.split(". ")[0].rstrip(".")
        return NotDownloaded(exp.symbol, exp.id, config.offline(), first[:1].lower() + first[1:],
                             fetch_query=exp.symbol if default else str(exp.id))

    def refresh_gene_index(self, progress: Progress | None = None) -> GeneIndex:
        """Fetch the full experiment list from the Allen API and keep it in the cache."""
        from allen_viewer.store.gene_index import experiments_from_rma_rows, write_gene_index

        experiments = experiments_from_rma_rows(self.client.all_experiments(progress=progress))
        if not experiments:
            raise CorruptData("The Allen API returned no experiments; the gene index was not changed.")
        path = self.cache.root / GENE_INDEX_FILE
        try:
            write_gene_index(experiments, path)
        except OSError as exc:  # disk full, read-only cache: atomic_write kept the old file
            raise AllenViewerError(
                f"Cannot write the gene index {path} ({exc.strerror or exc}); the previous index was kept. "
                "Check the disk space and permissions, or set ALLEN_VIEWER_CACHE to a writable folder.") from None
        index = GeneIndex(experiments)
        self.__dict__["gene_index"] = index
        return index

    # ---- reference volumes (downloaded on demand, never bundled) -------------------------

    def reference_path(self, kind: str) -> Path:
        """Where the ``nissl`` or ``template`` volume lives in the cache."""
        return self.cache.reference_path(REFERENCE_VOLUMES[kind][0])

    def has_reference(self, kind: str) -> bool:
        return self.reference_path(kind).is_file()

    def download_reference(self, kind: str, progress: Progress | None = None, cancel: Cancel | None = None) -> Path:
        """Download a 25 µm reference volume into the cache; a partial download resumes."""
        def check(path: Path) -> None:  # the whole volume reads, resumed or not, before it is reported saved
            try:
                read_nrrd_volume(path, ANNOTATION_SHAPE)
            except CorruptData as exc:  # name the file, not its temporary path
                raise CorruptData(str(exc).replace(str(path), "it")) from None

        return self.client.download_file(REFERENCE_VOLUMES[kind][1], self.reference_path(kind),
                                         progress=progress, cancel=cancel, max_bytes=REFERENCE_MAX_BYTES.get(kind),
                                         check=check)

    def reference_volume(self, kind: str) -> np.ndarray | None:
        """A downloaded reference volume as float32 (AP, DV, ML) at 25 µm, or None if absent.

        A file that is not a 528 x 320 x 456 volume is moved to quarantine (CorruptData).
        """
        path = self.reference_path(kind)
        if not path.is_file():
            return None
        try:
            return read_nrrd_volume(path, ANNOTATION_SHAPE).astype(np.float32)
        except CorruptData as exc:
            moved = self.cache.quarantine(path, str(exc))
            raise CorruptData(f"The {kind} volume in the cache is damaged ({exc}); it was moved aside to {moved} "
                              "and can be downloaded again.") from None

    # the Nissl volume is the slice panes' background; these name it for the GUI
    @property
    def nissl_path(self) -> Path:
        return self.reference_path("nissl")

    def has_nissl(self) -> bool:
        return self.has_reference("nissl")

    def download_nissl(self, progress: Progress | None = None, cancel: Cancel | None = None) -> Path:
        return self.download_reference("nissl", progress, cancel)

    def nissl(self) -> np.ndarray | None:
        return self.reference_volume("nissl")
