"""Per-structure summaries of an expression grid (the structure-unionize idea, from the grid).

A structure pools its own grid voxels and all its descendants' voxels (Allen's
``gridAnnotation`` at 200 µm, so every such voxel is in the brain); voxels without data (-1
in Allen's files) are excluded from every mean and counted separately.  Hemispheres are by
ML index: left 0-28, right 29-57.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allen_viewer.atlas.ontology import Structure
from allen_viewer.atlas.reference_space import ReferenceSpace
from allen_viewer.expression.grid import ExpressionGrid


@dataclass(frozen=True)
class StructureSummary:
    """Expression over one structure (and its descendants) at the 200 µm grid.

    ``voxels``: grid voxels of the structure; ``voxels_with_data``: those with data;
    means are NaN when no voxel has data, and ``mean_intensity``/``mean_density`` are also
    NaN when the experiment lacks that volume.
    """

    structure: Structure
    voxels: int
    voxels_with_data: int
    mean_energy: float
    mean_intensity: float
    mean_density: float
    hemispheres: dict[str, "HemisphereSummary"] | None = None
    """``{"left": ..., "right": ...}`` (ML 0-28 / 29-57) from :func:`summarize_all`; else None."""


@dataclass(frozen=True)
class HemisphereSummary:
    """A structure's in-brain voxels with data in one hemisphere and their means (NaN when
    there are none, e.g. the uncut hemisphere of a sagittal experiment)."""

    voxels_with_data: int
    mean_energy: float
    mean_intensity: float
    mean_density: float


def _mean(volume: np.ndarray | None, mask: np.ndarray) -> float:
    if volume is None or not mask.any():
        return float("nan")
    return float(volume[mask].mean(dtype=np.float64))


def summarize(grid: ExpressionGrid, space: ReferenceSpace, structure: Structure | int | str,
              mask: np.ndarray | None = None) -> StructureSummary:
    """Summary of ``grid`` over ``structure``; pass ``mask`` (its grid mask) to skip recomputing it."""
    s = structure if isinstance(structure, Structure) else space.ontology.get(structure)
    in_structure = space.grid_mask(s) if mask is None else mask
    with_data = in_structure & grid.has_data
    return StructureSummary(
        structure=s,
        voxels=int(in_structure.sum()),
        voxels_with_data=int(with_data.sum()),
        mean_energy=_mean(grid.energy, with_data),
        mean_intensity=_mean(grid.intensity, with_data),
        mean_density=_mean(grid.density, with_data),
    )


def pooled_sums(space: ReferenceSpace, quantities: dict[str, np.ndarray | None]) -> dict[int, dict[str, float]]:
    """Sum each (AP, DV, ML) grid quantity over every structure, descendants included.

    Sums are taken per grid label in one ``bincount`` each, then added up the tree (a
    structure's total is its own label's plus its children's).  ``None`` quantities sum to
    0; NaN must already be replaced by the caller.  Returns ``{structure_id: {name: sum}}``.
    """
    ids, inverse = np.unique(space.grid_annotation, return_inverse=True)
    inverse = inverse.ravel()
    per_label = {name: (np.bincount(inverse, weights=q.ravel().astype(np.float64), minlength=len(ids))
                        if q is not None else None) for name, q in quantities.items()}
    index = {int(i): k for k, i in enumerate(ids)}
    totals: dict[int, dict[str, float]] = {}
    for s in reversed(list(space.ontology)):  # children come after parents in graph order
        k = index.get(s.id)
        t = {name: (float(v[k]) if (v is not None and k is not None) else 0.0) for name, v in per_label.items()}
        for c in s.children:
            for name in t:
                t[name] += totals[c.id][name]
        totals[s.id] = t
    return totals


def _where_data(volume: np.ndarray | None, has_data: np.ndarray) -> np.ndarray | None:
    return None if volume is None else np.where(has_data, volume, 0.0)


def summarize_all(grid: ExpressionGrid, space: ReferenceSpace) -> list[StructureSummary]:
    """Summaries of every structure of the ontology, in graph order, in one pass.

    Pools each structure's own and all its descendants' voxels exactly as :func:`summarize`
    does, at the cost of one pass over the grid instead of one mask per structure.
    """
    from allen_viewer.expression.brain import hemisphere_mask

    quantities = {
        "voxels": np.ones(grid.energy.shape),
        "with_data": grid.has_data,
        "energy": _where_data(grid.energy, grid.has_data),
        "intensity": _where_data(grid.intensity, grid.has_data),
        "density": _where_data(grid.density, grid.has_data),
    }
    for side in ("left", "right"):
        half = grid.has_data & hemisphere_mask(side)
        quantities[f"with_data_{side}"] = half
        for name in ("energy", "intensity", "density"):
            quantities[f"{name}_{side}"] = _where_data(getattr(grid, name), half)
    totals = pooled_sums(space, quantities)

    def mean(t: dict[str, float], name: str, side: str = "") -> float:
        present = getattr(grid, name) is not None
        n = t["with_data" + side]
        return t[name + side] / n if (present and n > 0) else float("nan")

    def halves(t: dict[str, float]) -> dict[str, HemisphereSummary]:
        return {side: HemisphereSummary(int(t[f"with_data_{side}"]), mean(t, "energy", f"_{side}"),
                                        mean(t, "intensity", f"_{side}"), mean(t, "density", f"_{side}"))
                for side in ("left", "right")}

    return [
        StructureSummary(
            structure=s,
            voxels=int(totals[s.id]["voxels"]),
            voxels_with_data=int(totals[s.id]["with_data"]),
            mean_energy=mean(totals[s.id], "energy"),
            mean_intensity=mean(totals[s.id], "intensity"),
            mean_density=mean(totals[s.id], "density"),
            hemispheres=halves(totals[s.id]),
        )
        for s in space.ontology
    ]
