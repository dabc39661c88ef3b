"""Building RMA query strings for the Allen API (pure string work, no network).

RMA ("RESTful Model Access") criteria are comma-separated stages such as::

    model::SectionDataSet,rma::criteria,[failed$eq'false'],genes[acronym$eq'Pdyn'],rma::include,genes

This module builds the few queries the viewer needs, appends the paging options, and
percent-encodes the result the way the AllenSDK does (everything except ``;/?:@&=+$,``).
Values are quoted with ``'...'``; a value that could break out of its quotes or brackets
is refused with :class:`ValueError` rather than escaped, since RMA has no escape syntax.
"""
from __future__ import annotations

import re
import urllib.parse

QUERY_PATH = "/api/v2/data/query.json"
SAFE_CHARS = ";/?:@&=+$,"
"""Characters left as they are when percent-encoding an RMA string (as the AllenSDK does)."""

PLANES = ("coronal", "sagittal")
MOUSE_ISH_PRODUCT_ID = 1
"""Product 1 is the adult mouse ISH atlas ("Mouse Brain", abbreviation ``Mouse``)."""
STRUCTURE_GRAPH_ID = 1
"""Structure graph 1 is the adult mouse ontology (root structure 997)."""

_SYMBOL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9()._\-/:@]*$")


def encode(criteria: str) -> str:
    """Percent-encode an RMA string for a query URL, keeping ``;/?:@&=+$,`` as they are."""
    return urllib.parse.quote(criteria, safe=SAFE_CHARS)


def check_symbol(symbol: str) -> str:
    """A gene symbol fit to put inside ``'...'`` in an RMA filter.

    Surrounding blanks and a stray trailing ``*`` (seen in exported lists) are removed.
    Symbols are case-sensitive (``Pdyn``), so the case is kept.  Raises ``ValueError``
    for text that is not symbol-like (quotes, brackets, commas, spaces, ...).
    """
    text = str(symbol).strip().rstrip("*").strip()
    if not _SYMBOL.match(text):
        raise ValueError(f"{symbol!r} is not a gene symbol")
    return text


def paging_options(start_row: int, num_rows: int, order: str = "'id'") -> str:
    """The ``[num_rows$eqN][start_row$eqM][order$eq...]`` brackets of ``rma::options``.

    ``total_rows`` is left counted (no ``[count$eqfalse]``) so the caller knows when to stop.
    """
    return f"[num_rows$eq{int(num_rows)}][start_row$eq{int(start_row)}][order$eq{order}]"


def with_paging(criteria: str, start_row: int, num_rows: int, order: str = "'id'") -> str:
    """``criteria`` with paging options: appended as ``,rma::options[...]``, or added to an
    ``rma::options`` stage that is already there (the caller's options come after ours)."""
    options = paging_options(start_row, num_rows, order)
    marker = "rma::options"
    at = criteria.find(marker)
    if at < 0:
        return f"{criteria},{marker}{options}"
    at += len(marker)
    return criteria[:at] + options + criteria[at:]


def section_data_sets_of_gene(symbol: str, plane: str | None = None) -> str:
    """Adult-mouse ISH experiments of one gene, with their ``genes`` and ``plane_of_section``."""
    symbol = check_symbol(symbol)
    stages = [
        "model::SectionDataSet", "rma::criteria", "[failed$eq'false']",
        "products[abbreviation$eq'Mouse']", f"genes[acronym$eq'{symbol}']",
    ]
    if plane is not None:
        if plane not in PLANES:
            raise ValueError(f"plane must be one of {PLANES}, not {plane!r}")
        stages.append(f"plane_of_section[name$eq'{plane}']")
    stages += ["rma::include", "genes,plane_of_section"]
    return ",".join(stages)


def all_section_data_sets() -> str:
    """Every adult-mouse ISH experiment (about 26,000 rows: page through them)."""
    return (
        "model::SectionDataSet,rma::criteria,[failed$eqfalse],"
        f"products[id$eq{MOUSE_ISH_PRODUCT_ID}],treatments[name$eqISH],"
        "rma::include,genes,plane_of_section"
    )


def gene(symbol: str) -> str:
    """The ``model::Gene`` rows of one symbol within the adult-mouse ISH product."""
    return f"model::Gene,rma::criteria,[acronym$eq'{check_symbol(symbol)}'],products[id$eq{MOUSE_ISH_PRODUCT_ID}]"


def structure_unionize(experiment_id: int) -> str:
    """Allen's per-structure expression summary (StructureUnionize) of one experiment."""
    return (
        f"model::StructureUnionize,rma::criteria,[section_data_set_id$eq{int(experiment_id)}],"
        f"structure[graph_id$eq{STRUCTURE_GRAPH_ID}],rma::include,structure"
    )
