"""Provenance written next to every export (its sidecar ``FILE.EXT.json``) or into its header.

Says which experiment the numbers come from, where Allen serves it, which software wrote
it and when, and how to cite the Allen Institute.

Sidecars (docs/reliability.md, "Sidecars"; their naming and the "is it ours" check live
at the bottom, in :mod:`allen_viewer.io.sidecars`, for the output guard):

* One per output, named after the whole output file (:func:`~allen_viewer.io.sidecars.sidecar_path`:
  ``figure.png`` -> ``figure.png.json``, ``turn.gif`` -> ``turn.gif.json``), so no two
  outputs share one.  Older versions wrote ``STEM.json``
  (:func:`~allen_viewer.io.sidecars.legacy_sidecar_path`);
  that name is only ever read now (``--session fig.png`` falls back to it), never written.
* Every sidecar starts with ``"format": "allen_viewer.sidecar"`` and ``"version"``
  (:data:`SIDECAR_FORMAT`, :data:`SIDECAR_VERSION`).
* :func:`~allen_viewer.io.sidecars.is_own_sidecar` says whether a file is one of ours (that key, or, written before
  it existed, a JSON object with ``export`` and a ``software`` starting ``allen_viewer ``);
  only such a file is ever replaced (with ``--force``), and :func:`write_sidecar` refuses
  any other file at the sidecar's name.
* :func:`read_session_source` reads ``--session X``: a session file, a sidecar, or an
  output (an image, a movie, a table): for ``fig.png`` the PNG's text chunk, then
  ``fig.png.json``, then the older ``fig.json`` -- the first found wins.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path

from allen_viewer import ALLEN_CITATION, __version__, config
from allen_viewer.errors import AllenViewerError
from allen_viewer.io.atomic import atomic_write
from allen_viewer.io.sidecars import (
    SIDECAR_FORMAT,
    SIDECAR_MAX_BYTES,
    SIDECAR_VERSION,
    foreign_sidecar_message,
    is_own_sidecar,
    legacy_sidecar_path,
    sidecar_path,
)

PNG_PROVENANCE_KEY = "allen_viewer:provenance"
"""The PNG text chunk that holds the whole provenance record as JSON
(:func:`allen_viewer.export.image.write_png`)."""


def experiment_record(grid) -> dict:
    """The provenance fields of one ExpressionGrid."""
    e = grid.experiment
    return {
        "experiment_id": e.id,
        "gene": e.symbol,
        "gene_name": e.name,
        "entrez_id": e.entrez_id,
        "plane": e.plane,
        "source_url": config.public_url(f"{config.api_url()}/grid_data/download/{e.id}"),
        "experiment_page": config.experiment_page(e.id),
        "volumes_available": grid.available,
    }


def provenance(grids, what: str, **extra) -> dict:
    """A provenance record for an export of ``what`` made from ``grids`` (one or several)."""
    grids = grids if isinstance(grids, (list, tuple)) else [grids]
    return {
        "format": SIDECAR_FORMAT,
        "version": SIDECAR_VERSION,
        "export": what,
        "experiments": [experiment_record(g) for g in grids],
        "software": f"allen_viewer {__version__}",
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "grid": {"shape_ap_dv_ml": [67, 41, 58], "spacing_um": 200, "space": "CCFv3 (PIR: +x posterior, +y ventral, +z right)",
                 "no_data": "voxels Allen marks -1 (no data) are excluded from every mean"},
        "citation": ALLEN_CITATION,
        **extra,
    }


def json_safe(value):
    """``value`` with every NaN or infinite float replaced by None, so that the JSON written
    is standard JSON (``NaN`` is not) and says "no value" where there is none."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_sidecar(path: Path, record: dict) -> Path:
    """Write ``record`` as JSON beside ``path`` (``FILE.csv`` -> ``FILE.csv.json``), atomically,
    starting with the ``format`` and ``version`` keys; non-finite numbers become ``null``; a
    file-system error is one AllenViewerError line.  A file at the sidecar's name that is not
    one of ours (:func:`is_own_sidecar`) is never replaced: AllenViewerError, nothing written
    (the callers check this before their work too; this is the last guard)."""
    from allen_viewer.io.guard import OutputRefused, output_errors

    side = sidecar_path(path)
    if os.path.lexists(side) and not is_own_sidecar(side):
        raise OutputRefused(foreign_sidecar_message(side))
    record = {"format": SIDECAR_FORMAT, "version": SIDECAR_VERSION,
              **{k: v for k, v in record.items() if k not in ("format", "version")}}
    text = json.dumps(json_safe(record), indent=2, default=str, allow_nan=False)
    with output_errors(side), atomic_write(side, "w") as fh:
        fh.write(text + "\n")
    return side


def _read_json_file(path: Path, where: str):
    from allen_viewer.state import _parse_json

    try:
        if os.path.getsize(path) > SIDECAR_MAX_BYTES:
            raise AllenViewerError(f"{where} is too large to be a session or sidecar.")
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AllenViewerError(f"{where} is not a text file.") from None
    except OSError as exc:
        raise AllenViewerError(f"Could not read {where} ({exc.strerror or exc}).") from None
    return _parse_json(text, where)


def _png_record(path: Path):
    """The provenance record in a PNG's text chunk, or None when the file is not a PNG or has
    none; AllenViewerError when the chunk is there but not JSON."""
    from allen_viewer.state import _parse_json

    try:
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89PNG\r\n\x1a\n":
                return None
        from PIL import Image

        with Image.open(path) as im:
            text = getattr(im, "text", {}).get(PNG_PROVENANCE_KEY)
    except OSError:
        return None
    except Exception:  # Pillow's own errors on a damaged PNG: no chunk to read
        return None
    return None if text is None else _parse_json(text, f"{path} (its {PNG_PROVENANCE_KEY} text chunk)")


def read_session_source(path: Path | str):
    """The :class:`~allen_viewer.state.ViewerState` that ``--session path`` means.

    A ``.json`` file is a session file or a sidecar (read as such).  Any other file is an
    output: a PNG's own text chunk is read first, then its sidecar ``path.json``, then the
    sidecar name of older versions (``STEM.json``); the first found wins.  One
    AllenViewerError line when none is found or what is found holds no session."""
    return read_session_record(path)[0]


def read_session_record(path: Path | str):
    """``(session, record)``: :func:`read_session_source`'s session and the provenance record
    it came from (a sidecar's or a PNG chunk's dict; None for a plain session file), whose
    ``image`` says the size and text scale of the picture it describes."""
    from allen_viewer.state import SESSION_KEY, read_session, session_from_record

    path = Path(path)
    if path.suffix.lower() == ".json" or not path.is_file():
        session = read_session(path)
        record = _read_json_file(path, str(path))
        return session, record if isinstance(record, dict) and SESSION_KEY in record else None
    record = _png_record(path)
    if record is not None:
        return session_from_record(record, f"{path} (its {PNG_PROVENANCE_KEY} text chunk)"), record
    for side in (sidecar_path(path), legacy_sidecar_path(path)):
        if side.is_file():
            record = _read_json_file(side, str(side))
            return session_from_record(record, str(side)), record
    raise AllenViewerError(f"{path} is not a session file, and neither its text (PNG) nor a sidecar "
                           f"{sidecar_path(path).name} or {legacy_sidecar_path(path).name} holds a session.")


def recorded_text_reference_px(record) -> float | None:
    """The shorter image side (pixels) at which the picture ``record`` describes had its text
    at the on-screen sizes: its shorter side divided by the text scale it was drawn with
    (``image.text_scale``: 1 for a window's screenshot, so its own shorter side).  Given to
    :func:`allen_viewer.export.image.text_scale_for`, a redraw at the view's own size has the
    window's text sizes.  None when the record says no scale (an export: the default rule)."""
    image = record.get("image") if isinstance(record, dict) else None
    if not isinstance(image, dict):
        return None
    scale, w, h = image.get("text_scale"), image.get("width_px"), image.get("height_px")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in (scale, w, h)):
        return None
    reference = min(float(w), float(h)) / float(scale)
    return reference if 16 <= reference <= 100_000 else None
