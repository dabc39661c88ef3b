"""The fake's answers to Allen's two search services (``docs/allen-api.md``, "Search services").

* ``service::mouse_differential[set$eq'mouse'][structures1$eq<ids>][structures2$eq<ids>]
  [start_row$eqN][num_rows$eqM]``: fold change = mean energy over the ``structures2``
  (target) voxels / mean over the ``structures1`` (contrast) voxels, descending; rows
  ``id, gene-id, entrez-id, gene-symbol, plane-of-section, fold-change, target-sum,
  contrast-sum`` (hyphenated keys, string values, as the real service sends them).
* ``service::mouse_correlation[set$eq'mouse'][row$eq<seed id>][structures$eq<ids>]...``:
  Pearson r of energy over the domain voxels where both have data, descending; rows
  ``id, gene-id, entrez-id, gene-symbol, plane-of-section, r, num-voxels``.

Structures include their descendants (grid annotation, structure id paths).  ``set`` is
``mouse`` (all) or ``mouse_coronal``.  The experiments searched are
``FakeAllen.search_ids`` when a test sets it, else the grids the fake serves besides the
two real ones (``grid_ids``) plus those two; computing over all 26,078 generated grids
would take minutes.  Criteria it cannot run give a failure envelope, like the service.
"""
from __future__ import annotations

import re

import numpy as np

from tests.fake_allen.data import REAL_GRID_IDS
from tests.fake_allen.rma_parser import RmaError

_SERVICE = re.compile(r"^service::([A-Za-z_]+)((?:\[[^\]]*\])*)$")
_PARAM = re.compile(r"^([A-Za-z_0-9]+)\$eq(.*)$", re.S)
SERVICES = ("mouse_differential", "mouse_correlation")


def is_service(criteria: str) -> bool:
    return criteria.strip().startswith("service::")


def parse_service(criteria: str) -> tuple[str, dict[str, str]]:
    m = _SERVICE.match(criteria.strip())
    if not m:
        raise RmaError(f"cannot parse service query {criteria!r}")
    params = {}
    for bracket in re.findall(r"\[([^\]]*)\]", m.group(2)):
        p = _PARAM.match(bracket.strip())
        if not p:
            raise RmaError(f"cannot parse service parameter [{bracket}]")
        params[p.group(1)] = p.group(2).strip().strip("'")
    if m.group(1) not in SERVICES:
        raise RmaError(f"unknown service {m.group(1)!r}")
    return m.group(1), params


def _ids(text: str, what: str) -> list[int]:
    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise RmaError(f"{what} must be comma-separated structure ids, not {text!r}") from None
    if not ids:
        raise RmaError(f"{what} is empty")
    return ids


def _mask(data, structure_ids: list[int]) -> np.ndarray:
    """bool (AP, DV, ML): grid voxels of the structures and their descendants."""
    wanted = set()
    for s in data.structures:
        path = {int(p) for p in s["structure_id_path"].strip("/").split("/")}
        if path & set(structure_ids):
            wanted.add(s["id"])
    unknown = [i for i in structure_ids if i not in data.structures_by_id]
    if unknown:
        raise RmaError(f"unknown structure ids {unknown}")
    return np.isin(data.grid_annotation, np.fromiter(wanted, dtype=np.int64))


def _searched(fake, set_name: str) -> list[int]:
    ids = getattr(fake, "search_ids", None)
    if ids is None:
        ids = set(REAL_GRID_IDS) | set(fake.grid_ids or ())
    ids = [int(i) for i in sorted(ids) if fake.data.has_grid(int(i)) and int(i) in fake.data.experiments]
    if set_name == "mouse_coronal":
        ids = [i for i in ids if fake.data.experiments[i].plane == "coronal"]
    elif set_name != "mouse":
        raise RmaError(f"unknown set {set_name!r} (mouse or mouse_coronal)")
    return ids


def _row(data, experiment_id: int, **values) -> dict:
    e = data.experiments[experiment_id]
    gene = data.genes.get(e.symbol, {})
    row = {"id": str(experiment_id), "gene-id": str(gene.get("id", "")),
           "entrez-id": "" if e.entrez_id is None else str(e.entrez_id), "gene-symbol": e.symbol,
           "plane-of-section": e.plane}
    row.update({k.replace("_", "-"): repr(float(v)) if isinstance(v, float) else str(v) for k, v in values.items()})
    return row


def differential_rows(fake, params: dict) -> list[dict]:
    data = fake.data
    contrast = _mask(data, _ids(params.get("structures1", ""), "structures1"))
    target = _mask(data, _ids(params.get("structures2", ""), "structures2"))
    rows = []
    for i in _searched(fake, params.get("set", "mouse")):
        e = data.volumes(i)["energy"]
        ok = e >= 0
        t, c = e[ok & target].astype(np.float64), e[ok & contrast].astype(np.float64)
        if not len(t) or not len(c) or c.mean() == 0:
            continue
        rows.append(_row(data, i, fold_change=float(t.mean() / c.mean()), target_sum=float(t.sum()),
                         contrast_sum=float(c.sum())))
    rows.sort(key=lambda r: -float(r["fold-change"]))
    return rows


def correlation_rows(fake, params: dict) -> list[dict]:
    data = fake.data
    try:
        seed_id = int(params.get("row", ""))
    except ValueError:
        raise RmaError("row must be a SectionDataSet id") from None
    if not data.has_grid(seed_id):
        raise RmaError(f"no expression data for SectionDataSet {seed_id}")
    domain = _mask(data, _ids(params.get("structures", "997"), "structures"))
    seed = data.volumes(seed_id)["energy"]
    rows = []
    for i in _searched(fake, params.get("set", "mouse")):
        e = data.volumes(i)["energy"]
        m = domain & (seed >= 0) & (e >= 0)
        if m.sum() < 3:
            continue
        a, b = seed[m].astype(np.float64), e[m].astype(np.float64)
        if a.std() == 0 or b.std() == 0:
            continue
        rows.append(_row(data, i, r=float(np.corrcoef(a, b)[0, 1]), num_voxels=int(m.sum())))
    rows.sort(key=lambda r: -float(r["r"]))
    return rows


def answer(fake, criteria: str) -> dict:
    """The JSON envelope for a service query (a failure envelope when it cannot run)."""
    try:
        name, params = parse_service(criteria)
        rows = differential_rows(fake, params) if name == "mouse_differential" else correlation_rows(fake, params)
        start = int(params.get("start_row", 0))
        count = int(params.get("num_rows", 50))
    except (RmaError, ValueError) as exc:
        return {"success": False, "id": -1, "start_row": 0, "num_rows": 0, "total_rows": 0,
                "msg": f"Data Access error in query: {exc}"}
    page = rows[start:start + count]
    return {"success": True, "id": 0, "start_row": start, "num_rows": len(page), "total_rows": len(rows),
            "msg": page}
