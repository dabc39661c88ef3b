"""The fault-tolerance scenarios: one table, run by ``tests/faults/test_faults.py`` (pytest)
and by ``benchmarks/faults.py`` (a printed report, kept in ``docs/reliability.md``).

Each :class:`Scenario` names a fault, how it is made (the loopback fake Allen server of
``tests/fake_allen``, an environment variable, a patched file-system call, damage written
into the cache, a subprocess killed with SIGKILL) and the user action that meets it
(``AtlasData.load_grid``, ``refresh_gene_index``, ``download_reference``, the CLI's
``main``, a cache lookup).  :func:`run_scenario` runs one in a fresh cache and checks three
properties, returned as an :class:`Outcome`:

1. **clear message**: the action fails with the expected :class:`AllenViewerError`
   subclass whose ``str()`` is one line, names what failed and holds no raw exception
   repr or traceback text; through the CLI: exit status 1, exactly one stderr line
   ``allen-viewer: error: ...``, no ``Traceback``.  (Scenarios with ``expect=None`` are
   faults the app gets through on its own, e.g. a damaged cache entry is re-fetched; a
   SIGKILL'd process shows nothing, so there the check is that it really died mid-write.)
2. **keeps working**: while the fault lasts, a grid cached before it and an embedded gene
   still load; once it is cleared (one-shot faults: on the next try) the same action
   succeeds, and both still load.
3. **cache intact**: what was cached before the fault (a grid fetched from the server and
   a gene index) is still there with the same SHA-256 and still validates; no file at an
   entry path fails validation; no temporary file is left in the cache (except the one a
   SIGKILL'd process could not remove, which is never read as an entry, and a reference
   ``.part`` kept on purpose for resuming, which must be gone once the retry finished);
   nothing was written outside the cache.

The grids the fake server sends for :data:`PRECACHED_ID` and :data:`TARGET_ID` are its
GENERATED stand-ins (smooth blobs, see ``tests/fake_allen/data.py``), not Allen data; the
Nissl volume it serves is a GENERATED stand-in too.  Only :data:`EMBEDDED_ID` is real.

In-process actions use a client with fast retries (:func:`fast_client`: :data:`RETRIES`
tries, 10 ms apart); CLI actions use the default client the command builds (3 tries,
1 s then 2 s apart).
"""
from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Iterator
from unittest import mock

import numpy as np

import allen_viewer.api.transport as transport_module
import allen_viewer.io.atomic as atomic_module
from allen_viewer import cli, config
from allen_viewer.api.client import AllenClient
from allen_viewer.data import GENE_INDEX_FILE, REFERENCE_VOLUMES, AtlasData
from allen_viewer.errors import (
    AllenViewerError,
    CorruptData,
    CorruptDownload,
    Offline,
    ServiceUnavailable,
)
from allen_viewer.expression.grid import ExpressionGrid, load_grid
from allen_viewer.formats.grid_file import GRID_SHAPE, mhd_header
from allen_viewer.store.cache import Cache
from allen_viewer.store.gene_index import GeneIndex, read_gene_index
from tests.fake_allen.data import DOWNLOAD_PREFIX, NISSL_RELPATH, FakeAllenData
from tests.fake_allen.server import FakeAllen

REPO = Path(__file__).resolve().parents[2]
PRECACHED_ID = 69782969  # Pdyn, sagittal: fetched into the cache before every fault
TARGET_ID = 79913171  # Nrp1, sagittal: the remote grid the actions fetch
EMBEDDED_ID = 71717084  # Pdyn, coronal: shipped with the package (real Allen data)
RETRIES = 2
GRID = "/grid_data/download/"
QUERY = "/api/v2/data/query.json"
GRAPH = "/api/v2/structure_graph_download/"
NISSL = DOWNLOAD_PREFIX + NISSL_RELPATH
NISSL_FILE = REFERENCE_VOLUMES["nissl"][0]

_RAW_MARKERS = ("Traceback", 'File "', "object at 0x", "[Errno", "HTTPConnectionPool", "Max retries exceeded",
                "urllib3", "requests.exceptions", "NoneType")
_RAW_REPR = re.compile(r"\b[A-Z]\w*(?:Error|Exception|Forbidden|Warning)\(|\b[A-Z]\w+\((?:\w+=|')")
_ENTRY = re.compile(r"^\d+\.zip$")


# ---------------------------------------------------------------------- the server


class ServedData:
    """The fake server's data with answers a scenario may replace (a damaged zip, a graph
    without its root); everything else is :class:`FakeAllenData` as it is."""

    def __init__(self, data: FakeAllenData):
        self._data = data
        self.grid_bodies: dict[int, bytes] = {}
        self.graph_envelope: dict | None = None

    def __getattr__(self, name):
        return getattr(self._data, name)

    def grid_zip(self, experiment_id: int, include=None, **kwargs) -> bytes:
        body = self.grid_bodies.get(int(experiment_id))
        return body if body is not None else self._data.grid_zip(experiment_id, include, **kwargs)

    def structure_graph_envelope(self) -> dict:
        if self.graph_envelope is not None:
            return self.graph_envelope
        return self._data.structure_graph_envelope()


def start_server() -> FakeAllen:
    """A running fake Allen server for the scenarios (stop it with ``.stop()``)."""
    data = FakeAllenData.shared()
    data.nissl_path()  # build the GENERATED Nissl stand-in now, not inside a timed request
    return FakeAllen(ServedData(data)).start()


def fast_client(read_timeout: float = 10.0) -> AllenClient:
    """The client of in-process actions: :data:`RETRIES` tries, 10 ms backoff, a 2 s connect
    timeout and ``read_timeout`` (generous by default: a busy test machine must not time out)."""
    return AllenClient(timeout=(2.0, read_timeout), retries=RETRIES, backoff=0.01)


# ---------------------------------------------------------------------- one run


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@dataclass
class Killed:
    """What :func:`_kill_mid_download` saw: the temporary file at the kill and after it."""

    returncode: int | None
    alive_at_kill: bool
    part: str | None
    size_at_kill: int
    size_after: int
    stderr: str


@dataclass
class Attempt:
    value: object = None
    error: BaseException | None = None
    trace: str = ""


@dataclass
class Run:
    """One scenario's world: the server, a scenario folder with a fresh cache in it."""

    server: FakeAllen
    root: Path
    cache: Path
    snapshot: dict[Path, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    outside_ok: set[Path] = field(default_factory=set)
    damaged: dict[str, bytes] = field(default_factory=dict)
    _clients: list[AllenClient] = field(default_factory=list)

    @property
    def served(self) -> ServedData:
        return self.server.data  # type: ignore[return-value]

    def client(self, read_timeout: float = 10.0) -> AllenClient:
        c = fast_client(read_timeout)
        self._clients.append(c)
        return c

    def data(self, read_timeout: float = 10.0) -> AtlasData:
        """A new AtlasData on this run's cache (the client reads the URLs now)."""
        return AtlasData(Cache(self.cache), self.client(read_timeout))

    def close(self) -> None:
        for c in self._clients:
            c.close()


def cli_run(*argv: str) -> CliResult:
    """``allen-viewer ARGV`` in this process, stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return CliResult(code, out.getvalue(), err.getvalue())


# ---------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Scenario:
    """One fault and the user action that meets it.

    ``expect``: the :class:`AllenViewerError` subclass the action must raise (for a CLI
    action, the error behind its one-line message), or ``None`` when the app must get
    through on its own.  ``mentions``: words the message must contain (case-insensitive).
    ``fault(run)``: a context manager; entering makes the fault, leaving clears it.
    ``act(run)``: the user action; ``retry(run)`` the same action once the fault is gone
    (default ``act``).  ``after_retry``/``after_all``: extra checks, returning problems,
    counted under "keeps working" and "cache intact".  ``leaves_stale_temp``: a SIGKILL'd
    process may leave its temporary file in ``grids/``.  ``quarantines``: the fault damages
    a cache entry, which must end up in ``quarantine/`` (elsewhere nothing may).
    ``recovery``: what the table shows when ``expect`` is None (the app got through).
    """

    name: str
    fault_text: str
    action_text: str
    expect: type[AllenViewerError] | None
    mentions: tuple[str, ...]
    fault: Callable[[Run], ContextManager]
    act: Callable[[Run], object]
    retry: Callable[[Run], object] | None = None
    cli: bool = False
    killed: bool = False
    leaves_stale_temp: bool = False
    quarantines: bool = False
    recovery: str = "recovered"
    after_retry: Callable[[Run, Attempt], list[str]] | None = None
    after_all: Callable[[Run], list[str]] | None = None


# ---- fault makers (each returns ``run -> context manager``)


def served(prefix: str, kind: str, times: int = 1, **options):
    """The next ``times`` requests under ``prefix`` meet the fake server's fault ``kind``."""

    @contextlib.contextmanager
    def cm(run: Run) -> Iterator[None]:
        run.server.inject(prefix, kind, times, **options)
        try:
            yield
        finally:
            run.server.clear_faults()

    return cm


def grid_body(make: Callable[[ServedData], bytes]):
    """The server answers :data:`TARGET_ID`'s grid request with ``make(data)`` (200, zip)."""

    @contextlib.contextmanager
    def cm(run: Run) -> Iterator[None]:
        run.served.grid_bodies[TARGET_ID] = make(run.served)
        try:
            yield
        finally:
            run.served.grid_bodies.pop(TARGET_ID, None)

    return cm


def graph_envelope(envelope: dict):
    @contextlib.contextmanager
    def cm(run: Run) -> Iterator[None]:
        run.served.graph_envelope = envelope
        try:
            yield
        finally:
            run.served.graph_envelope = None

    return cm


def env_var(name: str, value: Callable[[Run], str]):
    """``os.environ[name] = value(run)`` while the fault lasts."""

    @contextlib.contextmanager
    def cm(run: Run) -> Iterator[None]:
        old = os.environ.get(name)
        os.environ[name] = value(run)
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old

    return cm


def closed_port_url(run: Run) -> str:
    """A loopback address nothing listens on (a port bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _inside(path, root: Path) -> bool:
    try:
        p = os.path.abspath(os.fspath(path))
    except TypeError:
        return False
    r = os.path.abspath(root)
    return p == r or p.startswith(r + os.sep)


def _writing(mode: str) -> bool:
    return any(c in mode for c in "wax+")


@contextlib.contextmanager
def read_only(run: Run) -> Iterator[None]:
    """Every call that would create, replace or delete something under the cache fails
    with EROFS, as on a read-only mount; reading works."""
    root = run.cache

    def deny(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    real_mkstemp, real_mkdir, real_replace, real_rename = tempfile.mkstemp, os.mkdir, os.replace, os.rename
    real_unlink, real_remove, real_open = os.unlink, os.remove, builtins.open

    def mkstemp(suffix=None, prefix=None, dir=None, text=False):  # noqa: A002
        if dir is not None and _inside(dir, root):
            deny(dir)
        return real_mkstemp(suffix, prefix, dir, text)

    def mkdir(path, mode=0o777, *, dir_fd=None):
        if _inside(path, root):
            deny(path)
        return real_mkdir(path, mode, dir_fd=dir_fd)

    def moving(real):
        def move(src, dst, *args, **kwargs):
            if _inside(src, root) or _inside(dst, root):
                deny(dst)
            return real(src, dst, *args, **kwargs)
        return move

    def deleting(real):
        def delete(path, *args, **kwargs):
            if _inside(path, root):
                deny(path)
            return real(path, *args, **kwargs)
        return delete

    def open_(file, mode="r", *args, **kwargs):
        if not isinstance(file, int) and _writing(mode) and _inside(file, root):
            deny(file)
        return real_open(file, mode, *args, **kwargs)

    with contextlib.ExitStack() as stack:
        for target, name, new in ((tempfile, "mkstemp", mkstemp), (os, "mkdir", mkdir),
                                  (os, "replace", moving(real_replace)), (os, "rename", moving(real_rename)),
                                  (os, "unlink", deleting(real_unlink)), (os, "remove", deleting(real_remove)),
                                  (builtins, "open", open_), (io, "open", open_)):
            stack.enter_context(mock.patch.object(target, name, new))
        yield


class _ModuleWith:
    """A module with some attributes replaced, to patch into one importer's namespace."""

    def __init__(self, module, **replaced):
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name):
        return getattr(self._module, name)


class _FullDiskFile:
    """A writable file on a disk with ``state['room']`` bytes left: what fits is written,
    then ``OSError(ENOSPC)``, as ``write(2)`` does."""

    def __init__(self, fh, state: dict):
        self._fh, self._state = fh, state

    def write(self, data) -> int:
        fit = max(0, min(len(data), self._state["room"]))
        if fit:
            self._fh.write(data[:fit])
            self._state["room"] -= fit
        if fit < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return fit

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()

    def __getattr__(self, name):
        return getattr(self._fh, name)


def disk_full(room: int = 64 * 1024):
    """The disk under the cache fills up after ``room`` more bytes: the write paths of the
    transport (reference ``.part`` files) and of ``io/atomic.py`` (grid temp files, the
    gene index) get ENOSPC."""

    @contextlib.contextmanager
    def cm(run: Run) -> Iterator[None]:
        state = {"room": room}
        real_fdopen, real_open = os.fdopen, builtins.open

        def fdopen(fd, mode="r", *args, **kwargs):
            fh = real_fdopen(fd, mode, *args, **kwargs)
            return _FullDiskFile(fh, state) if _writing(mode) else fh

        def open_(file, mode="r", *args, **kwargs):
            fh = real_open(file, mode, *args, **kwargs)
            return _FullDiskFile(fh, state) if _writing(mode) and _inside(file, run.cache) else fh

        with mock.patch.object(transport_module, "open", open_, create=True), \
                mock.patch.object(atomic_module, "os", _ModuleWith(os, fdopen=fdopen)):
            yield

    return cm


@contextlib.contextmanager
def reference_dir_is_a_file(run: Run) -> Iterator[None]:
    path = run.cache / "reference"
    path.write_bytes(b"a file where the reference folder should be\n")
    try:
        yield
    finally:
        path.unlink()


@contextlib.contextmanager
def cache_is_a_file(run: Run) -> Iterator[None]:
    """``ALLEN_VIEWER_CACHE`` names a file (a typo, a stale mount point)."""
    path = run.root / "cache-file"
    path.write_bytes(b"not a folder\n")
    run.outside_ok.add(path)
    try:
        with env_var("ALLEN_VIEWER_CACHE", lambda _run: str(path))(run):
            yield
    finally:
        path.unlink()


def damaged_cached_grid(offline: bool = False):
    """:data:`TARGET_ID` is fetched into the cache, then its second half is zeroed (a disk
    error or a torn copy) and its modification time set 1 s later, as damage done after the
    download would leave it (the cache checks each file once per process, keyed on path,
    size and modification time); with ``offline``, ``ALLEN_VIEWER_OFFLINE=1`` too."""

    @contextlib.contextmanager
    def cm(run: Run) -> Iterator[None]:
        path = run.data().grid_store.zip_path(TARGET_ID)
        good = path.read_bytes()
        bad = good[:len(good) // 2] + bytes(len(good) - len(good) // 2)
        st = path.stat()
        path.write_bytes(bad)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        run.damaged[path.name] = bad
        if offline:
            with env_var("ALLEN_VIEWER_OFFLINE", lambda _run: "1")(run):
                yield
        else:
            yield

    return cm


@contextlib.contextmanager
def damaged_gene_index(run: Run) -> Iterator[None]:
    """The refreshed gene index in the cache loses its second half."""
    path = run.cache / GENE_INDEX_FILE
    good = path.read_bytes()
    bad = good[:len(good) // 2]
    path.write_bytes(bad)
    run.snapshot.pop(path, None)  # the fault itself destroyed it; what matters is what the app does next
    run.damaged[path.name] = bad
    yield


# ---- damaged zips for the grid endpoint


def _energy_raw(data: ServedData, dtype: str = "<f4") -> bytes:
    vol = data.volumes(TARGET_ID)["energy"]
    return np.ascontiguousarray(vol.astype(dtype).transpose(2, 1, 0)).tobytes()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buf.getvalue()


def zip_wrong_dtype(data: ServedData) -> bytes:
    """energy as 64-bit floats (``ElementType = MET_DOUBLE``), the bytes to match."""
    return _zip({"data_set.xml": data.data_set_xml(TARGET_ID),
                 "energy.mhd": mhd_header("energy.raw", "MET_DOUBLE").encode(),
                 "energy.raw": _energy_raw(data, "<f8")})


def zip_wrong_dims(data: ServedData) -> bytes:
    """The right number of values, but ``DimSize = 58 41 67`` (axes swapped)."""
    header = mhd_header("energy.raw").replace("DimSize = 67 41 58", "DimSize = 58 41 67")
    return _zip({"data_set.xml": data.data_set_xml(TARGET_ID), "energy.mhd": header.encode(),
                 "energy.raw": _energy_raw(data)})


def zip_nan_values(data: ServedData) -> bytes:
    """The right format, but 100 energy values are NaN (a broken export)."""
    vol = data.volumes(TARGET_ID)["energy"].astype("<f4")
    vol.reshape(-1)[::1500][:100] = np.nan
    raw = np.ascontiguousarray(vol.transpose(2, 1, 0)).tobytes()
    return _zip({"data_set.xml": data.data_set_xml(TARGET_ID), "energy.mhd": mhd_header("energy.raw").encode(),
                 "energy.raw": raw})


def zip_of_another_experiment(data: ServedData) -> bytes:
    """A valid grid zip, but of :data:`PRECACHED_ID` (its ``data_set.xml`` says so).

    The viewer asks for ``include=energy,intensity,density``, and Allen's zip then has no
    ``data_set.xml``, so a swapped grid can only be caught when the server ignores
    ``include=`` and sends the energy-only zip with its record: that is this fault."""
    return data.grid_zip(PRECACHED_ID, None)


def zip_bad_xml(data: ServedData) -> bytes:
    """``data_set.xml`` cut off before its closing tag."""
    return data.grid_zip(TARGET_ID, data_set_xml=b'<?xml version="1.0" encoding="UTF-8"?>\n'
                                                  b"<section-data-set><id>79913171</id><failed>false")


def zip_huge_raw(data: ServedData) -> bytes:
    """A real zip whose ``energy.raw`` inflates to 80 MiB (zeros; 80 KB compressed)."""
    return _zip({"data_set.xml": data.data_set_xml(TARGET_ID), "energy.mhd": mhd_header("energy.raw").encode(),
                 "energy.raw": bytes(80 * 1024 * 1024)})


def zip_claims_4gb(data: ServedData) -> bytes:
    """A normal grid zip whose headers say ``energy.raw`` is 4,294,967,280 bytes."""
    body = bytearray(data.grid_zip(TARGET_ID))
    claim = (0xFFFFFFF0).to_bytes(4, "little")
    name = b"energy.raw"
    at = 0
    while (at := body.find(b"PK\x03\x04", at)) >= 0:  # local headers: size at 22, name at 30
        n = int.from_bytes(body[at + 26:at + 28], "little")
        if body[at + 30:at + 30 + n] == name:
            body[at + 22:at + 26] = claim
        at += 4
    at = 0
    while (at := body.find(b"PK\x01\x02", at)) >= 0:  # central directory: size at 24, name at 46
        n = int.from_bytes(body[at + 28:at + 30], "little")
        if body[at + 46:at + 46 + n] == name:
            body[at + 24:at + 28] = claim
        at += 4
    return bytes(body)


# ---- actions


def load_target(run: Run) -> ExpressionGrid:
    return run.data().load_grid(TARGET_ID)


def load_target_impatiently(run: Run) -> ExpressionGrid:
    """:func:`load_target` with a 1 s read timeout."""
    return run.data(read_timeout=1.0).load_grid(TARGET_ID)


def refresh_index(run: Run):
    return run.data().refresh_gene_index()


def download_nissl(run: Run) -> Path:
    return run.data().download_reference("nissl")


def download_and_read_nissl(run: Run):
    data = run.data()
    data.download_reference("nissl")
    return data.nissl()


def experiments_of_gene(run: Run) -> list[dict]:
    rows = run.client().experiments_of_gene("Nrp1")
    if not rows:
        raise AssertionError("no experiments of Nrp1")
    return rows


def structure_graph(run: Run) -> dict:
    return run.client().structure_graph()


def cached_lookup(run: Run):
    return run.data().cache.cached_grid(TARGET_ID)


def gene_index_lookup(run: Run):
    return run.data().experiment("Nrp1")


def cli_action(*argv) -> Callable[[Run], CliResult]:
    """The action ``allen-viewer ARGV`` (in this process)."""

    def act(run: Run) -> CliResult:
        return cli_run(*argv)

    act.__name__ = "cli " + " ".join(map(str, argv))
    return act


def _kill_mid_download(argv: list[str], folder: str, pattern: str, min_bytes: int):
    """Run ``python -m allen_viewer ARGV`` against the fake server (the scenario slows the
    body down), wait until its temporary file under ``folder`` holds ``min_bytes``, then
    SIGKILL it: no handler, no ``finally`` runs, as on a crash or a power cut."""

    def act(run: Run) -> Killed:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        proc = subprocess.Popen([sys.executable, "-m", "allen_viewer", *argv], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        where = run.cache / folder
        part, size, alive = None, 0, False
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                found = sorted(where.glob(pattern)) if where.is_dir() else []
                if found and found[0].stat().st_size >= min_bytes:
                    part, size = found[0], found[0].stat().st_size
                    break
                time.sleep(0.01)
            alive = proc.poll() is None
        finally:
            proc.send_signal(signal.SIGKILL)  # no-op when it already ended
            _, err = proc.communicate(timeout=30)
        after = part.stat().st_size if part is not None and part.exists() else 0
        return Killed(proc.returncode, alive, part.name if part else None, size, after,
                      err.decode("utf-8", "replace"))

    return act


# ---- extra checks


def _quarantined(name: str, expected: Callable[[Run], bytes] | None = None):
    """The damaged file was moved to ``quarantine/<stem>.<time><suffix>`` byte for byte
    (``expected(run)``, default what the fault wrote), with a ``.reason.txt``."""

    def check(run: Run) -> list[str]:
        stem, suffix = Path(name).stem, Path(name).suffix
        q = run.cache / "quarantine"
        moved = [p for p in q.glob(f"{stem}.*{suffix}")] if q.is_dir() else []
        if len(moved) != 1:
            return [f"expected the damaged {name} in quarantine/, found {sorted(p.name for p in moved)}"]
        problems = []
        want = expected(run) if expected is not None else run.damaged[name]
        if moved[0].read_bytes() != want:
            problems.append(f"quarantine/{moved[0].name} is not the damaged file as it was")
        if not moved[0].with_name(moved[0].name + ".reason.txt").is_file():
            problems.append(f"quarantine/{moved[0].name} has no .reason.txt")
        return problems

    return check


def _resumed(kept: Callable[[Attempt], int], record: int = 0):
    """The retry asked the server only for the bytes after the ``kept(attempt)`` bytes the
    interrupted download left in the ``.part`` file; ``record``: at most so many of those
    bytes of room went to the ``.part``'s origin record instead (written first, on a disk
    that fills up: docs/reliability.md, round three, rule 8)."""

    def check(run: Run, attempt: Attempt) -> list[str]:
        size = kept(attempt)
        if not size:
            return ["nothing to resume from"]
        ranges = [r.range for r in run.server.requests_to(NISSL)]
        starts = [int(r[6:-1]) for r in ranges if r and r.startswith("bytes=") and r.endswith("-")]
        got = next((n for n in starts if size - record <= n <= size), None)
        if got is None:
            return [f"the retry did not resume from byte {size:,} (Range headers sent: {ranges})"]
        run.notes.append(f"resumed from byte {got:,}")
        return []

    return check


def _requests_met(run: Run, prefix: str, faults: list) -> list[str]:
    """The requests under ``prefix`` met these faults, in this order (None: no fault)."""
    met = [r.fault for r in run.server.requests_to(prefix)]
    return [] if met[:len(faults)] == faults else [f"requests under {prefix} met {met}, expected {faults} first"]


def _refetched(run: Run, attempt: Attempt) -> list[str]:
    """The retry fetched the grid again (one more request for it)."""
    n = len(run.server.requests_to(f"{GRID}{TARGET_ID}"))
    return [] if n >= 2 else [f"the damaged grid was not fetched again ({n} request(s))"]


# ---- the table

SCENARIOS: list[Scenario] = [
    # -- the network
    Scenario("connection-refused", "API URL is a closed loopback port", "AtlasData.load_grid(remote id)",
             Offline, ("connection refused", "127.0.0.1"),
             env_var("ALLEN_API_URL", closed_port_url), load_target),
    Scenario("connection-refused-cli", "API URL is a closed loopback port", "allen-viewer fetch <id>",
             Offline, (str(TARGET_ID), "connection refused"),
             env_var("ALLEN_API_URL", closed_port_url), cli_action("fetch", TARGET_ID), cli=True),
    Scenario("dns-failure", "API URL http://does-not-exist.invalid", "AtlasData.load_grid(remote id)",
             Offline, ("does-not-exist.invalid", "does not resolve"),
             env_var("ALLEN_API_URL", lambda run: "http://does-not-exist.invalid"), load_target),
    Scenario("read-timeout", f"grid answer delayed 1.5 s (> 1 s read timeout), {RETRIES} tries",
             "AtlasData.load_grid(remote id)", ServiceUnavailable, ("timed out",),
             served(GRID, "delay", RETRIES, seconds=1.5), load_target_impatiently),
    Scenario("connection-reset", f"TCP RST instead of an answer, {RETRIES} tries", "AtlasData.load_grid(remote id)",
             ServiceUnavailable, ("dropped the connection",), served(GRID, "reset", RETRIES), load_target),
    # -- HTTP errors and outage pages
    Scenario("http-500", f"grid: HTTP 500, {RETRIES} tries", "AtlasData.load_grid(remote id)",
             ServiceUnavailable, ("HTTP 500",), served(GRID, "status", RETRIES, code=500), load_target),
    Scenario("http-503", f"RMA query: HTTP 503, {RETRIES} tries", "AllenClient.experiments_of_gene('Nrp1')",
             ServiceUnavailable, ("HTTP 503",), served(QUERY, "status", RETRIES, code=503), experiments_of_gene),
    Scenario("http-503-once-cli", "grid: one HTTP 503, then normal answers", "allen-viewer fetch <id>",
             None, (), served(GRID, "status", 1, code=503), cli_action("fetch", TARGET_ID), cli=True,
             recovery="the client's second try got through",
             after_retry=lambda run, attempt: _requests_met(run, f"{GRID}{TARGET_ID}", ["status", None])),
    Scenario("http-504", f"Nissl file: HTTP 504, {RETRIES} tries", 'AtlasData.download_reference("nissl")',
             ServiceUnavailable, ("HTTP 504", "download server"), served(NISSL, "status", RETRIES, code=504),
             download_nissl),
    Scenario("html-outage", f"grid: 200 text/html maintenance page, {RETRIES} tries",
             "AtlasData.load_grid(remote id)", ServiceUnavailable, ("HTML page",),
             served(GRID, "html", RETRIES), load_target),
    # -- damaged downloads
    Scenario("truncated-zip", "grid zip cut to half, honest Content-Length", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "damaged", "nothing was saved"), served(GRID, "truncate", fraction=0.5),
             load_target),
    Scenario("truncated-zip-cli", "grid zip cut to 30 %, honest Content-Length", "allen-viewer fetch <id>",
             CorruptDownload, (str(TARGET_ID), "damaged"), served(GRID, "truncate", fraction=0.3),
             cli_action("fetch", TARGET_ID), cli=True),
    Scenario("corrupt-zip", "64 bytes flipped mid-zip", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "damaged"), served(GRID, "corrupt", count=64), load_target),
    Scenario("zip-path-traversal", "zip member '../evil'", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "outside the archive", "../evil"), served(GRID, "traversal"),
             load_target),
    # the whole volume is checked before it is reported saved (round three, rule 8): refused, never cached
    Scenario("truncated-reference", "Nissl file cut to half, honest Content-Length",
             'download_reference("nissl"); nissl()', CorruptDownload, (NISSL_FILE, "damaged", "nothing was saved"),
             served(NISSL, "truncate", fraction=0.5), download_and_read_nissl),
    # -- absurd sizes
    Scenario("member-claims-4gb", "zip header: energy.raw is 4,294,967,280 bytes", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "energy.raw", "too large"), grid_body(zip_claims_4gb), load_target),
    Scenario("raw-80mb", "energy.raw inflates to 80 MiB (80 KB compressed)", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "energy.raw", "too large"), grid_body(zip_huge_raw), load_target),
    Scenario("content-length-1tb", f"Content-Length 1 TB, {RETRIES} tries", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "1,000,000,000,000 bytes", "nothing was saved"),
             served(GRID, "kill_after_bytes", RETRIES, nbytes=10**9, content_length=10**12), load_target),
    # the three-channel zip (include=energy,intensity,density) is about 570 kB: 1.2 MB is 2x
    Scenario("content-length-short", f"Content-Length 2x the body, then EOF, {RETRIES} tries",
             "AtlasData.load_grid(remote id)", ServiceUnavailable, ("dropped the connection",),
             served(GRID, "kill_after_bytes", RETRIES, nbytes=10**9, content_length=1_200_000), load_target),
    Scenario("raw-4-bytes-short", "energy.raw 4 bytes short", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "bytes"), served(GRID, "wrong_size", delta=4), load_target),
    # -- wrong formats
    Scenario("wrong-dtype", "energy.mhd: ElementType = MET_DOUBLE (8-byte values)", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "ElementType", "MET_DOUBLE"), grid_body(zip_wrong_dtype), load_target),
    Scenario("wrong-dimensions", "energy.mhd: DimSize = 58 41 67", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "DimSize"), grid_body(zip_wrong_dims), load_target),
    Scenario("nan-values", "energy.raw: 100 values are NaN", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "NaN"), grid_body(zip_nan_values), load_target),
    Scenario("grid-of-another-experiment", f"include= ignored: the energy-only zip (with data_set.xml) of {PRECACHED_ID} for {TARGET_ID}",
             "AtlasData.load_grid(remote id)", CorruptDownload, (str(TARGET_ID), str(PRECACHED_ID)),
             grid_body(zip_of_another_experiment), load_target),
    Scenario("malformed-json", f"RMA query: cut-off JSON body, {RETRIES} tries",
             "AllenClient.experiments_of_gene('Nrp1')", ServiceUnavailable, ("not valid JSON",),
             served(QUERY, "bad_json", RETRIES), experiments_of_gene),
    Scenario("failure-envelope-cli", "RMA query: success=false envelope", "allen-viewer refresh-index",
             ServiceUnavailable, ("rejected the query", "Data Access error"), served(QUERY, "failure_envelope"),
             cli_action("refresh-index"), cli=True),
    Scenario("malformed-xml", "include= ignored; its data_set.xml cut off before the end tag", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "data_set.xml", "not valid XML"), grid_body(zip_bad_xml), load_target),
    Scenario("xml-entity-expansion", "a data_set.xml (sent despite include=) of 10^9-fold entities", "AtlasData.load_grid(remote id)",
             CorruptDownload, (str(TARGET_ID), "data_set.xml", "entities"), served(GRID, "xml_bomb"), load_target),
    Scenario("graph-malformed-json", f"structure graph: cut-off JSON, {RETRIES} tries",
             "AllenClient.structure_graph()", ServiceUnavailable, ("not valid JSON",),
             served(GRAPH, "bad_json", RETRIES), structure_graph),
    Scenario("graph-without-root", "structure graph JSON without the root 997", "AllenClient.structure_graph()",
             CorruptDownload, ("structure graph", "997"),
             graph_envelope({"success": True, "id": 0, "start_row": 0, "num_rows": 1, "total_rows": 1,
                             "msg": [{"id": 8, "acronym": "grey", "name": "Basic cell groups and regions",
                                      "children": []}]}), structure_graph),
    # -- the disk
    Scenario("disk-full-grid", "ENOSPC after 64 KiB", "AtlasData.load_grid(remote id)",
             AllenViewerError, ("Cannot write", "No space left on device"), disk_full(), load_target),
    Scenario("disk-full-index", "ENOSPC after 64 KiB", "AtlasData.refresh_gene_index()",
             AllenViewerError, ("gene index", "No space left on device", "previous index was kept"), disk_full(),
             refresh_index),
    Scenario("disk-full-reference", "ENOSPC after 64 KiB (the .part is kept to resume)",
             'AtlasData.download_reference("nissl")', AllenViewerError, ("No space left on device",), disk_full(),
             download_nissl, after_retry=_resumed(lambda attempt: 64 * 1024, record=1024)),
    Scenario("read-only-cache", "EROFS on every write under the cache", "AtlasData.load_grid(remote id)",
             AllenViewerError, ("cannot be written", "Read-only file system", "ALLEN_VIEWER_CACHE"), read_only,
             load_target),
    Scenario("read-only-cache-cli", "EROFS on every write under the cache", "allen-viewer fetch <id>",
             AllenViewerError, (str(TARGET_ID), "Read-only file system"), read_only,
             cli_action("fetch", TARGET_ID), cli=True),
    Scenario("cache-is-a-file-cli", "ALLEN_VIEWER_CACHE names a file", "allen-viewer fetch <id>",
             AllenViewerError, ("cache-file", "cannot be written", "ALLEN_VIEWER_CACHE"), cache_is_a_file,
             cli_action("fetch", TARGET_ID), cli=True),
    Scenario("reference-dir-is-a-file", "a file where cache/reference/ should be",
             'AtlasData.download_reference("nissl")', AllenViewerError, ("Cannot create the folder", "reference"),
             reference_dir_is_a_file, download_nissl),
    # -- damage inside the cache
    Scenario("corrupt-cache-entry", "cached grid zip: second half zeroed", "Cache.cached_grid(id) (every load)",
             CorruptData, (str(TARGET_ID), "damaged", "moved aside", "fetched again"), damaged_cached_grid(),
             cached_lookup, retry=load_target, after_retry=_refetched,
             quarantines=True, after_all=_quarantined(f"{TARGET_ID}.zip")),
    Scenario("corrupt-cache-entry-offline", "cached grid zip: second half zeroed; offline mode",
             "AtlasData.load_grid(id)", Offline, (str(TARGET_ID), "damaged", "moved aside"),
             damaged_cached_grid(offline=True), load_target, after_retry=_refetched,
             quarantines=True, after_all=_quarantined(f"{TARGET_ID}.zip")),
    Scenario("corrupt-cache-entry-cli", "cached grid zip: second half zeroed", "allen-viewer info <id>",
             None, (), damaged_cached_grid(), cli_action("info", TARGET_ID), cli=True, after_retry=_refetched,
             recovery="damaged copy moved to quarantine/, grid fetched again",
             quarantines=True, after_all=_quarantined(f"{TARGET_ID}.zip")),
    Scenario("corrupt-gene-index", "cached gene index: second half cut", "AtlasData.experiment('Nrp1')",
             None, (), damaged_gene_index, gene_index_lookup,
             recovery="damaged index moved to quarantine/, embedded index used",
             quarantines=True, after_all=_quarantined(GENE_INDEX_FILE)),
    # -- a process killed mid-write
    Scenario("killed-mid-grid", "SIGKILL while the grid zip is being written (slow body)",
             "python -m allen_viewer fetch <id>", None, (),
             served(GRID, "slow_body", rate=24_000, chunk=2048), _kill_mid_download(
                 ["fetch", str(TARGET_ID)], "grids", f".{TARGET_ID}.zip.*.part", 1),
             retry=cli_action("fetch", TARGET_ID), killed=True, leaves_stale_temp=True),
    Scenario("killed-mid-reference", "SIGKILL while the Nissl file is being written (slow body)",
             "python -m allen_viewer download-reference nissl", None, (),
             served(NISSL, "slow_body", rate=1_000_000, chunk=65536), _kill_mid_download(
                 ["download-reference", "nissl"], "reference", f"{NISSL_FILE}.part", 128 * 1024),
             retry=cli_action("download-reference", "nissl"), killed=True,
             after_retry=_resumed(lambda attempt: getattr(attempt.value, "size_after", 0))),
]


# ---------------------------------------------------------------------- judging


def message_problems(text: str, mentions: tuple[str, ...]) -> list[str]:
    """Why ``text`` is not a clear one-line message naming ``mentions`` (empty: it is)."""
    problems = []
    if not text.strip():
        problems.append("empty message")
    if "\n" in text.strip():
        problems.append("message spans several lines")
    for marker in _RAW_MARKERS:
        if marker in text:
            problems.append(f"message holds raw exception text ({marker!r})")
    m = _RAW_REPR.search(text)
    if m:
        problems.append(f"message holds an exception repr ({m.group(0)!r}...)")
    for word in mentions:
        if word.lower() not in text.lower():
            problems.append(f"message does not mention {word!r}")
    return problems


def _judge(s: Scenario, attempt: Attempt) -> tuple[str, list[str]]:
    """(the message shown to the user, problems with it) for the faulted action."""
    if attempt.error is not None and not isinstance(attempt.error, AllenViewerError):
        return (f"{type(attempt.error).__name__}: {attempt.error}",
                [f"a raw {type(attempt.error).__name__} escaped (a traceback for the user):\n{attempt.trace}"])
    if s.killed:
        k = attempt.value
        if attempt.error is not None or not isinstance(k, Killed):
            return str(attempt.error), ["the subprocess could not be run"]
        problems = []
        if not (k.alive_at_kill and k.part):
            problems.append(f"the process was not caught mid-write (alive={k.alive_at_kill}, part={k.part}, "
                            f"exit={k.returncode}, stderr={k.stderr.strip()[-300:]!r})")
        if k.returncode != -signal.SIGKILL:
            problems.append(f"the process ended with {k.returncode}, not SIGKILL")
        return f"(none: SIGKILL at {k.size_at_kill:,} bytes in {k.part})", problems
    if s.cli:
        if attempt.error is not None:  # an AllenViewerError that main() did not catch
            return str(attempt.error), [f"cli.main raised {type(attempt.error).__name__} instead of printing it"]
        r = attempt.value
        lines = r.err.strip().splitlines()
        if s.expect is None:
            return f"(none: {s.recovery})", ([] if r.code == 0 else [f"exit status {r.code}: {r.err.strip()}"])
        problems = [] if r.code == 1 else [f"exit status {r.code}, expected 1"]
        if len(lines) != 1:
            problems.append(f"{len(lines)} stderr lines, expected 1: {r.err!r}")
        shown = lines[-1] if lines else ""
        if not shown.startswith(f"{cli.PROG}: error: "):
            problems.append(f"stderr does not start with '{cli.PROG}: error: '")
        return shown, problems + message_problems(r.err, s.mentions)
    if s.expect is None:
        if attempt.error is not None:
            return str(attempt.error), [f"expected the app to recover, got {type(attempt.error).__name__}"]
        return f"(none: {s.recovery})", []
    if attempt.error is None:
        return "(no error)", [f"expected {s.expect.__name__}, the action succeeded"]
    problems = [] if isinstance(attempt.error, s.expect) else [
        f"expected {s.expect.__name__}, got {type(attempt.error).__name__}"]
    return str(attempt.error), problems + message_problems(str(attempt.error), s.mentions)


def _attempt(fn: Callable[[Run], object], run: Run) -> Attempt:
    try:
        return Attempt(value=fn(run))
    except Exception as exc:  # judged by the caller
        return Attempt(error=exc, trace=traceback.format_exc())


def _result_problems(value) -> list[str]:
    if isinstance(value, CliResult) and value.code != 0:
        return [f"exit status {value.code}: {value.err.strip()[-300:]}"]
    if isinstance(value, ExpressionGrid) and (value.energy.shape != GRID_SHAPE or not value.has_data.any()):
        return ["the grid loaded has no data"]
    if isinstance(value, Path) and not value.is_file():
        return [f"{value} is not there"]
    return []


def _local_loads(run: Run, when: str) -> list[str]:
    """A grid cached before the fault and an embedded gene load (no network, no writes)."""
    problems = []
    for exp_id, source in ((PRECACHED_ID, "cached"), (EMBEDDED_ID, "embedded")):
        try:
            grid = run.data().load_grid(exp_id)
        except Exception as exc:
            problems.append(f"{when}: the {source} grid {exp_id} does not load: {type(exc).__name__}: {exc}")
            continue
        # the energy-only embedded grid is upgraded into the cache (all three channels) the
        # first time it is used online, and that cached copy wins from then on
        ok = (source,) if source == "cached" else ("embedded", "cached")
        if grid.source not in ok or grid.energy.shape != GRID_SHAPE:
            problems.append(f"{when}: grid {exp_id} came from {grid.source!r}, expected {source!r}")
    return problems


_real_gene_index_load = GeneIndex.load.__func__
_parsed_indexes: dict[str, GeneIndex] = {}


def _gene_index_load(cls, path) -> GeneIndex:
    """``GeneIndex.load`` remembering what it parsed by content hash: the same bytes give
    the same index (parsing takes 0.4 s, and every action builds a new AtlasData); other
    bytes, a damaged file among them, still go through the real parser."""
    try:
        key = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return _real_gene_index_load(cls, path)
    if key not in _parsed_indexes:
        _parsed_indexes[key] = _real_gene_index_load(cls, path)
    return _parsed_indexes[key]


def _embedded_index() -> GeneIndex:
    return _gene_index_load(GeneIndex, config.resources_dir() / GENE_INDEX_FILE)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _prepare(run: Run) -> None:
    """Cache a grid fetched from the server, and a gene index (a copy of the embedded one, as
    a refresh leaves it); remember their SHA-256."""
    grid = run.data().grid_store.zip_path(PRECACHED_ID)
    index = run.cache / GENE_INDEX_FILE
    index.write_bytes((config.resources_dir() / GENE_INDEX_FILE).read_bytes())
    run.snapshot = {grid: _sha(grid), index: _sha(index)}


def _cache_problems(s: Scenario, run: Run, stage: str) -> list[str]:
    """What is wrong with the cache at ``stage`` ("after the fault" or "at the end")."""
    problems: list[str] = []
    end = stage == "at the end"
    for path, digest in run.snapshot.items():
        if end and path.name == GENE_INDEX_FILE:
            continue  # a successful refresh replaces it; checked below that it reads
        if not path.is_file():
            problems.append(f"{stage}: {path.name}, cached before the fault, is gone")
        elif _sha(path) != digest:
            problems.append(f"{stage}: {path.name}, cached before the fault, changed")
    grids = run.cache / "grids"
    for p in sorted(grids.iterdir()) if grids.is_dir() else []:
        if _ENTRY.match(p.name):
            try:  # as the app reads it: the zip checks, then the values and the experiment id
                load_grid(p, _embedded_index().by_id(int(p.stem)))
            except CorruptData as exc:
                problems.append(f"{stage}: corrupt file at the entry path grids/{p.name}: {exc}")
        elif p.name.startswith(".") and p.name.endswith(".part") and s.leaves_stale_temp:
            note = f"1 stale temp file of the killed process ({p.name}), never read as an entry"
            if note not in run.notes:
                run.notes.append(note)
        else:
            problems.append(f"{stage}: stray file grids/{p.name}")
    reference = run.cache / "reference"
    for p in sorted(reference.iterdir()) if reference.is_dir() else []:
        if p.name.endswith(".part") and not end:
            continue  # kept on purpose: the next try resumes from it
        kind = next((k for k, v in REFERENCE_VOLUMES.items() if v[0] == p.name), None)
        if kind is None:
            problems.append(f"{stage}: stray file reference/{p.name}")
            continue
        served_file = run.served.file_path(REFERENCE_VOLUMES[kind][1])
        if served_file is not None and _sha(p) != _sha(Path(served_file)):
            problems.append(f"{stage}: reference/{p.name} differs from the file the server has (partial?)")
    quarantine = run.cache / "quarantine"
    moved = sorted(p.name for p in quarantine.iterdir()) if quarantine.is_dir() else []
    if moved and not s.quarantines:
        problems.append(f"{stage}: entries were found damaged and moved to quarantine/: {', '.join(moved)}")
    index = run.cache / GENE_INDEX_FILE
    if index.is_file():
        try:
            read_gene_index(index)
        except CorruptData as exc:
            problems.append(f"{stage}: the cached gene index is corrupt: {exc}")
    for p in sorted(run.cache.iterdir()) if run.cache.is_dir() else []:
        if p.name not in ("grids", "reference", "quarantine", GENE_INDEX_FILE):
            problems.append(f"{stage}: stray file {p.name} in the cache folder")
    for p in run.root.rglob("*"):
        if not _inside(p, run.cache) and p not in run.outside_ok:
            problems.append(f"{stage}: {p.relative_to(run.root)} was written outside the cache")
    if any(p.name == "evil" for p in run.root.rglob("*")) or (REPO / "evil").exists() or Path("evil").exists():
        problems.append(f"{stage}: a zip member '../evil' was written somewhere")
    return problems


# ---------------------------------------------------------------------- running


@dataclass
class Outcome:
    """What one scenario showed; a property holds when its list of problems is empty."""

    name: str
    fault: str
    action: str
    message: str  # as the user saw it
    message_problems: list[str]
    working_problems: list[str]
    cache_problems: list[str]
    notes: list[str]
    seconds: float
    shown: str = ""  # ``message`` with the temporary cache folder written <cache>

    @property
    def clear_message(self) -> bool:
        return not self.message_problems

    @property
    def keeps_working(self) -> bool:
        return not self.working_problems

    @property
    def cache_intact(self) -> bool:
        return not self.cache_problems

    @property
    def passed(self) -> bool:
        return self.clear_message and self.keeps_working and self.cache_intact

    def report(self) -> str:
        lines = [f"{self.name}: {self.fault} / {self.action}", f"  message: {self.message}"]
        for title, items in (("clear message", self.message_problems), ("keeps working", self.working_problems),
                             ("cache intact", self.cache_problems)):
            lines += [f"  {title}: {p}" for p in items]
        return "\n".join(lines)


@contextlib.contextmanager
def fake_environment(server: FakeAllen, cache: Path) -> Iterator[None]:
    """The environment the app reads, pointed at ``server`` and ``cache``; restored after."""
    wanted = {"ALLEN_API_URL": server.api_url, "ALLEN_DOWNLOAD_URL": server.download_url,
              "ALLEN_VIEWER_CACHE": str(cache), "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
              "ALLEN_VIEWER_OFFLINE": None}
    old = {k: os.environ.get(k) for k in wanted}
    try:
        for k, v in wanted.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_scenario(s: Scenario, server: FakeAllen, workdir: Path) -> Outcome:
    """Run ``s`` in ``workdir/<name>`` (a fresh cache) against ``server``; see the module doc."""
    start = time.monotonic()
    root = Path(workdir) / s.name
    root.mkdir(parents=True)
    run = Run(server, root, root / "cache")
    server.reset()
    with fake_environment(server, run.cache), \
            mock.patch.object(GeneIndex, "load", classmethod(_gene_index_load)):
        try:
            _prepare(run)
            with s.fault(run):
                attempt = _attempt(s.act, run)
                during = [] if s.killed else _local_loads(run, "during the fault")
            server.clear_faults()
            message, message_issues = _judge(s, attempt)
            cache_issues = _cache_problems(s, run, "after the fault")
            working = during
            again = _attempt(s.retry or s.act, run)
            if again.error is not None:
                working.append(f"the action still fails once the fault is gone: {type(again.error).__name__}: "
                               f"{again.error}")
            else:
                working += _result_problems(again.value)
                if s.after_retry is not None:
                    working += s.after_retry(run, attempt)
            working += _local_loads(run, "after the fault")
            cache_issues += _cache_problems(s, run, "at the end")
            if s.after_all is not None:
                cache_issues += s.after_all(run)
        finally:
            run.close()
            server.clear_faults()
    shown = message
    for folder, name in ((run.cache, "<cache>"), (run.root, "<work>")):
        shown = re.sub(re.escape(str(folder)) + r"(?=[/\\\s),;]|$)", name, shown)
    return Outcome(s.name, s.fault_text, s.action_text, message, message_issues, working, cache_issues,
                   run.notes, time.monotonic() - start, shown)


def _cell(text: str, width: int) -> str:
    text = " ".join(str(text).split()).replace("|", "/")
    return text if len(text) <= width else text[:width - 3] + "..."


def format_table(outcomes: list[Outcome], message_width: int = 90) -> str:
    """A Markdown table: fault | how it was made | action | message shown (truncated, the
    temporary cache folder written ``<cache>``) | clear | keeps working | cache intact."""
    yes = {True: "yes", False: "NO"}
    rows = [("fault", "how it was made", "action", "message shown (truncated)", "clear", "keeps working",
             "cache intact")]
    for o in outcomes:
        rows.append((o.name, _cell(o.fault, 60), _cell(o.action, 45), _cell(o.shown or o.message, message_width),
                     yes[o.clear_message], yes[o.keeps_working], yes[o.cache_intact]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
