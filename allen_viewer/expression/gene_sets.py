"""Many genes at once: gene sets, their score maps, and the grids behind them.

The definitions (docs/user-guide.md, "Composites and gene sets"), one function each,
shared by the CLI, the exports, the searches and the window:

* **Percentile rank** of a gene at a voxel: compare's one rank function
  (:func:`allen_viewer.expression.compare.scaled_energy` with ``scale="percentile"``): over
  the gene's in-brain voxels with data, 0 lowest, 1 highest, ties share their mean
  position; no rank (NaN) where the gene has no data.  :func:`percentile_ranks`.
* **Gene set**: the distinct experiments its members resolve to (a symbol by the usual
  rule, coronal first; an id exactly); ``k`` = how many.  :func:`resolve_gene_set`.
* ``n_genes`` at an in-brain voxel: how many of the set's experiments have data there.
  :func:`n_genes`.
* **Score** at an in-brain voxel: the mean of the percentile ranks of the experiments with
  data there; it exists where ``n_genes >= ceil(k / 2)`` (:func:`min_genes`).
  :func:`score`.
* Energy throughout.

Inputs (:func:`parse_gene_set`, :func:`resolve_gene_set`): refused in one line (an
:class:`AllenViewerError`), before anything is written: an empty set, one gene, more than
:data:`MAX_GENES`, a file that is not text, fewer than 2 experiments found.  Noted (the
:class:`GeneSet`'s ``notes``, one line each) with the output written: duplicates (one
experiment counted once), unknown symbols or ids (left out), one-hemisphere (sagittal)
experiments.

Where the grids come from (:func:`gene_set_ranks`): from the local library when every
experiment of the set is in it (``source="library"``, float16 precision), else from the
grids (embedded, cache, download: ``source="grids"``, float32).  The float16 rounding moves
a rank by at most about 4e-4 on the real grids (Pdyn, Nrp1), so the two paths' scores
agree to 1e-3 (tests/expression/test_gene_sets.py checks it).

Qt-free.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from allen_viewer.errors import AllenViewerError, Cancelled
from allen_viewer.expression.compare import scaled_energy
from allen_viewer.expression.grid import ExpressionGrid

MAX_GENES = 500
"""The most members a gene set may have."""
LIBRARY, GRIDS = "library", "grids"
"""Where a set's grids came from (the sidecar's ``grids_from``)."""
SCORE_TITLE = "gene-set score (mean percentile rank)"
"""The colour bar title of a score map."""


# ---------------------------------------------------------------------------- input


def parse_gene_set(text: str) -> list[str]:
    """The members of a gene set written as text: one symbol or id a line (or comma
    separated), ``#`` starting a comment, blanks ignored.  Order kept, duplicates kept
    (:func:`resolve_gene_set` notes them)."""
    items = []
    for line in str(text).splitlines():
        for part in line.split("#", 1)[0].replace("\t", ",").replace(";", ",").split(","):
            part = part.strip()
            if part:
                items.append(part)
    return items


def read_gene_set_file(path: Path | str) -> list[str]:
    """The members of a gene-set file (:func:`parse_gene_set`); AllenViewerError for a file
    that cannot be read or is not text."""
    from allen_viewer.arguments import read_text_list

    return parse_gene_set(read_text_list(path, "gene-set file"))


@dataclass
class GeneSet:
    """A resolved gene set: ``experiments`` (distinct, in the order first named),
    ``members`` (what was asked), ``unknown`` (members left out), ``duplicates`` (members
    naming an experiment already in the set), ``notes`` (one line each, for the user)."""

    experiments: list
    members: list[str]
    unknown: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def k(self) -> int:
        return len(self.experiments)

    @property
    def ids(self) -> list[int]:
        return [e.id for e in self.experiments]

    @property
    def symbols(self) -> list[str]:
        return [e.symbol for e in self.experiments]

    def record(self) -> dict:
        """The sidecar's ``gene_set``."""
        return {"members": list(self.members), "k": self.k, "min_genes": min_genes(self.k),
                "experiments": [{"experiment_id": e.id, "gene": e.symbol, "plane": e.plane}
                                for e in self.experiments],
                "unknown": list(self.unknown), "duplicates": list(self.duplicates),
                "definition": DEFINITION}


DEFINITION = ("score at an in-brain voxel = mean of the percentile ranks (0 lowest, 1 highest, over each "
              "experiment's own in-brain voxels with data, ties share their mean position) of the set's "
              "experiments with data there; n_genes = how many; the score exists where n_genes >= ceil(k / 2); "
              "energy")


def resolve_gene_set(index, members: Sequence[str], what: str = "gene set") -> GeneSet:
    """The distinct experiments of ``members`` (symbols by the usual rule, coronal first,
    :meth:`GeneIndex.resolve`; ids exactly) as a :class:`GeneSet`; refuses (see the module
    docstring) an empty set, one gene, more than :data:`MAX_GENES` and fewer than 2
    experiments found."""
    from allen_viewer.errors import UnknownExperiment, UnknownGene

    members = [str(m).strip() for m in members if str(m).strip()]
    if not members:
        raise AllenViewerError(f"The {what} is empty; give at least 2 genes (symbols or experiment ids).")
    distinct = list(dict.fromkeys(m.lower() for m in members))
    if len(distinct) == 1:
        raise AllenViewerError(f"The {what} names one gene ({members[0]}); a set needs at least 2 (for one gene, "
                               "export it directly).")
    if len(distinct) > MAX_GENES:
        raise AllenViewerError(f"The {what} names {len(distinct):,} genes; at most {MAX_GENES} are allowed.")
    experiments, unknown, duplicates, seen = [], [], [], set()
    for m in members:
        try:
            exp = index.resolve(m)
        except (UnknownGene, UnknownExperiment):
            unknown.append(m)
            continue
        if exp.id in seen:
            duplicates.append(m)
            continue
        seen.add(exp.id)
        experiments.append(exp)
    if len(experiments) < 2:
        found = ", ".join(e.label for e in experiments) or "none"
        raise AllenViewerError(f"The {what} resolves to {len(experiments)} experiment(s) ({found}); at least 2 are "
                               "needed" + (f" (not in the gene index: {_list(unknown)})" if unknown else "") + ".")
    gs = GeneSet(experiments, members, unknown, duplicates)
    if duplicates:
        gs.notes.append(f"duplicates counted once: {_list(duplicates)}")
    if unknown:
        gs.notes.append(f"not in the gene index, left out: {_list(unknown)}")
    sagittal = [e.symbol for e in experiments if e.plane == "sagittal"]
    if sagittal:
        gs.notes.append(f"one-hemisphere (sagittal) experiments: {_list(sagittal)}; the score covers only the "
                        f"voxels where at least {min_genes(len(experiments))} of the {len(experiments)} have data")
    return gs


def _list(items: Sequence[str], n: int = 10) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


# ---------------------------------------------------------------------------- the definitions


def percentile_ranks(grids: Iterable[ExpressionGrid]) -> np.ndarray:
    """float32 (k, AP, DV, ML): each grid's percentile rank (compare's rank function), NaN
    where it has no in-brain data.  Genes are ranked in parallel threads (numpy's sort and
    searchsorted release the GIL), a few at a time."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    grids = list(grids)
    workers = max(1, min(8, os.cpu_count() or 1, len(grids)))
    if workers == 1:
        return np.stack([scaled_energy(g, "percentile") for g in grids])
    with ThreadPoolExecutor(workers) as pool:
        return np.stack(list(pool.map(lambda g: scaled_energy(g, "percentile"), grids)))


def min_genes(k: int) -> int:
    """How many of a set's ``k`` experiments must have data at a voxel for it to have a score."""
    return int(math.ceil(int(k) / 2))


def n_genes(ranks: np.ndarray) -> np.ndarray:
    """int16 (AP, DV, ML): how many experiments have data (a rank) at each voxel."""
    n = np.zeros(ranks.shape[1:], np.int16)
    for r in ranks:  # one gene at a time: no temporary the size of the whole stack
        n += ~np.isnan(r)
    return n


def score(ranks: np.ndarray, k: int | None = None) -> np.ndarray:
    """float32 (AP, DV, ML): the mean rank of the experiments with data at each voxel, NaN
    where fewer than ``ceil(k / 2)`` have data (``k``: the set's size, default the ranks' count)."""
    k = ranks.shape[0] if k is None else int(k)
    n = n_genes(ranks)
    total = np.zeros(ranks.shape[1:], np.float64)
    for r in ranks:
        total += np.nan_to_num(r, nan=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (total / n).astype(np.float32)
    out[n < max(min_genes(k), 1)] = np.nan
    return out


# ---------------------------------------------------------------------------- the grids


@dataclass
class ScoreMap:
    """A gene set's score map: ``score`` and ``n_genes`` (AP, DV, ML), the ranks behind it
    (k, AP, DV, ML), the set, and where the grids came from (:data:`LIBRARY` or :data:`GRIDS`)."""

    gene_set: GeneSet
    ranks: np.ndarray
    score: np.ndarray
    n_genes: np.ndarray
    source: str

    def record(self) -> dict:
        """The sidecar's record of the set, its definition and where its grids came from."""
        return {"gene_set": self.gene_set.record(), "grids_from": self.source,
                "grids_from_note": ("the local library (float16)" if self.source == LIBRARY else
                                    "the experiments' grids (embedded, cache or download), float32")}

    def as_grid(self) -> ExpressionGrid:
        """The score drawn as a gene is: an ExpressionGrid whose energy is the score and whose
        data are the voxels with a score (experiment: the set, labelled as such)."""
        from allen_viewer.records import Experiment

        exp = Experiment(0, f"gene set ({self.gene_set.k} genes)", SCORE_TITLE, None, "set")
        has = ~np.isnan(self.score)
        return ExpressionGrid(exp, np.where(has, self.score, np.nan).astype(np.float32), has, source=self.source)


def in_library(library, experiments) -> bool:
    """True when ``library`` exists, has rows, and holds every one of ``experiments``."""
    if library is None or not library.exists():
        return False
    try:
        if len(library) == 0:
            return False
    except AllenViewerError:
        return False
    return all(library.row_of(e.id) is not None for e in experiments)


def load_set_grids(data, gene_set: GeneSet, library=None, progress: Callable | None = None,
                   cancel: Callable | None = None) -> tuple[list[ExpressionGrid], str]:
    """(the set's energy grids, :data:`LIBRARY` or :data:`GRIDS`).

    From ``library`` when it holds every experiment of the set, else loaded one by one
    (embedded, cached or downloaded) with ``progress(done, total)`` over the whole set
    (experiments, not bytes) and ``cancel()`` checked between them."""
    from allen_viewer.expression.brain import brain_mask

    brain = brain_mask()
    exps = gene_set.experiments
    grids = []
    if in_library(library, exps):
        for i, e in enumerate(exps):
            values = library.grid(library.row_of(e.id))
            grids.append(ExpressionGrid(e, values, ~np.isnan(values), in_brain=brain, source=LIBRARY))
            if progress is not None:
                progress(i + 1, len(exps))
        return grids, LIBRARY
    for i, e in enumerate(exps):
        if cancel is not None and cancel():
            raise Cancelled("cancelled")
        grids.append(data.load_grid(e, cancel=cancel))
        if progress is not None:
            progress(i + 1, len(exps))
    return grids, GRIDS


def score_map(data, gene_set: GeneSet, library=None, progress=None, cancel=None) -> ScoreMap:
    """The :class:`ScoreMap` of a resolved set (grids by :func:`load_set_grids`)."""
    grids, source = load_set_grids(data, gene_set, library, progress, cancel)
    ranks = percentile_ranks(grids)
    return ScoreMap(gene_set, ranks, score(ranks, gene_set.k), n_genes(ranks), source)


def score_threshold(score_values: np.ndarray, threshold: float | None = None,
                    percentile: float | None = None) -> tuple[float, str, float | None]:
    """(score threshold, its rule in words, the percentile or None): ``threshold`` (a score)
    when given, else the ``percentile`` (default 90) of the score's in-brain distribution."""
    from allen_viewer.expression.brain import DEFAULT_THRESHOLD_PERCENTILE

    if threshold is not None:
        return float(threshold), f"score {threshold:g} (--threshold)", None
    pct = DEFAULT_THRESHOLD_PERCENTILE if percentile is None else float(percentile)
    values = score_values[~np.isnan(score_values)].astype(np.float64)
    value = float(np.percentile(values, pct)) if values.size else 1.0
    return value, f"{pct:g}th percentile of the score's in-brain values", pct


# ---------------------------------------------------------------------------- composites

COMPOSITE_THRESHOLD = 0.9
"""A composite draws a voxel where at least one gene's percentile rank is at or above this
(the 90th percentile of the gene's own in-brain energies)."""
PALETTES = {
    2: {"green-magenta": (("green", (0.0, 1.0, 0.0)), ("magenta", (1.0, 0.0, 1.0)))},
    3: {"rgb": (("red", (1.0, 0.0, 0.0)), ("green", (0.0, 1.0, 0.0)), ("blue", (0.0, 0.45, 1.0))),
        "colour-blind": (("orange", (0.90, 0.62, 0.0)), ("sky blue", (0.34, 0.71, 0.91)),
                         ("reddish purple", (0.80, 0.47, 0.65)))},
}
"""Each gene's colour (name, RGB 0-1), by the number of genes and the palette's name.  Two
genes: green and magenta, as the compare slices (both at full: white).  Three: red, green,
blue (a brighter blue, so it reads on the dark background), or a colour-blind-safe set
(Okabe-Ito orange, sky blue and reddish purple)."""
DEFAULT_PALETTE = {2: "green-magenta", 3: "rgb"}


def palette(n: int, name: str | None = None) -> tuple:
    """((colour name, (r, g, b)), ...) for a composite of ``n`` (2 or 3) genes."""
    if n not in PALETTES:
        raise AllenViewerError(f"A composite shows 2 or 3 genes, not {n}.")
    name = name or DEFAULT_PALETTE[n]
    if name not in PALETTES[n]:
        raise AllenViewerError(f"Palette {name!r} is not one for {n} genes; one of {', '.join(PALETTES[n])}.")
    return PALETTES[n][name]


def composite_brightness(ranks: np.ndarray, threshold: float = COMPOSITE_THRESHOLD) -> np.ndarray:
    """float32 (n, AP, DV, ML): each gene's brightness, 0 at the threshold rank (and below it,
    and where it has no data) rising linearly to 1 at rank 1."""
    t = float(threshold)
    if not 0.0 <= t < 1.0:
        raise AllenViewerError(f"A composite's threshold rank must be at least 0 and below 1, not {t:g}.")
    with np.errstate(invalid="ignore"):
        b = (np.nan_to_num(ranks, nan=-1.0) - t) / (1.0 - t)
    return np.clip(b, 0.0, 1.0).astype(np.float32)


def composite_drawn(ranks: np.ndarray, threshold: float = COMPOSITE_THRESHOLD) -> np.ndarray:
    """bool (AP, DV, ML): voxels where at least one gene's rank is >= the threshold."""
    with np.errstate(invalid="ignore"):
        return np.any(np.nan_to_num(ranks, nan=-1.0) >= float(threshold), axis=0)


def composite_rgb(ranks: np.ndarray, colors, threshold: float = COMPOSITE_THRESHOLD) -> np.ndarray:
    """float32 (AP, DV, ML, 3): the genes' colours added, each times its brightness, clipped to 1."""
    b = composite_brightness(ranks, threshold)
    rgb = np.tensordot(np.moveaxis(b, 0, -1), np.asarray([c for _, c in colors], np.float32), axes=1)
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)
