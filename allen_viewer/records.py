"""Plain records: values that several layers pass around and none of them owns.

They sit below ``expression/``, ``store/``, ``library/`` and the views, so that a grid
(:class:`~allen_viewer.expression.grid.ExpressionGrid`) can carry its experiment without
``expression/`` importing ``store/`` (docs/design.md, "Layers and nevers").  Standard
library only; it imports nothing of allen_viewer.

* :class:`Experiment`: one ISH experiment (an Allen SectionDataSet) with its gene; the gene
  index (:mod:`allen_viewer.store.gene_index`) reads and writes lists of them.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Experiment:
    """One ISH experiment (an Allen SectionDataSet).

    ``plane`` is ``"coronal"`` (both hemispheres) or ``"sagittal"`` (one hemisphere).
    """

    id: int
    symbol: str
    name: str
    entrez_id: int | None
    plane: str
    alias: str = ""

    @property
    def label(self) -> str:
        return f"{self.symbol} ({self.plane}, {self.id})"
