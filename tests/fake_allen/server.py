"""A loopback fake of the Allen API and download server, with fault injection.

It answers on ``127.0.0.1`` (a free port) in the formats of ``docs/allen-api.md``:

* ``GET /api/v2/data/query.json?criteria=<RMA>`` (or ``q=``), percent-encoded; paging by
  ``rma::options[num_rows$eqN][start_row$eqM][order$eq...]`` or by ``&num_rows=&start_row=``
  URL parameters (50 rows when neither is given, like the real service); the JSON envelope
  ``{success, id, start_row, num_rows, total_rows, msg}``; a failure envelope
  (``success: false``, ``msg`` a string) for criteria it cannot run;
* the same path with ``criteria=service::mouse_differential[...]`` or
  ``service::mouse_correlation[...]``: the search services (``services.py``);
* ``GET /api/v2/structure_graph_download/1.json``: the envelope with ``msg = [root 997]``;
* ``GET /grid_data/download/<id>[?include=energy,intensity,density]``: the real zips of
  71717084 and 74272479, GENERATED grids for the other experiments of the index (see
  :mod:`tests.fake_allen.data`), 404 for unknown ids;
* ``GET /api/v2/reference_to_image/<space>.json?x=&y=&z=&section_data_set_ids=`` and
  ``GET /api/v2/image_download/<section image id>?downsample=n[&quality=q][&view=expression]``:
  GENERATED section images (:mod:`tests.fake_allen.sections`); experiments in
  ``FakeAllen.no_section_images`` have none; unknown image ids get 404 with an HTML body;
* ``GET /informatics-archive/current-release/<relpath>``: reference files, with
  ``Range: bytes=N-`` (206 / 416), ``Accept-Ranges``, ``ETag`` and ``If-Range``.

Faults (:meth:`FakeAllen.inject`) hit the next ``times`` requests whose path starts with
the given prefix:

=================== ==============================================================
``html``            200 outage page instead of the answer (``content_type``, default
                    ``text/html``)
``status``          HTTP ``code`` (default 503) with a small HTML error page
``timeout``/``delay`` sleep ``seconds`` (default 2.0), then answer normally
``reset``           close the connection (TCP RST) without answering
``bad_json``        200 ``application/json`` with a cut-off JSON body
``failure_envelope`` 200 with ``success: false`` and ``msg`` (default a data access error)
``truncate``        the body cut to ``fraction`` (default 0.5) of its length, honest
                    ``Content-Length`` (the file itself is short)
``corrupt``         ``count`` bytes (default 64) flipped at ``fraction`` (default 0.5)
``kill_after_bytes`` full ``Content-Length``, ``nbytes`` bytes of body, then the
                    connection closes (as when the server process dies)
``slow_body``       the answer as is, but the body trickles out at ``rate`` bytes a
                    second (default 65536) in pieces of ``chunk`` bytes (default 4096)
``wrong_size``      grids only: a valid zip whose ``.raw`` members miss ``delta``
                    (default 4) bytes
``traversal``       grids only: a valid zip with an extra member ``../evil``
``xml_bomb``        grids only: ``data_set.xml`` with nested entity expansion
=================== ==============================================================

Any body fault (``truncate``, ``corrupt``, ``kill_after_bytes``, ``slow_body``) also takes
``content_length``: the ``Content-Length`` header to announce instead of the true one.

Every request is logged in :attr:`FakeAllen.requests` (method, path, decoded query,
headers, the fault it met).
"""
from __future__ import annotations

import json
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.fake_allen import sections as section_images
from tests.fake_allen import services
from tests.fake_allen.data import DOWNLOAD_PREFIX, FakeAllenData
from tests.fake_allen.models import ModelQueries
from tests.fake_allen.rma_parser import RmaError, parse

FAULTS = ("html", "status", "timeout", "delay", "reset", "bad_json", "failure_envelope", "truncate",
          "corrupt", "kill_after_bytes", "wrong_size", "traversal", "xml_bomb", "slow_body")
GRID_FAULTS = ("wrong_size", "traversal", "xml_bomb")
DEFAULT_PAGE_ROWS = 50
OUTAGE_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Allen Brain Atlas - Maintenance</title></head>\n"
               b"<body><h1>We'll be back soon</h1><p>The Allen Brain Atlas data portal is temporarily "
               b"unavailable for scheduled maintenance.</p></body></html>\n")
XML_BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
            + b"".join(b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                       for i in range(1, 10))
            + b"]>\n<section-data-set><id>&lol9;</id></section-data-set>\n")
_GRID_PATH = re.compile(r"^/grid_data/download/([^/]+)$")
_GRAPH_PATH = re.compile(r"^/api/v2/structure_graph_download/(\d+)\.json$")
_SYNC_PATH = re.compile(r"^/api/v2/reference_to_image/([^/]+)\.json$")
_IMAGE_PATH = re.compile(r"^/api/v2/image_download/([^/]+)$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass
class Fault:
    path_prefix: str
    kind: str
    times: int = 1
    options: dict = field(default_factory=dict)
    hits: int = 0


@dataclass
class Request:
    """One request as the server saw it (query values decoded)."""

    method: str
    path: str
    raw_query: str  # as sent, still percent-encoded
    query: dict[str, list[str]]
    headers: dict[str, str]
    fault: str | None
    time: float

    @property
    def criteria(self) -> str | None:
        values = self.query.get("criteria") or self.query.get("q")
        return values[0] if values else None

    @property
    def range(self) -> str | None:
        return self.headers.get("Range")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: "FakeAllen"

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return  # the client went away (timeouts, resets): expected in fault tests
        super().handle_error(request, client_address)


class FakeAllen:
    """The fake server; a context manager (``with FakeAllen() as server:``).

    ``grid_ids``: experiments whose grids it serves besides the two real ones (default:
    every experiment of the gene index, GENERATED).  ``api_url`` and ``download_url`` are
    what ``ALLEN_API_URL`` / ``ALLEN_DOWNLOAD_URL`` should be set to.
    """

    def __init__(self, data: FakeAllenData | None = None, grid_ids=None):
        self.data = data or FakeAllenData.shared()
        self.grid_ids = None if grid_ids is None else {int(i) for i in grid_ids}
        self.no_section_images: set[int] = set()  # experiments without (generated) section images
        self.queries = ModelQueries(self.data, self.no_section_images)
        self.requests: list[Request] = []
        self.extra_files: dict[str, bytes | Path] = {}
        self.accept_ranges = True  # False: answer Range requests with the whole file (200)
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "FakeAllen":
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-allen", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeAllen":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def download_url(self) -> str:
        return f"{self.api_url}{DOWNLOAD_PREFIX.rstrip('/')}"

    # ------------------------------------------------------------------ faults and log

    def inject(self, path_prefix: str, fault: str, times: int = 1, **options) -> Fault:
        """Make the next ``times`` requests under ``path_prefix`` meet ``fault`` (see module doc)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")
        f = Fault(path_prefix, fault, int(times), dict(options))
        with self._lock:
            self._faults.append(f)
        return f

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget faults and the request log."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def requests_to(self, path_prefix: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def add_file(self, relpath: str, content: bytes | Path) -> str:
        """Serve ``content`` at ``download_url/relpath``; return that URL."""
        self.extra_files[relpath.strip("/")] = content
        return f"{self.download_url}/{relpath.strip('/')}"

    def serves_grid(self, experiment_id: int) -> bool:
        if self.data.real_grid_path(experiment_id) is not None:
            return True
        if experiment_id not in self.data.experiments:
            return False
        return self.grid_ids is None or experiment_id in self.grid_ids

    def _take(self, method: str, path: str, raw_query: str, query: dict, headers: dict) -> Fault | None:
        with self._lock:
            fault = None
            for f in self._faults:
                if path.startswith(f.path_prefix) and f.hits < f.times:
                    f.hits += 1
                    fault = f
                    break
            self._faults = [f for f in self._faults if f.hits < f.times]
            self.requests.append(Request(method, path, raw_query, query, headers, fault.kind if fault else None,
                                         time.time()))
            return fault


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeAllen/1.0"
    server: _HTTPServer

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    # ------------------------------------------------------------------ dispatch

    def do_GET(self):  # noqa: N802
        fake = self.server.fake
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        fault = fake._take("GET", path, split.query, query, dict(self.headers.items()))
        try:
            if fault is not None and self._pre_fault(fault):
                return
            self._route(fake, path, query, fault)
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def _pre_fault(self, fault: Fault) -> bool:
        """Faults that replace the answer; True when the request is done."""
        kind, opts = fault.kind, fault.options
        if kind in ("timeout", "delay"):
            time.sleep(float(opts.get("seconds", 2.0)))
            return False
        if kind == "reset":
            self._reset()
            return True
        if kind == "html":
            self._send(200, OUTAGE_PAGE, opts.get("content_type", "text/html; charset=utf-8"))
            return True
        if kind == "status":
            code = int(opts.get("code", 503))
            body = f"<html><body><h1>{code} {self.responses.get(code, ('Error',))[0]}</h1></body></html>\n"
            self._send(code, body.encode(), "text/html; charset=utf-8")
            return True
        if kind == "bad_json":
            self._send(200, b'{"success": true, "id": 0, "start_row": 0, "num_rows": 2, "msg": [{"id": 1, "acr',
                       "application/json; charset=utf-8")
            return True
        if kind == "failure_envelope":
            msg = opts.get("msg", "Data Access error in query: the database is not responding")
            self._json(_failure(msg))
            return True
        return False

    def _route(self, fake: FakeAllen, path: str, query: dict, fault: Fault | None) -> None:
        if path == "/api/v2/data/query.json":
            return self._query(fake, query, fault)
        m = _GRAPH_PATH.match(path)
        if m:
            if m.group(1) != "1":
                return self._json(_failure(f"No structure graph with id {m.group(1)}"), 404, fault)
            return self._json(fake.data.structure_graph_envelope(), 200, fault)
        m = _GRID_PATH.match(path)
        if m:
            return self._grid(fake, m.group(1), query, fault)
        m = _SYNC_PATH.match(path)
        if m:
            return self._image_sync(fake, m.group(1), query, fault)
        m = _IMAGE_PATH.match(path)
        if m:
            return self._section_image(fake, m.group(1), query, fault)
        if path.startswith(DOWNLOAD_PREFIX):
            return self._file(fake, path[len(DOWNLOAD_PREFIX):], fault)
        self._not_found()

    # ------------------------------------------------------------------ endpoints

    def _query(self, fake: FakeAllen, query: dict, fault: Fault | None) -> None:
        values = query.get("criteria") or query.get("q")
        if not values:
            return self._json(_failure("Missing criteria (criteria= or q=)"), 200, fault)
        if services.is_service(values[0]):  # the search services: tests/fake_allen/services.py
            return self._json(services.answer(fake, values[0]), 200, fault)
        try:
            q = parse(values[0])
            options = dict(q.options)
            for key in ("num_rows", "start_row", "order"):
                if key in query:
                    options[key] = query[key][0]
            q.options.update(options)
            rows = fake.queries.run(q)
            start = _option_int(options, "start_row", 0)
            num = options.get("num_rows", str(DEFAULT_PAGE_ROWS)).strip("'")
            count = len(rows) if num == "all" else _option_int(options, "num_rows", DEFAULT_PAGE_ROWS)
        except RmaError as exc:
            return self._json(_failure(f"Data Access error in query: {exc}"), 200, fault)
        page = rows[start:start + count]
        self._json({"success": True, "id": 0, "start_row": start, "num_rows": len(page),
                    "total_rows": len(rows), "msg": page}, 200, fault)

    def _grid(self, fake: FakeAllen, text: str, query: dict, fault: Fault | None) -> None:
        try:
            experiment_id = int(text)
        except ValueError:
            return self._not_found()
        if not fake.serves_grid(experiment_id):
            return self._not_found()
        include = None
        if "include" in query:
            include = [n.strip() for n in ",".join(query["include"]).split(",") if n.strip()]
            bad = [n for n in include if n not in ("energy", "intensity", "density")]
            if bad or not include:
                return self._send(400, f"unknown include {', '.join(bad) or '(empty)'}\n".encode(), "text/plain")
        kind, opts = (fault.kind, fault.options) if fault else (None, {})
        if kind == "wrong_size":
            body = fake.data.grid_zip(experiment_id, include, raw_bytes_delta=-int(opts.get("delta", 4)))
        elif kind == "traversal":
            body = fake.data.grid_zip(experiment_id, include, extra_members={"../evil": b"pwned\n"})
        elif kind == "xml_bomb":
            body = fake.data.grid_zip(experiment_id, include, data_set_xml=XML_BOMB)
        else:
            body = fake.data.grid_zip(experiment_id, include)
        self._send(200, body, "application/zip", fault=fault,
                   headers={"Content-Disposition": f'attachment; filename="{experiment_id}.zip"'})

    def _image_sync(self, fake: FakeAllen, space: str, query: dict, fault: Fault | None) -> None:
        try:
            space_id = int(space)
            x, y, z = (float(query[k][0]) for k in ("x", "y", "z"))
            ids = [int(t) for t in ",".join(query.get("section_data_set_ids", [])).split(",") if t.strip()]
        except (KeyError, ValueError):
            return self._json(_failure("reference_to_image needs numeric x, y, z and section_data_set_ids"),
                              200, fault)
        msg = []
        for ds in ids:
            exp = fake.data.experiments.get(ds)
            if exp is None or ds in fake.no_section_images:
                continue
            if {"coronal": 9, "sagittal": 10}.get(exp.plane) != space_id:
                continue  # the real service answers only data sets registered to that space
            msg.append(section_images.sync(ds, exp.plane, x, y, z))
        self._json({"success": True, "id": 0, "start_row": 0, "num_rows": len(msg), "total_rows": len(msg),
                    "msg": msg}, 200, fault)

    def _section_image(self, fake: FakeAllen, text: str, query: dict, fault: Fault | None) -> None:
        try:
            ds, number = section_images.split_image_id(int(text))
            downsample = int(query.get("downsample", ["0"])[0])
            quality = int(query["quality"][0]) if "quality" in query else None
        except ValueError:
            return self._not_found()
        exp = fake.data.experiments.get(ds)
        if (exp is None or ds in fake.no_section_images or exp.plane not in section_images.PLANE_GEOMETRY
                or number not in section_images.section_numbers(exp.plane) or not 0 <= downsample <= 8):
            return self._not_found()
        view = "expression" if query.get("view", [""])[0] == "expression" else "stained"
        body = section_images.jpeg(ds, exp.plane, number, downsample, view, quality)
        self._send(200, body, "image/jpeg", fault=fault)

    def _file(self, fake: FakeAllen, relpath: str, fault: Fault | None) -> None:
        content = fake.extra_files.get(relpath)
        if content is None:
            content = fake.data.file_path(relpath)
        if content is None:
            return self._not_found()
        body = content.read_bytes() if isinstance(content, Path) else bytes(content)
        mtime = content.stat().st_mtime if isinstance(content, Path) else 0.0
        size = len(body)
        etag = f'"{size:x}-{int(mtime):x}"'
        headers = {"Accept-Ranges": "bytes" if fake.accept_ranges else "none", "ETag": etag,
                   "Last-Modified": self.date_time_string(int(mtime) if mtime else None)}
        wanted = self.headers.get("Range") if fake.accept_ranges else None
        if_range = self.headers.get("If-Range")
        if wanted and if_range and if_range != etag:
            wanted = None
        if wanted:
            m = _RANGE.match(wanted.strip())
            if m:
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                if start >= size or end < start:
                    headers["Content-Range"] = f"bytes */{size}"
                    return self._send(416, b"", "text/plain", headers=headers)
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
                return self._send(206, body[start:end + 1], "application/octet-stream", fault=fault, headers=headers)
        self._send(200, body, "application/octet-stream", fault=fault, headers=headers)

    # ------------------------------------------------------------------ sending

    def _json(self, obj: dict, status: int = 200, fault: Fault | None = None) -> None:
        self._send(status, json.dumps(obj).encode("utf-8"), "application/json; charset=utf-8", fault=fault)

    def _not_found(self) -> None:
        self._send(404, b"<html><body><h1>404 Not Found</h1></body></html>\n", "text/html; charset=utf-8")

    def _send(self, status: int, body: bytes, ctype: str, fault: Fault | None = None,
              headers: dict | None = None) -> None:
        """Send an answer, applying a body fault (truncate, corrupt, kill_after_bytes)."""
        kind, opts = (fault.kind, fault.options) if fault else (None, {})
        if kind == "truncate":
            body = body[:int(len(body) * float(opts.get("fraction", 0.5)))]
        elif kind == "corrupt":
            body = bytearray(body)
            at = int(len(body) * float(opts.get("fraction", 0.5)))
            for i in range(at, min(at + int(opts.get("count", 64)), len(body))):
                body[i] ^= 0xFF
            body = bytes(body)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(opts.get("content_length", len(body))))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if kind == "kill_after_bytes":
            self.wfile.write(body[:int(opts.get("nbytes", 1024))])
            self._hang_up()
            return
        if kind == "slow_body":
            step, rate = max(1, int(opts.get("chunk", 4096))), float(opts.get("rate", 65536))
            for at in range(0, len(body), step):
                self.wfile.write(body[at:at + step])
                time.sleep(step / rate)
            return
        self.wfile.write(body)

    def _hang_up(self) -> None:
        """Close the connection as a killed server would: what was sent arrives, then EOF."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    def _reset(self) -> None:
        """Drop the connection with a TCP RST, answering nothing more."""
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True


def _failure(msg: str) -> dict:
    return {"success": False, "id": -1, "start_row": 0, "num_rows": 0, "total_rows": 0, "msg": msg}


def _option_int(options: dict, key: str, default: int) -> int:
    text = str(options.get(key, default)).strip().strip("'")
    try:
        return max(0, int(text))
    except ValueError:
        raise RmaError(f"{key} must be a number, not {text!r}") from None
