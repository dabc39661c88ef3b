"""The region x gene table: mean energy (or density) of every gene in every structure.

A structure pools its own 200 µm grid voxels and all its descendants' (Allen's
``gridAnnotation``), and voxels without data (Allen's -1) are left out of the mean, exactly
as the structure export (``allen-viewer export structures``) computes it for one gene; the
sums are the library's per-segment sums of the original float32 grids, so the two agree to
about 1e-7.

A gene with several experiments is combined by one of :data:`COMBINE_RULES`:

``prefer-coronal`` (default)
    the one experiment a bare symbol means everywhere else in the viewer: its lowest-id
    coronal experiment when the library has one (coronal sections cover both
    hemispheres), else its lowest-id sagittal one.
``mean``
    the unweighted mean, per structure, of the means of all its experiments in the library
    (an experiment with no data in a structure is left out of that structure's mean).

Genes are matched by symbol, case-insensitively; only experiments in the library count.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from allen_viewer.errors import AllenViewerError
from allen_viewer.library.store import PLANES, Library, LibraryError
from allen_viewer.library.defaults import COMBINE_RULES  # noqa: F401  (there for the CLI parser)

VALUES = ("energy", "density")
_CHUNK = 2048  # experiments pooled at once (memory: chunk x structures x 16 bytes)


@dataclass
class RegionGeneMatrix:
    """``values[i, j]``: mean ``value`` of gene ``genes[j]`` in ``structures[i]`` (NaN: no data).

    ``voxels[i]``: grid voxels of structure i (own and descendants', both hemispheres).
    ``experiments[gene]``: the experiment ids combined into that column.
    """

    structures: list
    genes: list[str]
    values: np.ndarray
    voxels: np.ndarray
    experiments: dict[str, list[int]] = field(default_factory=dict)
    value: str = "energy"
    combine: str = "prefer-coronal"

    def column(self, gene: str) -> dict[int, float]:
        """``{structure id: value}`` of one gene (structures with data only)."""
        j = [g.lower() for g in self.genes].index(gene.lower())
        return {s.id: float(v) for s, v in zip(self.structures, self.values[:, j]) if not math.isnan(v)}


def _gene_rows(library: Library, genes: Sequence[str] | None) -> tuple[list[str], list[np.ndarray], list[str]]:
    """(gene symbols, rows of each, requested symbols not in the library)."""
    symbols = library.symbols
    by_gene: dict[str, list[int]] = {}
    spelling: dict[str, str] = {}
    for r, s in enumerate(symbols):
        by_gene.setdefault(s.lower(), []).append(r)
        spelling.setdefault(s.lower(), s)
    if genes is None:
        keys = sorted(by_gene)
        missing: list[str] = []
    else:
        wanted = [g.strip().rstrip("*") for g in genes if g and g.strip()]
        keys, missing, seen = [], [], set()
        for g in wanted:
            k = g.lower()
            if k in seen:
                continue
            seen.add(k)
            (keys if k in by_gene else missing).append(k if k in by_gene else g)
    return [spelling[k] for k in keys], [np.array(by_gene[k]) for k in keys], missing


def _choose(library: Library, rows: np.ndarray, combine: str) -> np.ndarray:
    """The rows of one gene that ``combine`` uses."""
    if combine == "mean" or not len(rows):
        return rows
    coronal = rows[library.table["plane"][rows] == PLANES.index("coronal")]
    pool = coronal if len(coronal) else rows
    return pool[[int(np.argmin(library.ids[pool]))]]


def _label_index(layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, order of segments by label, reduceat starts) to sum segments into labels."""
    labels, inverse = np.unique(layout.segments["label"], return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    starts = np.searchsorted(inverse[order], np.arange(len(labels)))
    return labels, order, starts


def _pool(structures_all, label_pos: dict[int, int], per_label: np.ndarray) -> dict[int, np.ndarray]:
    """Tree-pool (k, L) per-label sums into ``{structure id: (k,) sums}`` (descendants included)."""
    totals: dict[int, np.ndarray] = {}
    zero = np.zeros(per_label.shape[0])
    for s in reversed(structures_all):  # children come after parents in graph order
        k = label_pos.get(s.id)
        t = per_label[:, k].copy() if k is not None else zero.copy()
        for c in s.children:
            t += totals[c.id]
        totals[s.id] = t
    return totals


def region_gene_matrix(library: Library, ontology, structures: Sequence | None = None, depth: int | None = None,
                       genes: Sequence[str] | None = None, value: str = "energy",
                       combine: str = "prefer-coronal") -> tuple[RegionGeneMatrix, list[str]]:
    """The region x gene matrix and the requested genes the library lacks.

    ``structures``: acronyms/ids to include (as given, no descendants added as rows);
    ``depth``: structures at ontology depth <= depth (root is 0); neither: every structure.
    Structures without any grid voxel are left out.  ``genes``: symbols (None: every gene
    in the library).  ``value``: ``energy`` or ``density`` (density needs experiments
    synced with density; others give NaN).  ``combine``: see :data:`COMBINE_RULES`.
    """
    if combine not in COMBINE_RULES:
        raise AllenViewerError(f"combine must be one of {', '.join(COMBINE_RULES)}, not {combine!r}")
    if value not in VALUES:
        raise AllenViewerError(f"value must be energy or density, not {value!r}")
    if len(library) == 0:
        raise LibraryError(f"The library at {library.root} holds no experiments yet; run "
                           "`allen-viewer library sync` first.")
    symbols, gene_rows, missing = _gene_rows(library, genes)
    if not symbols:
        raise LibraryError(f"None of the genes asked for is in the library ({', '.join(missing[:10])}); "
                           "sync them first.")
    chosen = [_choose(library, rows, combine) for rows in gene_rows]

    structures_all = list(ontology)
    layout = library.layout
    labels, seg_order, label_starts = _label_index(layout)
    label_pos = {int(l): k for k, l in enumerate(labels)}
    sizes = np.add.reduceat(layout.segment_sizes[seg_order].astype(np.float64), label_starts)
    voxels_by_id = _pool(structures_all, label_pos, sizes[None, :])
    if structures is not None:
        picked = [ontology.get(s) for s in structures]
    else:
        picked = [s for s in structures_all if depth is None or s.depth <= depth]
    picked = [s for s in picked if voxels_by_id[s.id][0] > 0]
    if not picked:
        raise AllenViewerError("None of the chosen structures has voxels in the 200 um grid annotation.")

    # experiments to pool, each once; pooled means per (structure, experiment)
    flat_rows = np.unique(np.concatenate([c for c in chosen if len(c)])) if any(len(c) for c in chosen) else []
    col_of_row = {int(r): k for k, r in enumerate(flat_rows)}
    means = np.full((len(picked), len(flat_rows)), np.nan)
    counts_t, sums_t = library.seg("count"), library.seg("energy" if value == "energy" else "density")
    for k0 in range(0, len(flat_rows), _CHUNK):
        rows = np.asarray(flat_rows[k0:k0 + _CHUNK])
        cnt = np.add.reduceat(np.asarray(counts_t[rows], dtype=np.float64)[:, seg_order], label_starts, axis=1)
        tot = np.add.reduceat(np.asarray(sums_t[rows], dtype=np.float64)[:, seg_order], label_starts, axis=1)
        n_pool = _pool(structures_all, label_pos, cnt)
        s_pool = _pool(structures_all, label_pos, tot)
        for i, s in enumerate(picked):
            n = n_pool[s.id]
            with np.errstate(divide="ignore", invalid="ignore"):
                means[i, k0:k0 + len(rows)] = np.where(n > 0, s_pool[s.id] / n, np.nan)

    values = np.full((len(picked), len(symbols)), np.nan)
    for j, rows in enumerate(chosen):
        if not len(rows):
            continue
        block = means[:, [col_of_row[int(r)] for r in rows]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN structures stay NaN
            values[:, j] = np.nanmean(block, axis=1)
    experiments = {g: [int(library.ids[r]) for r in rows] for g, rows in zip(symbols, chosen)}
    voxels = np.array([int(voxels_by_id[s.id][0]) for s in picked], dtype=np.int64)
    return RegionGeneMatrix(picked, symbols, values, voxels, experiments, value, combine), missing

