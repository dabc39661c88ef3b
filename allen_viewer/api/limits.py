"""Bounds on what a server may make the client wait for, download or hold in memory.

Shared by every download path of :class:`~allen_viewer.api.client.AllenClient` (grids,
reference files, JSON answers) and meant for any new one (section images, searches):
build a :class:`RateGuard` per body and call :meth:`RateGuard.update` after each chunk,
read JSON through :data:`MAX_JSON_BYTES`, sleep :func:`retry_after_seconds` on HTTP 429,
and call :func:`check_free_space` before writing a large file.  The figures
(docs/reliability.md, "Downloads"):

* every body must keep an average of at least ``min_rate`` bytes/s over any
  ``window``-second stretch (a server dripping a byte a second is abandoned after
  ``window`` seconds) and finish within ``deadline`` seconds (grids, JSON answers) or
  ``deadline + expected size / min_rate`` (reference files: 136 MB at the minimum rate
  would take longer than any fixed deadline);
* a JSON answer is at most :data:`MAX_JSON_BYTES` (64 MiB; the largest real page, 2000
  experiment rows with their genes, is about 2 MB) and nested no deeper than the JSON
  parser's recursion limit;
* ``Retry-After`` on HTTP 429/503 is honoured up to :data:`MAX_RETRY_AFTER_S` seconds;
  a longer wait is not slept: the client gives up at once and says the service is
  rate-limiting;
* a grid zip holds at most ``MAX_ZIP_MEMBERS`` members and ``MAX_ZIP_TOTAL_BYTES``
  uncompressed bytes (:mod:`allen_viewer.formats.grid_file`, checked from the zip's
  directory before a byte is inflated);
* a reference file is refused when it is larger than the caller's ``max_bytes`` (or
  :data:`MAX_REFERENCE_BYTES`), and its body is cut off there;
* a file is only downloaded when its expected size plus :data:`FREE_SPACE_MARGIN` fits in
  the free space of the target folder.
"""
from __future__ import annotations

import email.utils
import json
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

from allen_viewer.errors import AllenViewerError, ServiceUnavailable

MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_RETRY_AFTER_S = 60.0
MAX_REFERENCE_BYTES = 1024 * 1024 * 1024
"""A reference file whose size neither the server nor the caller states is cut off here."""
FREE_SPACE_MARGIN = 64 * 1024 * 1024


@dataclass(frozen=True)
class DownloadLimits:
    """``min_rate`` bytes/s over any ``window`` seconds, and ``deadline`` seconds in all."""

    min_rate: float = 2048.0
    window: float = 20.0
    deadline: float = 600.0

    def with_(self, **changes) -> "DownloadLimits":
        return replace(self, **changes)


DEFAULT_LIMITS = DownloadLimits()


class TooSlow(ServiceUnavailable):
    """A body that arrived slower than the minimum rate or past the deadline."""


class RateGuard:
    """Watches one body: :meth:`update` with the bytes received so far (this request's)
    raises :class:`TooSlow` once the body is too slow or too late.  ``who`` names the
    server in the message; ``expected`` (bytes, if known) stretches the deadline."""

    def __init__(self, who: str, limits: DownloadLimits = DEFAULT_LIMITS, expected: int | None = None,
                 clock=time.monotonic):
        self.who, self.limits, self._clock = who, limits, clock
        self.start = clock()
        extra = (expected / limits.min_rate) if expected and limits.min_rate > 0 else 0.0
        self.deadline = self.start + limits.deadline + extra
        self._marks: list[tuple[float, int]] = [(self.start, 0)]

    def update(self, done: int) -> None:
        now = self._clock()
        if now > self.deadline:
            raise TooSlow(f"{self.who} had sent {done:,} bytes after {now - self.start:.0f} s, past the "
                          f"{self.deadline - self.start:.0f} s allowed; the download was abandoned. Try again later.")
        self._marks.append((now, done))
        window = self.limits.window
        if now - self.start < window:
            return
        while len(self._marks) > 2 and now - self._marks[1][0] >= window:
            self._marks.pop(0)  # keep the newest mark at least ``window`` seconds old
        t0, d0 = self._marks[0]
        if now - t0 >= window and (done - d0) < self.limits.min_rate * (now - t0):
            rate = (done - d0) / max(now - t0, 1e-9)
            raise TooSlow(f"{self.who} sent data at {rate:,.0f} bytes/s over {now - t0:.0f} s, below the "
                          f"minimum {self.limits.min_rate:,.0f} bytes/s; the download was abandoned. "
                          "Try again later.")


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay-seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = str(value).strip()
    if text.isascii() and text.isdigit() and len(text) <= 12:
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def loads_bounded(body: bytes, who: str):
    """``json.loads`` of an answer of at most :data:`MAX_JSON_BYTES`; JSON nested deeper than
    the parser's recursion limit (about 1000 levels) is refused.  Raises ``ValueError``
    for text that is not JSON, :class:`ServiceUnavailable` for the rest."""
    if len(body) > MAX_JSON_BYTES:
        raise ServiceUnavailable(f"{who} sent a JSON answer of {len(body):,} bytes, more than the "
                                 f"{MAX_JSON_BYTES:,} allowed; it was dropped.")
    try:
        return json.loads(body)
    except RecursionError:
        raise ServiceUnavailable(f"{who} sent JSON nested too deeply to read (thousands of levels); "
                                 "it was dropped as malformed.") from None


def check_free_space(folder: Path | str, need: int, what: str) -> None:
    """AllenViewerError when ``folder`` has less than ``need`` + :data:`FREE_SPACE_MARGIN`
    bytes free (nothing is checked when the free space cannot be read)."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if need + FREE_SPACE_MARGIN > free:
        raise AllenViewerError(f"Not enough free space for {what}: it needs {need / 1e6:,.0f} MB and "
                               f"{Path(folder)} has {free / 1e6:,.0f} MB free (keeping "
                               f"{FREE_SPACE_MARGIN // 2**20} MiB spare). Free some space, or set "
                               "ALLEN_VIEWER_CACHE to a folder on a larger disk.")
