"""Checks on command-line values that argparse lets through, run before any command works.

:func:`check_arguments` looks at the parsed namespace by attribute name, so it covers every
command (the library's too) without per-command code; each problem is one
:class:`AllenViewerError` line (the CLI prints ``allen-viewer: error: ...`` and exits 1).
The rules (docs/reliability.md, "Arguments"):

* a gene, experiment id or structure that is blank or white space only is an error (a
  blank query would otherwise match every experiment);
* an id must be ASCII digits (``²`` is refused) and at most 12 of them; text with control
  characters or longer than 200 characters is refused;
* counts (``--limit``, ``--top``, ``--workers``, ``--min-voxels``) must be >= 1 and
  ``--depth``/``--list`` >= 0, and none above 10,000,000;
* ``--threshold`` must be a finite number (not NaN or inf) and >= 0, ``--threshold-percentile``
  finite and within 0-100 (what a session, and so an export's sidecar, can hold);
* ``--genes``/``--structures`` files are checked where they are read (:func:`read_text_list`).
"""
from __future__ import annotations

import math
import unicodedata
from pathlib import Path

from allen_viewer.errors import AllenViewerError
from allen_viewer.sanitize import MAX_ID_DIGITS, clean_text

MAX_QUERY_CHARS = 200
MAX_COUNT = 10_000_000
MAX_LIST_FILE_BYTES = 16 * 1024 * 1024
"""Largest --genes/--structures file read (a list of every mouse gene is under 1 MB)."""

# attribute -> what it is called in messages
_QUERIES = {"experiment": "experiment", "a": "first gene", "b": "second gene", "seed": "seed",
            "gene": "--gene", "compare": "--compare", "structure": "--structure"}
_QUERY_LISTS = {"experiments": "experiment", "text": "search text"}
_COUNTS = {"limit": ("--limit", 1), "top": ("--top", 1), "workers": ("--workers", 1),
           "min_voxels": ("--min-voxels", 1), "depth": ("--depth", 0), "list": ("--list", 0)}
_FINITE = {"threshold": "--threshold", "threshold_percentile": "--threshold-percentile"}
# attribute -> (flag, least, most): a session keeps threshold >= 0 and a percentile in 0-100
# (ViewerState.from_dict), so an export's sidecar could not be reopened with anything else
_RANGES = {"threshold": ("--threshold", 0.0, None), "threshold_percentile": ("--threshold-percentile", 0.0, 100.0)}


def check_query(text, what: str = "gene or experiment") -> str:
    """``text`` stripped, or AllenViewerError when it cannot be a gene, id or acronym."""
    raw = str(text)
    stripped = raw.strip()
    if not stripped:
        hint = "a structure acronym" if "structure" in what else "a gene symbol or an experiment id"
        raise AllenViewerError(f"The {what} is blank; give {hint}.")
    if stripped.isascii() and stripped.isdigit() and len(stripped) > MAX_ID_DIGITS:
        raise AllenViewerError(f"The {what} has {len(stripped):,} digits; experiment ids have at most "
                               f"{MAX_ID_DIGITS}.")
    if len(stripped) > MAX_QUERY_CHARS:
        raise AllenViewerError(f"The {what} is {len(stripped):,} characters long; no gene symbol or id is "
                               f"longer than {MAX_QUERY_CHARS}.")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in stripped):
        raise AllenViewerError(f"The {what} {clean_text(stripped, 60)!r} holds control characters.")
    if any(c.isdigit() and not c.isascii() for c in stripped):
        raise AllenViewerError(f"The {what} {clean_text(stripped, 60)!r} holds non-ASCII digits; "
                               "experiment ids are written with 0-9.")
    return stripped


def check_arguments(args) -> None:
    """Raise AllenViewerError for the first value of ``args`` (an argparse namespace) that
    no command can use; see the module docstring."""
    for name, what in _QUERIES.items():
        value = getattr(args, name, None)
        if value is not None and not isinstance(value, Path):
            check_query(value, what)
    for name, what in _QUERY_LISTS.items():
        values = getattr(args, name, None)
        if isinstance(values, list):
            if name == "text":
                check_query(" ".join(map(str, values)), what)
            for v in values:
                check_query(v, what)
    for name, (flag, least) in _COUNTS.items():
        value = getattr(args, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and not least <= value <= MAX_COUNT:
            raise AllenViewerError(f"{flag} must be between {least} and {MAX_COUNT:,}, not {value}.")
    for name, flag in _FINITE.items():
        value = getattr(args, name, None)
        if isinstance(value, float) and not math.isfinite(value):
            raise AllenViewerError(f"{flag} must be a finite number, not {value}.")
    for name, (flag, least, most) in _RANGES.items():
        value = getattr(args, name, None)
        if isinstance(value, float) and (value < least or (most is not None and value > most)):
            span = f"at least {least:g}" if most is None else f"between {least:g} and {most:g}"
            raise AllenViewerError(f"{flag} must be {span}, not {value:g}.")
    if isinstance(getattr(args, "threshold", None), float):  # 1e308: above every energy, not an overflow
        from allen_viewer.state import MAX_THRESHOLD

        args.threshold = min(args.threshold, MAX_THRESHOLD)


def read_text_list(path: Path | str, what: str) -> str:
    """The text of a user's list file (``--genes``, ``--structures``), or AllenViewerError
    when it cannot be read, is not a regular file, is larger than
    :data:`MAX_LIST_FILE_BYTES` or is not UTF-8 text (a NUL byte, undecodable bytes)."""
    path = Path(path)
    try:
        if not path.is_file():
            raise AllenViewerError(f"The {what} {path} is not a file" + (" (it is a folder)." if path.is_dir() else "."))
        size = path.stat().st_size
        if size > MAX_LIST_FILE_BYTES:
            raise AllenViewerError(f"The {what} {path} is {size:,} bytes; a list file is at most "
                                   f"{MAX_LIST_FILE_BYTES:,} bytes.")
        data = path.read_bytes()
    except OSError as exc:
        raise AllenViewerError(f"Cannot read the {what} {path} ({exc.strerror or clean_text(exc)}).") from None
    if b"\x00" in data:
        raise AllenViewerError(f"The {what} {path} is not a text file (it holds NUL bytes); give a file of "
                               "names, one per line or comma separated.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AllenViewerError(f"The {what} {path} is not UTF-8 text (a bad byte at offset {exc.start}).") from None
