"""The same two searches sent to Allen's own services (``service::mouse_differential`` and
``service::mouse_correlation``, see ``docs/allen-api.md``, "Search services").

Their rows have hyphenated keys and string values (``id, gene-symbol, plane-of-section,
fold-change, target-sum, contrast-sum`` / ``id, gene-symbol, r``); :func:`remote_differential`
and :func:`remote_correlation` turn them into the same :class:`DifferentialHit` /
:class:`CorrelationHit` rows as the local search, with ``source="allen"``.  Fields the
service does not send are None; the service sends target and contrast *sums*, not means.

Which of ``structures1``/``structures2`` the service takes as the target is not documented;
two independent clients send the target as ``structures2``, and so does this module.
The service's voxel set differs from the library's (it keeps ~26,000 voxels with data in
most experiments, one hemisphere), so its numbers are close to, not equal to, the local ones.
"""
from __future__ import annotations

import math
from typing import Iterable

from allen_viewer.api import rma
from allen_viewer.errors import AllenViewerError, ServiceUnavailable
from allen_viewer.library.search import CorrelationHit, DifferentialHit
from allen_viewer.sanitize import clean_text

SETS = {None: "mouse", "sagittal": "mouse", "coronal": "mouse_coronal"}
"""The service's data sets: ``mouse`` (all experiments) and ``mouse_coronal``."""


def _ids(structure_ids: Iterable[int]) -> str:
    ids = sorted({int(i) for i in structure_ids})
    if not ids:
        raise AllenViewerError("No structures given.")
    return ",".join(str(i) for i in ids)


def differential_criteria(target_ids: Iterable[int], contrast_ids: Iterable[int], plane: str | None = None,
                          start_row: int = 0, num_rows: int = 50) -> str:
    """The RMA string of a differential search (target as ``structures2``)."""
    return (f"service::mouse_differential[set$eq'{SETS[plane]}'][structures1$eq{_ids(contrast_ids)}]"
            f"[structures2$eq{_ids(target_ids)}][start_row$eq{int(start_row)}][num_rows$eq{int(num_rows)}]")


def correlation_criteria(seed_id: int, domain_ids: Iterable[int], plane: str | None = None, start_row: int = 0,
                         num_rows: int = 50) -> str:
    """The RMA string of a correlation search with seed SectionDataSet ``seed_id``."""
    return (f"service::mouse_correlation[set$eq'{SETS[plane]}'][row$eq{int(seed_id)}]"
            f"[structures$eq{_ids(domain_ids)}][start_row$eq{int(start_row)}][num_rows$eq{int(num_rows)}]")


def service_rows(client, criteria: str) -> list[dict]:
    """The rows of one service query (one page, as ranked by the service).

    Uses the client's request machinery (retries, backoff, outage pages, typed errors) but
    not its RMA paging, which would re-order the rows by id.
    """
    client._check_online("an Allen search service query")
    url = f"{client.api_url}{rma.QUERY_PATH}?criteria={rma.encode(criteria)}"
    envelope = client._get_json(url)
    rows = envelope.get("msg")
    if not isinstance(rows, list):
        raise ServiceUnavailable(f"The Allen search service answered with {type(rows).__name__} instead of rows.")
    return [r for r in rows if isinstance(r, dict)]


def _get(row: dict, key: str):
    """A field by its hyphenated name, or the underscored spelling."""
    if key in row:
        return row[key]
    return row.get(key.replace("-", "_"))


def _float(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None  # "NaN"/"inf" from the service: no value


def _int(value) -> int | None:
    f = _float(value)
    return int(f) if f is not None and math.isfinite(f) else None


def _plane(value) -> str:
    text = str(value or "").strip().lower()
    return {"1": "coronal", "2": "sagittal"}.get(text, text)


def normalise_differential(rows: list[dict], plane: str | None = None) -> list[DifferentialHit]:
    """Service rows -> :class:`DifferentialHit` (rows without an id or a number are dropped)."""
    out = []
    for row in rows:
        exp_id, fold = _int(_get(row, "id")), _float(_get(row, "fold-change"))
        p = _plane(_get(row, "plane-of-section"))
        if exp_id is None or fold is None or (plane is not None and p and p != plane):
            continue
        out.append(DifferentialHit(rank=len(out) + 1, experiment_id=exp_id, symbol=clean_text(_get(row, "gene-symbol") or "", 40),
                                   plane=p, fold_change=fold, source="allen",
                                   target_sum=_float(_get(row, "target-sum")),
                                   contrast_sum=_float(_get(row, "contrast-sum"))))
    return out


def normalise_correlation(rows: list[dict], plane: str | None = None) -> list[CorrelationHit]:
    """Service rows -> :class:`CorrelationHit`."""
    out = []
    for row in rows:
        exp_id, r = _int(_get(row, "id")), _float(_get(row, "r"))
        p = _plane(_get(row, "plane-of-section"))
        if exp_id is None or r is None or (plane is not None and p and p != plane):
            continue
        out.append(CorrelationHit(rank=len(out) + 1, experiment_id=exp_id, symbol=clean_text(_get(row, "gene-symbol") or "", 40),
                                  plane=p, r=r, voxels=_int(_get(row, "num-voxels")), source="allen"))
    return out


def remote_differential(client, target_ids: Iterable[int], contrast_ids: Iterable[int], plane: str | None = None,
                        top: int = 50) -> list[DifferentialHit]:
    """Allen's differential search: structure ids (the service adds descendants itself)."""
    return normalise_differential(service_rows(client, differential_criteria(target_ids, contrast_ids, plane,
                                                                             num_rows=top)), plane)


def remote_correlation(client, seed_id: int, domain_ids: Iterable[int], plane: str | None = None,
                       top: int = 50) -> list[CorrelationHit]:
    """Allen's correlation search for a seed experiment over a domain of structure ids."""
    return normalise_correlation(service_rows(client, correlation_criteria(seed_id, domain_ids, plane,
                                                                           num_rows=top)), plane)
