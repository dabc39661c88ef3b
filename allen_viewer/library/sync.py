"""Bulk download into the library: parallel, resumable, never leaving a corrupt entry.

:func:`sync` fetches the grid zips of many experiments with a pool of worker threads
(:data:`DEFAULT_WORKERS` by default, polite to the Allen servers) into the same cache the
viewer and the exports read (``<cache>/grids/<id>.zip``), and packs them into the library
store as they arrive, committing every :data:`COMMIT_ROWS` rows or few seconds.

* Retry and backoff are the client's (:class:`AllenClient`: timeouts, resets, 5xx and
  outage pages are retried with exponential backoff); an experiment that still fails is
  reported and the run goes on.  Many failures in a row (the service is down) or going
  offline stop the run; what was fetched so far is kept.
* Resume: experiments already in the library are skipped; grids already in the cache (or
  embedded) are packed without downloading.  A run killed at any moment (even SIGKILL)
  leaves complete zips (downloads are written to a temporary file, validated, then
  renamed) and a library whose committed rows are all whole (see
  :mod:`allen_viewer.library.store`); running it again fetches only what is missing.
* ``density=True`` downloads ``include=energy,density`` so the library also keeps per-
  structure density sums (for ``matrix --value density``); grids already cached without
  density are downloaded again.  Experiments already in the library are not changed.
"""
from __future__ import annotations

import json
import threading
import time
import zipfile
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from allen_viewer import config
from allen_viewer.errors import AllenViewerError, Cancelled, CorruptData, Offline, ServiceUnavailable
from allen_viewer.expression.grid import load_grid
from allen_viewer.library.defaults import DEFAULT_WORKERS  # noqa: F401  (there for the CLI parser)
from allen_viewer.io.atomic import atomic_write, is_temporary
from allen_viewer.library.store import Layout, Library, LibraryError, pack_rows
from allen_viewer.records import Experiment
from allen_viewer.store.cache import Cache, remember_valid, validate_grid_file
from allen_viewer.store.gene_index import GeneIndex
from allen_viewer.store.grid_store import GridStore

MAX_WORKERS = 32
COMMIT_ROWS = 64
COMMIT_SECONDS = 2.0
GIVE_UP_AFTER = 20
"""Consecutive failed downloads after which the run stops (the service is likely down)."""
LAST_SYNC = "last_sync.json"
STALE_PART_SECONDS = 600

SyncProgress = Callable[[int, int, int], None]
"""``progress(done, total, failures)``: experiments dealt with so far (already there,
packed or failed), the number asked for, and how many failed."""


@dataclass
class SyncReport:
    """What a sync did.  ``stopped``: why it ended early (None when it went through)."""

    requested: int = 0
    already: int = 0
    packed: int = 0
    downloaded: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    stopped: str | None = None

    @property
    def missing(self) -> int:
        return self.requested - self.already - self.packed


def default_layout(ontology) -> Layout:
    """The layout for the embedded grid annotation (``P56_Mouse_gridAnnotation.zip``)."""
    from allen_viewer.atlas.reference_space import read_grid_annotation

    return Layout.build(read_grid_annotation(config.resources_dir() / "P56_Mouse_gridAnnotation.zip"), ontology)


def read_gene_list(path: Path | str) -> list[str]:
    """Symbols from a text file: one per line, or comma/tab separated; ``#`` comments and a
    header ``symbol``/``gene`` are skipped; a trailing ``*`` is dropped."""
    from allen_viewer.arguments import read_text_list

    text = read_text_list(path, "gene list")
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        for item in line.replace("\t", ",").split(","):
            item = item.strip().strip('"').strip().rstrip("*")
            if item and item.lower() not in ("symbol", "gene", "genes", "gene_symbol", "acronym"):
                out.append(item)
    if not out:
        raise AllenViewerError(f"The gene list {path} names no genes.")
    return out


def select_experiments(index: GeneIndex, *, everything: bool = False, plane: str | None = None,
                       genes: Sequence[str] | None = None,
                       queries: Sequence[str] | None = None) -> tuple[list[Experiment], list[str]]:
    """The experiments to sync, sorted by id, and the names that matched nothing.

    ``everything``: every experiment of the index.  ``genes``: every experiment of these
    symbols.  ``queries``: experiment ids, or symbols (all their experiments).  ``plane``
    alone means every experiment of that plane; with the others it filters them.
    """
    chosen: dict[int, Experiment] = {}
    unknown: list[str] = []
    if everything or (plane and not genes and not queries):
        chosen.update((e.id, e) for e in index.experiments)
    for name in list(genes or []) + list(queries or []):
        text = str(name).strip()
        if not text:
            continue  # a blank name selects nothing (the CLI refuses it before)
        if text.isascii() and text.isdigit():
            if len(text) <= 18 and index.has_id(int(text)):
                chosen[int(text)] = index.by_id(int(text))
            else:
                unknown.append(text)
            continue
        found = index.exact_symbol(text)
        if found:
            chosen.update((e.id, e) for e in found)
        else:
            unknown.append(text)
    out = sorted(chosen.values(), key=lambda e: e.id)
    if plane is not None:
        out = [e for e in out if e.plane == plane]
    return out, unknown


def _has_density(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(Path(n).name == "density.raw" for n in zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def fetch_grid(experiment: Experiment, cache: Cache, client, density: bool = False,
               cancel: Callable[[], bool] | None = None) -> tuple[Path, str]:
    """A validated grid zip of the experiment and where it came from (``embedded``,
    ``cached`` or ``downloaded``); downloads into the cache when needed (atomically)."""
    embedded = GridStore.embedded_path(experiment.id)
    if embedded.is_file():
        validate_grid_file(embedded)
        return embedded, "embedded"
    try:
        cached = cache.cached_grid(experiment.id)
    except CorruptData:  # moved to quarantine by cached_grid; fetch it again
        cached = None
    if cached is not None and (not density or _has_density(cached)):
        return cached, "cached"
    if config.offline():
        raise Offline(f"Offline mode (ALLEN_VIEWER_OFFLINE) is on and experiment {experiment.id} is not cached.")
    dest = cache.grid_path(experiment.id)
    cache.ensure_writable(dest.parent)
    client.download_grid(experiment.id, dest, include=("energy", "density") if density else None, cancel=cancel)
    remember_valid(dest)
    return dest, "downloaded"


def _fetch_columns(experiment: Experiment, layout: Layout, cache: Cache, client, density: bool,
                   cancel) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Fetch, read and cut one grid to the library's columns (in a worker thread)."""
    path, how = fetch_grid(experiment, cache, client, density, cancel)
    grid = load_grid(path, experiment, source=how)
    dens = layout.columns(grid.density) if grid.density is not None else None
    return layout.columns(grid.energy), dens, how


def clean_stale_parts(cache: Cache, older_than_s: float = STALE_PART_SECONDS) -> int:
    """Remove temporary download files (``.<id>.zip.*.part``) left by killed runs; returns
    how many.  Recent ones are kept: another process may be writing them."""
    removed = 0
    now = time.time()
    try:
        entries = list(cache.grids_dir.iterdir())
    except OSError:
        return 0
    for p in entries:
        if is_temporary(p.name):  # the atomic writer's ".<name>.<random>.part"
            try:
                if now - p.stat().st_mtime > older_than_s:
                    p.unlink()
                    removed += 1
            except OSError:
                pass
    return removed


def sync(experiments: Iterable[Experiment], *, library: Library | None = None, cache: Cache | None = None,
         client=None, layout: Layout | None = None, ontology=None, workers: int = DEFAULT_WORKERS,
         density: bool = False, progress: SyncProgress | None = None, cancel: Callable[[], bool] | None = None,
         commit_rows: int = COMMIT_ROWS, commit_seconds: float = COMMIT_SECONDS) -> SyncReport:
    """Fetch and pack ``experiments`` into the library (see the module docstring).

    ``layout`` (or ``ontology``, to build the default one) is needed when the library does
    not exist yet.  ``workers``: parallel downloads (1 to 32).  ``cancel()`` True stops the
    run after committing what arrived.  Raises :class:`Offline` when the network cannot be
    used (after committing); other failures are in the report.
    """
    experiments = list({e.id: e for e in experiments}.values())  # each experiment once
    if not 1 <= int(workers) <= MAX_WORKERS:
        raise AllenViewerError(f"workers must be between 1 and {MAX_WORKERS}, not {workers}")
    cache = cache or Cache()
    library = library if library is not None else Library(cache.root / "library")
    if client is None:
        from allen_viewer.api.client import AllenClient

        client = AllenClient()
    if layout is None and not library.exists():
        if ontology is None:
            raise LibraryError("sync needs the ontology (or a layout) to create the library")
        layout = default_layout(ontology)
    if library.exists():  # never append to a damaged store: say what to delete instead
        from allen_viewer.library.integrity import damage_message, full_problems

        problems = full_problems(library.refresh())
        if problems:
            raise LibraryError(damage_message(library.root, problems))
    started = time.monotonic()
    report = SyncReport(requested=len(experiments))
    clean_stale_parts(cache)
    with library.writer(layout) as writer:
        todo = [e for e in experiments if e.id not in writer.ids]
        report.already = len(experiments) - len(todo)
        try:
            _run(todo, writer, cache, client, int(workers), density, progress, cancel, commit_rows,
                 commit_seconds, report)
        finally:
            report.elapsed_s = time.monotonic() - started
            _write_last_sync(library, experiments, report)
    library.refresh()
    return report


def _run(todo, writer, cache, client, workers, density, progress, cancel, commit_rows, commit_seconds,
         report: SyncReport) -> None:
    total = report.requested
    stop = threading.Event()

    def stopped() -> bool:
        return stop.is_set() or bool(cancel and cancel())

    pending: list[tuple[Experiment, np.ndarray, np.ndarray | None]] = []
    last_commit = time.monotonic()
    consecutive = 0
    fatal: BaseException | None = None

    def commit() -> None:
        nonlocal last_commit
        if pending:
            energy = np.stack([p[1] for p in pending])
            dens_flags = [p[2] is not None for p in pending]
            density_cols = (np.stack([p[2] if p[2] is not None else np.full_like(p[1], np.nan) for p in pending])
                            if any(dens_flags) else None)
            packed = pack_rows(writer.layout, [p[0].id for p in pending], [p[0].symbol for p in pending],
                               [p[0].plane for p in pending], energy, density_cols, dens_flags)
            writer.append(packed)
            report.packed += len(pending)
            pending.clear()
        last_commit = time.monotonic()

    def tick() -> None:
        if progress is not None:
            progress(report.already + report.packed + len(pending) + len(report.failed), total, len(report.failed))

    tick()
    queue = iter(todo)
    inflight: dict[Future, Experiment] = {}
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="library-sync")
    try:
        def refill() -> None:
            while len(inflight) < 2 * workers and not stopped():
                e = next(queue, None)
                if e is None:
                    return
                inflight[pool.submit(_fetch_columns, e, writer.layout, cache, client, density, stopped)] = e

        refill()
        while inflight:
            finished, _ = wait(list(inflight), timeout=0.25, return_when=FIRST_COMPLETED)
            for fut in finished:
                e = inflight.pop(fut)
                try:
                    cols, dens, how = fut.result()
                except Cancelled:
                    if not stopped():
                        report.failed[e.id] = "cancelled"
                    continue
                except Offline as exc:
                    fatal = fatal or exc
                    stop.set()
                    continue
                except AllenViewerError as exc:
                    if stopped():
                        continue
                    report.failed[e.id] = str(exc)
                    consecutive = consecutive + 1 if isinstance(exc, ServiceUnavailable) else 0
                    if consecutive >= GIVE_UP_AFTER:
                        report.stopped = (f"{consecutive} downloads in a row failed (last: {exc}); the Allen "
                                          "service may be down. Run the same command later to resume.")
                        stop.set()
                    tick()
                    continue
                consecutive = 0
                if how == "downloaded":
                    report.downloaded += 1
                pending.append((e, cols, dens))
                tick()
            if len(pending) >= commit_rows or (pending and time.monotonic() - last_commit >= commit_seconds):
                commit()
            if cancel and cancel() and not stop.is_set():
                report.stopped = "cancelled"
                stop.set()
            refill()
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        commit()  # whatever arrived is kept, whatever happens
    if fatal is not None:
        report.stopped = str(fatal)
        raise fatal
    if report.stopped == "cancelled":
        raise Cancelled("Library sync")


def _write_last_sync(library: Library, experiments: list[Experiment], report: SyncReport) -> None:
    record = {"finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "requested_ids": [e.id for e in experiments], **asdict(report)}
    record["failed"] = {str(k): v for k, v in report.failed.items()}
    try:
        with atomic_write(library.root / LAST_SYNC, "w") as fh:
            json.dump(record, fh)
    except OSError:
        pass  # a courtesy record for `library status`


def read_last_sync(library: Library) -> dict | None:
    """The last sync's record, or None when there is none; CorruptData (one line naming
    the file and what to do) when it is unreadable or of the wrong shape."""
    from allen_viewer.library.integrity import last_sync_problems

    path = library.root / LAST_SYNC
    try:
        if path.exists() and not path.is_file():
            raise CorruptData(f"{path} is not a regular file")
        if path.is_file() and path.stat().st_size > 256 * 1024 * 1024:
            raise CorruptData(f"{path} is far larger than a sync record")
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except CorruptData as exc:
        raise CorruptData(last_sync_damage(library, str(exc))) from None
    except (OSError, ValueError, RecursionError) as exc:
        from allen_viewer.sanitize import clean_text

        raise CorruptData(last_sync_damage(library, f"{LAST_SYNC} is unreadable ({clean_text(exc, 100)})")) from None
    problems = last_sync_problems(record)
    if problems:
        raise CorruptData(last_sync_damage(library, "; ".join(problems[:3])))
    return record


def last_sync_damage(library: Library, why: str) -> str:
    """The line for a damaged ``last_sync.json``: the library itself is not affected."""
    return (f"The record of the last sync {library.root / LAST_SYNC} is damaged ({why}); the next "
            f"`allen-viewer library sync` rewrites it, or move the file away.")


def library_status(library: Library, index: GeneIndex, cache: Cache | None = None) -> dict:
    """What the library holds, what is missing (against the gene index and the last sync's
    request) and the space used (bytes)."""
    cache = cache or Cache(library.root.parent)
    status: dict = {"root": str(library.root), "exists": library.exists()}
    in_lib: set[int] = set()
    if status["exists"]:
        from allen_viewer.library.integrity import damage_message, full_problems

        try:
            library.refresh()
            problems = full_problems(library)
        except (CorruptData, LibraryError) as exc:  # the manifest, layout or tables (or another format): named
            status["damage"] = str(exc)
        else:
            if problems:
                status["damage"] = damage_message(library.root, problems)
    if status["exists"] and "damage" not in status:
        in_lib = {int(i) for i in library.ids}
        status["manifest"] = library.manifest
        status["clipped_values"] = int(library.table["clipped"].sum())
        status["with_density"] = int(library.table["has_density"].sum())
    by_plane = {}
    for plane in ("coronal", "sagittal"):
        ids = [e.id for e in index.experiments if e.plane == plane]
        by_plane[plane] = {"index": len(ids), "library": sum(i in in_lib for i in ids)}
    status["planes"] = by_plane
    status["index_experiments"] = len(index)
    status["library_experiments"] = len(in_lib)
    status["index_genes"] = len(index.symbols)
    status["library_genes"] = len({index.by_id(i).symbol for i in in_lib if index.has_id(i)})
    status["missing"] = sum(1 for e in index.experiments if e.id not in in_lib)
    cached = set(cache.grids())
    status["cached_not_packed"] = sorted(cached - in_lib)
    status["library_bytes"] = library.size_bytes()
    grid_bytes = 0
    for i in cached:
        try:
            grid_bytes += cache.grid_path(i).stat().st_size
        except OSError:
            pass
    status["grid_cache_bytes"] = grid_bytes
    try:
        last = read_last_sync(library)
    except CorruptData as exc:  # a courtesy record: named, the rest of the status still holds
        last, status["last_sync_damage"] = None, str(exc)
    if last:
        requested = last.get("requested_ids") or []
        status["last_sync"] = {
            "finished_utc": last.get("finished_utc"), "requested": len(requested),
            "missing": sorted(i for i in requested if i not in in_lib),
            "failed": last.get("failed") or {}, "stopped": last.get("stopped"),
        }
    return status
