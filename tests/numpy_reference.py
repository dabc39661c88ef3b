"""Independent references for tests: the real files read with plain numpy, zipfile and json.

Nothing here imports allen_viewer's readers or statistics: tests compare the code under test
with these values instead of pinning literals or re-using the code's own functions.  The
rules are the project's (README "Numbers"): Allen .raw files are x-fastest, so
``reshape(58, 41, 67).transpose(2, 1, 0)`` gives (AP, DV, ML); in-brain voxels are those
where the 200 µm annotation is > 0; "no data" is -1 in energy.
"""
from __future__ import annotations

import json
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
GRID_DIMS_XYZ = (58, 41, 67)  # the .raw's C order: ML slowest ... AP fastest


def read_raw(zip_path: Path, member: str, dtype: str) -> np.ndarray:
    """(AP, DV, ML) array of one .raw member of an Allen zip."""
    with zipfile.ZipFile(zip_path) as zf:
        flat = np.frombuffer(zf.read(member), dtype)
    return flat.reshape(GRID_DIMS_XYZ).transpose(2, 1, 0)


@lru_cache(maxsize=None)
def annotation() -> np.ndarray:
    """uint32 (AP, DV, ML) structure ids of the bundled 200 µm grid annotation."""
    return read_raw(RESOURCES / "P56_Mouse_gridAnnotation.zip", "gridAnnotation.raw", "<u4")


def brain() -> np.ndarray:
    return annotation() > 0


@lru_cache(maxsize=None)
def energy(experiment_id: int) -> np.ndarray:
    """float32 (AP, DV, ML) energy of an embedded grid (71717084 Pdyn, 74272479 Nrp1)."""
    return read_raw(RESOURCES / "grids" / f"{experiment_id}.zip", "energy.raw", "<f4")


def has_data(experiment_id: int) -> np.ndarray:
    """In-brain voxels with data (energy not -1)."""
    return brain() & (energy(experiment_id) != -1)


def percentile(experiment_id: int, q: float) -> float:
    """The q-th percentile (numpy's default, linear) of the in-brain energies with data."""
    return float(np.percentile(energy(experiment_id)[has_data(experiment_id)].astype(np.float64), q))


@lru_cache(maxsize=None)
def _ontology() -> tuple[dict, dict]:
    """({acronym: id}, {id: [child ids]}) from structure_graph_1.json, walked by hand."""
    doc = json.loads((RESOURCES / "structure_graph_1.json").read_text(encoding="utf-8"))
    ids, children = {}, {}
    stack = list(doc["msg"])
    while stack:
        node = stack.pop()
        ids[node["acronym"]] = int(node["id"])
        children[int(node["id"])] = [int(c["id"]) for c in node.get("children", [])]
        stack.extend(node.get("children", []))
    return ids, children


def descendant_ids(acronym: str) -> set[int]:
    """The structure and everything below it."""
    ids, children = _ontology()
    out, stack = set(), [ids[acronym]]
    while stack:
        sid = stack.pop()
        out.add(sid)
        stack.extend(children[sid])
    return out


def structure_mask(acronym: str) -> np.ndarray:
    """bool (AP, DV, ML): grid voxels annotated with the structure or a descendant."""
    return np.isin(annotation(), np.fromiter(descendant_ids(acronym), np.int64))


def mean_energy(experiment_id: int, acronym: str) -> float:
    """Mean energy over the structure's in-brain voxels with data (NaN when none)."""
    m = structure_mask(acronym) & has_data(experiment_id)
    return float(energy(experiment_id)[m].astype(np.float64).mean()) if m.any() else float("nan")


def mid_ranks(values: np.ndarray) -> np.ndarray:
    """Percentile ranks 0..1 with ties at their mean rank: (rank - 1) / (n - 1), computed
    through np.unique's groups (not the searchsorted the code uses)."""
    values = np.asarray(values, dtype=np.float64)
    uniq, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])  # 0-based rank of each group's first
    mean_rank = first + (counts - 1) / 2.0
    return mean_rank[inverse] / max(values.size - 1, 1)


def z_scores(values: np.ndarray) -> np.ndarray:
    """(x - mean) / population standard deviation, in float64, written out by hand."""
    x = np.asarray(values, dtype=np.float64)
    mean = x.sum() / x.size
    sd = np.sqrt(((x - mean) ** 2).sum() / x.size)
    return (x - mean) / sd
