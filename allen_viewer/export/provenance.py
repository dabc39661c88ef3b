"""Provenance written next to every export (``FILE.json``) or into its header.

Says which experiment the numbers come from, where Allen serves it, which software wrote
it and when, and how to cite the Allen Institute.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path

from allen_viewer import ALLEN_CITATION, __version__, config
from allen_viewer.store.atomic import atomic_write


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
        "experiment_page": f"https://mouse.brain-map.org/experiment/show/{e.id}",
        "volumes_available": grid.available,
    }


def provenance(grids, what: str, **extra) -> dict:
    """A provenance record for an export of ``what`` made from ``grids`` (one or several)."""
    grids = grids if isinstance(grids, (list, tuple)) else [grids]
    return {
        "export": what,
        "experiments": [experiment_record(g) for g in grids],
        "software": f"allen_viewer {__version__}",
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "grid": {"shape_ap_dv_ml": [67, 41, 58], "spacing_um": 200, "space": "CCFv3 (PIR: +x posterior, +y ventral, +z right)",
                 "no_data": "voxels Allen marks -1 (no data) are excluded from every mean"},
        "citation": ALLEN_CITATION,
        **extra,
    }


def sidecar_path(path: Path) -> Path:
    return Path(str(path) + ".json") if Path(path).suffix == "" else Path(path).with_suffix(".json")


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
    """Write ``record`` as JSON beside ``path`` (``FILE.csv`` -> ``FILE.json``), atomically;
    non-finite numbers become ``null``; a file-system error is one AllenViewerError line."""
    from allen_viewer.export.paths import output_errors

    side = sidecar_path(path)
    text = json.dumps(json_safe(record), indent=2, default=str, allow_nan=False)
    with output_errors(side), atomic_write(side, "w") as fh:
        fh.write(text + "\n")
    return side
