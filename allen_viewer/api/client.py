"""The Allen Brain Atlas API's endpoints: the queries the viewer asks and how it reads the answers.

:class:`AllenClient` talks to the real service (``https://api.brain-map.org`` and
``https://download.alleninstitute.org/informatics-archive/current-release``, or whatever
``ALLEN_API_URL`` / ``ALLEN_DOWNLOAD_URL`` say) in the formats of ``docs/allen-api.md``:

* RMA metadata queries (``/api/v2/data/query.json?criteria=...``), paged 2000 rows at a time;
* the structure graph (``/api/v2/structure_graph_download/1.json``);
* expression grid zips (``/grid_data/download/<id>``), validated before they are kept;
* section images and the image synchronisation service;
* large reference files (NRRD volumes, zips) from the download server, resumable.

The HTTP side (session, retries, ``Retry-After``, timeouts, streaming with size, rate and
deadline caps, atomic temporary files) is :mod:`allen_viewer.api.transport`; this module
builds the URLs, checks the API's envelopes and validates what arrives.  Failures never
escape as raw ``requests``/JSON exceptions: after the transport's last try the caller gets
:class:`ServiceUnavailable` with one plain sentence; a host that cannot be reached at all
raises :class:`Offline` at once.  With ``ALLEN_VIEWER_OFFLINE`` set, every network method
raises :class:`Offline` before sending anything.
"""
from __future__ import annotations

import urllib.parse
from pathlib import Path, PurePosixPath

import requests

from allen_viewer import __version__, config
from allen_viewer.api import rma as rma_query
from allen_viewer.api.limits import MAX_REFERENCE_BYTES, DownloadLimits
from allen_viewer.api.transport import Cancel, Progress, Transient, Transport, as_int, host
from allen_viewer.errors import (
    AllenViewerError,
    CorruptData,
    CorruptDownload,
    Offline,
    ServiceUnavailable,
    UnknownExperiment,
    UnknownGene,
)
from allen_viewer.formats.grid_file import MAX_MEMBER_BYTES, VOLUME_NAMES, read_grid_zip
from allen_viewer.io.guard import write_error
from allen_viewer.sanitize import clean_text, is_id

__all__ = ["AllenClient", "Cancel", "Progress", "MAX_GRID_ZIP_BYTES", "ROOT_STRUCTURE_ID"]

ROOT_STRUCTURE_ID = 997
MAX_GRID_ZIP_BYTES = len(VOLUME_NAMES) * MAX_MEMBER_BYTES + 1024 * 1024
"""No grid zip is bigger (a real one is under 2 MB): a larger answer is refused, not stored."""
_host, _as_int = host, as_int
MAX_RMA_ROWS = 500_000
"""Most rows one RMA query may have (all ISH experiments: about 26,000; a section list: a
few hundred).  A server claiming more, or sending more, is refused: paging is bounded."""


class AllenClient:
    """Client of the Allen API (metadata, grids) and download server (reference files).

    ``timeout``: (connect, read) seconds, as ``requests`` takes it; the read timeout is
    the longest silence allowed between two chunks, not a limit on a whole download.
    ``retries``: how many tries each request gets in all (at least 1).
    ``backoff``: seconds before the first retry; doubled for each further retry.
    ``session``: a ``requests.Session`` to use (one is made otherwise).
    ``limits``: minimum rate and deadline of every body (:mod:`allen_viewer.api.limits`).
    These go to the client's :class:`~allen_viewer.api.transport.Transport` (``transport``)
    and read back from it.

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
        self.transport = Transport(timeout=timeout, retries=retries, backoff=backoff, session=session,
                                   limits=limits, describe=self._who,
                                   user_agent=f"allen_viewer/{__version__} (+requests)")

    # the transport's settings, read through the client as before
    session = property(lambda self: self.transport.session)
    timeout = property(lambda self: self.transport.timeout)
    retries = property(lambda self: self.transport.retries)
    backoff = property(lambda self: self.transport.backoff)
    limits = property(lambda self: self.transport.limits)

    def close(self) -> None:
        """Close the HTTP session if this client made it."""
        self.transport.close()

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
        seen_ids: set = set()
        seen_pages: set[int] = set()
        total = None
        while True:
            paged = rma_query.with_paging(criteria, start, page_size)
            url = f"{self.api_url}{rma_query.QUERY_PATH}?criteria={rma_query.encode(paged)}"
            envelope = self._get_json(url)
            page = envelope.get("msg")
            if not isinstance(page, list):
                raise ServiceUnavailable(
                    f"{self._who(url)} answered the query with {type(page).__name__} instead of a list of rows.")
            total = _as_int(envelope.get("total_rows"))
            _check_page(self._who(url), page, start, envelope, total, seen_ids, seen_pages)
            rows.extend(page)
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
        if total is not None and total >= 0 and len(rows) != total:
            raise ServiceUnavailable(f"{self._who(url)} sent {len(rows):,} rows in all for a list it said has "
                                     f"{total:,}; the list was not used.")
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
                raise write_error(path, exc) from None
            if is_id(held) and int(held) != experiment_id:  # not str.isdigit: '²' or 5,000 digits break int()
                raise CorruptDownload(
                    f"{self._who(url)} sent the grid of experiment {held} when asked for experiment "
                    f"{experiment_id}; nothing was saved. Try again later.")

        return self.transport.download_checked(
            url, dest, what, MAX_GRID_ZIP_BYTES, check, progress, cancel,
            not_found=lambda: UnknownExperiment(experiment_id),
            too_big=lambda total: (f"{self._who(url)} offers experiment {experiment_id} as {total:,} bytes, far "
                                   f"more than any grid zip ({MAX_GRID_ZIP_BYTES:,} at most); nothing was saved."))

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

        from allen_viewer.api.section_images import valid_id

        self._check_online(f"downloading section image {image_id}")
        image_id = int(image_id)
        if not valid_id(image_id):
            raise AllenViewerError(f"{image_id} cannot be a section image id (ids are whole numbers from 1 to "
                                   f"2**53 - 1); nothing was asked of the server.")
        url = self.section_image_url(image_id, downsample, quality, view)
        limit = image_size_cap(int(downsample))
        dest = Path(dest)
        what = f"Download of section image {image_id}"

        def check(path: Path) -> None:
            try:
                body = path.read_bytes()
            except OSError as exc:
                raise write_error(path, exc) from None
            check_jpeg(body, f"Section image {image_id} from {_host(url)}", int(downsample))

        return self.transport.download_checked(
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
        check=None,
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
        the folder is not started (:class:`AllenViewerError`).  ``check(path)`` (raising
        :class:`CorruptData`) checks the complete file before it is renamed to ``dest``; a
        ``.part`` is resumed only when its origin is confirmed (``Transport.download_resumable``).
        """
        self._check_online(f"downloading {relpath}")
        url = self.file_url(relpath)
        dest = Path(dest)
        what = f"Download of {PurePosixPath(relpath).name}"
        cap = int(max_bytes) if max_bytes is not None else MAX_REFERENCE_BYTES
        return self.transport.download_resumable(url, dest, what, expected_size, progress, cancel, cap,
                                                 label=str(relpath), check=check)

    # ------------------------------------------------------------------ plumbing

    def _check_online(self, what: str) -> None:
        if config.offline():
            raise Offline(f"Offline mode (ALLEN_VIEWER_OFFLINE) is on: {what} needs the network.")

    def _who(self, url: str) -> str:
        kind = "download server" if url.startswith(self.download_url + "/") else "API"
        return f"The Allen {kind} at {_host(url)}"

    def _get_json(self, url: str) -> dict:
        """GET an API JSON envelope, with the transport's retries; return it when ``success``
        is true (an answer that is no envelope is retried, a failure envelope is not)."""

        def envelope(data) -> dict:
            if not isinstance(data, dict) or "success" not in data:
                raise Transient("json", "not an API envelope")
            if data["success"] not in (True, "true"):
                raise ServiceUnavailable(f"{self._who(url)} rejected the query: {_envelope_message(data)}")
            return data

        return self.transport.get_json(url, envelope)


# ---------------------------------------------------------------------- helpers


def _check_page(who: str, page: list, start: int, envelope: dict, total: int | None, seen_ids: set,
                seen_pages: set) -> None:
    """Refuse a page of an RMA list that a true list cannot have (docs/reliability.md, "Paging"):
    a claimed total over :data:`MAX_RMA_ROWS`, or rows running past it; a ``start_row`` other
    than the one asked; a row id already seen on an earlier page (the list is ordered by id, so
    a repeated id means repeated pages, e.g. a server that ignores ``start_row``); a page
    identical to an earlier one (rows without ids)."""
    def refuse(why: str) -> ServiceUnavailable:
        return ServiceUnavailable(f"{who} sent an inconsistent list ({why}); it was abandoned and nothing was "
                                  "changed. Try again later.")

    if total is not None and total > MAX_RMA_ROWS:
        raise refuse(f"it claims {total:,} rows, more than the {MAX_RMA_ROWS:,} any list this program asks for "
                     "can have")
    if start + len(page) > MAX_RMA_ROWS:
        raise refuse(f"more than {MAX_RMA_ROWS:,} rows")
    answered = _as_int(envelope.get("start_row"))
    if answered is not None and answered != start and page:
        raise refuse(f"rows from {answered:,} were sent when rows from {start:,} were asked")
    ids = [row.get("id") for row in page if isinstance(row, dict)]
    if ids and all(isinstance(i, (int, str)) and not isinstance(i, bool) for i in ids):
        keys = [str(i) for i in ids]
        if not seen_ids.isdisjoint(keys):  # rows repeated within one page are the row checks' business
            raise refuse(f"rows {start + 1:,} to {start + len(page):,} repeat ids already sent: the same rows "
                         "came again, as from a server that ignores start_row")
        seen_ids.update(keys)
    elif page:
        import hashlib

        digest = int.from_bytes(hashlib.sha256(repr(page).encode("utf-8", "replace")).digest()[:8], "big")
        if digest in seen_pages:
            raise refuse(f"rows {start + 1:,} to {start + len(page):,} are a page already sent")
        seen_pages.add(digest)


def _envelope_message(data: dict) -> str:
    msg = data.get("msg")
    if isinstance(msg, str) and msg.strip():
        return clean_text(msg)
    return "no reason given"


def _find_node(msg, node_id: int) -> dict | None:
    """The node ``node_id`` among ``msg`` or within two levels below it (a wrapper root)."""
    level = [n for n in msg if isinstance(n, dict)] if isinstance(msg, list) else []
    for _ in range(3):
        for node in level:
            if node.get("id") == node_id:
                return node
        level = [c for n in level for c in (n.get("children") or []) if isinstance(c, dict)]
    return None
