"""The RMA models the fake server can query, over :class:`FakeAllenData`.

Supported: ``SectionDataSet`` (filters on its fields and through ``genes``, ``products``,
``plane_of_section``, ``treatments``; includes ``genes``, ``plane_of_section``,
``products``), ``Gene`` (through ``products``), ``StructureUnionize`` (must be filtered by
``section_data_set_id``; through and including ``structure``), ``Structure`` and
``SectionImage`` (must be filtered by ``data_set_id``; GENERATED rows, ``sections.py``).  A field,
association or model outside these raises :class:`RmaError` (a failure envelope), so a
client that sends something the real service would not understand fails loudly here.
"""
from __future__ import annotations

from typing import Callable

from tests.fake_allen.data import MOUSE_PRODUCT, FakeAllenData
from tests.fake_allen.rma_parser import Query, RmaError, matches

ISH_TREATMENT = {"id": 1, "name": "ISH"}


class _Model:
    def __init__(self, rows: Callable[[Query], list[dict]], assoc: dict[str, Callable[[dict], list[dict]]],
                 include: dict[str, Callable[[dict], object]]):
        self.rows, self.assoc, self.include = rows, assoc, include


def _models(data: FakeAllenData, no_section_images: set[int]) -> dict[str, _Model]:
    def unionize_rows(query: Query) -> list[dict]:
        ids = [f for f in query.filters if f.assoc == "" and f.field == "section_data_set_id" and f.op in ("eq", "in")]
        if not ids:
            raise RmaError("StructureUnionize queries must filter on section_data_set_id (the fake does not list all)")
        wanted: set[int] = set()
        for f in ids:
            for text in f.value.split(","):
                try:
                    wanted.add(int(text.strip().strip("'")))
                except ValueError:
                    raise RmaError(f"section_data_set_id {text!r} is not a number") from None
        return [r for i in sorted(wanted) for r in data.unionize_rows(i)]

    def section_image_rows(query: Query) -> list[dict]:
        from tests.fake_allen import sections

        ids = [f for f in query.filters if f.assoc == "" and f.field == "data_set_id" and f.op == "eq"]
        if not ids:
            raise RmaError("SectionImage queries must filter on data_set_id (the fake does not list all)")
        try:
            wanted = int(ids[0].value.strip().strip("'"))
        except ValueError:
            raise RmaError(f"data_set_id {ids[0].value!r} is not a number") from None
        exp = data.experiments.get(wanted)
        if exp is None or wanted in no_section_images:
            return []
        return sections.section_rows(wanted, exp.plane)

    return {
        "SectionDataSet": _Model(
            rows=lambda q: list(data.section_data_sets.values()),
            assoc={
                "genes": lambda r: [data.gene_of(r["id"])],
                "products": lambda r: [MOUSE_PRODUCT],
                "plane_of_section": lambda r: [data.plane_row(r["id"])],
                "treatments": lambda r: [ISH_TREATMENT],
            },
            include={
                "genes": lambda r: [data.gene_of(r["id"])],
                "plane_of_section": lambda r: data.plane_row(r["id"]),
                "products": lambda r: [dict(MOUSE_PRODUCT)],
            },
        ),
        "Gene": _Model(
            rows=lambda q: list(data.genes.values()),
            assoc={"products": lambda r: [MOUSE_PRODUCT]},
            include={"products": lambda r: [dict(MOUSE_PRODUCT)]},
        ),
        "StructureUnionize": _Model(
            rows=unionize_rows,
            assoc={"structure": lambda r: [r["structure"]]},
            include={"structure": lambda r: dict(r["structure"])},
        ),
        "Structure": _Model(rows=lambda q: data.structures, assoc={}, include={}),
        "SectionImage": _Model(rows=section_image_rows, assoc={}, include={}),
    }


class ModelQueries:
    """Runs parsed queries; remembers the last few result sets so paging is cheap."""

    def __init__(self, data: FakeAllenData, no_section_images: set[int] | None = None):
        self.no_section_images = set() if no_section_images is None else no_section_images
        self.models = _models(data, self.no_section_images)
        self._recent: dict[tuple, list[dict]] = {}

    def run(self, query: Query) -> list[dict]:
        """All matching rows, with includes, ordered by ``options['order']`` (default id)."""
        key = query.key()
        rows = self._recent.get(key)
        if rows is None:
            rows = self._select(query)
            if len(self._recent) > 16:
                self._recent.clear()
            self._recent[key] = rows
        order = query.options.get("order", "id")
        fields = [f.strip().strip("'").split(".")[-1] for f in order.split(",") if f.strip()]
        return sorted(rows, key=lambda r: tuple((r.get(f) is None, r.get(f) or 0) for f in fields))

    def _select(self, query: Query) -> list[dict]:
        model = self.models.get(query.model)
        if model is None:
            raise RmaError(f"unknown or unsupported model {query.model!r}")
        rows = model.rows(query)
        for f in query.filters:
            if f.assoc:
                through = model.assoc.get(f.assoc)
                if through is None:
                    raise RmaError(f"{query.model} has no association {f.assoc!r}")
                sample = next((a for r in rows[:1] for a in through(r)), None)
                if sample is not None and f.field not in sample:
                    raise RmaError(f"{f.assoc} has no field {f.field!r}")
                rows = [r for r in rows if any(matches(a.get(f.field), f.op, f.value) for a in through(r))]
            else:
                if rows and f.field not in rows[0]:
                    raise RmaError(f"{query.model} has no field {f.field!r}")
                rows = [r for r in rows if matches(r.get(f.field), f.op, f.value)]
        out = []
        for name in query.includes:
            if name not in model.include:
                raise RmaError(f"{query.model} cannot include {name!r}")
        for r in rows:
            row = {k: v for k, v in r.items() if k != "structure"} if query.model == "StructureUnionize" else dict(r)
            for name in query.includes:
                row[name] = model.include[name](r)
            out.append(row)
        return out
