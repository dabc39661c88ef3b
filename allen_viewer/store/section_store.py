"""Section images in the cache: the original ISH section behind a point, fetched once.

Layout under the cache root (next to ``grids/``)::

    images/<image id>_ds<n>_<view>_q<quality|default>.jpg   section JPEGs as served
    images/sections/<experiment id>.json                     an experiment's section list
    images/sync/<experiment id>/<space>_<x>_<y>_<z>.json     a point's synchronisation answer
                                                             (x, y, z: whole µm)

Every entry is written atomically (JPEGs by the client's streamed download, JSON through
:func:`~allen_viewer.io.atomic.atomic_write`), so an entry is whole or absent.  A cached
JPEG is checked (magic, end marker, header, declared size) once per process; a damaged one is
moved to ``quarantine/`` and fetched again.  Server answers are checked before they are cached
(ids, section numbers, pixels: :meth:`ImageSync.problem`), and a cached answer that fails the
same checks (written by an older version) is moved to ``quarantine/`` and asked again.  Offline, whatever is cached still answers; what is not
raises :class:`~allen_viewer.errors.Offline` from the client.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from allen_viewer.api.section_images import (
    ImageSync,
    NoSectionImage,
    SectionImage,
    check_image_options,
    check_jpeg,
    valid_id,
)
from allen_viewer.errors import AllenViewerError, CorruptData
from allen_viewer.formats.grid_file import REFERENCE_SPACE_OF_PLANE
from allen_viewer.io.atomic import atomic_write

DEFAULT_DOWNSAMPLE = 4
"""Each side / 16: a ~12,000 px section becomes ~750 px, enough to see cells' clusters."""

_checked: set[tuple[str, int, int]] = set()
_checked_lock = threading.Lock()


@dataclass(frozen=True)
class SectionView:
    """A section image ready to show: the JPEG ``path`` (as served), the ``image`` id, its
    ``section_number``, the ``downsample`` and ``view`` it was fetched at, and ``sync`` (the
    point's synchronisation, None when the section was chosen by number, e.g. previous/next)."""

    path: Path
    image_id: int
    section_number: int
    downsample: int
    view: str
    quality: int | None
    experiment_id: int
    sync: ImageSync | None = None

    @property
    def pixel_full(self) -> tuple[float, float] | None:
        """The point's pixel (column, row) at full resolution, or None without a point."""
        return None if self.sync is None else (self.sync.x, self.sync.y)

    @property
    def pixel(self) -> tuple[float, float] | None:
        """The point's pixel (column, row) in this image (full resolution / 2**downsample)."""
        return None if self.sync is None else self.sync.pixel_at(self.downsample)


def reference_space_id(plane: str) -> int:
    """The P56 reference space of an experiment's plane (9 coronal, 10 sagittal)."""
    try:
        return REFERENCE_SPACE_OF_PLANE[plane]
    except KeyError:
        raise AllenViewerError(f"Experiments cut in the {plane!r} plane have no known reference space.") from None


class SectionImageStore:
    """Section lists, point synchronisations and section JPEGs: cache first, then the API."""

    def __init__(self, cache, client):
        self.cache = cache
        self.client = client

    @property
    def root(self) -> Path:
        return self.cache.root / "images"

    def image_path(self, image_id: int, downsample: int, view: str = "stained", quality: int | None = None) -> Path:
        """Where a section JPEG lives in the cache (keyed by id, downsample, view and quality)."""
        downsample, quality, view = check_image_options(downsample, quality, view)
        q = "default" if quality is None else str(quality)
        return self.root / f"{int(image_id)}_ds{downsample}_{view}_q{q}.jpg"

    # ---- metadata ------------------------------------------------------------------------

    def sections(self, experiment_id: int) -> list[SectionImage]:
        """An experiment's section images by section number (cached after the first query)."""
        path = self.root / "sections" / f"{int(experiment_id)}.json"
        cached = _read_json(path)
        if isinstance(cached, list):
            try:
                rows = [SectionImage(**row) for row in cached]
                bad = next((r for r in rows if not valid_id(r.id) or not valid_id(r.data_set_id)), None)
                if bad is None:
                    return rows
                self._quarantine(path, f"a section image id {bad.id} that cannot be an id")
            except TypeError:
                pass  # an older or damaged entry: ask again
        rows = self.client.section_images(int(experiment_id))
        _write_json(path, [s.to_json() for s in rows])
        return rows

    def sync(self, experiment_id: int, plane: str, ap_um: float, dv_um: float, ml_um: float) -> ImageSync:
        """The nearest section image of an experiment to a CCF point (µm, AP, DV, ML) and the
        point's pixel in it; cached per whole-µm point.  :class:`NoSectionImage` when the
        service has none for this experiment."""
        space = reference_space_id(plane)
        key = "_".join(str(int(round(v))) for v in (ap_um, dv_um, ml_um))
        path = self.root / "sync" / str(int(experiment_id)) / f"{space}_{key}.json"
        cached = _read_json(path)
        if isinstance(cached, dict):
            try:
                found = ImageSync(**cached)
            except TypeError:
                found = None
            problem = found.problem() if found is not None else "not an answer of reference_to_image"
            if not problem:
                return found
            # a bad answer cached by an older version (or damaged): aside, and asked again
            self._quarantine(path, f"the cached reference_to_image answer cannot be right ({problem})")
        found = self.client.image_sync(space, ap_um, dv_um, ml_um, int(experiment_id))
        if found is None:
            raise NoSectionImage(f"Experiment {int(experiment_id)} has no section image at AP {ap_um:g}, "
                                 f"DV {dv_um:g}, ML {ml_um:g} um (the Allen API returned none for it).")
        _write_json(path, found.to_json())
        return found

    def _quarantine(self, path: Path, reason: str) -> None:
        """Move a cache entry that fails its checks to ``quarantine/`` (it is then fetched again)."""
        try:
            self.cache.quarantine(path, reason)
        except AllenViewerError:
            pass  # cannot be moved: it is not used all the same, and the fresh answer replaces it

    # ---- images --------------------------------------------------------------------------

    def cached_image(self, image_id: int, downsample: int, view: str = "stained",
                     quality: int | None = None) -> Path | None:
        """The checked cached JPEG, or None; a damaged one goes to quarantine (None)."""
        path = self.image_path(image_id, downsample, view, quality)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AllenViewerError(f"Cannot read the cached image {path} ({exc.strerror or exc}).") from None
        key = (str(path), st.st_mtime_ns, st.st_size)
        with _checked_lock:
            if key in _checked:
                return path
        try:
            check_jpeg(path.read_bytes(), f"The cached section image {path.name}", downsample)
        except CorruptData as exc:
            self.cache.quarantine(path, str(exc))
            return None
        except OSError as exc:
            raise AllenViewerError(f"Cannot read the cached image {path} ({exc.strerror or exc}).") from None
        with _checked_lock:
            _checked.add(key)
        return path

    def image(self, image_id: int, downsample: int = DEFAULT_DOWNSAMPLE, view: str = "stained",
              quality: int | None = None, progress=None, cancel=None) -> Path:
        """A section JPEG from the cache, else downloaded into it; returns its path."""
        path = self.cached_image(image_id, downsample, view, quality)
        if path is not None:
            return path
        path = self.image_path(image_id, downsample, view, quality)
        self.client.download_section_image(image_id, path, downsample=downsample, quality=quality, view=view,
                                           progress=progress, cancel=cancel)
        st = path.stat()
        with _checked_lock:
            _checked.add((str(path), st.st_mtime_ns, st.st_size))
        return path

    # ---- what the CLI and the Section dock ask -------------------------------------------

    def section_at(self, experiment, ap_um: float, dv_um: float, ml_um: float,
                   downsample: int = DEFAULT_DOWNSAMPLE, view: str = "stained", quality: int | None = None,
                   progress=None, cancel=None) -> SectionView:
        """The section image of ``experiment`` (an :class:`Experiment`: ``id``, ``plane``)
        nearest a CCF point (µm), with the point's pixel."""
        downsample, quality, view = check_image_options(downsample, quality, view)
        sync = self.sync(experiment.id, experiment.plane, ap_um, dv_um, ml_um)
        path = self.image(sync.section_image_id, downsample, view, quality, progress, cancel)
        return SectionView(path, sync.section_image_id, sync.section_number, downsample, view, quality,
                           int(experiment.id), sync)

    def neighbour(self, experiment, section_number: int, step: int, downsample: int = DEFAULT_DOWNSAMPLE,
                  view: str = "stained", quality: int | None = None, progress=None,
                  cancel=None) -> SectionView:
        """The section ``step`` places after (or, negative, before) ``section_number`` in the
        experiment's section list (no point, so no pixel).  :class:`NoSectionImage` past the ends."""
        sections = self.sections(experiment.id)
        numbers = [s.section_number for s in sections]
        if not sections:
            raise NoSectionImage(f"Experiment {int(experiment.id)} has no section images.")
        import bisect

        if step > 0:
            k = bisect.bisect_right(numbers, section_number) + step - 1
        else:
            k = bisect.bisect_left(numbers, section_number) + step
        if not 0 <= k < len(sections):
            raise NoSectionImage(f"Experiment {int(experiment.id)} has no section "
                                 f"{'after' if step > 0 else 'before'} section {section_number}.")
        s = sections[k]
        path = self.image(s.id, downsample, view, quality, progress, cancel)
        return SectionView(path, s.id, s.section_number, downsample, view, quality, int(experiment.id), None)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, obj) -> None:
    """Atomically; a cache that cannot be written only costs a repeated query later."""
    try:
        with atomic_write(path, "w") as fh:
            json.dump(obj, fh)
    except OSError:
        pass
