"""The gene index: every adult-mouse ISH experiment (SectionDataSet) with its gene.

About 26,000 experiments of about 20,000 genes, kept in memory as plain Python lists plus a
few sorted keys, so that a type-ahead query costs well under a millisecond
(``benchmarks/gene_index.py`` measures it).

On disk it is a gzip'd tab-separated file with a header line
``id symbol alias name entrez_id plane`` (``alias``: an older spelling of the symbol, or
empty).  The embedded copy is ``resources/gene_index.tsv.gz``; a refreshed copy from the
Allen API (:func:`experiments_from_rma_rows`) lives in the cache and wins over it.
"""
from __future__ import annotations

import bisect
import difflib
import gzip
import io
import re
from pathlib import Path
from typing import Container, Iterable

from allen_viewer.errors import CorruptData, UnknownExperiment, UnknownGene
from allen_viewer.io.atomic import atomic_write
from allen_viewer.records import Experiment
from allen_viewer.sanitize import clean_text

COLUMNS = ("id", "symbol", "alias", "name", "entrez_id", "plane")
PLANES = ("coronal", "sagittal")
_WORD = re.compile(r"[a-z0-9]+")


def write_gene_index(experiments: Iterable[Experiment], path: Path) -> None:
    """Write experiments as the gzip'd TSV format, atomically."""
    buf = io.StringIO()
    buf.write("\t".join(COLUMNS) + "\n")
    for e in experiments:
        fields = [str(e.id), e.symbol, e.alias, e.name, "" if e.entrez_id is None else str(e.entrez_id), e.plane]
        if any("\t" in f or "\n" in f for f in fields):
            raise ValueError(f"tab or newline in experiment {e.id}")
        buf.write("\t".join(fields) + "\n")
    # mtime=0 keeps the file byte-identical between builds of the same data
    data = gzip.compress(buf.getvalue().encode("utf-8"), mtime=0)
    with atomic_write(path) as fh:
        fh.write(data)


def read_gene_index(path: Path) -> list[Experiment]:
    """Read the gzip'd TSV format; raise :class:`CorruptData` when it is not that."""
    try:
        text = gzip.decompress(Path(path).read_bytes()).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise CorruptData(f"Gene index {path} is unreadable ({exc}).") from exc
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise CorruptData(f"Gene index {path} has an unexpected header.")
    out = []
    for n, line in enumerate(lines[1:], start=2):
        parts = line.split("\t")
        if len(parts) != len(COLUMNS):
            raise CorruptData(f"Gene index {path}: line {n} has {len(parts)} fields, expected {len(COLUMNS)}.")
        exp_id, symbol, alias, name, entrez, plane = parts
        problem = _row_problem(exp_id, symbol, entrez, plane)
        if problem:  # parses, but holds junk: quarantined like a file that does not parse
            raise CorruptData(f"Gene index {path}: line {n} {problem}.")
        out.append(Experiment(int(exp_id), symbol, name, int(entrez) if entrez else None, plane, alias))
    return out


def _is_number(text: str, digits: int = 12) -> bool:
    return 0 < len(text) <= digits and text.isascii() and text.isdigit()


def _row_problem(exp_id: str, symbol: str, entrez: str, plane: str) -> str:
    """What is wrong with one gene index row ('' when nothing)."""
    if not _is_number(exp_id):
        return f"has the id {clean_text(exp_id, 40)!r}, not a number"
    if not symbol.strip() or len(symbol) > 100 or not symbol.isprintable():
        return f"has the symbol {clean_text(symbol, 40)!r}"
    if entrez and not _is_number(entrez):
        return f"has the Entrez id {clean_text(entrez, 40)!r}, not a number"
    if plane not in PLANES:
        return f"has the plane {clean_text(plane, 40)!r}, not coronal or sagittal"
    return ""


def experiments_from_rma_rows(rows: Iterable[dict], service: str = "The Allen API") -> list[Experiment]:
    """Turn ``model::SectionDataSet`` rows (with ``rma::include,genes,plane_of_section``) into experiments.

    Rows of the wrong shape (not an object, a non-numeric id, ``genes`` that is not a list
    of objects, a plane that is neither coronal nor sagittal) raise :class:`CorruptData`
    naming ``service`` and the first such row: an index built from them would be junk.
    """
    out = []
    for n, row in enumerate(rows, start=1):
        problem = _rma_row_problem(row)
        if problem:
            raise CorruptData(f"{service} sent a malformed experiment list (row {n:,} {problem}); "
                              "the gene index was not changed.")
        genes = row.get("genes") or []
        if not genes:
            continue
        gene = genes[0]
        plane = (row.get("plane_of_section") or {}).get("name") or {1: "coronal", 2: "sagittal"}.get(
            row.get("plane_of_section_id"), "")
        symbol = (gene.get("acronym") or "").strip().rstrip("*")
        original = (gene.get("original_symbol") or "").strip().rstrip("*")
        out.append(Experiment(
            id=int(row["id"]),
            symbol=symbol,
            name=(gene.get("name") or "").strip(),
            entrez_id=int(gene["entrez_id"]) if gene.get("entrez_id") not in (None, "") else None,
            plane=str(plane).lower(),
            alias=original if original and original != symbol else "",
        ))
    return out


def _rma_row_problem(row) -> str:
    """What makes one SectionDataSet row unusable ('' when nothing)."""
    if not isinstance(row, dict):
        return f"is {type(row).__name__}, not an object"
    exp_id = row.get("id")
    if isinstance(exp_id, bool) or not (isinstance(exp_id, int) or (isinstance(exp_id, str) and _is_number(exp_id))):
        return f"has the id {clean_text(repr(exp_id), 40)}, not a number"
    genes = row.get("genes")
    if genes is None:
        return ""
    if not isinstance(genes, list) or not all(isinstance(g, dict) for g in genes):
        return f"has genes of type {type(genes).__name__}, not a list of gene records"
    if not genes:
        return ""
    gene = genes[0]
    for key in ("acronym", "original_symbol", "name"):
        if gene.get(key) is not None and not isinstance(gene.get(key), str):
            return f"has a gene {key} of type {type(gene.get(key)).__name__}"
    symbol = (gene.get("acronym") or "").strip()
    if not symbol or len(symbol) > 100 or not symbol.isprintable():
        return f"has the gene symbol {clean_text(repr(symbol), 40)}"
    entrez = gene.get("entrez_id")
    if entrez not in (None, "") and (isinstance(entrez, bool) or not (
            isinstance(entrez, int) or (isinstance(entrez, str) and _is_number(entrez)))):
        return f"has the Entrez id {clean_text(repr(entrez), 40)}, not a number"
    plane = row.get("plane_of_section")
    if plane is not None and not isinstance(plane, dict):
        return f"has plane_of_section of type {type(plane).__name__}"
    name = (plane or {}).get("name") or {1: "coronal", 2: "sagittal"}.get(row.get("plane_of_section_id"), "")
    if str(name).lower() not in PLANES:
        return f"has the plane {clean_text(repr(name), 40)}"
    return ""


class GeneIndex:
    """Search over all experiments.

    Queries are case-insensitive.  :meth:`search` is the type-ahead entry point; it ranks
    exact symbol matches first, then symbol prefixes (:func:`prefix_rank`), then Entrez
    or experiment ids, then gene-name word matches.
    """

    def __init__(self, experiments: Iterable[Experiment]):
        self.experiments: list[Experiment] = sorted(experiments, key=lambda e: (e.symbol.lower(), e.plane, e.id))
        self._by_id = {e.id: e for e in self.experiments}
        self._row_by_id = {e.id: i for i, e in enumerate(self.experiments)}
        # sorted (lowercase key, row) pairs for symbol and alias prefix search
        keys = [(e.symbol.lower(), i) for i, e in enumerate(self.experiments)]
        keys += [(e.alias.lower(), i) for i, e in enumerate(self.experiments) if e.alias]
        keys.sort()
        self._keys = [k for k, _ in keys]
        self._key_rows = [i for _, i in keys]
        self._by_entrez: dict[int, list[int]] = {}
        self._words: dict[str, list[int]] = {}
        for i, e in enumerate(self.experiments):
            if e.entrez_id is not None:
                self._by_entrez.setdefault(e.entrez_id, []).append(i)
            for w in set(_WORD.findall(e.name.lower())):
                self._words.setdefault(w, []).append(i)
        self._sorted_words = sorted(self._words)
        self._symbols = sorted({e.symbol for e in self.experiments})

    @classmethod
    def load(cls, path: Path) -> "GeneIndex":
        return cls(read_gene_index(path))

    def __len__(self) -> int:
        return len(self.experiments)

    @property
    def symbols(self) -> list[str]:
        return self._symbols

    def by_id(self, experiment_id: int) -> Experiment:
        try:
            return self._by_id[int(experiment_id)]
        except (KeyError, ValueError):
            raise UnknownExperiment(experiment_id) from None

    def has_id(self, experiment_id: int) -> bool:
        return int(experiment_id) in self._by_id

    def _prefix_rows(self, prefix: str) -> list[int]:
        lo = bisect.bisect_left(self._keys, prefix)
        hi = bisect.bisect_left(self._keys, prefix + "\uffff")
        return self._key_rows[lo:hi]

    def exact_symbol(self, symbol: str) -> list[Experiment]:
        """Experiments whose symbol (or old alias) equals ``symbol``, case-insensitively."""
        key = symbol.strip().rstrip("*").lower()
        if not key:
            return []  # a blank symbol names no gene (it would match every alias-less row)
        rows = [r for r in self._prefix_rows(key) if key in (self.experiments[r].symbol.lower(), self.experiments[r].alias.lower())]
        return [self.experiments[r] for r in sorted(set(rows))]

    def search(self, text: str, limit: int = 50, plane: str | None = None,
               available: Container[int] | None = None) -> list[Experiment]:
        """Type-ahead search by symbol prefix, exact symbol, Entrez id, experiment id or name words.

        Prefix matches are ranked by what a user most likely means (:func:`prefix_rank`):
        symbol prefixes before old-alias prefixes, then the experiments in ``available``
        (ids whose grid opens without a download: embedded, cached), then coronal
        experiments, then shorter symbols, then alphabetically."""
        q = text.strip().rstrip("*").lower()
        if not q:
            return []
        seen: set[int] = set()
        ranked: list[int] = []

        def take(rows: Iterable[int]) -> None:
            for r in rows:
                if r not in seen and (plane is None or self.experiments[r].plane == plane):
                    seen.add(r)
                    ranked.append(r)

        if q.isascii() and q.isdigit() and len(q) <= 18:
            n = int(q)
            if n in self._row_by_id:
                take([self._row_by_id[n]])
            take(self._by_entrez.get(n, []))
        prefix = self._prefix_rows(q)
        take(r for r in prefix if q in (self.experiments[r].symbol.lower(), self.experiments[r].alias.lower()))
        take(sorted(prefix, key=lambda r: prefix_rank(self.experiments[r], q, available)))
        words = _WORD.findall(q)
        if words and len(ranked) < limit:
            take(self._name_word_rows(words))
        return [self.experiments[r] for r in ranked[:limit]]

    def _name_word_rows(self, words: list[str]) -> list[int]:
        """Rows whose gene name has every word; the last word may be a prefix (typing)."""
        sets = []
        for i, w in enumerate(words):
            if i == len(words) - 1:
                lo = bisect.bisect_left(self._sorted_words, w)
                hi = bisect.bisect_left(self._sorted_words, w + "\uffff")
                rows: set[int] = set()
                for word in self._sorted_words[lo:hi]:
                    rows.update(self._words[word])
            else:
                rows = set(self._words.get(w, ()))
            sets.append(rows)
        common = set.intersection(*sets) if sets else set()
        return sorted(common, key=lambda r: (self.experiments[r].symbol.lower(), r))

    def resolve(self, query: str | int) -> Experiment:
        """One experiment for an id or a gene symbol.

        A symbol with several experiments means its coronal experiment when there is one
        (it covers both hemispheres), else its first sagittal one (lowest id).  Raises
        :class:`UnknownGene` with close matches, or :class:`UnknownExperiment`.
        """
        text = str(query).strip()
        if text.isascii() and text.isdigit():
            if len(text) > 18:
                raise UnknownExperiment(text[:20] + "...")
            return self.by_id(int(text))
        candidates = self.experiments_of(text)
        return pick_default(candidates)

    def experiments_of(self, symbol: str) -> list[Experiment]:
        """All experiments of a gene symbol; :class:`UnknownGene` with close matches if none."""
        candidates = self.exact_symbol(symbol)
        if not candidates:
            raise UnknownGene(symbol, self.suggest(symbol))
        return candidates

    def suggest(self, text: str, n: int = 5) -> list[str]:
        """Close symbol spellings, for 'did you mean'."""
        q = text.strip().lower()
        prefix = [self.experiments[r].symbol for r in self._prefix_rows(q)]
        lowered = {s.lower(): s for s in self._symbols}
        close = [lowered[m] for m in difflib.get_close_matches(q, list(lowered), n=n, cutoff=0.75)]
        out: list[str] = []
        for s in close + sorted(set(prefix), key=len):
            if s not in out:
                out.append(s)
        return out[:n]


def prefix_rank(exp: Experiment, prefix: str, available: Container[int] | None = None) -> tuple:
    """The sort key of a prefix match of ``prefix`` (lower case) in :meth:`GeneIndex.search`:
    a symbol prefix before an old-alias prefix, available without a download (``exp.id`` in
    ``available``) before not, coronal before sagittal, shorter symbol before longer, then
    the symbol alphabetically and the id."""
    return (not exp.symbol.lower().startswith(prefix), not (available is not None and exp.id in available),
            exp.plane != "coronal", len(exp.symbol), exp.symbol.lower(), exp.id)


def pick_default(candidates: list[Experiment]) -> Experiment:
    """The experiment a bare gene symbol means: coronal first, else the lowest-id sagittal."""
    coronal = [e for e in candidates if e.plane == "coronal"]
    pool = coronal or candidates
    return min(pool, key=lambda e: e.id)
