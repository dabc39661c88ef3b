"""Where an experiment's grid zip comes from: embedded resources, then the cache, then the network.

* embedded: ``config.resources_dir()/grids/<id>.zip`` (shipped with the package);
* cached: ``Cache.grid_path(id)`` (an earlier download);
* remote: downloaded with :class:`AllenClient` into the cache, validated before it lands,
  always with ``include=energy,intensity,density`` (:data:`ALL_CHANNELS`).

An embedded or cached grid that holds energy only (the two embedded grids do) is upgraded:
the first time it is used online, all three channels are downloaded into the cache, and
from then on that richer cached copy wins over the embedded one.  Offline, or when that
download fails, the energy-only file is used as it is.

Every path :meth:`GridStore.zip_path` returns has passed :func:`read_grid_zip` (once per
process per file).  A damaged cache entry is quarantined and fetched again when the
network may be used.
"""
from __future__ import annotations

import threading
from pathlib import Path, PurePosixPath

from allen_viewer import config
from allen_viewer.api.client import AllenClient, Cancel, Progress
from allen_viewer.errors import AllenViewerError, Cancelled, CorruptData, Offline
from allen_viewer.store.cache import Cache, remember_valid, validate_grid_file

EMBEDDED, CACHED, REMOTE = "embedded", "cached", "remote"
ALL_CHANNELS = ("energy", "intensity", "density")
"""What every grid the viewer and the exports download asks for (``include=``)."""
UPGRADE_TIMEOUT = (3.05, 5.0)
"""(connect, read) seconds of the one try that upgrades an energy-only grid: a grid the
user already has must not wait long on a network that hangs."""


def channels_in(path: Path) -> set[str]:
    """The volumes (``energy``, ``intensity``, ``density``) a grid zip holds, by member name."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            names = {PurePosixPath(n).name for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError):
        return set()
    return {c for c in ALL_CHANNELS if f"{c}.raw" in names}


class GridStore:
    """Finds or fetches grid zips.  ``client`` is made on first need when not given."""

    def __init__(self, cache: Cache, client: AllenClient | None = None):
        self.cache = cache
        self._client = client
        self._locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._upgrade_tried: set[int] = set()

    @property
    def client(self) -> AllenClient:
        if self._client is None:
            self._client = AllenClient()
        return self._client

    @staticmethod
    def embedded_path(experiment_id: int) -> Path:
        """Where an embedded grid would be (``resources/grids/<id>.zip``)."""
        return config.resources_dir() / "grids" / f"{int(experiment_id)}.zip"

    def locate(self, experiment_id: int) -> str:
        """``"embedded"``, ``"cached"`` or ``"remote"``: where :meth:`zip_path` would look
        first.  Only checks that files exist (no validation, no network): cheap enough for a
        status column."""
        try:
            if self.embedded_path(experiment_id).is_file():
                cached = self.cache.grid_path(experiment_id)
                return CACHED if cached.is_file() and len(channels_in(cached)) > 1 else EMBEDDED
        except OSError:
            pass
        try:
            if self.cache.grid_path(experiment_id).is_file():
                return CACHED
        except OSError:
            pass
        return REMOTE

    def zip_path(self, experiment_id: int, progress: Progress | None = None, cancel: Cancel | None = None) -> Path:
        """A validated grid zip of the experiment, downloading it into the cache if need be.

        ``progress(bytes_so_far, total_bytes_or_None)`` and ``cancel()`` are passed to the
        download.  Raises :class:`Offline` when offline mode is on and the grid is neither
        embedded nor cached; :class:`CorruptData` for a damaged embedded file;
        :class:`UnknownExperiment`, :class:`ServiceUnavailable`, :class:`CorruptDownload`,
        :class:`Cancelled` from the download.
        """
        experiment_id = int(experiment_id)
        embedded = self.embedded_path(experiment_id)
        with self._lock(experiment_id):
            quarantined = ""
            try:
                cached = self.cache.cached_grid(experiment_id)
            except CorruptData:
                cached = None
                quarantined = " (its cached copy was damaged and has been moved aside)"
            if embedded.is_file():
                if cached is not None and len(channels_in(cached)) > 1:
                    return cached  # the richer cached copy wins over the energy-only embedded one
                validate_grid_file(embedded)
                return self._upgraded(experiment_id, embedded, progress, cancel)
            if cached is not None:
                return self._upgraded(experiment_id, cached, progress, cancel)
            if config.offline():
                raise Offline(
                    f"Offline mode (ALLEN_VIEWER_OFFLINE) is on and experiment {experiment_id} is not embedded "
                    f"or cached{quarantined}; turn offline mode off to download it.")
            dest = self.cache.grid_path(experiment_id)
            self.cache.ensure_writable(dest.parent)
            self.client.download_grid(experiment_id, dest, include=ALL_CHANNELS, progress=progress, cancel=cancel)
            remember_valid(dest)
            return dest

    def _upgraded(self, experiment_id: int, path: Path, progress: Progress | None, cancel: Cancel | None) -> Path:
        """``path``, or a copy with all three channels downloaded into the cache when ``path``
        holds energy only and the network may be used.  One try (no retries) with short
        timeouts (:data:`UPGRADE_TIMEOUT`), once per process per experiment; any failure but a
        cancel keeps ``path`` (used as is, energy only)."""
        if (config.offline() or experiment_id in self._upgrade_tried
                or len(channels_in(path)) == len(ALL_CHANNELS)):
            return path
        self._upgrade_tried.add(experiment_id)
        dest = self.cache.grid_path(experiment_id)
        client = self.client
        quick = AllenClient(client.api_url, client.download_url, timeout=UPGRADE_TIMEOUT, retries=1,
                            session=client.session)
        try:
            self.cache.ensure_writable(dest.parent)
            quick.download_grid(experiment_id, dest, include=ALL_CHANNELS, progress=progress, cancel=cancel)
        except Cancelled:
            raise
        except AllenViewerError:
            return path
        remember_valid(dest)
        return dest

    def _lock(self, experiment_id: int) -> threading.Lock:
        """One lock per experiment, so two threads asking for it download it once."""
        with self._locks_guard:
            return self._locks.setdefault(experiment_id, threading.Lock())
