"""Spatial (voxel-seeded) correlation over the library: Allen's AGEA, computed locally.

Pick a point; its **seed voxel** is the 200 µm grid voxel nearest to it (it must be in the
brain: gridAnnotation > 0).  For every in-brain voxel v, r(v) is the Pearson correlation,
across the library's experiments, between the seed's energy and v's energy, taken over the
experiments where **both** voxels have data (Allen's -1 excluded, per pair of voxels).  A
voxel gets no r (NaN) when fewer than ``min_overlap`` experiments (default
:data:`MIN_OVERLAP` = 20) qualify, or when either voxel's energy is constant over them.
``plane="coronal"`` (the default) uses the coronal experiments only, which cover both
hemispheres; ``plane=None`` ("all") adds the sagittal ones (left hemisphere only, so they
count only for left-hemisphere pairs).  Values are the library's float16-rounded energies.

How it is fast (numpy only): with y the stored energies (0 where there is no data) and x
the seed's energies centred over the chosen experiments S (those of the plane where the
seed has data), every per-voxel sum needed is one of

* Σ_S y, Σ_S y², Σ_S x·y: one pass over the S rows of ``energy.f16`` in cache-sized tiles
  (float16 bits widened by an integer shift, as the correlation search does); the zeros
  where a voxel has no data drop out by themselves, and rows without right-hemisphere data
  (sagittal experiments; found from their masks) are read over the left-hemisphere
  columns only, which the store keeps first;
* n, Σ x, Σ x² over the experiments where v has data: from the masks' run-length codes,
  each run adding its experiment's (1, x, x²) to a difference array (one ``bincount``),
  so no per-experiment mask is ever expanded.

Sums are float32 within a tile of rows and float64 across tiles.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allen_viewer.errors import AllenViewerError
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.library.integrity import energy_damage
from allen_viewer.library.store import PLANES, Library, LibraryError

MIN_OVERLAP = 20
"""Fewest experiments with data at both voxels for a voxel to get an r."""
GRID_SPACING_UM = 200.0
_TILE_ROWS = 128
_TILE_COLS = 2048
_SHIFT_SCALE = 2.0 ** 112   # float16 bits << 13 read as float32 = value * 2**-112
_HALF = 2.0 ** 56


@dataclass
class SpatialResult:
    """A spatial correlation map.

    ``r``: float64 (V,) per library column (in-brain voxel), NaN where there is no result;
    ``n``: int64 (V,) experiments with data at both voxels; ``seed_voxel``: the seed's grid
    index (AP, DV, ML); ``seed_column``: its column; ``experiments``: how many experiments
    had data at the seed (and were of the plane asked); ``plane``: ``coronal`` or ``all``;
    ``min_overlap``; ``layout``: the library's layout (columns -> grid voxels).
    """

    r: np.ndarray
    n: np.ndarray
    seed_voxel: tuple[int, int, int]
    seed_column: int
    experiments: int
    plane: str
    min_overlap: int
    layout: object

    def grid(self) -> np.ndarray:
        """float32 (AP, DV, ML) r map, NaN outside the brain and where there is no result."""
        return self.layout.to_grid(self.r.astype(np.float32))

    def voxels(self) -> np.ndarray:
        """int64 (V, 3): each column's grid index (AP, DV, ML)."""
        return np.stack(np.unravel_index(self.layout.voxels.astype(np.int64), GRID_SHAPE), axis=1)


def seed_voxel(at_um) -> tuple[int, int, int]:
    """The grid voxel (AP, DV, ML) nearest a CCF point given in µm (AP, DV, ML);
    :class:`AllenViewerError` for a point more than half a voxel outside the grid."""
    at = np.asarray(at_um, dtype=float)
    if at.shape != (3,) or not np.all(np.isfinite(at)):
        raise AllenViewerError("The point must be three numbers AP,DV,ML in micrometres.")
    idx = np.rint(at / GRID_SPACING_UM).astype(int)
    if np.any(idx < 0) or np.any(idx >= np.array(GRID_SHAPE)):
        extent = ", ".join(f"{name} 0-{(n - 1) * GRID_SPACING_UM:.0f}" for name, n in zip(("AP", "DV", "ML"), GRID_SHAPE))
        raise AllenViewerError(f"The point {at[0]:g},{at[1]:g},{at[2]:g} um lies outside the 200 um grid "
                               f"({extent} um).")
    return int(idx[0]), int(idx[1]), int(idx[2])


def seed_column(library: Library, voxel: tuple[int, int, int]) -> int:
    """The library column of a grid voxel; :class:`AllenViewerError` when it is outside the brain."""
    flat = int(np.ravel_multi_index(voxel, GRID_SHAPE))
    voxels = library.layout.voxels
    hit = np.flatnonzero(voxels == flat)
    if not len(hit):
        um = ",".join(f"{v * GRID_SPACING_UM:.0f}" for v in voxel)
        raise AllenViewerError(f"The grid voxel nearest the point, (AP, DV, ML) = {voxel} at {um} um, is outside "
                               "the brain (no structure in the grid annotation); pick a point inside it.")
    return int(hit[0])


def plane_rows(library: Library, plane: str | None) -> np.ndarray:
    """bool (rows,): the experiments of ``plane`` (``coronal``, ``sagittal``; None or ``all``: every one)."""
    if plane in (None, "all"):
        return np.ones(len(library), bool)
    if plane not in PLANES[1:]:
        raise AllenViewerError(f"The plane must be coronal, sagittal or all, not {plane!r}.")
    return library.table["plane"] == PLANES.index(plane)


def rows_with_data_at(library: Library, column: int) -> np.ndarray:
    """bool (rows,): the experiments with data at one column, read from the mask runs."""
    layout, table = library.layout, library.table
    rows = len(table)
    if not rows:
        return np.zeros(0, bool)
    pos = np.array([int(np.flatnonzero(perm == column)[0]) for perm in layout.perms], dtype=np.int64)
    n_runs = table["n_runs"].astype(np.int64)
    runs = np.asarray(library.runs)
    p = pos[np.repeat(table["mask_order"].astype(np.intp), n_runs)]
    inside = (runs[:, 0] <= p) & (p < runs[:, 1])
    return np.bincount(np.repeat(np.arange(rows), n_runs), weights=inside, minlength=rows) > 0


def _mask_weighted_sums(library: Library, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """float64 (V, k): for each column, the sum of ``weights[i]`` (k values) over the chosen
    ``rows[i]`` that have data there, from the mask runs (a difference array per mask order)."""
    layout, table = library.layout, library.table
    v, k = layout.n_voxels, weights.shape[1]
    out = np.zeros((v, k))
    if not len(rows):
        return out
    starts, counts = table["runs_start"][rows].astype(np.int64), table["n_runs"][rows].astype(np.int64)
    total = int(counts.sum())
    if not total:
        return out
    which = np.repeat(np.arange(len(rows)), counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    runs = np.asarray(library.runs)[np.repeat(starts, counts) + offset]
    order = table["mask_order"][rows].astype(np.int64)[which]
    width = v + 1
    for o, perm in enumerate(layout.perms):
        sel = order == o
        if not sel.any():
            continue
        a, b, w = runs[sel, 0].astype(np.int64), runs[sel, 1].astype(np.int64), weights[which[sel]]
        for j in range(k):
            diff = np.bincount(a, weights=w[:, j], minlength=width) - np.bincount(b, weights=w[:, j], minlength=width)
            out[perm, j] += np.cumsum(diff[:v])
    return out


def _left_only(library: Library, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """(bool per row: no data in the right hemisphere, the number of left-hemisphere columns).

    Columns are stored left hemisphere first, so such rows (sagittal experiments) need only
    the first columns read: their right-hemisphere energies are all 0 (no data)."""
    layout, table = library.layout, library.table
    seg = layout.segments
    right = np.flatnonzero(seg["hemisphere"] == 1)
    n_left = int(seg["start"][right[0]]) if len(right) else layout.n_voxels
    if n_left == layout.n_voxels or not len(rows):
        return np.zeros(len(rows), bool), n_left
    counts = table["n_runs"][rows].astype(np.int64)
    starts = table["runs_start"][rows].astype(np.int64)
    total = int(counts.sum())
    which = np.repeat(np.arange(len(rows)), counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    runs = np.asarray(library.runs)[np.repeat(starts, counts) + offset].astype(np.int64)
    order = table["mask_order"][rows].astype(np.int64)[which]
    touches = np.zeros(total, bool)
    for o, perm in enumerate(layout.perms):
        in_right = np.concatenate([[0], np.cumsum(perm >= n_left)])  # right columns before each position
        sel = order == o
        touches[sel] = in_right[runs[sel, 1]] > in_right[runs[sel, 0]]
    has_right = np.bincount(which, weights=touches, minlength=len(rows)) > 0
    return ~has_right, n_left


def _energy_sums(library: Library, rows: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 (V,) each: Σ y, Σ y², Σ x·y over ``rows`` (y: stored energy, 0 where no data).

    Rows with no right-hemisphere data are read over the left-hemisphere columns only."""
    v = library.layout.n_voxels
    sy, syy, sxy = np.zeros(v), np.zeros(v), np.zeros(v)
    left_only, n_left = _left_only(library, rows)
    for group, width in ((~left_only, v), (left_only, n_left)):
        if group.any():
            _tile_sums(library, rows[group], x[group], width, sy, syy, sxy)
    return sy, syy, sxy


def _tile_sums(library: Library, rows: np.ndarray, x: np.ndarray, width: int, sy: np.ndarray, syy: np.ndarray,
               sxy: np.ndarray) -> None:
    """Add Σ y, Σ y², Σ x·y over ``rows`` of the first ``width`` columns into the outputs."""
    v = width
    bits = library.energy.view(np.uint16)
    flat = np.empty(_TILE_ROWS * _TILE_COLS, np.uint32)
    tmp = np.empty(_TILE_ROWS * _TILE_COLS, np.float32)
    x_scale = float(np.max(np.abs(x))) if len(x) else 1.0
    x_scale = x_scale if x_scale > 0 else 1.0
    for r0 in range(0, len(rows), _TILE_ROWS):
        pick = rows[r0:r0 + _TILE_ROWS]
        c = len(pick)
        if np.all(np.diff(pick) == 1):
            block = bits[int(pick[0]):int(pick[-1]) + 1, :v]
        else:
            block = bits[pick, :v]  # a copy of these rows' first v columns only
        xs = (x[r0:r0 + c] / x_scale).astype(np.float32)[:, None]
        for a in range(0, v, _TILE_COLS):
            b = min(v, a + _TILE_COLS)
            z = flat[:c * (b - a)].reshape(c, b - a)
            np.copyto(z, block[:, a:b], casting="unsafe")
            if (z >= 0x7C00).any():  # float16 exponent all ones (inf, NaN) or the sign bit: damage
                raise energy_damage(library.root)
            np.left_shift(z, 13, out=z)
            zf = z.view(np.float32)                   # value * 2**-112
            zf *= np.float32(_HALF)                   # value * 2**-56
            sy[a:b] += np.add.reduce(zf, axis=0) * _HALF
            t = tmp[:c * (b - a)].reshape(c, b - a)
            np.multiply(zf, xs, out=t)
            sxy[a:b] += np.add.reduce(t, axis=0) * (_HALF * x_scale)
            np.square(zf, out=zf)                     # value**2 * 2**-112
            syy[a:b] += np.add.reduce(zf, axis=0) * _SHIFT_SCALE


def _check_energy(library: Library, values: np.ndarray) -> None:
    """Refuse energies read from ``energy.f16`` that are NaN, infinite or negative (a damaged
    store: -1 "no data" is stored as a mask, never as a value), as the correlation search does."""
    if not (np.isfinite(values).all() and (values >= 0).all()):
        raise energy_damage(library.root)


def spatial_correlation(library: Library, at_um=None, *, voxel: tuple[int, int, int] | None = None,
                        plane: str | None = "coronal", min_overlap: int = MIN_OVERLAP) -> SpatialResult:
    """The r map for the seed voxel nearest ``at_um`` (µm, AP, DV, ML) or the grid ``voxel``.

    ``plane``: ``coronal`` (default), ``sagittal``, or None / ``all``.  See the module
    docstring for the exact rule.  Raises :class:`AllenViewerError` for a point outside the
    brain or the grid, an empty library, or fewer than ``min_overlap`` experiments with data
    at the seed.
    """
    if len(library) == 0:
        raise LibraryError(f"The library at {library.root} holds no experiments yet; run "
                           "`allen-viewer library sync` first.")
    min_overlap = int(min_overlap)
    if min_overlap < 3:
        raise AllenViewerError("--min-overlap must be at least 3 (a correlation needs three points).")
    if voxel is None:
        voxel = seed_voxel(at_um)
    column = seed_column(library, voxel)
    chosen = np.flatnonzero(plane_rows(library, plane) & rows_with_data_at(library, column))
    plane_name = "all" if plane in (None, "all") else plane
    if len(chosen) < min_overlap:
        raise AllenViewerError(f"Only {len(chosen)} {'' if plane_name == 'all' else plane_name + ' '}experiments "
                               f"of the library have data at the seed voxel {voxel}; at least {min_overlap} are "
                               "needed (sync more experiments, pass --plane all, or lower --min-overlap).")
    seed = np.asarray(library.energy[chosen, column], dtype=np.float64)
    _check_energy(library, seed)
    x = seed - seed.mean()
    n, sx, sxx = _mask_weighted_sums(library, chosen, np.stack([np.ones_like(x), x, x * x], axis=1)).T
    sy, syy, sxy = _energy_sums(library, chosen, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = n * sxy - sx * sy
        var_x = n * sxx - sx * sx
        var_y = n * syy - sy * sy
        r = cov / np.sqrt(var_x * var_y)
    n_int = np.rint(n).astype(np.int64)
    # a constant side (to float16 precision) leaves a variance at rounding level: no r
    valid = (n_int >= min_overlap) & (var_x > 1e-9 * n * sxx) & (var_y > 1e-6 * n * syy)
    r = np.where(valid, np.clip(r, -1.0, 1.0), np.nan)
    return SpatialResult(r, n_int, tuple(int(i) for i in voxel), column, len(chosen), plane_name, min_overlap,
                         library.layout)


@dataclass(frozen=True)
class EnrichedGene:
    """An experiment ranked by ``ratio`` = energy at the seed / its mean energy over the
    in-brain voxels with data (the mean from the library's exact per-structure sums)."""

    rank: int
    experiment_id: int
    symbol: str
    plane: str
    ratio: float
    seed_energy: float
    brain_mean: float


def enriched_at_seed(library: Library, column: int, plane: str | None = "coronal",
                     top: int | None = 50) -> list[EnrichedGene]:
    """Experiments most enriched at a seed column (see :class:`EnrichedGene`); only those with
    data at the seed and a positive in-brain mean; ties by experiment id."""
    keep = plane_rows(library, plane) & rows_with_data_at(library, column)
    rows = np.flatnonzero(keep)
    if not len(rows):
        return []
    counts = np.asarray(library.seg("count")[rows], dtype=np.float64).sum(axis=1)
    sums = np.asarray(library.seg("energy")[rows], dtype=np.float64).sum(axis=1)
    seed = np.asarray(library.energy[rows, column], dtype=np.float64)
    _check_energy(library, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(counts > 0, sums / counts, np.nan)
        ratio = np.where(mean > 0, seed / mean, np.nan)
    ok = ~np.isnan(ratio)
    rows, ratio, seed, mean = rows[ok], ratio[ok], seed[ok], mean[ok]
    ids = library.ids[rows]
    order = np.lexsort((ids, -ratio))
    if top is not None:
        order = order[:max(0, int(top))]
    planes, symbols = library.planes, library.symbols
    return [EnrichedGene(k + 1, int(ids[i]), symbols[rows[i]], planes[rows[i]], float(ratio[i]), float(seed[i]),
                         float(mean[i])) for k, i in enumerate(order)]
