"""Round two, categories 3, 4, 5 and 7: a server that drips, rate-limits, sends too much,
sends escape codes, malformed rows or absurd values (docs/reliability.md).

The server is :class:`tests.faults.hostile.HostileServer` on a loopback port; grids it
sends are the real embedded grid 71717084 with GENERATED damage.
"""
from __future__ import annotations

import email.utils
import io
import json
import time
import zipfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

import allen_viewer.api.transport as transport_module
import allen_viewer.api.limits as limits_module
from allen_viewer.api.client import AllenClient
from allen_viewer.api.limits import DownloadLimits, RateGuard, TooSlow, retry_after_seconds
from allen_viewer.data import GENE_INDEX_FILE, AtlasData
from allen_viewer.errors import AllenViewerError, CorruptData, CorruptDownload, ServiceUnavailable
from allen_viewer.formats.grid_file import GRID_SHAPE, mhd_header, read_grid_zip
from allen_viewer.library.remote import normalise_differential
from allen_viewer.sanitize import clean_text
from allen_viewer.store.cache import Cache
from allen_viewer.store.gene_index import write_gene_index
from tests.faults.hostile import (
    HostileServer,
    api_env,
    assert_clear,
    assert_one_line_error,
    cli_run,
    drip,
    envelope,
    grid_zip_bytes,
    real_volume,
    send,
)

GRID = "/grid_data/download/"
QUERY = "/api/v2/data/query.json"
TARGET = 79913171
FAST = DownloadLimits(min_rate=2000.0, window=1.0, deadline=30.0)


def client(url: str, limits: DownloadLimits = FAST, retries: int = 2) -> AllenClient:
    return AllenClient(url, url + "/dl", timeout=(2.0, 5.0), retries=retries, backoff=0.01, limits=limits)


def _no_temp(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# ---- 3. downloads ----------------------------------------------------------------------------

def test_a_dripping_grid_is_abandoned_with_a_message(tmp_path):
    with HostileServer() as srv:
        srv.routes[GRID] = drip(grid_zip_bytes(experiment_id=TARGET), every=0.05)
        t = time.monotonic()
        with pytest.raises(TooSlow) as err:
            client(srv.url).download_grid(TARGET, tmp_path / "g" / f"{TARGET}.zip")
        # a deadline test: the stalled body ends within 5x the rate window (TooSlow already
        # says it was abandoned for its rate; the bound only says it did not run on)
        assert time.monotonic() - t < 5 * FAST.window
        assert srv.hits[GRID] == 1  # abandoned, not retried
    assert_clear(err.value, "bytes/s", "abandoned", "127.0.0.1")
    assert _no_temp(tmp_path) == []


def test_a_dripping_json_answer_is_abandoned(tmp_path):
    with HostileServer() as srv:
        srv.routes[QUERY] = drip(envelope([{"id": 1}] * 200), every=0.05)
        with pytest.raises(ServiceUnavailable) as err:
            client(srv.url).rma("model::Gene")
    assert_clear(err.value, "bytes/s", "abandoned")


def test_the_overall_deadline_ends_a_slow_but_steady_body(tmp_path):
    body = grid_zip_bytes(experiment_id=TARGET)
    with HostileServer() as srv:
        srv.routes[GRID] = drip(body, every=0.0005)
        # the rate check waits for a 100 s window; the deadline (0.5 s plus size / min_rate) ends it first
        limits = DownloadLimits(min_rate=1e9, window=100.0, deadline=0.5)
        with pytest.raises(TooSlow) as err:
            client(srv.url, limits).download_grid(TARGET, tmp_path / f"{TARGET}.zip")
    assert_clear(err.value, "allowed", "abandoned")
    assert _no_temp(tmp_path) == []


def test_the_cli_abandons_a_drip_server(tmp_path):
    with HostileServer() as srv, api_env(srv.url), \
            mock.patch.object(limits_module, "DEFAULT_LIMITS", FAST), \
            mock.patch.object(transport_module, "DEFAULT_LIMITS", FAST):
        srv.routes[GRID] = drip(grid_zip_bytes(experiment_id=TARGET), every=0.05)
        r = cli_run("fetch", TARGET)
    assert_one_line_error(r, "abandoned")


def test_retry_after_on_429_is_honoured():
    calls = []

    def limited(req):
        calls.append(time.monotonic())
        if len(calls) == 1:
            send(req, b'{"success": false, "msg": "slow down"}', 429, headers={"Retry-After": "1"})
        else:
            send(req, envelope([{"id": 5, "acronym": "Pdyn"}]))

    with HostileServer() as srv:
        srv.routes[QUERY] = limited
        rows = client(srv.url).rma("model::Gene")
    assert rows == [{"id": 5, "acronym": "Pdyn"}]
    assert calls[1] - calls[0] >= 0.95  # waited as asked, not the 10 ms backoff


def test_a_long_retry_after_is_not_slept_and_says_rate_limiting():
    with HostileServer() as srv:
        srv.routes[QUERY] = lambda req: send(req, b"{}", 429, headers={"Retry-After": "3600"})
        t = time.monotonic()
        with pytest.raises(ServiceUnavailable) as err:
            client(srv.url, retries=3).rma("model::Gene")
        assert time.monotonic() - t < 3600 / 10  # not the hour asked for (a bound far from any speed)
        assert srv.hits[QUERY] == 1
    text = assert_clear(err.value, "rate-limiting", "429", "3,600 s")
    assert "may be down" not in text


def test_429_without_retry_after_says_rate_limiting_too():
    with HostileServer() as srv:
        srv.routes[QUERY] = lambda req: send(req, b"", 429)
        with pytest.raises(ServiceUnavailable) as err:
            client(srv.url).rma("model::Gene")
    assert_clear(err.value, "rate-limiting")


def test_retry_after_forms():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    assert retry_after_seconds("9" * 50) is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= retry_after_seconds(later) <= 31


def test_rate_guard_allows_a_steady_body_and_stops_a_drip():
    now = [0.0]
    guard = RateGuard("srv", DownloadLimits(min_rate=100, window=2, deadline=100), clock=lambda: now[0])
    for k in range(1, 50):  # 200 bytes/s for 25 s: fine
        now[0] = k * 0.5
        guard.update(k * 100)
    drip_guard = RateGuard("srv", DownloadLimits(min_rate=100, window=2, deadline=100), clock=lambda: now[0])
    start = now[0]
    with pytest.raises(TooSlow):
        for k in range(1, 100):  # one byte a second
            now[0] = start + k
            drip_guard.update(k)
    assert now[0] - start <= 3


def test_a_json_answer_over_the_cap_is_dropped(monkeypatch):
    monkeypatch.setattr(transport_module, "MAX_JSON_BYTES", 10_000)
    big = envelope([{"id": i, "acronym": "x" * 50} for i in range(500)])
    with HostileServer() as srv:
        srv.routes[QUERY] = lambda req: send(req, big)
        with pytest.raises(ServiceUnavailable) as err:
            client(srv.url).rma("model::Gene")
        assert_clear(err.value, "10,000")
        srv.routes[QUERY] = lambda req: send(req, b"", length=10**9)  # announces 1 GB, sends nothing
        with pytest.raises(ServiceUnavailable) as err:
            client(srv.url).rma("model::Gene")
        assert_clear(err.value, "1,000,000,000")


def test_json_nested_100000_deep_names_the_service():
    with HostileServer() as srv:
        srv.routes[QUERY] = lambda req: send(req, b'{"success": true, "msg": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
        with pytest.raises(ServiceUnavailable) as err:
            client(srv.url).rma("model::Gene")
    assert_clear(err.value, "nested", "Allen API")


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_a_grid_zip_of_many_members_is_refused(tmp_path):
    body = grid_zip_bytes(experiment_id=TARGET, extra={f"junk{i}.raw": b"" for i in range(120)})
    with HostileServer() as srv:
        srv.routes[GRID] = lambda req: send(req, body, ctype="application/zip")
        with pytest.raises(CorruptDownload) as err:
            client(srv.url).download_grid(TARGET, tmp_path / f"{TARGET}.zip")
    assert_clear(err.value, "members")
    assert _no_temp(tmp_path) == []


def test_a_grid_zip_inflating_past_the_total_cap_is_refused_before_inflating(tmp_path):
    body = grid_zip_bytes(experiment_id=TARGET, extra={f"pad{i}.raw": bytes(6 * 2**20) for i in range(3)})
    assert len(body) < 500_000  # small on the wire (the real grid and 3 x 6 KB), 18 MiB inflated
    with HostileServer() as srv:
        srv.routes[GRID] = lambda req: send(req, body, ctype="application/zip")
        with pytest.raises(CorruptDownload) as err:
            client(srv.url).download_grid(TARGET, tmp_path / f"{TARGET}.zip")
    # refused on the sizes the zip declares (the message names the total cap), not on time
    assert_clear(err.value, "in all")
    assert _no_temp(tmp_path) == []


def test_a_reference_file_larger_than_its_cap_is_refused_before_writing(tmp_path):
    with HostileServer() as srv:
        srv.routes["/dl/"] = lambda req: send(req, b"x" * 5000, ctype="application/octet-stream")
        with pytest.raises(CorruptDownload) as err:
            client(srv.url).download_file("a/ref.nrrd", tmp_path / "ref.nrrd", max_bytes=1000)
        assert_clear(err.value, "5,000", "1,000")
        assert _no_temp(tmp_path) == []

        def no_length(req):  # HTTP/1.0-style body ended by closing the connection
            req.send_response(200)
            req.send_header("Content-Type", "application/octet-stream")
            req.send_header("Connection", "close")
            req.end_headers()
            req.wfile.write(b"y" * 5000)
            req.close_connection = True

        srv.routes["/dl/"] = no_length
        with pytest.raises(CorruptDownload) as err:
            client(srv.url).download_file("a/ref.nrrd", tmp_path / "ref.nrrd", max_bytes=1000)
        assert_clear(err.value, "1,000")
        assert _no_temp(tmp_path) == []


def test_a_reference_download_checks_free_space_first(tmp_path, monkeypatch):
    class Usage:
        free = 10 * 2**20

    monkeypatch.setattr(limits_module.shutil, "disk_usage", lambda _p: Usage())
    with HostileServer() as srv:
        srv.routes["/dl/"] = lambda req: send(req, b"", ctype="application/octet-stream", length=100_000_000)
        with pytest.raises(AllenViewerError) as err:
            client(srv.url).download_file("a/ref.nrrd", tmp_path / "ref.nrrd", max_bytes=200_000_000)
    assert_clear(err.value, "free space", "MB")
    assert _no_temp(tmp_path) == []


def test_reference_downloads_are_capped_per_kind(monkeypatch):
    seen = {}

    def fake(self, relpath, dest, expected_size=None, progress=None, cancel=None, max_bytes=None, check=None):
        seen[relpath] = max_bytes
        return Path(dest)

    monkeypatch.setattr(AllenClient, "download_file", fake)
    data = AtlasData()
    data.download_reference("nissl")
    data.download_reference("template")
    assert all(v is not None and v < 300_000_000 for v in seen.values()) and len(seen) == 2


# ---- 4. text from the server ---------------------------------------------------------------

EVIL = "\x1b[2J\x1b[H\x1b]0;pwned\x07Traceback (most recent call last):\n  File \"x\", line 1\r\n" + "A" * 5000


def test_an_error_msg_cannot_clear_the_terminal_or_fake_a_traceback():
    with HostileServer() as srv, api_env(srv.url):
        srv.routes[QUERY] = lambda req: send(req, json.dumps({"success": False, "msg": EVIL}).encode())
        r = cli_run("refresh-index")
    assert r.code == 1
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("allen-viewer: error: ")
    assert "\x1b" not in r.err and "\r" not in r.err and "\x07" not in r.err
    assert len(lines[0]) <= 1000


def test_an_http_error_msg_is_cleaned_too():
    with HostileServer() as srv:
        srv.routes[QUERY] = lambda req: send(req, json.dumps({"success": False, "msg": EVIL}).encode(), 500)
        with pytest.raises(ServiceUnavailable) as err:
            client(srv.url, retries=1).rma("model::Gene")
    text = str(err.value)
    assert "\x1b" not in text and "\n" not in text and len(text) < 600


def test_a_zip_member_name_with_escape_codes_is_cleaned():
    body = _zip({"../\x1b[31mevil\n": b"x", "energy.mhd": mhd_header("energy.raw").encode()})
    with pytest.raises(CorruptData) as err:
        read_grid_zip(body)
    assert "\x1b" not in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("raw,expected", [
    ("\x1b[31mred\x1b[0m", "red"),
    ("a\x9b2Jb", "ab"),
    ("title\x1b]0;x\x07end", "titleend"),
    ("line1\nline2\r\n\tline3", "line1 line2 line3"),
    ("rtl\u202eevil\u2028x", "rtlevil x"),
    (b"bytes\xff\x00", "bytes\ufffd"),
])
def test_the_sanitiser(raw, expected):
    assert clean_text(raw) == expected


def test_the_sanitiser_bounds_length():
    out = clean_text("x" * 10**6, 100)
    assert len(out) == 100 and out.endswith("...")


# ---- 5. malformed API data ----------------------------------------------------------------

GOOD_ROW = {"id": 123, "plane_of_section": {"name": "coronal"},
            "genes": [{"acronym": "Abc1", "name": "a gene", "entrez_id": 11}]}


@pytest.mark.parametrize("row,why", [
    ({**GOOD_ROW, "id": "12ab"}, "not a number"),
    ({**GOOD_ROW, "id": None}, "not a number"),
    ({**GOOD_ROW, "genes": "Abc1"}, "list"),
    ({**GOOD_ROW, "genes": ["Abc1"]}, "list"),
    ({**GOOD_ROW, "genes": [{"acronym": ["x"]}]}, "acronym"),
    ({**GOOD_ROW, "genes": [{"acronym": "Abc1", "entrez_id": "eleven"}]}, "Entrez"),
    ({**GOOD_ROW, "plane_of_section": "coronal"}, "plane_of_section"),
    ({**GOOD_ROW, "plane_of_section": {"name": "diagonal"}}, "plane"),
    (42, "not an object"),
], ids=["id-text", "id-null", "genes-string", "genes-of-strings", "acronym-list", "entrez-text", "plane-string",
        "plane-unknown", "row-number"])
def test_malformed_rows_name_the_service_and_keep_the_index(row, why):
    cache = Cache()
    index = cache.root / GENE_INDEX_FILE
    with HostileServer() as srv, api_env(srv.url):
        srv.routes[QUERY] = lambda req: send(req, envelope([GOOD_ROW, row]))
        r = cli_run("refresh-index")
    assert_one_line_error(r, "Allen API", "malformed", why, "not changed")
    assert not index.exists()


def test_a_cached_gene_index_with_bad_rows_is_quarantined(gene_index):
    from allen_viewer.records import Experiment

    cache = Cache()
    path = cache.root / GENE_INDEX_FILE
    cache.root.mkdir(parents=True, exist_ok=True)
    rows = list(gene_index.experiments[:50])
    rows.append(Experiment(1, "Bad", "bad", None, "diagonal"))
    write_gene_index(rows, path)
    data = AtlasData(cache)
    assert len(data.gene_index) == len(gene_index)  # the embedded index, not the 51 rows
    assert not path.exists()
    moved = list((cache.root / "quarantine").iterdir())
    assert any(p.name.startswith("gene_index") and not p.name.endswith(".reason.txt") for p in moved)
    # a non-numeric id that parses as text: the same
    import gzip
    path.write_bytes(gzip.compress(b"id\tsymbol\talias\tname\tentrez_id\tplane\nabc\tX\t\tx\t\tcoronal\n"))
    assert len(AtlasData(cache).gene_index) == len(gene_index)
    assert not path.exists()


def test_remote_search_rows_with_nan_or_junk_are_dropped():
    rows = [{"id": "5", "fold-change": "NaN"}, {"id": "6", "fold-change": "inf"}, {"id": "x", "fold-change": "2"},
            {"id": "7", "fold-change": "1e999"}, {"id": "8", "fold-change": "2.5", "gene-symbol": "G\x1b[2Jx\n"}]
    hits = normalise_differential(rows)
    assert [h.experiment_id for h in hits] == [8]
    assert hits[0].symbol == "Gx"


# ---- 7. values ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", [3e38, np.inf, -np.inf, 2e6], ids=["3e38", "inf", "-inf", "2e6"])
def test_absurd_or_non_finite_grid_values_are_refused_at_download(tmp_path, value):
    vol = real_volume().copy()
    vol.reshape(-1)[::997] = value
    body = grid_zip_bytes(vol, experiment_id=TARGET)
    with HostileServer() as srv:
        srv.routes[GRID] = lambda req: send(req, body, ctype="application/zip")
        with pytest.raises(CorruptDownload) as err:
            client(srv.url).download_grid(TARGET, tmp_path / f"{TARGET}.zip")
    assert_clear(err.value, "energy.raw")
    assert _no_temp(tmp_path) == []


@pytest.mark.parametrize("held", ["\u00b2", "1\u00b23", "\u0661\u0662", "9" * 5000],
                         ids=["superscript-2", "1-superscript-2-3", "arabic-indic", "5000-digits"])
def test_a_data_set_id_that_is_not_an_id_does_not_crash_the_download(tmp_path, held):
    """data_set.xml's <id> is the server's text: str.isdigit() accepts '\u00b2' and 5,000
    digits, on which int() raises; only an id of 1-12 ASCII digits is compared (as
    expression/grid.py does), anything else is no claim at all."""
    body = grid_zip_bytes(experiment_id=held)
    with HostileServer() as srv:
        srv.routes[GRID] = lambda req: send(req, body, ctype="application/zip")
        path = client(srv.url).download_grid(TARGET, tmp_path / f"{TARGET}.zip")
    assert path.read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{TARGET}.zip"]  # no temporary file left


def test_real_grids_pass_the_value_check():
    vol = real_volume()
    assert vol.shape == GRID_SHAPE and float(vol.max()) < 1e3
    read_grid_zip(grid_zip_bytes())


def test_gzip_json_is_read_and_a_gzip_bomb_is_capped(monkeypatch):
    import gzip

    rows = [{"id": i, "acronym": f"G{i}"} for i in range(300)]
    with HostileServer() as srv:
        srv.routes[QUERY] = lambda req: send(req, gzip.compress(envelope(rows)), headers={"Content-Encoding": "gzip"})
        assert client(srv.url).rma("model::Gene") == rows  # what the real API does
        monkeypatch.setattr(transport_module, "MAX_JSON_BYTES", 100_000)
        bomb = gzip.compress(b'{"success": true, "msg": "' + b" " * 5_000_000 + b'"}')
        assert len(bomb) < 100_000
        srv.routes[QUERY] = lambda req: send(req, bomb, headers={"Content-Encoding": "gzip"})
        with pytest.raises(ServiceUnavailable) as err:
            client(srv.url).rma("model::Gene")
    assert_clear(err.value, "100,000")
