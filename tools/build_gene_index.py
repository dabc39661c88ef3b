"""Build ``resources/gene_index.tsv.gz``, the embedded list of adult-mouse ISH experiments.

Inputs are the public experiment lists described in ``resources/NOTICE``:

* ``ABI_genes.csv`` (26,061 SectionDataSets: symbol, plane, id, Entrez id);
* ``AMBA_metadata_coronal.csv`` and ``AMBA_metadata_sagittal.csv`` (flattened
  ``model::SectionDataSet`` + ``genes`` rows: current symbol, gene name, Entrez id).

The AMBA lists carry the current gene symbol and name; where the older ABI list spells the
symbol differently (e.g. ``0610007C21Rik`` for ``Atraid``) the old spelling is kept as an
alias so both can be searched.  A stray trailing ``*`` on ABI symbols is removed.

Usage::

    python tools/build_gene_index.py DIR_WITH_THE_THREE_CSVS [OUT]

The app itself never runs this: it reads the built resource, and can refresh it from the
Allen API (``allen-viewer refresh-index``).
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from allen_viewer.records import Experiment
from allen_viewer.store.gene_index import write_gene_index  # noqa: E402


def _entrez(text: str) -> int | None:
    text = (text or "").strip()
    if not text or text.upper() == "NA":
        return None
    return int(float(text))


def build(source: Path) -> list[Experiment]:
    amba: dict[int, dict] = {}
    for name in ("AMBA_metadata_coronal.csv", "AMBA_metadata_sagittal.csv"):
        with open(source / name, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                amba[int(row["experiment_id"])] = row
    abi: dict[int, dict] = {}
    with open(source / "ABI_genes.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            abi[int(row["Section_Data_ID"])] = row

    experiments = []
    for exp_id in sorted(set(amba) | set(abi)):
        a, b = amba.get(exp_id), abi.get(exp_id)
        old_symbol = b["acronym"].strip().rstrip("*") if b else ""
        symbol = (a["gene"].strip().rstrip("*") if a else "") or old_symbol
        plane = (a["plane"] if a else b["cutting_plane"]).strip().lower()
        entrez = _entrez(a["entrez_id"]) if a else None
        if entrez is None and b:
            entrez = _entrez(b["entrez.id"])
        experiments.append(Experiment(
            id=exp_id,
            symbol=symbol,
            name=(a["gene_name"].strip() if a else ""),
            entrez_id=entrez,
            plane=plane,
            alias=old_symbol if old_symbol and old_symbol != symbol else "",
        ))
    return experiments


def main() -> None:
    source = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parents[1] / "resources" / "gene_index.tsv.gz"
    experiments = build(source)
    write_gene_index(experiments, out)
    print(f"wrote {len(experiments)} experiments, {len({e.symbol for e in experiments})} symbols to {out}")


if __name__ == "__main__":
    main()
