"""How sidecars are named, and whether a file at a sidecar's name is one of ours.

Every export writes one sidecar per output (docs/reliability.md, "Sidecars"), named after
the whole output file (:func:`sidecar_path`: ``figure.png`` -> ``figure.png.json``,
``turn.gif`` -> ``turn.gif.json``), so no two outputs share one.  Older versions wrote
``STEM.json`` (:func:`legacy_sidecar_path`); that name is only ever read now, never
written.  Only a file that :func:`is_own_sidecar` accepts is ever replaced (with
``--force``); any other file at a sidecar's name is refused in one line
(:func:`foreign_sidecar_message`).

What goes *into* a sidecar (the provenance record) and the writer live in
:mod:`allen_viewer.export.provenance`; the naming lives here, at the bottom, because the
output guard (:mod:`allen_viewer.io.guard`) checks sidecars before any export starts.
Standard library only.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

SIDECAR_FORMAT = "allen_viewer.sidecar"
"""The top-level ``format`` of every sidecar this program writes."""
SIDECAR_VERSION = 1
"""The sidecar format's version (1: the first with the ``format`` key and the
``FILE.EXT.json`` name)."""
SIDECAR_MAX_BYTES = 50_000_000
"""A file larger than this at a sidecar's name is not read to decide whether it is ours
(it is then treated as not ours, so never replaced)."""


def sidecar_path(path: Path | str) -> Path:
    """The sidecar of the output ``path``: the whole file name plus ``.json``
    (``figure.png`` -> ``figure.png.json``; ``table.json`` -> ``table.json.json``).  The one
    place that names sidecars: the CLI, the window and every writer use it."""
    return Path(str(path) + ".json")


def legacy_sidecar_path(path: Path | str) -> Path:
    """Where versions before the ``format`` key put the sidecar of ``path``: ``STEM.json``
    (``figure.png`` -> ``figure.json``).  Read only
    (:func:`allen_viewer.export.provenance.read_session_source`)."""
    path = Path(path)
    return Path(str(path) + ".json") if path.suffix == "" else path.with_suffix(".json")


def is_own_sidecar(path: Path | str) -> bool:
    """Whether ``path`` is a regular file holding a sidecar this program wrote: a JSON
    object with ``"format": "allen_viewer.sidecar"``, or (written before that key) one with
    an ``export`` key and a ``software`` starting ``allen_viewer ``.  Anything else -- not
    JSON, another JSON, too large, unreadable, a link or special file -- is not."""
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size > SIDECAR_MAX_BYTES:
            return False
        with open(path, "rb") as fh:
            record = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    if not isinstance(record, dict):
        return False
    if record.get("format") == SIDECAR_FORMAT:
        return True
    software = record.get("software")
    return "export" in record and isinstance(software, str) and software.startswith("allen_viewer ")


def foreign_sidecar_message(side: Path | str) -> str:
    """The one line for a file at a sidecar's name that is not one of ours."""
    return (f"{side} exists and is not a sidecar written by allen_viewer; it is never replaced, not even "
            "with --force. Move it away or choose another output name.")
