"""Picking in depth: which drawn expression voxel a click in the 3-D view means.

Qt-free (numpy only); :meth:`allen_viewer.gui.scene3d.ExpressionScene.pick_display` casts
the ray and calls :func:`pick_layer`.

The rule
--------
A click casts a ray from the camera through the clicked pixel, away from the viewer
(``origin``: the point on the near clipping plane under the pixel; ``direction``: a unit
vector).  The ray **passes through** a drawn voxel when it crosses the voxel's 200 µm cell
(the cube centred on the voxel's centre, the volume the voxel stands for) or passes through
its sphere as drawn (a perpendicular distance from the centre of at most the drawn radius,
size scale included: spheres larger than the cell at size scales above 1), and the voxel's
centre lies ahead of the origin (``t > 0`` along the ray).  Cells, not only spheres: weak
voxels are drawn as small spheres with gaps between them, and a click between spheres
still means the tissue behind that pixel.  Of the voxels it passes through, the pick is
the one with the **highest energy** (Allen's expression energy; in the compare
view's difference layer, ``max(energy_a, energy_b)``, the value its threshold cuts).
**Ties** (equal energies) go to the sphere nearest the camera (smallest ``t``).

**Drawn** means the points the layer draws right now: voxels with data and
``energy >= threshold``, inside the brain (200 µm annotation > 0) -- and, while *Show voxels
outside the brain* is on, also the voxels with data outside it (drawn in magenta, so
pickable too).  Voxels below the threshold, without data ("-1") or hidden are never picked;
a layer that is hidden or empty picks nothing, and the scene then falls back to the
surfaces (the brain outline and the structure surfaces).

Before this rule the pick was the *nearest* sphere on the ray, which for a view from
outside the brain is nearly always a voxel of cortical layer 1.

The pick is reported at the voxel's centre.  The voxel's structure is Allen's 200 µm grid
annotation (what the structure summaries count); the structure tree selects the finest
25 µm structure at that centre, which next to a boundary can be a neighbour (a grid voxel
labelled caudoputamen whose centre lies in the corpus callosum beside it, for one).

Coordinates: CCF µm, (AP, DV, ML); sphere centres are grid voxel centres, 200 µm apart.
"""
from __future__ import annotations

import numpy as np

from allen_viewer.formats.grid_file import GRID_SPACING_UM


def ray_hits(centres: np.ndarray, radii: np.ndarray, origin, direction,
             cell_um: float | None = GRID_SPACING_UM) -> tuple[np.ndarray, np.ndarray]:
    """The voxels a ray passes through, nearest first.

    ``centres``: (n, 3) µm; ``radii``: (n,) µm, the drawn spheres' radii; ``origin``: (3,)
    µm; ``direction``: (3,) (normalised here); ``cell_um``: the side of each voxel's cell, a
    cube centred on its centre (None: spheres only).  A voxel is passed through when the ray
    passes through its sphere or crosses its cell, and its centre lies ahead of the origin.
    Returns ``(ids, t)``: the indices of those voxels and the distances (µm) of their
    centres' projections along the ray, both ordered by ``t``.
    """
    d = np.asarray(direction, dtype=np.float64).reshape(3)
    norm = float(np.linalg.norm(d))
    if not np.isfinite(norm) or norm == 0.0:
        raise ValueError("the ray's direction must be a non-zero vector")
    d = d / norm
    p = np.asarray(centres, dtype=np.float64).reshape(-1, 3) - np.asarray(origin, dtype=np.float64).reshape(3)
    t = p @ d
    perp2 = np.einsum("ij,ij->i", p, p) - t * t
    r = np.asarray(radii, dtype=np.float64).reshape(-1)
    hit = (t > 0) & (perp2 <= r * r)
    if cell_um is not None:
        hit |= (t > 0) & _crosses_cells(p, d, 0.5 * float(cell_um))
    ids = np.flatnonzero(hit)
    order = np.argsort(t[ids], kind="stable")
    return ids[order], t[ids][order]


def _crosses_cells(rel: np.ndarray, d: np.ndarray, half: float) -> np.ndarray:
    """bool (n,): does the line through the origin along ``d`` cross the axis-aligned cubes
    of half side ``half`` centred at ``rel`` (relative to the origin)?  The slab test."""
    t_lo = np.full(len(rel), -np.inf)
    t_hi = np.full(len(rel), np.inf)
    inside = np.ones(len(rel), dtype=bool)
    for axis in range(3):
        lo, hi = rel[:, axis] - half, rel[:, axis] + half
        if abs(d[axis]) < 1e-12:  # parallel to this pair of faces: inside the slab or never
            inside &= (lo <= 0.0) & (hi >= 0.0)
            continue
        a, b = lo / d[axis], hi / d[axis]
        t_lo = np.maximum(t_lo, np.minimum(a, b))
        t_hi = np.minimum(t_hi, np.maximum(a, b))
    return inside & (t_lo <= t_hi)


def strongest_on_ray(centres: np.ndarray, radii: np.ndarray, values: np.ndarray, origin,
                     direction, cell_um: float | None = GRID_SPACING_UM) -> tuple[int, float] | None:
    """``(index, t)`` of the highest-``values`` voxel the ray passes through (:func:`ray_hits`;
    ties: the nearest to the origin), or None when it passes through none.  NaN values
    never win over a number."""
    ids, t = ray_hits(centres, radii, origin, direction, cell_um)
    if ids.size == 0:
        return None
    v = np.asarray(values, dtype=np.float64).reshape(-1)[ids]
    v = np.where(np.isnan(v), -np.inf, v)
    best = int(np.argmax(v))  # the first maximum: ids are ordered nearest first
    return int(ids[best]), float(t[best])


def pick_layer(layer, origin, direction) -> tuple[int, float] | None:
    """``(point id, t)`` of the drawn sphere of a :class:`~allen_viewer.render.layers.PointLayer`
    a click along the ray means (the rule in the module docstring), or None."""
    actor = getattr(layer, "actor", None)
    poly = getattr(layer, "poly", None)
    if actor is None or poly is None or not actor.GetVisibility() or poly.n_points == 0:
        return None
    return strongest_on_ray(np.asarray(poly.points), layer.radii_um(), np.asarray(poly.point_data["energy"]),
                            origin, direction)
