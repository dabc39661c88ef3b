"""Search by a gene set: the library's experiments ranked by Pearson r with the set's score map.

One more :class:`~allen_viewer.library.searches.SearchSpec` (a correlation search whose
seed is a gene set's score map, :mod:`allen_viewer.expression.gene_sets`), so the CLI's
search path (``allen-viewer search-correlated --gene-set ...``) runs it as it runs the
others: same columns, same sidecar keys, plus the set.  The rule: Pearson r over the
in-brain (domain) voxels where both the score and the experiment have data, at the
library's float16 precision (the score is rounded as any seed from outside the library),
pairs with fewer than ``--min-voxels`` such voxels left out, and **every experiment of the
set's genes left out** (all experiments of each member's symbol, not only the one in the
set).  Allen's service has no such search: ``--remote`` is refused.
"""
from __future__ import annotations

import re
from dataclasses import replace

from allen_viewer.expression.gene_sets import resolve_gene_set, score_map
from allen_viewer.library.searches import STRUCTURES, CorrelationSpec, FormField

SET_METHOD = ("Pearson r of energy between the gene set's score map (mean percentile rank; see gene_set) and each "
              "experiment over the domain voxels (structures with descendants) where both have data, at float16 "
              "precision; pairs with fewer than {min_voxels} such voxels are left out; every experiment of the "
              "set's genes is left out")


class SetSeed:
    """What a set search hands back as its "seed": the score map (``score_map``), its notes."""

    def __init__(self, smap):
        self.score_map = smap
        self.experiment = self
        self.id = None
        self.label = f"the gene set of {smap.gene_set.k} genes ({', '.join(smap.gene_set.symbols[:5])}" + (
            ", ..." if smap.gene_set.k > 5 else "") + ")"

    @property
    def notes(self) -> list[str]:
        return list(self.score_map.gene_set.notes)

    def note(self) -> str:
        return "; ".join(self.notes)


class GeneSetCorrelationSpec(CorrelationSpec):
    """Experiments correlated with a gene set's score map (see the module docstring).
    The request holds ``genes`` (the members, a tuple), ``domain`` and ``min_overlap``."""

    kind = "gene-set-correlation"
    title = "Like a gene set"
    tooltip = "Experiments whose expression correlates with a gene set's score map"
    fields = (
        FormField("domain", "Domain", STRUCTURES, "whole brain (root)",
                  "Structures to correlate over (comma-separated acronyms, with descendants); empty: the whole brain"),
    )
    export = "search-correlated"
    service = "gene-set search"

    @staticmethod
    def _label(request, seed) -> str:
        if seed is not None:
            return seed.label
        genes = list(request["genes"] or ())
        return f"the gene set {', '.join(genes[:5])}" + (", ..." if len(genes) > 5 else "")

    def file_stem(self, request) -> str:
        return re.sub(r"[^\w.-]+", "_", "corr-set-" + "-".join(list(request["genes"])[:3]))

    def record(self, request, seed, remote, library) -> dict:
        n = self._min_overlap(request)
        out = {"seed": self._label(request, seed), "seed_experiment_id": None,
               "domain": list(request["domain"]) or ["root"], "plane": request.plane, "top": request.top,
               "min_voxels": n, "remote": remote, "library": library, "method": SET_METHOD.format(min_voxels=n)}
        if seed is not None:
            out.update(seed.score_map.record())
        return out

    def search_local(self, data, library, request, progress, cancel, on_seed):
        gene_set = resolve_gene_set(data.gene_index, list(request["genes"] or ()))
        smap = score_map(data, gene_set, library, cancel=cancel)
        hits = set_search(library, data.ontology, smap, domain=list(request["domain"]) or None,
                          plane=request.plane, top=request.top, min_overlap=self._min_overlap(request))
        return hits, SetSeed(smap)


GENE_SET_CORRELATION = GeneSetCorrelationSpec()


def set_search(library, ontology, smap, domain=None, plane: str | None = None, top: int | None = 50,
               min_overlap: int | None = None) -> list:
    """CorrelationHits of the library's experiments against a :class:`ScoreMap`'s score (see
    the module docstring), best first, every experiment of the set's genes left out, ranks
    renumbered from 1, at most ``top``."""
    from allen_viewer.library.defaults import MIN_OVERLAP
    from allen_viewer.library.search import correlation_search

    values = library.layout.columns(smap.score)
    hits = correlation_search(library, ontology, values, domain=domain, plane=plane, top=None,
                              min_overlap=MIN_OVERLAP if min_overlap is None else int(min_overlap))
    genes = {s.lower() for s in smap.gene_set.symbols}
    kept = [h for h in hits if h.symbol.lower() not in genes]
    kept = kept if top is None else kept[:max(0, int(top))]
    return [replace(h, rank=i + 1) for i, h in enumerate(kept)]

