"""HTTP transport of the Allen client: session, retries, streaming with caps, atomic downloads.

Knows HTTP and the file system, nothing of the Allen API's queries or formats (those are
:mod:`allen_viewer.api.client`'s endpoints).  A :class:`Transport` holds a ``requests``
session and gives the endpoints:

* :meth:`Transport.get_json`: a bounded JSON answer (at most ``MAX_JSON_BYTES``), checked
  by the caller's ``validate``;
* :meth:`Transport.download_checked`: a whole file streamed into a temporary sibling
  (:class:`~allen_viewer.io.atomic.AtomicFile`), handed to the caller's check, then
  renamed over the destination;
* :meth:`Transport.download_resumable`: a large file into ``<dest>.part``, resumed with
  ``Range`` after an interruption, renamed once complete
  (:func:`~allen_viewer.io.atomic.replace_file`).

Every body is streamed under the client's :class:`~allen_viewer.api.limits.DownloadLimits`
(minimum rate, deadline) and a size cap.  Timeouts, dropped connections, HTTP
429/500/502/503/504, HTML outage pages and unparsable JSON are retried with exponential
backoff (``backoff * 2**n`` seconds before the n-th retry, n = 0, 1, ...; at least what a
``Retry-After`` asks, when it asks for at most ``MAX_RETRY_AFTER_S``); after the last try the
caller gets :class:`ServiceUnavailable` with one plain sentence.  A host that cannot be
reached (connection refused, name not resolving, network unreachable) raises
:class:`Offline` at once.  Messages name the server as ``describe(url)`` says
("The Allen API at host").
"""
from __future__ import annotations

import errno
import http.client
import json
import os
import re
import socket
import time
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator

import requests
import urllib3.exceptions

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
from allen_viewer.errors import AllenViewerError, Cancelled, CorruptData, CorruptDownload, Offline, ServiceUnavailable
from allen_viewer.io.atomic import AtomicFile, replace_file
from allen_viewer.io.guard import write_error
from allen_viewer.sanitize import clean_text, mask_credentials

Progress = Callable[[int, "int | None"], None]
"""``progress(done, total)``: bytes (downloads) or rows (RMA paging) so far, and the total
when the server said it (else ``None``)."""
Cancel = Callable[[], bool]
"""A zero-argument callable returning True to cancel, e.g. ``threading.Event().is_set``."""

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
CHUNK_BYTES = 256 * 1024
OFFLINE_HINT = "Check the network connection; embedded genes and grids already downloaded work without it."
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.I)


class Transient(Exception):
    """One failed try worth repeating; ``kind`` picks the final message."""

    def __init__(self, kind: str, detail: str = "", status: int | None = None, retry_after: float | None = None):
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after  # seconds the server's Retry-After asked for


class Transport:
    """A ``requests`` session with the viewer's retries, caps and atomic downloads.

    ``timeout``: (connect, read) seconds, as ``requests`` takes it; the read timeout is the
    longest silence allowed between two chunks, not a limit on a whole download.
    ``retries``: how many tries each request gets in all (at least 1).
    ``backoff``: seconds before the first retry; doubled for each further retry.
    ``session``: a ``requests.Session`` to use (one is made otherwise, with ``user_agent``).
    ``limits``: minimum rate and deadline of every body (:mod:`allen_viewer.api.limits`).
    ``describe(url)``: how messages name the server of ``url`` (default "The server at host").
    """

    def __init__(self, *, timeout: float | tuple[float, float] = (9.05, 31.1), retries: int = 3,
                 backoff: float = 1.0, session: requests.Session | None = None,
                 limits: DownloadLimits | None = None, describe: Callable[[str], str] | None = None,
                 user_agent: str | None = None):
        self.timeout = timeout
        self.retries = max(1, int(retries))
        self.backoff = max(0.0, float(backoff))
        self.limits = limits or DEFAULT_LIMITS
        self.describe = describe or (lambda url: f"The server at {host(url)}")
        self._own_session = session is None
        self.session = session if session is not None else requests.Session()
        if self._own_session and user_agent:
            self.session.headers["User-Agent"] = user_agent

    def close(self) -> None:
        """Close the HTTP session if this transport made it."""
        if self._own_session:
            self.session.close()

    # ------------------------------------------------------------------ JSON answers

    def get_json(self, url: str, validate: Callable[[object], object] = lambda data: data):
        """GET a JSON answer, with retries; return ``validate(data)``.

        HTTP 404 raises :class:`ServiceUnavailable` at once; an answer over
        ``MAX_JSON_BYTES`` is refused; a body that is not JSON is retried (as an outage page
        when it starts with ``<``).  ``validate`` may raise :class:`Transient` (retried) or
        an :class:`AllenViewerError` (not retried).
        """

        def once():
            resp = self.session.get(url, timeout=self.timeout, headers={"Accept": "application/json"}, stream=True)
            with resp:
                if resp.status_code == 404:
                    raise ServiceUnavailable(
                        f"{self.describe(url)} has no {urllib.parse.urlsplit(url).path} (HTTP 404).")
                self.check_response(resp, url)
                body = self.read_body(resp, url, MAX_JSON_BYTES)
            try:
                data = loads_bounded(body, self.describe(url))
            except ValueError:
                # an outage page served without a text/html type is still an outage page
                raise Transient("html" if body.lstrip()[:1] == b"<" else "json") from None
            return validate(data)

        return self.retrying(url, once)

    def check_response(self, resp: requests.Response, url: str) -> None:
        """Raise for an answer that is not the data asked for (status, HTML outage page)."""
        code = resp.status_code
        if code in RETRY_STATUS:
            raise Transient("status", _failure_text(resp), status=code,
                            retry_after=retry_after_seconds(resp.headers.get("Retry-After")))
        ctype = resp.headers.get("Content-Type", "").lower()
        if code < 400 and "html" in ctype:
            raise Transient("html")
        if code >= 400 or code < 200:
            detail = _failure_text(resp)
            raise ServiceUnavailable(
                f"{self.describe(url)} refused the request (HTTP {code})" + (f": {detail}" if detail else "."))

    def read_body(self, resp, url: str, limit: int) -> bytes:
        """The whole body (at most ``limit`` bytes, at the minimum rate) in memory."""
        who = self.describe(url)
        length = as_int(resp.headers.get("Content-Length"))
        if length is not None and length > limit:
            raise ServiceUnavailable(f"{who} announced an answer of {length:,} bytes, more than the "
                                     f"{limit:,} allowed; it was not read.")
        guard = RateGuard(who, self.limits)
        parts, done = [], 0
        for chunk in chunks(resp, decode=True):  # gzip'd JSON is unpacked; the cap counts unpacked bytes
            done += len(chunk)
            if done > limit:
                raise ServiceUnavailable(f"{who} sent an answer of more than {limit:,} bytes; it was dropped.")
            parts.append(chunk)
            guard.update(done)
        return b"".join(parts)

    # ------------------------------------------------------------------ whole files

    def download_checked(self, url: str, dest: Path, what: str, limit: int, check: Callable[[Path], None],
                         progress: Progress | None, cancel: Cancel | None, *,
                         not_found: Callable[[], Exception], too_big: Callable[[int], str]) -> Path:
        """The one streamed, validated, atomic download of a whole file (grids, section images).

        The body is streamed (the ``limits``: minimum rate, deadline; at most ``limit``
        bytes) into a temporary file next to ``dest``, retried on transient failures, handed
        to ``check(temp_path)`` (which raises to refuse it), then renamed over ``dest``
        (never over a folder, link or special file).  HTTP 404 raises ``not_found()``; an
        announced size over ``limit`` raises :class:`CorruptDownload` with ``too_big(size)``.
        ``dest`` is left as it was on any failure and the temporary file is always removed."""
        make_dir(dest.parent)
        held: list[AtomicFile] = []

        def once() -> None:
            while held:
                held.pop().discard()
            check_cancel(cancel, what)
            with self.session.get(url, stream=True, timeout=self.timeout,
                                  headers={"Accept-Encoding": "identity"}) as resp:
                if resp.status_code == 404:
                    raise not_found()
                self.check_response(resp, url)
                total = as_int(resp.headers.get("Content-Length"))
                if total is not None and total > limit:
                    raise CorruptDownload(too_big(total))
                try:
                    tmp = AtomicFile(dest)
                except OSError as exc:
                    raise write_error(dest.parent, exc) from None
                held.append(tmp)
                done = self.stream(resp, tmp.file, tmp.name, 0, total, progress, cancel, what, limit=limit, url=url)
                try:
                    tmp.sync()
                except OSError as exc:
                    raise write_error(tmp.name, exc) from None
                if total is not None and done != total:
                    raise Transient("short", f"{done} of {total} bytes")

        try:
            self.retrying(url, once, cancel, what)
            check(Path(held[-1].name))
            try:
                held[-1].commit()
            except OSError as exc:
                raise write_error(dest, exc) from None
            return dest
        finally:
            while held:
                held.pop().discard()

    def download_resumable(self, url: str, dest: Path, what: str, expected_size: int | None = None,
                           progress: Progress | None = None, cancel: Cancel | None = None,
                           cap: int = MAX_REFERENCE_BYTES, label: str | None = None,
                           check: Callable[[Path], None] | None = None) -> Path:
        """Download a large file to ``dest``, resumably (see ``AllenClient.download_file``).

        Bytes go to ``dest`` + ``.part``; one left by an earlier, interrupted try is resumed
        with ``Range: bytes=N-`` (appended on HTTP 206, started over on a plain 200) -- but
        only when its origin is known and confirmed (:func:`origin_path`): the ``.part`` was
        started by this program from this URL, the server named the file's version then (ETag
        or Last-Modified), the request carries it as ``If-Range`` and the 206 answer's
        Content-Range and ETag match; a ``.part`` of unknown or other content starts over
        from zero.  ``check(part)`` (raising :class:`CorruptData`) checks the whole file,
        resumed or not, before it is renamed to ``dest`` and reported saved.  Only a
        complete file, of the server's total and ``expected_size`` (bytes), is renamed to
        ``dest``.  A file over ``cap`` bytes is refused (cut off there when the server does
        not say its size).  ``label`` names the file in messages (default: the URL's path)."""
        part = dest.with_suffix(dest.suffix + ".part")
        make_dir(dest.parent)
        known_total: list[int | None] = [expected_size]
        label = label if label is not None else urllib.parse.urlsplit(url).path

        def once() -> None:
            for _ in range(2):  # a second pass only after discarding an unusable .part
                if self._fetch_part(url, part, known_total, expected_size, progress, cancel, what, cap):
                    return
            raise Transient("short", "the answers did not fit the partial file")

        self.retrying(url, once, cancel, what)
        size, total = file_size(part), known_total[0]
        if total is not None and size != total:
            discard_part(part)
            raise CorruptDownload(
                f"{self.describe(url)} sent {size:,} bytes of {label}, expected {total:,}; nothing was saved.")
        if check is not None:  # the whole file, resumed or not, before it is reported saved
            try:
                check(part)
            except CorruptData as exc:
                discard_part(part)
                raise CorruptDownload(f"{self.describe(url)} sent {label} damaged ({exc}); nothing was saved. "
                                      "Try again later.") from None
        unlink(origin_path(part))
        try:
            replace_file(part, dest, sync=False)  # the .part was fsync'ed as it was written
        except OSError as exc:
            raise write_error(dest, exc) from None
        return dest

    def _fetch_part(self, url, part: Path, known_total: list, expected_size, progress, cancel, what,
                    cap: int = MAX_REFERENCE_BYTES) -> bool:
        """One request for the missing bytes of ``part``; True when ``part`` is complete."""
        check_cancel(cancel, what)
        have = file_size(part)
        origin = read_origin(part)
        validator = _if_range(origin)
        if have and (expected_size is not None and have > expected_size or origin is None
                     or origin.get("url") != url or not validator):
            discard_part(part)  # of unknown or other origin: never resumed blindly
            have, origin = 0, None
        headers = {"Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
            headers["If-Range"] = validator
        who = self.describe(url)
        path = urllib.parse.urlsplit(url).path
        with self.session.get(url, stream=True, timeout=self.timeout, headers=headers) as resp:
            if resp.status_code == 416 and have:
                total = _range_total(resp.headers.get("Content-Range")) or expected_size
                if total is not None and total == have and total == origin.get("total", total) \
                        and _same_version(origin, resp):
                    known_total[0] = total
                    return True
                discard_part(part)  # the .part does not fit the file on the server: start over
                return False
            if resp.status_code == 404:
                raise ServiceUnavailable(f"{who} has no file {path} (HTTP 404).")
            self.check_response(resp, url)
            if resp.status_code == 206:
                match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
                if (not have or not match or match.group(1) is None or int(match.group(1)) != have
                        or (origin.get("total") is not None and match.group(3) != str(origin["total"]))
                        or not _same_version(origin, resp)):
                    discard_part(part)  # an answer for other bytes or another version: start over
                    return False
                total = None if match.group(3) == "*" else int(match.group(3))
                mode, start = "ab", have
            else:
                length = as_int(resp.headers.get("Content-Length"))
                total, mode, start = length, "wb", 0
            if total is not None and expected_size is not None and total != expected_size:
                discard_part(part)
                raise CorruptDownload(
                    f"{who} offers {path} with {total:,} bytes, not the expected {expected_size:,}; nothing was saved.")
            total = total if total is not None else expected_size
            known_total[0] = total
            if total is not None and total > cap:
                discard_part(part)
                raise CorruptDownload(
                    f"{who} offers {path} with {total:,} bytes, more than the {cap:,} such a file can be; "
                    "nothing was saved.")
            check_free_space(part.parent, (total if total is not None else cap) - start, PurePosixPath(url).name)
            if mode == "wb":
                write_origin(part, url, resp, length)  # what this .part is, for a later resume
            try:
                fh = open(part, mode)
            except OSError as exc:
                raise write_error(part, exc) from None
            with fh:
                try:
                    done = self.stream(resp, fh, str(part), start, total, progress, cancel, what,
                                       limit=min(cap, total) if total is not None else cap, url=url)
                except CorruptDownload:  # ran past the cap: what arrived is no use for resuming
                    fh.close()
                    discard_part(part)
                    raise
                _sync(fh, str(part))
        if total is None:
            return True
        if done < total:
            raise Transient("short", f"{done} of {total} bytes")
        if done > total:
            discard_part(part)
            raise CorruptDownload(f"{who} sent {done:,} bytes of {path}, more than its {total:,}; nothing was saved.")
        return True

    # ------------------------------------------------------------------ streaming and retries

    def stream(self, resp, fh, name: str, start: int, total, progress, cancel, what, limit=None,
               url: str | None = None) -> int:
        """Copy the body into ``fh``; return the byte count including ``start``.  A body
        growing past ``limit`` bytes raises :class:`CorruptDownload` (the caller removes it);
        one slower than the ``limits`` raises :class:`~allen_viewer.api.limits.TooSlow`."""
        done = start
        who = self.describe(url) if url else what
        guard = RateGuard(f"{who} ({what.lower()})" if url else who, self.limits,
                          expected=(total - start) if total is not None else None)
        if progress is not None:
            progress(done, total)
        for chunk in chunks(resp):
            check_cancel(cancel, what)
            guard.update(done + len(chunk) - start)
            if limit is not None and done + len(chunk) > limit:
                raise CorruptDownload(f"{what} ran past {limit:,} bytes, far more than such a file can be; "
                                      "it was stopped and nothing was saved.")
            try:
                fh.write(chunk)
            except OSError as exc:
                raise write_error(Path(name), exc) from None
            done += len(chunk)
            if progress is not None:
                progress(done, total)
        return done

    def retrying(self, url: str, once: Callable, cancel: Cancel | None = None, what: str = "Request"):
        """Call ``once()`` up to ``self.retries`` times, sleeping between tries."""
        last: Transient | None = None
        for attempt in range(self.retries):
            if attempt:
                wait = self.backoff * 2 ** (attempt - 1)
                if last is not None and last.retry_after is not None:  # the server said how long (429, 503)
                    if last.retry_after > MAX_RETRY_AFTER_S:
                        break  # not worth waiting for: say so now
                    wait = max(wait, last.retry_after)
                sleep(wait, cancel, what)
            check_cancel(cancel, what)
            try:
                return once()
            except Transient as exc:
                last = exc
            except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException,
                    ConnectionError, TimeoutError, socket.timeout) as exc:
                last = self.network_failure(exc, url)
        raise ServiceUnavailable(self.give_up(url, last))

    def network_failure(self, exc: BaseException, url: str) -> Transient:
        """Map a network exception: unreachable host -> :class:`Offline`; else a retryable kind."""
        where = host(url)
        chain = list(_causes(exc))
        if any(isinstance(e, (urllib3.exceptions.NameResolutionError, socket.gaierror)) for e in chain):
            raise Offline(f"Cannot reach {where} (the host name does not resolve). {OFFLINE_HINT}") from None
        if any(isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED
               for e in chain):
            raise Offline(f"Cannot reach {where} (connection refused). {OFFLINE_HINT}") from None
        if any(getattr(e, "errno", None) in (errno.ENETUNREACH, errno.EHOSTUNREACH) for e in chain):
            raise Offline(f"Cannot reach {where} (network unreachable). {OFFLINE_HINT}") from None
        if isinstance(exc, requests.exceptions.TooManyRedirects):
            raise ServiceUnavailable(
                f"{self.describe(url)} redirected the request in a loop (more than {self.session.max_redirects} "
                "redirects) and it was abandoned; the service is misconfigured. Try again later.") from None
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema, requests.exceptions.URLRequired)) \
                and urllib.parse.urlsplit(url).scheme in ("http", "https") and redirected_to(exc, url):
            # the address asked was fine: a redirect of the server's led somewhere no download may go
            scheme = urllib.parse.urlsplit(redirected_to(exc, url)).scheme or "an unknown"
            raise ServiceUnavailable(
                f"{self.describe(url)} redirected the request to a {scheme}:// address, which is never followed "
                "(only http and https are); nothing was fetched.") from None
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema, requests.exceptions.URLRequired)):
            raise AllenViewerError(
                f"{mask_credentials(url)} is not a usable address ({mask_credentials(exc)}); check ALLEN_API_URL and ALLEN_DOWNLOAD_URL.") from None
        for e in chain:
            if isinstance(e, (requests.Timeout, socket.timeout, TimeoutError)) or (
                    isinstance(e, urllib3.exceptions.TimeoutError)
                    and not isinstance(e, urllib3.exceptions.NewConnectionError)):
                return Transient("timeout", str(exc))
        return Transient("reset", str(exc))

    def give_up(self, url: str, last: Transient | None) -> str:
        """The one sentence for a request that failed every try (``last``: the last failure)."""
        who = self.describe(url)
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


def chunks(resp: requests.Response, decode: bool = False) -> Iterator[bytes]:
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


def origin_path(part: Path) -> Path:
    """Where the origin of a resumable ``.part`` is kept: ``NAME.origin.part`` beside it (JSON:
    the URL, the server's ETag and Last-Modified, the total size).  A ``.part`` without it is
    never resumed."""
    return part.with_name(part.name[:-len(".part")] + ".origin.part")


def read_origin(part: Path) -> dict | None:
    try:
        data = json.loads(origin_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_origin(part: Path, url: str, resp, total: int | None) -> None:
    etag = resp.headers.get("ETag") or ""
    record = {"url": url, "etag": etag if etag and not etag.startswith("W/") else "",
              "last_modified": resp.headers.get("Last-Modified") or "", "total": total}
    try:
        with AtomicFile(origin_path(part), "w") as tmp:
            json.dump(record, tmp.file)
            tmp.commit()
    except OSError:
        unlink(origin_path(part))  # without it the .part is not resumed, only started over


def discard_part(part: Path) -> None:
    unlink(part)
    unlink(origin_path(part))


def _if_range(origin: dict | None) -> str:
    """The If-Range validator of a recorded origin: its strong ETag, else its Last-Modified."""
    if not origin:
        return ""
    for key in ("etag", "last_modified"):
        value = origin.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _same_version(origin: dict, resp) -> bool:
    """Whether an answer names the version the ``.part`` was started from (when it names one)."""
    etag = resp.headers.get("ETag")
    if origin.get("etag") and etag and etag != origin["etag"]:
        return False
    modified = resp.headers.get("Last-Modified")
    return not (origin.get("last_modified") and modified and modified != origin["last_modified"])


def redirected_to(exc: BaseException, url: str) -> str:
    """The address a redirect led to when ``exc`` (an invalid-address error of ``requests``)
    names another address than ``url``, the one asked; "" when it is about ``url`` itself."""
    request = getattr(exc, "request", None)
    target = getattr(request, "url", None) if request is not None else None
    if not target:
        m = re.search(r"for '([^']*)'", str(exc)) or re.search(r"URL '([^']*)'", str(exc))
        target = m.group(1) if m else ""
    return target if target and target != url else ""


def host(url: str) -> str:
    """The ``host:port`` of a URL, never its user name or password (the URL itself, masked,
    when it has none or cannot be parsed)."""
    try:
        netloc = urllib.parse.urlsplit(url).netloc
    except ValueError:
        netloc = ""
    return netloc.rpartition("@")[2] or mask_credentials(url)


def as_int(value) -> int | None:
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


def check_cancel(cancel: Cancel | None, what: str) -> None:
    if cancel is not None and cancel():
        raise Cancelled(what)


def sleep(seconds: float, cancel: Cancel | None, what: str) -> None:
    """Sleep, waking every 0.1 s to honour ``cancel``."""
    end = time.monotonic() + seconds
    while True:
        check_cancel(cancel, what)
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))


def make_dir(path: Path) -> None:
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
        raise write_error(name, exc) from None


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
