"""Per-structure summaries of an expression grid (the structure-unionize idea, from the grid).

A structure pools its own grid voxels and all its descendants' voxels (Allen's
``gridAnnotation`` at 200 µm); voxels without data (-1 in Allen's files) are excluded from
every mean and counted separately.
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
