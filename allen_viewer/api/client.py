"""HTTP client for the Allen Brain Atlas API and its download server.

:class:`AllenClient` talks to the real service (``https://api.brain-map.org`` and
``https://download.alleninstitute.org/informatics-archive/current-release``, or whatever
``ALLEN_API_URL`` / ``ALLEN_DOWNLOAD_URL`` say) in the formats of ``docs/allen-api.md``:

* RMA metadata queries (``/api/v2/data/query.json?criteria=...``), paged 2000 rows at a time;
* the structure graph (``/api/v2/structure_graph_download/1.json``);
* expression grid zips (``/grid_data/download/<id>``), validated before they are kept;
* large reference files (NRRD volumes, zips) from the download server, resumable.

Failures never escape as raw ``requests``/JSON exceptions.  Timeouts, dropped connections,
HTTP 429/500/502/503/504, HTML outage pages and unparsable JSON are retried with
exponential backoff (``backoff * 2**n`` seconds before the n-th retry, n = 0, 1, ...);
after the last try the caller gets :class:`ServiceUnavailable` with one plain sentence.
A host that cannot be reached at all (connection refused, name not resolving, network
unreachable) raises :class:`Offline` at once.  With ``ALLEN_VIEWER_OFFLINE`` set, every
network method raises :class:`Offline` before sending anything.
"""
from __future__ import annotations

import errno
import http.client
import json
import os
import re
import socket
import tempfile
import time
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import requests
import urllib3.exceptions

from allen_viewer import __version__, config
from allen_viewer.api import rma as rma_query
from allen_viewer.api.limits import (
    DEFAULT_LIMITS,
    MAX_JSON_BYTES,
    MAX_REFERENCE_BYTES,
    MAX_RETRY_AFTER_S,
    DownloadLimits,
    RateGuard,
    check_free_space,
    loads_bounded,
    retry_after_seconds,
)
from allen_viewer.errors import (
    AllenViewerError,
    Cancelled,
    CorruptData,
    CorruptDownload,
    Offline,
    ServiceUnavailable,
    UnknownExperiment,
    UnknownGene,
)
from allen_viewer.formats.grid_file import MAX_MEMBER_BYTES, VOLUME_NAMES, read_grid_zip
from allen_viewer.sanitize import clean_text, is_id

Progress = Callable[[int, "int | None"], None]
"""``progress(done, total)``: bytes (downloads) or rows (RMA paging) so far, and the total
when the server said it (else ``None``)."""
Cancel = Callable[[], bool]
"""A zero-argument callable returning True to cancel, e.g. ``threading.Event().is_set``."""

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
ROOT_STRUCTURE_ID = 997
CHUNK_BYTES = 256 * 1024
MAX_GRID_ZIP_BYTES = len(VOLUME_NAMES) * MAX_MEMBER_BYTES + 1024 * 1024
"""No grid zip is bigger (a real one is under 2 MB): a larger answer is refused, not stored."""
_OFFLINE_HINT = "Check the network, or set ALLEN_VIEWER_OFFLINE=1 to work from embedded and cached data."
_UMASK = os.umask(0)
os.umask(_UMASK)
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.I)


class _Transient(Exception):
    """One failed try worth repeating; ``kind`` picks the final message."""

    def __init__(self, kind: str, detail: str = "", status: int | None = None, retry_after: float | None = None):
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after  # seconds the server's Retry-After asked for


class AllenClient:
    """Client of the Allen API (metadata, grids) and download server (reference files).

    ``timeout``: (connect, read) seconds, as ``requests`` takes it; the read timeout is
    the longest silence allowed between two chunks, not a limit on a whole download.
    ``retries``: how many tries each request gets in all (at least 1).
    ``backoff``: seconds before the first retry; doubled for each further retry.
    ``session``: a ``requests.Session`` to use (one is made otherwise).
    ``limits``: minimum rate and deadline of every body (:mod:`allen_viewer.api.limits`).

    One client may be shared by threads for independent requests (``requests`` sessions
    tolerate that for plain GETs); give each long download its own ``cancel``.
    """

    def __init__(
        self,
        api_url: str | None = None,
        download_url: str | None = None,
        *,
        timeout: float | tuple[float, float] = (9.05, 31.1),
        retries: int = 3,
        backoff: float = 1.0,
        session: requests.Session | None = None,
        limits: DownloadLimits | None = None,
    ):
        self.api_url = (api_url or config.api_url()).rstrip("/")
        self.download_url = (download_url or config.download_url()).rstrip("/")
        self.timeout = timeout
        self.retries = max(1, int(retries))
        self.backoff = max(0.0, float(backoff))
        self.limits = limits or DEFAULT_LIMITS
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        if self._own_session:
            self.session.headers["User-Agent"] = f"allen_viewer/{__version__} (+requests)"

    def close(self) -> None:
        """Close the HTTP session if this client made it."""
        if self._own_session:
            self.session.close()

    def __enter__(self) -> "AllenClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ metadata (RMA)

    def rma(self, criteria: str, page_size: int = 2000, progress: Progress | None = None) -> list[dict]:
        """All rows of an RMA query, fetched ``page_size`` rows a request, ordered by id.

        ``criteria`` is the RMA string without paging, e.g.
        ``model::Gene,rma::criteria,[acronym$eq'Pdyn']``; the client appends
        ``rma::options[num_rows$eq2000][start_row$eqN][order$eq'id']`` and loops until
        ``start_row + num_rows >= total_rows``.  ``progress(rows_so_far, total_rows)`` is
        called after each page.
        """
        self._check_online("an Allen API query")
        page_size = int(page_size)
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        rows: list[dict] = []
        start = 0
        while True:
            paged = rma_query.with_paging(criteria, start, page_size)
            url = f"{self.api_url}{rma_query.QUERY_PATH}?criteria={rma_query.encode(paged)}"
            envelope = self._get_json(url)
            page = envelope.get("msg")
            if not isinstance(page, list):
                raise ServiceUnavailable(
                    f"{self._who(url)} answered the query with {type(page).__name__} instead of a list of rows.")
            rows.extend(page)
            total = _as_int(envelope.get("total_rows"))
            if progress is not None:
                progress(len(rows), total)
            start += len(page)
            if not page:
                break
            if total is not None and total >= 0:
                if start >= total:
                    break
            elif len(page) < page_size:
                break
        return rows

    def experiments_of_gene(self, symbol: str, plane: str | None = None) -> list[dict]:
        """The adult-mouse ISH SectionDataSet rows of a gene symbol (case-sensitive, ``Pdyn``).

        Rows carry ``genes`` and ``plane_of_section``; ``plane`` (``"coronal"`` or
        ``"sagittal"``) restricts the plane.  An unknown symbol gives an empty list; text
        that cannot be a symbol raises :class:`UnknownGene`.
        """
        self._check_online(f"looking up gene {symbol!r}")
        try:
            criteria = rma_query.section_data_sets_of_gene(symbol, plane)
        except ValueError:
            if plane is not None and plane not in rma_query.PLANES:
                raise
            raise UnknownGene(str(symbol)) from None
        return self.rma(criteria)

    def all_experiments(self, progress: Progress | None = None) -> list[dict]:
        """Every adult-mouse ISH SectionDataSet (about 26,000 rows, with genes and plane).

        ``progress(rows_so_far, total_rows)`` is called after each 2000-row page.
        """
        self._check_online("listing all experiments")
        return self.rma(rma_query.all_section_data_sets(), progress=progress)

    def gene(self, symbol: str) -> dict:
        """The ``model::Gene`` row of a symbol (``id, acronym, name, entrez_id, ...``).

        Raises :class:`UnknownGene` when the adult-mouse ISH product has no such gene.
        """
        self._check_online(f"looking up gene {symbol!r}")
        try:
            criteria = rma_query.gene(symbol)
        except ValueError:
            raise UnknownGene(str(symbol)) from None
        rows = self.rma(criteria)
        if not rows:
            raise UnknownGene(rma_query.check_symbol(symbol))
        return rows[0]

    def structure_graph(self) -> dict:
        """The adult mouse ontology: the root node (id 997) with nested ``children``.

        Each node has ``id, atlas_id, ontology_id, acronym, name, color_hex_triplet,
        graph_order, st_level, hemisphere_id, parent_structure_id, children``.  A wrapper
        node around 997 (seen in some copies) is looked through.
        """
        self._check_online("downloading the structure graph")
        url = f"{self.api_url}/api/v2/structure_graph_download/{rma_query.STRUCTURE_GRAPH_ID}.json"
        msg = self._get_json(url).get("msg")
        root = _find_node(msg, ROOT_STRUCTURE_ID)
        if root is None:
            raise CorruptDownload(
                f"The structure graph from {_host(url)} has no root structure {ROOT_STRUCTURE_ID}.")
        return root

    def structure_unionize(self, experiment_id: int) -> list[dict]:
        """Allen's per-structure summary of one experiment (``StructureUnionize`` rows:
        ``structure_id, expression_energy, expression_density, sum_pixels, ...`` and the
        included ``structure``)."""
        self._check_online(f"fetching the structure summary of experiment {experiment_id}")
        return self.rma(rma_query.structure_unionize(int(experiment_id)))

    # ------------------------------------------------------------------ grids

    def grid_url(self, experiment_id: int, include: list[str] | tuple[str, ...] | None = None) -> str:
        """``/grid_data/download/<id>``, with ``?include=energy,...`` when ``include`` is given.

        ``include`` must name ``energy`` (the viewer's grid files always carry it) and may
        add ``intensity`` and ``density``.
        """
        url = f"{self.api_url}/grid_data/download/{int(experiment_id)}"
        if include:
            bad = [name for name in include if name not in VOLUME_NAMES]
            if bad:
                raise ValueError(f"include may name {', '.join(VOLUME_NAMES)}, not {', '.join(bad)}")
            if "energy" not in include:
                raise ValueError("include must contain 'energy'")
            url += "?include=" + ",".join(dict.fromkeys(include))
        return url

    def download_grid(
        self,
        experiment_id: int,
        dest: Path | str,
        include: list[str] | tuple[str, ...] | None = None,
        progress: Progress | None = None,
        cancel: Cancel | None = None,
    ) -> Path:
        """Download an experiment's grid zip to ``dest``, validated, atomically.

        Without ``include`` the zip holds ``energy`` and ``data_set.xml``; with it, the
        named volumes (``energy``, ``intensity``, ``density``; 67 x 41 x 58 float32 grids,
        axis order (AP, DV, ML) once read).  The body is streamed into a temporary file
        next to ``dest``, checked with :func:`read_grid_zip` (and, by its ``data_set.xml``,
        to be the grid of ``experiment_id``), then renamed over ``dest``; a damaged zip, a
        zip of another experiment or an answer larger than :data:`MAX_GRID_ZIP_BYTES`
        raises :class:`CorruptDownload` and leaves ``dest`` as it was.
        ``progress(bytes_so_far, total_bytes_or_None)``; ``cancel()`` True raises
        :class:`Cancelled`.  An id the service does not know raises
        :class:`UnknownExperiment`.  The temporary file is always removed.
        """
        self._check_online(f"downloading experiment {experiment_id}")
        experiment_id = int(experiment_id)
        dest = Path(dest)
        url = self.grid_url(experiment_id, include)
        what = f"Download of experiment {experiment_id}"

        def check(path: Path) -> None:
            try:
                held = read_grid_zip(path.read_bytes()).data_set.get("id", "")
            except CorruptData as exc:
                raise CorruptDownload(
                    f"Experiment {experiment_id} arrived damaged from {_host(url)} ({exc}); "
                    "nothing was saved. Try again later.") from None
            except OSError as exc:
                raise _write_error(path, exc) from None
            if is_id(held) and int(held) != experiment_id:  # not str.isdigit: '²' or 5,000 digits break int()
                raise CorruptDownload(
                    f"{self._who(url)} sent the grid of experiment {held} when asked for experiment "
                    f"{experiment_id}; nothing was saved. Try again later.")

        return self._download_checked(
            url, dest, what, MAX_GRID_ZIP_BYTES, check, progress, cancel,
            not_found=lambda: UnknownExperiment(experiment_id),
            too_big=lambda total: (f"{self._who(url)} offers experiment {experiment_id} as {total:,} bytes, far "
                                   f"more than any grid zip ({MAX_GRID_ZIP_BYTES:,} at most); nothing was saved."))

    def _download_checked(self, url: str, dest: Path, what: str, limit: int, check: Callable[[Path], None],
                          progress: Progress | None, cancel: Cancel | None, *,
                          not_found: Callable[[], Exception], too_big: Callable[[int], str]) -> Path:
        """The one streamed, validated, atomic download of a whole file (grids, section images).

        The body is streamed (the client's ``limits``: minimum rate, deadline; at most
        ``limit`` bytes) into a temporary file next to ``dest``, retried on transient
        failures, handed to ``check(temp_path)`` (which raises to refuse it), then renamed over
        ``dest``.  HTTP 404 raises ``not_found()``; an announced size over ``limit`` raises
        :class:`CorruptDownload` with ``too_big(size)``.  ``dest`` is left as it was on any
        failure and the temporary file is always removed."""
        _make_dir(dest.parent)
        tmp: list[str] = []

        def once() -> None:
            _remove(tmp)
            _check_cancel(cancel, what)
            with self.session.get(url, stream=True, timeout=self.timeout,
                                  headers={"Accept-Encoding": "identity"}) as resp:
                if resp.status_code == 404:
                    raise not_found()
                self._check_response(resp, url)
                total = _as_int(resp.headers.get("Content-Length"))
                if total is not None and total > limit:
                    raise CorruptDownload(too_big(total))
                try:
                    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
                except OSError as exc:
                    raise _write_error(dest.parent, exc) from None
                tmp.append(name)
                os.chmod(name, 0o666 & ~_UMASK)  # mkstemp makes 0600; the cache wants normal permissions
                with os.fdopen(fd, "wb") as fh:
                    done = self._stream(resp, fh, name, 0, total, progress, cancel, what, limit=limit, url=url)
                    _sync(fh, name)
                if total is not None and done != total:
                    raise _Transient("short", f"{done} of {total} bytes")

        try:
            self._retrying(url, once, cancel, what)
            check(Path(tmp[-1]))
            try:
                os.replace(tmp[-1], dest)
            except OSError as exc:
                raise _write_error(dest, exc) from None
            tmp.pop()
            return dest
        finally:
            _remove(tmp)

    # ------------------------------------------------------------------ section images

    def section_images(self, data_set_id: int) -> list:
        """The section images of an experiment (``SectionImage`` rows) as
        :class:`~allen_viewer.api.section_images.SectionImage`, by section number; failed
        and malformed rows are left out.  An experiment without images gives ``[]``."""
        from allen_viewer.api.section_images import parse_section_images

        self._check_online(f"listing the section images of experiment {data_set_id}")
        data_set_id = int(data_set_id)
        rows = self.rma(f"model::SectionImage,rma::criteria,[data_set_id$eq{data_set_id}]")
        return parse_section_images(rows, data_set_id)

    def image_sync(self, reference_space_id: int, ap_um: float, dv_um: float, ml_um: float, data_set_id: int):
        """The section image of ``data_set_id`` nearest a CCF point (µm: AP, DV, ML) and the
        point's full-resolution pixel there (``reference_to_image``), as
        :class:`~allen_viewer.api.section_images.ImageSync`; None when the service leaves the
        experiment out of its answer (no images)."""
        from allen_viewer.api.section_images import parse_image_sync, sync_coordinates

        self._check_online(f"locating the section image of experiment {data_set_id}")
        x, y, z = sync_coordinates(reference_space_id, ap_um, dv_um, ml_um)
        url = (f"{self.api_url}/api/v2/reference_to_image/{int(reference_space_id)}.json?"
               + urllib.parse.urlencode({"x": f"{x:g}", "y": f"{y:g}", "z": f"{z:g}",
                                         "section_data_set_ids": str(int(data_set_id))}))
        return parse_image_sync(self._get_json(url).get("msg"), int(data_set_id))

    def section_image_url(self, image_id: int, downsample: int = 4, quality: int | None = None,
                          view: str = "stained") -> str:
        """``/api/v2/image_download/<id>?downsample=n[&quality=q][&view=expression]``."""
        from allen_viewer.api.section_images import check_image_options, image_query

        downsample, quality, view = check_image_options(downsample, quality, view)
        return f"{self.api_url}/api/v2/image_download/{int(image_id)}?{image_query(downsample, quality, view)}"

    def download_section_image(self, image_id: int, dest: Path | str, downsample: int = 4,
                               quality: int | None = None, view: str = "stained",
                               progress: Progress | None = None, cancel: Cancel | None = None) -> Path:
        """Download a section image (JPEG, each side divided by 2**``downsample``) to ``dest``,
        checked (JPEG magic and end marker, a readable header, at most
        :func:`~allen_viewer.api.section_images.image_size_cap` bytes), atomically, by the
        same streamed path as grids.  ``view="expression"`` asks for the expression mask.
        An id the service does not know (HTTP 404, an HTML body) raises
        :class:`~allen_viewer.api.section_images.UnknownSectionImage`; a damaged or oversized
        answer :class:`CorruptDownload`; ``dest`` is left as it was on any failure."""
        from allen_viewer.api.section_images import UnknownSectionImage, check_jpeg, image_size_cap

        self._check_online(f"downloading section image {image_id}")
        image_id = int(image_id)
        url = self.section_image_url(image_id, downsample, quality, view)
        limit = image_size_cap(int(downsample))
        dest = Path(dest)
        what = f"Download of section image {image_id}"

        def check(path: Path) -> None:
            try:
                body = path.read_bytes()
            except OSError as exc:
                raise _write_error(path, exc) from None
            check_jpeg(body, f"Section image {image_id} from {_host(url)}")

        return self._download_checked(
            url, dest, what, limit, check, progress, cancel,
            not_found=lambda: UnknownSectionImage(image_id),
            too_big=lambda total: (f"{self._who(url)} offers section image {image_id} as {total:,} bytes, more "
                                   f"than the {limit:,} allowed at downsample {int(downsample)}; nothing was saved."))

    # ------------------------------------------------------------------ reference files

    def file_url(self, relpath: str) -> str:
        """The download-server URL of ``relpath`` (e.g. ``mouse_ccf/ara_nissl/ara_nissl_25.nrrd``)."""
        parts = PurePosixPath(str(relpath).strip().lstrip("/")).parts
        if not parts or any(p in ("..", ".") for p in parts):
            raise ValueError(f"{relpath!r} is not a file path under the download server")
        return f"{self.download_url}/" + "/".join(urllib.parse.quote(p) for p in parts)

    def download_file(
        self,
        relpath: str,
        dest: Path | str,
        expected_size: int | None = None,
        progress: Progress | None = None,
        cancel: Cancel | None = None,
        max_bytes: int | None = None,
    ) -> Path:
        """Download a reference file from the download server to ``dest``, resumably.

        Bytes go to ``dest`` + ``.part``.  If that file is there from an earlier,
        interrupted try (this call's or a killed process's), the client asks for the rest
        with ``Range: bytes=N-`` and appends on HTTP 206 (starting over on a plain 200).
        The size is checked against the server's total and ``expected_size`` (bytes);
        only a complete file is renamed to ``dest``.  ``progress(bytes_so_far, total)``
        counts the resumed bytes too.  On cancel (:class:`Cancelled`) or a network failure
        the ``.part`` file is kept for the next try; a size that contradicts the server's
        total or ``expected_size`` discards it (:class:`CorruptDownload`).  ``dest`` is
        never partial.  A file larger than ``max_bytes`` (default
        :data:`~allen_viewer.api.limits.MAX_REFERENCE_BYTES`) is refused, or cut off there
        when the server does not say its size; one that does not fit in the free space of
        the folder is not started (:class:`AllenViewerError`).
        """
        self._check_online(f"downloading {relpath}")
        url = self.file_url(relpath)
        dest = Path(dest)
        part = dest.with_suffix(dest.suffix + ".part")
        what = f"Download of {PurePosixPath(relpath).name}"
        _make_dir(dest.parent)
        known_total: list[int | None] = [expected_size]
        cap = int(max_bytes) if max_bytes is not None else MAX_REFERENCE_BYTES

        def once() -> None:
            for _ in range(2):  # a second pass only after discarding an unusable .part
                if self._fetch_part(url, part, known_total, expected_size, progress, cancel, what, cap):
                    return
            raise _Transient("short", "the answers did not fit the partial file")

        self._retrying(url, once, cancel, what)
        size, total = _size(part), known_total[0]
        if total is not None and size != total:
            _unlink(part)
            raise CorruptDownload(
                f"{self._who(url)} sent {size:,} bytes of {relpath}, expected {total:,}; nothing was saved.")
        try:
            os.replace(part, dest)
        except OSError as exc:
            raise _write_error(dest, exc) from None
        return dest

    def _fetch_part(self, url, part: Path, known_total: list, expected_size, progress, cancel, what,
                    cap: int = MAX_REFERENCE_BYTES) -> bool:
        """One request for the missing bytes of ``part``; True when ``part`` is complete."""
        _check_cancel(cancel, what)
        have = _size(part)
        if expected_size is not None and have > expected_size:
            _unlink(part)
            have = 0
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        with self.session.get(url, stream=True, timeout=self.timeout, headers=headers) as resp:
            if resp.status_code == 416 and have:
                total = _range_total(resp.headers.get("Content-Range")) or expected_size
                if total is not None and total == have:
                    known_total[0] = total
                    return True
                _unlink(part)  # the .part does not fit the file on the server: start over
                return False
            if resp.status_code == 404:
                raise ServiceUnavailable(f"{self._who(url)} has no file {urllib.parse.urlsplit(url).path} (HTTP 404).")
            self._check_response(resp, url)
            if resp.status_code == 206:
                match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
                if not match or match.group(1) is None or int(match.group(1)) != have:
                    _unlink(part)  # an answer for other bytes than asked: start over
                    return False
                total = None if match.group(3) == "*" else int(match.group(3))
                mode, start = "ab", have
            else:
                length = _as_int(resp.headers.get("Content-Length"))
                total, mode, start = length, "wb", 0
            if total is not None and expected_size is not None and total != expected_size:
                _unlink(part)
                raise CorruptDownload(
                    f"{self._who(url)} offers {urllib.parse.urlsplit(url).path} with {total:,} bytes, "
                    f"not the expected {expected_size:,}; nothing was saved.")
            total = total if total is not None else expected_size
            known_total[0] = total
            if total is not None and total > cap:
                _unlink(part)
                raise CorruptDownload(
                    f"{self._who(url)} offers {urllib.parse.urlsplit(url).path} with {total:,} bytes, more than "
                    f"the {cap:,} such a file can be; nothing was saved.")
            check_free_space(part.parent, (total if total is not None else cap) - start, PurePosixPath(url).name)
            try:
                fh = open(part, mode)
            except OSError as exc:
                raise _write_error(part, exc) from None
            with fh:
                try:
                    done = self._stream(resp, fh, str(part), start, total, progress, cancel, what,
                                        limit=min(cap, total) if total is not None else cap, url=url)
                except CorruptDownload:  # ran past the cap: what arrived is no use for resuming
                    fh.close()
                    _unlink(part)
                    raise
                _sync(fh, str(part))
        if total is None:
            return True
        if done < total:
            raise _Transient("short", f"{done} of {total} bytes")
        if done > total:
            _unlink(part)
            raise CorruptDownload(
                f"{self._who(url)} sent {done:,} bytes of {urllib.parse.urlsplit(url).path}, "
                f"more than its {total:,}; nothing was saved.")
        return True

    # ------------------------------------------------------------------ plumbing

    def _check_online(self, what: str) -> None:
        if config.offline():
            raise Offline(f"Offline mode (ALLEN_VIEWER_OFFLINE) is on: {what} needs the network.")

    def _who(self, url: str) -> str:
        kind = "download server" if url.startswith(self.download_url + "/") else "API"
        return f"The Allen {kind} at {_host(url)}"

    def _get_json(self, url: str) -> dict:
        """GET a JSON envelope, with retries; return it when ``success`` is true."""

        def once() -> dict:
            resp = self.session.get(url, timeout=self.timeout, headers={"Accept": "application/json"}, stream=True)
            with resp:
                if resp.status_code == 404:
                    raise ServiceUnavailable(
                        f"{self._who(url)} has no {urllib.parse.urlsplit(url).path} (HTTP 404).")
                self._check_response(resp, url)
                body = self._read_body(resp, url, MAX_JSON_BYTES)
            try:
                data = loads_bounded(body, self._who(url))
            except ValueError:
                # an outage page served without a text/html type is still an outage page
                raise _Transient("html" if body.lstrip()[:1] == b"<" else "json") from None
            if not isinstance(data, dict) or "success" not in data:
                raise _Transient("json", "not an API envelope")
            if data["success"] not in (True, "true"):
                raise ServiceUnavailable(f"{self._who(url)} rejected the query: {_envelope_message(data)}")
            return data

        return self._retrying(url, once)

    def _check_response(self, resp: requests.Response, url: str) -> None:
        """Raise for an answer that is not the data asked for (status, HTML outage page)."""
        code = resp.status_code
        if code in RETRY_STATUS:
            raise _Transient("status", _failure_text(resp), status=code,
                             retry_after=retry_after_seconds(resp.headers.get("Retry-After")))
        ctype = resp.headers.get("Content-Type", "").lower()
        if code < 400 and "html" in ctype:
            raise _Transient("html")
        if code >= 400 or code < 200:
            detail = _failure_text(resp)
            raise ServiceUnavailable(
                f"{self._who(url)} refused the request (HTTP {code})" + (f": {detail}" if detail else "."))

    def _read_body(self, resp, url: str, limit: int) -> bytes:
        """The whole body (at most ``limit`` bytes, at the minimum rate) in memory."""
        length = _as_int(resp.headers.get("Content-Length"))
        if length is not None and length > limit:
            raise ServiceUnavailable(f"{self._who(url)} announced an answer of {length:,} bytes, more than the "
                                     f"{limit:,} allowed; it was not read.")
        guard = RateGuard(self._who(url), self.limits)
        parts, done = [], 0
        for chunk in _chunks(resp, decode=True):  # gzip'd JSON is unpacked; the cap counts unpacked bytes
            done += len(chunk)
            if done > limit:
                raise ServiceUnavailable(f"{self._who(url)} sent an answer of more than {limit:,} bytes; "
                                         "it was dropped.")
            parts.append(chunk)
            guard.update(done)
        return b"".join(parts)

    def _stream(self, resp, fh, name: str, start: int, total, progress, cancel, what, limit=None,
                url: str | None = None) -> int:
        """Copy the body into ``fh``; return the byte count including ``start``.  A body
        growing past ``limit`` bytes raises :class:`CorruptDownload` (the caller removes it);
        one slower than the client's ``limits`` raises :class:`~allen_viewer.api.limits.TooSlow`."""
        done = start
        who = self._who(url) if url else what
        guard = RateGuard(f"{who} ({what.lower()})" if url else who, self.limits,
                          expected=(total - start) if total is not None else None)
        if progress is not None:
            progress(done, total)
        for chunk in _chunks(resp):
            _check_cancel(cancel, what)
            guard.update(done + len(chunk) - start)
            if limit is not None and done + len(chunk) > limit:
                raise CorruptDownload(f"{what} ran past {limit:,} bytes, far more than such a file can be; "
                                      "it was stopped and nothing was saved.")
            try:
                fh.write(chunk)
            except OSError as exc:
                raise _write_error(Path(name), exc) from None
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        return done

    def _retrying(self, url: str, once: Callable, cancel: Cancel | None = None, what: str = "Request"):
        """Call ``once()`` up to ``self.retries`` times, sleeping between tries."""
        last: _Transient | None = None
        for attempt in range(self.retries):
            if attempt:
                wait = self.backoff * 2 ** (attempt - 1)
                if last is not None and last.retry_after is not None:  # the server said how long (429, 503)
                    if last.retry_after > MAX_RETRY_AFTER_S:
                        break  # not worth waiting for: say so now
                    wait = max(wait, last.retry_after)
                _sleep(wait, cancel, what)
            _check_cancel(cancel, what)
            try:
                return once()
            except _Transient as exc:
                last = exc
            except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException,
                    ConnectionError, TimeoutError, socket.timeout) as exc:
                last = self._network_failure(exc, url)
        raise ServiceUnavailable(self._give_up(url, last))

    def _network_failure(self, exc: BaseException, url: str) -> _Transient:
        """Map a network exception: unreachable host -> :class:`Offline`; else a retryable kind."""
        host = _host(url)
        chain = list(_causes(exc))
        if any(isinstance(e, (urllib3.exceptions.NameResolutionError, socket.gaierror)) for e in chain):
            raise Offline(f"Cannot reach {host} (the host name does not resolve). {_OFFLINE_HINT}") from None
        if any(isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED
               for e in chain):
            raise Offline(f"Cannot reach {host} (connection refused). {_OFFLINE_HINT}") from None
        if any(getattr(e, "errno", None) in (errno.ENETUNREACH, errno.EHOSTUNREACH) for e in chain):
            raise Offline(f"Cannot reach {host} (network unreachable). {_OFFLINE_HINT}") from None
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema, requests.exceptions.URLRequired)):
            raise AllenViewerError(
                f"{url} is not a usable address ({exc}); check ALLEN_API_URL and ALLEN_DOWNLOAD_URL.") from None
        for e in chain:
            if isinstance(e, (requests.Timeout, socket.timeout, TimeoutError)) or (
                    isinstance(e, urllib3.exceptions.TimeoutError)
                    and not isinstance(e, urllib3.exceptions.NewConnectionError)):
                return _Transient("timeout", str(exc))
        return _Transient("reset", str(exc))

    def _give_up(self, url: str, last: _Transient | None) -> str:
        who = self._who(url)
        tries = f"{self.retries} {'try' if self.retries == 1 else 'tries'}"
        kind = last.kind if last else "reset"
        if kind == "html":
            return f"{who} answered with an HTML page instead of data ({tries}); the service may be down. Try again later."
        if kind == "timeout":
            return f"{who} timed out after {tries}; the service may be down or the network slow. Try again later."
        if kind == "status" and last.status == 429:
            asked = (f"; it asks to wait {last.retry_after:,.0f} s" if last.retry_after is not None else "")
            return (f"{who} is rate-limiting requests (HTTP 429{asked}); wait a while and try again, "
                    "with fewer parallel downloads if several run.")
        if kind == "status":
            said = f" (it said: {last.detail})" if last.detail else ""
            return f"{who} returned HTTP {last.status} ({tries}){said}; the service may be down. Try again later."
        if kind == "json":
            return f"{who} answered with data that is not valid JSON ({tries}); the service may be down. Try again later."
        if kind == "short":
            return f"{who} sent an incomplete file ({tries}); the service or the network may be unstable. Try again later."
        return (f"{who} dropped the connection ({tries}); the service may be down or the network unstable. "
                "Try again later.")


# ---------------------------------------------------------------------- helpers


def _chunks(resp: requests.Response, decode: bool = False) -> Iterator[bytes]:
    """The body in pieces of at most ``CHUNK_BYTES``, each yielded as soon as it arrives, so
    that a connection dropped midway loses nothing that was received (``iter_content``
    would drop the last partial piece).  Falls back to ``iter_content`` on old urllib3.
    ``decode``: undo a ``Content-Encoding`` (gzip) as ``resp.content`` would."""
    read1 = getattr(resp.raw, "read1", None)
    if read1 is None:
        yield from resp.iter_content(CHUNK_BYTES)
        return
    while True:
        chunk = read1(CHUNK_BYTES, decode_content=True) if decode else read1(CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _as_int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _range_total(content_range: str | None) -> int | None:
    match = _CONTENT_RANGE.match(content_range or "")
    return int(match.group(3)) if match and match.group(3) != "*" else None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (causes, contexts, args, urllib3 ``reason``)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen or not isinstance(e, BaseException):
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None)])
        todo.extend(a for a in e.args if isinstance(a, BaseException))


def _envelope_message(data: dict) -> str:
    msg = data.get("msg")
    if isinstance(msg, str) and msg.strip():
        return clean_text(msg)
    return "no reason given"


def _failure_text(resp: requests.Response) -> str:
    """The service's own message in an error answer, when it is a JSON envelope."""
    try:
        data = json.loads(_head_bytes(resp, 65536))
    except (ValueError, RecursionError, requests.RequestException, urllib3.exceptions.HTTPError, OSError):
        return ""
    if isinstance(data, dict) and isinstance(data.get("msg"), str):
        return clean_text(data["msg"])
    return ""


def _head_bytes(resp: requests.Response, n: int) -> bytes:
    """At most the first ``n`` bytes of the body, without reading the rest of a streamed one."""
    if getattr(resp, "_content_consumed", False) or not hasattr(resp.raw, "read"):
        return (resp.content or b"")[:n]
    return resp.raw.read(n, decode_content=True) or b""


def _find_node(msg, node_id: int) -> dict | None:
    """The node ``node_id`` among ``msg`` or within two levels below it (a wrapper root)."""
    level = [n for n in msg if isinstance(n, dict)] if isinstance(msg, list) else []
    for _ in range(3):
        for node in level:
            if node.get("id") == node_id:
                return node
        level = [c for n in level for c in (n.get("children") or []) if isinstance(c, dict)]
    return None


def _check_cancel(cancel: Cancel | None, what: str) -> None:
    if cancel is not None and cancel():
        raise Cancelled(what)


def _sleep(seconds: float, cancel: Cancel | None, what: str) -> None:
    """Sleep, waking every 0.1 s to honour ``cancel``."""
    end = time.monotonic() + seconds
    while True:
        _check_cancel(cancel, what)
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))


def _write_error(path: Path | str, exc: OSError) -> AllenViewerError:
    reason = exc.strerror or str(exc)
    return AllenViewerError(f"Cannot write {path} ({reason}); check the disk space and permissions.")


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AllenViewerError(
            f"Cannot create the folder {path} ({exc.strerror or exc}); check the permissions.") from None


def _sync(fh, name: str) -> None:
    try:
        fh.flush()
        os.fsync(fh.fileno())
    except OSError as exc:
        raise _write_error(name, exc) from None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _remove(names: list[str]) -> None:
    while names:
        try:
            os.unlink(names.pop())
        except FileNotFoundError:
            pass
