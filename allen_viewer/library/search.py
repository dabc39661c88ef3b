"""Differential and correlation search over the library, the Allen web application's two
whole-genome searches, computed locally.

**Differential search.**  For every experiment: the mean energy over the voxels *with data*
of the target structures (each with all its descendants, their union), the same over the
contrast structures, and fold change = target mean / contrast mean.  Voxels Allen marks
-1 (no data) are excluded from both means.  Experiments with no voxel with data in the
target or in the contrast get no fold change (left out); a contrast mean of 0 with a
positive target mean gives +inf (ranked first).  Ranked by fold change, descending (ties
by experiment id).  The means come from the library's per-segment sums of the *original*
float32 grids, so they equal a float64 computation over the grids to about 1e-7.

**Correlation search.**  Pearson r between the seed's energy and each experiment's, over
the domain voxels (the union of the domain structures with descendants; the whole brain by
default) where **both** have data: a voxel missing in either grid is dropped for that pair
only, so every pair has its own overlap.  Pairs overlapping on fewer than ``min_overlap``
voxels (default :data:`MIN_OVERLAP` = 50), or where either side is constant over the
overlap, get no r (left out).  Both grids are taken at the library's float16 precision
(the seed too, when it comes from outside the library).  Ranked by r, descending (ties by
experiment id); the seed itself is left out unless asked for.

How it is fast: the only pass over the voxel data is one float32 dot product per
experiment (the float16 bits are widened to float32 by an integer shift, which numpy does
at memory speed, and the power-of-two scale that trick leaves is folded into the seed);
the experiments' own sums over the overlap come from the per-segment tables and the
masks' run-length codes, with exact corrections for the few voxels where the seed has no
data.  Only the columns of the domain's structures (and the seed's hemisphere) are read.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from allen_viewer.errors import AllenViewerError
from allen_viewer.library.defaults import MIN_OVERLAP  # noqa: F401  (defined there for the CLI parser)
from allen_viewer.library.integrity import energy_damage
from allen_viewer.library.store import F16_MAX, PLANES, Library, LibraryError
from allen_viewer.sanitize import is_id

ROOT_ID = 997
_W_SCALE = 2.0 ** 100   # the seed is scaled by this before the dot products ...
_Z_SCALE = 2.0 ** 112   # ... with the shifted float16 bits, which are value * 2**-112
_RESULT_SCALE = _Z_SCALE / _W_SCALE
_HALF_SCALE = 2.0 ** 56
_TABLE_ROWS = 8192      # rows of a per-segment table read at once


@dataclass(frozen=True)
class DifferentialHit:
    """One experiment of a differential search.

    ``fold_change`` = ``target_mean`` / ``contrast_mean`` (mean energy over voxels with
    data).  ``target_voxels``/``contrast_voxels``: voxels with data that took part.  Rows
    from Allen's service (``source == "allen"``) carry ``target_sum``/``contrast_sum``
    as the service sends them and no means or voxel counts.
    """

    rank: int
    experiment_id: int
    symbol: str
    plane: str
    fold_change: float
    target_mean: float | None = None
    contrast_mean: float | None = None
    target_voxels: int | None = None
    contrast_voxels: int | None = None
    source: str = "local"
    target_sum: float | None = None
    contrast_sum: float | None = None


@dataclass(frozen=True)
class CorrelationHit:
    """One experiment of a correlation search: Pearson ``r`` over ``voxels`` voxels (the
    domain voxels where both the seed and this experiment have data; None from Allen)."""

    rank: int
    experiment_id: int
    symbol: str
    plane: str
    r: float
    voxels: int | None = None
    source: str = "local"


# ---------------------------------------------------------------------------- structures


def structure_label_ids(ontology, structures: Iterable) -> set[int]:
    """Ids of the structures (acronyms, ids or Structure objects) and all their descendants.

    Raises :class:`UnknownStructure` (with suggestions) for a name the ontology lacks.
    """
    ids: set[int] = set()
    for s in structures:
        ids |= ontology.descendant_ids(s)
    return ids


def parse_structures(text: str | Sequence | None) -> list[str]:
    """``"CP,ACB"`` or a list -> acronyms/ids as strings (blanks dropped)."""
    if text is None:
        return []
    items = text.split(",") if isinstance(text, str) else [str(t) for t in text]
    return [t.strip() for t in items if t and t.strip()]


def _segments(library: Library, ontology, structures) -> np.ndarray:
    names = parse_structures(structures)
    if not names:
        raise AllenViewerError("No structures given.")
    mask = library.layout.segment_mask(structure_label_ids(ontology, names))
    if not mask.any():
        raise AllenViewerError(f"{', '.join(names)} has no voxels in the 200 um grid annotation, so no "
                               "expression grid covers it; choose a larger structure.")
    return mask


def _segment_sums(table: np.ndarray, segment_mask: np.ndarray) -> np.ndarray:
    """float64 (rows,): each row's sum over the selected segments of a (rows, S) table.

    Reads the selected segments as runs of adjacent columns (a structure is one run per
    hemisphere); when most segments are selected, sums whole rows and subtracts the rest.
    """
    segment_mask = np.asarray(segment_mask, bool)
    rows = table.shape[0]
    out = np.zeros(rows, np.float64)
    if not segment_mask.any() or not rows:
        return out
    complement = segment_mask.sum() > len(segment_mask) // 2
    runs = _runs(~segment_mask if complement else segment_mask)
    for r0 in range(0, rows, _TABLE_ROWS):
        block = table[r0:r0 + _TABLE_ROWS]
        part = np.zeros(len(block), np.float64)
        for a, b in runs:
            part += np.add.reduce(block[:, a:b], axis=1, dtype=np.float64)
        if complement:
            part = np.add.reduce(block, axis=1, dtype=np.float64) - part
        out[r0:r0 + len(block)] = part
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[a, b) runs of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _plane_filter(library: Library, plane: str | None) -> np.ndarray:
    if plane is None:
        return np.ones(len(library), bool)
    if plane not in PLANES[1:]:
        raise AllenViewerError(f"plane must be coronal or sagittal, not {plane!r}")
    return library.table["plane"] == PLANES.index(plane)


def _ranked(score: np.ndarray, ids: np.ndarray, keep: np.ndarray, top: int | None) -> np.ndarray:
    """Rows with a score (not NaN) and ``keep``, best first (ties by id), at most ``top``."""
    rows = np.flatnonzero(keep & ~np.isnan(score))
    order = np.lexsort((ids[rows], -score[rows]))
    rows = rows[order]
    return rows if top is None else rows[:max(0, int(top))]


# ---------------------------------------------------------------------------- differential


def differential_scores(library: Library, target_segments: np.ndarray, contrast_segments: np.ndarray) -> dict:
    """Per-row arrays (rows,): ``fold_change``, ``target_mean``, ``contrast_mean``,
    ``target_voxels``, ``contrast_voxels`` for segment masks (see :meth:`Layout.segment_mask`).
    Fold change is NaN where either side has no voxel with data or both means are 0."""
    counts, sums = library.seg("count"), library.seg("energy")
    tn, cn = _segment_sums(counts, target_segments), _segment_sums(counts, contrast_segments)
    te, ce = _segment_sums(sums, target_segments), _segment_sums(sums, contrast_segments)
    with np.errstate(divide="ignore", invalid="ignore"):
        tm = np.where(tn > 0, te / tn, np.nan)
        cm = np.where(cn > 0, ce / cn, np.nan)
        fold = tm / cm
    fold[(cm == 0) & (tm > 0)] = np.inf
    return {"fold_change": fold, "target_mean": tm, "contrast_mean": cm,
            "target_voxels": tn.astype(np.int64), "contrast_voxels": cn.astype(np.int64)}


def differential_search(library: Library, ontology, target, contrast, plane: str | None = None,
                        top: int | None = 50) -> list[DifferentialHit]:
    """Experiments ranked by fold change of mean energy, target over contrast structures.

    ``target``/``contrast``: acronyms or ids (``"CP,ACB"`` or a list), each with its
    descendants.  ``plane``: only coronal or sagittal experiments.  ``top``: at most this
    many rows (None: all).  See the module docstring for the exact rule.
    """
    _require_rows(library)
    t_seg, c_seg = _segments(library, ontology, target), _segments(library, ontology, contrast)
    s = differential_scores(library, t_seg, c_seg)
    rows = _ranked(s["fold_change"], library.ids, _plane_filter(library, plane), top)
    planes, symbols = library.planes, library.symbols
    return [DifferentialHit(rank=k + 1, experiment_id=int(library.ids[r]), symbol=symbols[r], plane=planes[r],
                            fold_change=float(s["fold_change"][r]), target_mean=float(s["target_mean"][r]),
                            contrast_mean=float(s["contrast_mean"][r]), target_voxels=int(s["target_voxels"][r]),
                            contrast_voxels=int(s["contrast_voxels"][r]))
            for k, r in enumerate(rows)]


# ---------------------------------------------------------------------------- correlation


def round_like_library(values: np.ndarray) -> np.ndarray:
    """float32 values rounded to the library's precision (float16, clipped at 65,504), NaN kept."""
    v = np.asarray(values, dtype=np.float32)
    return np.where(np.isnan(v), np.nan, np.minimum(v, F16_MAX)).astype(np.float16).astype(np.float32)


def correlation_scores(library: Library, seed: np.ndarray, domain_segments: np.ndarray | None = None,
                       min_overlap: int = MIN_OVERLAP) -> dict:
    """Pearson r of every row against ``seed`` over the domain, per-pair overlap.

    ``seed``: float32 (V,) column values (NaN where no data) at float16 precision, e.g.
    :meth:`Library.values` or :func:`round_like_library` of :meth:`Layout.columns`.
    ``domain_segments``: bool (S,) (None: the whole brain).  Returns per-row arrays
    ``r`` (NaN where there is no r) and ``voxels`` (the overlap size).
    """
    layout = library.layout
    seed = np.asarray(seed, dtype=np.float32)
    if seed.shape != (layout.n_voxels,):
        raise ValueError(f"seed has shape {seed.shape}, expected ({layout.n_voxels},)")
    if np.isinf(seed).any() or (seed < 0).any():  # NaN is "no data"; inf or negative: a damaged row
        raise energy_damage(library.root)
    if domain_segments is None:
        domain_segments = np.ones(layout.n_segments, bool)
    in_domain = layout.column_mask(domain_segments) & ~np.isnan(seed)
    n_domain = int(in_domain.sum())
    if n_domain < min_overlap:
        raise AllenViewerError(f"The seed has data in only {n_domain} voxels of the domain; at least "
                               f"{min_overlap} are needed.")
    x = np.where(in_domain, seed.astype(np.float64), 0.0)
    x[in_domain] -= x[in_domain].mean()  # centring the seed keeps the sums well conditioned
    rows = len(library)

    # Segments the seed covers at least half of are summed from the per-segment tables, less
    # their voxels where the seed has no data (k_minus); the seed's voxels in less-covered
    # segments are added one by one (k_plus).  The dot products read the column ranges that
    # span the well-covered segments (small gaps between them included).
    sizes = layout.segment_sizes
    covered = np.add.reduceat(in_domain, layout.segment_starts, dtype=np.int64)
    full = (covered > 0) & (2 * covered >= sizes)
    full_cols = layout.column_mask(full)
    k_minus = np.flatnonzero(full_cols & ~in_domain)
    k_plus = np.flatnonzero(in_domain & ~full_cols)
    spans = _blocks(layout, full)
    inside = np.zeros(layout.n_voxels, bool)
    for a, b in spans:
        inside[a:b] = True
    k_out = k_plus[~inside[k_plus]]  # the seed's voxels outside every span

    sxy = np.zeros(rows, np.float64)
    sy = _segment_sums(library.seg("q"), full)
    syy = _segment_sums(library.seg("q2"), full)
    bits = library.energy.view(np.uint16)
    for a, b in spans:
        width = b - a
        w = (x[a:b] * _W_SCALE).astype(np.float32)  # x is 0 off the seed's domain voxels
        minus = k_minus[(k_minus >= a) & (k_minus < b)] - a
        plus = k_plus[(k_plus >= a) & (k_plus < b)] - a
        local = np.concatenate([minus, plus])
        sign = np.concatenate([-np.ones(len(minus), np.float32), np.ones(len(plus), np.float32)])
        step = int(min(4096, max(8, (1 << 21) // width)))  # about 8 MB of float32 a block
        buf = np.empty((step, width), np.uint32)
        z = buf.view(np.float32)
        for r0 in range(0, rows, step):
            c = min(step, rows - r0)
            blk = buf[:c]
            np.copyto(blk, bits[r0:r0 + c, a:b], casting="unsafe")
            if (blk >= 0x7C00).any():  # float16 exponent all ones (inf, NaN) or the sign bit: damage
                raise energy_damage(library.root)
            np.left_shift(blk, 13, out=blk)  # float16 bits -> float32 bits of value * 2**-112
            sxy[r0:r0 + c] += np.vecdot(z[:c], w).astype(np.float64) * _RESULT_SCALE
            if len(local):
                g = z[:c, local]  # value * 2**-112
                g *= np.float32(_HALF_SCALE)  # value * 2**-56: its square stays in float32 range
                sy[r0:r0 + c] += np.vecdot(g, sign).astype(np.float64) * _HALF_SCALE
                np.square(g, out=g)
                syy[r0:r0 + c] += np.vecdot(g, sign).astype(np.float64) * (_Z_SCALE / _HALF_SCALE) ** 2
    if len(k_out):
        xo = x[k_out]
        step = max(64, (1 << 21) // len(k_out))
        for r0 in range(0, rows, step):
            g = np.asarray(library.energy[r0:r0 + step][:, k_out], dtype=np.float64)
            if not (np.isfinite(g).all() and (g >= 0).all()):
                raise energy_damage(library.root)
            sy[r0:r0 + len(g)] += g.sum(axis=1)
            syy[r0:r0 + len(g)] += (g * g).sum(axis=1)
            sxy[r0:r0 + len(g)] += np.vecdot(g, xo)

    n, sx, sxx = _mask_sums(library, np.stack([in_domain.astype(np.float64), x, x * x], axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = n * sxy - sx * sy
        var_x = n * sxx - sx * sx
        var_y = n * syy - sy * sy
        r = cov / np.sqrt(var_x * var_y)
    # a constant row (to float16 precision) has var_y at rounding level: no r
    valid = (n >= min_overlap) & (var_x > 1e-9 * n * sxx) & (var_y > 1e-6 * n * syy)
    r = np.where(valid, np.clip(r, -1.0, 1.0), np.nan)
    return {"r": r, "voxels": np.rint(n).astype(np.int64)}


def _blocks(layout, full: np.ndarray, gap: int = 4096) -> list[tuple[int, int]]:
    """Column ranges [a, b) spanning the selected segments, merging ranges less than
    ``gap`` columns apart (reading a few extra columns is cheaper than another pass)."""
    sel = np.flatnonzero(full)
    if not len(sel):
        return []
    seg = layout.segments
    spans: list[list[int]] = []
    for k in sel:
        a, b = int(seg["start"][k]), int(seg["stop"][k])
        if spans and a - spans[-1][1] < gap:
            spans[-1][1] = b
        else:
            spans.append([a, b])
    return [(a, b) for a, b in spans]


def _mask_sums(library: Library, v: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each row's sums of the columns of ``v`` (V, k) over its has-data voxels, from the runs."""
    layout, table = library.layout, library.table
    rows = len(table)
    prefix = np.zeros((len(layout.perms), layout.n_voxels + 1, v.shape[1]))
    for o, perm in enumerate(layout.perms):
        np.cumsum(v[perm], axis=0, out=prefix[o, 1:])
    n_runs = table["n_runs"].astype(np.int64)
    runs = np.asarray(library.runs)
    order = np.repeat(table["mask_order"].astype(np.intp), n_runs)
    part = prefix[order, runs[:, 1]] - prefix[order, runs[:, 0]]
    row_of_run = np.repeat(np.arange(rows), n_runs)
    return tuple(np.bincount(row_of_run, weights=part[:, k], minlength=rows) for k in range(v.shape[1]))


def seed_values(library: Library, seed) -> tuple[np.ndarray, int | None]:
    """(column values at library precision, the seed's library row or None) for a seed
    given as an experiment id in the library, an ExpressionGrid, or (V,) column values."""
    if isinstance(seed, (int, np.integer)) or (isinstance(seed, str) and is_id(seed)):
        row = library.row_of(int(seed))
        if row is None:
            raise LibraryError(f"Experiment {int(seed)} is not in the library; sync it first "
                               f"(`allen-viewer library sync {int(seed)}`).")
        return library.values(row), row
    energy = getattr(seed, "energy", None)
    if energy is not None:  # an ExpressionGrid
        row = library.row_of(seed.experiment.id)
        if row is not None:
            return library.values(row), row
        return round_like_library(library.layout.columns(energy)), None
    return round_like_library(seed), None


def correlation_search(library: Library, ontology, seed, domain=None, plane: str | None = None,
                       top: int | None = 50, min_overlap: int = MIN_OVERLAP,
                       include_seed: bool = False) -> list[CorrelationHit]:
    """Experiments ranked by Pearson r with the seed over the domain (see the module docstring).

    ``seed``: an experiment id in the library, an ExpressionGrid, or (V,) column values.
    ``domain``: acronyms or ids (``"Isocortex,CP"``), each with descendants; None is the
    whole brain.  ``plane``: only coronal or sagittal experiments.
    """
    _require_rows(library)
    values, seed_row = seed_values(library, seed)
    dom = None if not parse_structures(domain) else _segments(library, ontology, domain)
    s = correlation_scores(library, values, dom, min_overlap=min_overlap)
    keep = _plane_filter(library, plane)
    if seed_row is not None and not include_seed:
        keep[seed_row] = False
    rows = _ranked(s["r"], library.ids, keep, top)
    planes, symbols = library.planes, library.symbols
    return [CorrelationHit(rank=k + 1, experiment_id=int(library.ids[r]), symbol=symbols[r], plane=planes[r],
                           r=float(s["r"][r]), voxels=int(s["voxels"][r]))
            for k, r in enumerate(rows)]


def _require_rows(library: Library) -> None:
    if len(library) == 0:
        raise LibraryError(f"The library at {library.root} holds no experiments yet; run "
                           "`allen-viewer library sync` first.")
