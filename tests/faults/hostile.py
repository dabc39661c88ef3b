"""Helpers for the round-two hostile-input tests (``test_hostile_*.py``): a loopback
server that misbehaves on purpose, a CLI runner, and the checks every case shares.

The grids the hostile server sends are built here from the embedded real grid 71717084
with values changed on purpose (GENERATED damage), or are GENERATED zips of zeros.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from allen_viewer import config
from allen_viewer.formats.grid_file import mhd_header, read_grid_zip
from tests.faults.scenarios import CliResult, cli_run, message_problems  # noqa: F401 (re-exported)

EMBEDDED = 71717084  # Pdyn coronal, real Allen data shipped with the package


def assert_one_line_error(r: CliResult, *mentions: str) -> str:
    """Exit 1, exactly one stderr line ``allen-viewer: error: ...`` that is clear (no raw
    exception text, no escape codes) and mentions ``mentions``; returns the line."""
    lines = r.err.strip().splitlines()
    assert r.code == 1, (r.code, r.err)
    assert len(lines) == 1, r.err
    assert lines[0].startswith("allen-viewer: error: "), r.err
    assert "\x1b" not in r.err and "\r" not in r.err, repr(r.err)
    problems = message_problems(lines[0], tuple(mentions))
    assert not problems, (problems, lines[0])
    return lines[0]


def assert_clear(exc: BaseException, *mentions: str) -> str:
    text = str(exc)
    assert "\x1b" not in text and "\n" not in text, repr(text)
    problems = message_problems(text, tuple(mentions))
    assert not problems, (problems, text)
    return text


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` (names, kinds, sizes, contents of regular files)."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        st = os.lstat(p)
        content = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
        target = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
        out[str(p.relative_to(folder))] = (stat.S_IFMT(st.st_mode), st.st_size if content is not None else 0,
                                          content, target)
    return out


# ---------------------------------------------------------------------- grids


def real_volume() -> np.ndarray:
    return read_grid_zip(config.resources_dir() / "grids" / f"{EMBEDDED}.zip").volumes["energy"]


def grid_zip_bytes(energy: np.ndarray | None = None, extra: dict[str, bytes] | None = None,
                   experiment_id: int = EMBEDDED) -> bytes:
    """A grid zip (energy + data_set.xml) with ``energy`` (default the real 71717084 grid)."""
    vol = real_volume() if energy is None else energy
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("energy.mhd", mhd_header("energy.raw"))
        zf.writestr("energy.raw", np.ascontiguousarray(vol.astype("<f4").transpose(2, 1, 0)).tobytes())
        zf.writestr("data_set.xml", f"<section-data-set><id>{experiment_id}</id></section-data-set>")
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


# ---------------------------------------------------------------------- the hostile server

Handler = Callable[[BaseHTTPRequestHandler], None]


class HostileServer:
    """A loopback HTTP server; ``routes[path_prefix] = handler(request)`` answers, and
    ``hits[path_prefix]`` counts the requests."""

    def __init__(self):
        self.routes: dict[str, Handler] = {}
        self.hits: dict[str, int] = {}
        server = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):  # noqa: N802
                for prefix, handler in server.routes.items():
                    if self.path.startswith(prefix):
                        server.hits[prefix] = server.hits.get(prefix, 0) + 1
                        try:
                            handler(self)
                        except (BrokenPipeError, ConnectionResetError):
                            pass
                        return
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return self.url

    @property
    def download_url(self) -> str:
        return self.url + "/dl"

    def __enter__(self) -> "HostileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def send(req: BaseHTTPRequestHandler, body: bytes, status: int = 200, ctype: str = "application/json",
         headers: dict | None = None, length: int | None = None) -> None:
    req.send_response(status)
    req.send_header("Content-Type", ctype)
    req.send_header("Content-Length", str(len(body) if length is None else length))
    for k, v in (headers or {}).items():
        req.send_header(k, v)
    req.end_headers()
    req.wfile.write(body)
    req.wfile.flush()


def drip(body: bytes, every: float = 0.05, stop: float = 10.0) -> Handler:
    """Answer 200 with the full Content-Length, then one byte every ``every`` seconds."""

    def handler(req):
        req.send_response(200)
        req.send_header("Content-Type", "application/octet-stream")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        end = time.monotonic() + stop
        for i in range(len(body)):
            if time.monotonic() > end:
                return
            req.wfile.write(body[i:i + 1])
            req.wfile.flush()
            time.sleep(every)

    return handler


def envelope(rows) -> bytes:
    return json.dumps({"success": True, "id": 0, "start_row": 0, "num_rows": len(rows), "total_rows": len(rows),
                       "msg": rows}).encode()


@contextlib.contextmanager
def api_env(url: str) -> Iterator[None]:
    """ALLEN_API_URL and ALLEN_DOWNLOAD_URL pointing at ``url`` (the conftest restores them)."""
    old = {k: os.environ.get(k) for k in ("ALLEN_API_URL", "ALLEN_DOWNLOAD_URL", "NO_PROXY", "no_proxy")}
    os.environ.update({"ALLEN_API_URL": url, "ALLEN_DOWNLOAD_URL": url + "/dl", "NO_PROXY": "127.0.0.1",
                       "no_proxy": "127.0.0.1"})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def no_space_for(suffix: str, target: str = "allen_viewer.export.provenance.atomic_write"):
    """A patch (use as ``with``) of the atomic writer at ``target`` under which writing a file
    whose name ends in ``suffix`` fails as a full disk does (ENOSPC); every other file is
    written as usual.  The default target is the writer the sidecars go through."""
    import errno
    from unittest import mock

    import allen_viewer.io.atomic as atomic_module

    real = atomic_module.atomic_write

    def failing(path, mode="wb"):
        if str(path).endswith(suffix):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, mode)

    return mock.patch(target, failing)
