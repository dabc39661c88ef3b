"""Where to write structure acronyms on a slice of the 25 µm annotation (Qt-free, numpy).

Used by the slice panes' *Structure labels* toggle (:mod:`allen_viewer.gui.slice_labels`).

Rules
-----
* **Which structure names a pixel**: the finest structure of the annotation, except that
  layers are named by the area they belong to: a structure whose name says ``layer``,
  ``sublayer`` or ``stratum`` (cortical layers ``SSp-ul4``, cerebellar ``PFLpu``,
  hippocampal strata ``CA1sp``) is labelled as its parent (``SSp-ul``, ``PFL``, ``CA1``),
  repeatedly.  (513 of the 1,327 structures are such layers; labelling each one would bury
  the slice in text.)  Voxels annotated only as ``root`` (brain, no finer region) are not
  labelled.
* **Where**: at the structure's most interior pixel in that slice -- the one farthest (in
  4-connected steps, up to :data:`MAX_DEPTH`, 300 µm) from the structure's edge, ties to the one
  nearest its centroid -- so a curved structure's label sits inside it, not in the middle
  of its curve.  Each connected piece is not labelled separately: one label per structure
  per slice (both hemispheres share it; the larger interior wins).
* **Which**: structures covering at least :data:`MIN_LABEL_PIXELS` pixels of the slice,
  largest first; the panes skip a label that would overlap one already written.

Image coordinates: ``(row, col)`` of the slice image, 25 µm pixels, as the panes draw it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

LAYER_WORDS = re.compile(r"\b(layer|sublayer|stratum)\b", re.IGNORECASE)
MIN_LABEL_PIXELS = 100
"""A structure needs this many 25 µm pixels in the slice (0.0625 mm²) to be labelled."""
MAX_DEPTH = 12
"""Interior depth is counted up to this many pixels (300 µm) from the edge; deeper pixels tie
and the one nearest the centroid wins."""


@dataclass(frozen=True)
class SliceLabel:
    """One acronym to write: the structure's Allen id and acronym, where (image row and
    column, 25 µm pixels) and the structure's area in the slice (pixels)."""

    structure_id: int
    acronym: str
    row: int
    col: int
    area: int


def label_structure(structure):
    """The structure whose acronym labels ``structure``'s pixels (layers -> their area)."""
    s = structure
    while s.parent is not None and LAYER_WORDS.search(s.name):
        s = s.parent
    return s


def label_groups(ontology, label_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For the compact labels of :attr:`ReferenceSpace.label_ids`: ``(group, group_ids)``,
    ``group[label]`` the index into ``group_ids`` (Allen ids of the labelling structures)
    of each compact label; group 0 (id 0) is outside the brain."""
    group_ids = [0]
    index = {0: 0}
    group = np.zeros(len(label_ids), dtype=np.int32)
    for i, sid in enumerate(np.asarray(label_ids).tolist()):
        if not sid or sid not in ontology:
            continue
        s = label_structure(ontology.by_id(sid))
        if s.parent is None:  # voxels annotated only as "root" (brain, no finer region): unlabelled
            continue
        target = s.id
        if target not in index:
            index[target] = len(group_ids)
            group_ids.append(target)
        group[i] = index[target]
    return group, np.asarray(group_ids, dtype=np.int64)


def interior_depth(groups: np.ndarray, max_depth: int = MAX_DEPTH) -> np.ndarray:
    """int32 (H, W): how many 4-connected steps each pixel is inside its group (0 at the
    edge: a pixel with a neighbour of another group, or on the image border), up to
    ``max_depth``; 0 for group 0."""
    g = np.asarray(groups)
    same = np.zeros(g.shape, dtype=bool)
    same[1:-1, 1:-1] = ((g[1:-1, 1:-1] == g[:-2, 1:-1]) & (g[1:-1, 1:-1] == g[2:, 1:-1])
                        & (g[1:-1, 1:-1] == g[1:-1, :-2]) & (g[1:-1, 1:-1] == g[1:-1, 2:]))
    same &= g > 0
    depth = np.zeros(g.shape, dtype=np.int32)
    alive = same.copy()
    for _ in range(max_depth):
        if not alive.any():
            break
        depth += alive
        nxt = np.zeros_like(alive)
        nxt[1:-1, 1:-1] = (alive[1:-1, 1:-1] & alive[:-2, 1:-1] & alive[2:, 1:-1]
                           & alive[1:-1, :-2] & alive[1:-1, 2:])
        alive = nxt
    return depth


def slice_labels(labels: np.ndarray, group: np.ndarray, group_ids: np.ndarray, ontology,
                 min_pixels: int = MIN_LABEL_PIXELS) -> list[SliceLabel]:
    """The labels of one slice, largest structure first.

    ``labels``: (H, W) compact labels of the slice (e.g. ``Plane.take(space.labels25, i)``);
    ``group``/``group_ids``: from :func:`label_groups`."""
    g = group[np.asarray(labels)]
    h, w = g.shape
    flat = g.ravel()
    n = len(group_ids)
    area = np.bincount(flat, minlength=n)
    keep = np.flatnonzero(area >= max(1, int(min_pixels)))
    keep = keep[keep > 0]
    if keep.size == 0:
        return []
    rows, cols = np.divmod(np.arange(flat.size), w)
    mean_r = np.bincount(flat, weights=rows, minlength=n) / np.maximum(area, 1)
    mean_c = np.bincount(flat, weights=cols, minlength=n) / np.maximum(area, 1)
    depth = interior_depth(g).ravel().astype(np.float64)
    d2 = (rows - mean_r[flat]) ** 2 + (cols - mean_c[flat]) ** 2
    score = depth * 1e7 - d2  # deepest first, then nearest the centroid (d2 < 1e7 here)
    order = np.lexsort((score, flat))  # by group, best last
    sorted_groups = flat[order]
    last = np.flatnonzero(np.r_[sorted_groups[1:] != sorted_groups[:-1], True])
    best = dict(zip(sorted_groups[last].tolist(), order[last].tolist()))
    out = []
    for gi in keep[np.argsort(-area[keep], kind="stable")].tolist():
        pixel = best[gi]
        sid = int(group_ids[gi])
        out.append(SliceLabel(sid, ontology.by_id(sid).acronym, int(pixel // w), int(pixel % w), int(area[gi])))
    return out
