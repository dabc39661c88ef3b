"""A small parser and evaluator for the RMA criteria strings the fake Allen server answers.

It covers the RMA subset of ``docs/allen-api.md``::

    model::SectionDataSet,rma::criteria,[failed$eq'false'],products[abbreviation$eq'Mouse'],
        genes[acronym$eq'Pdyn'],rma::include,genes,plane_of_section,
        rma::options[num_rows$eq2000][start_row$eq0][order$eq'id'][count$eqfalse]

Stages are separated by commas outside brackets and quotes.  ``[field$op value]`` on its
own filters the model; ``assoc[field$op value]`` filters through an association.
Anything outside that subset raises :class:`RmaError`, which the server turns into a
failure envelope, as the real service does for a query it cannot run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


class RmaError(ValueError):
    """The criteria cannot be parsed or name something the fake does not know."""


@dataclass(frozen=True)
class Filter:
    assoc: str  # "" for a filter on the model itself
    field: str
    op: str
    value: str  # quotes removed


@dataclass
class Query:
    model: str
    filters: list[Filter] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)

    def key(self) -> tuple:
        """What identifies the result set (everything but paging and order)."""
        return (self.model, tuple(self.filters), tuple(self.includes))


_TOKEN = re.compile(r"^([A-Za-z_][A-Za-z0-9_:]*)?((?:\[[^\]]*\])*)$")
_BRACKET = re.compile(r"\[([^\]]*)\]")
_CONDITION = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*)\$(eq|ne|lt|gt|le|ge|in|il|li)(.*)$", re.S)
OPS = ("eq", "ne", "lt", "gt", "le", "ge", "in", "il", "li")


def split_top(text: str) -> list[str]:
    """Split at commas outside ``[...]`` and ``'...'``."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "'" and depth:
            quoted = not quoted
        elif not quoted and ch == "[":
            depth += 1
        elif not quoted and ch == "]":
            depth -= 1
            if depth < 0:
                raise RmaError(f"unbalanced ']' at {i}")
        elif ch == "," and depth == 0 and not quoted:
            parts.append(text[start:i])
            start = i + 1
    if depth or quoted:
        raise RmaError("unbalanced brackets or quotes")
    parts.append(text[start:])
    return [p.strip() for p in parts]


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    return value


def parse_condition(text: str, assoc: str = "") -> Filter:
    m = _CONDITION.match(text.strip())
    if not m:
        raise RmaError(f"cannot parse condition [{text}]")
    return Filter(assoc, m.group(1), m.group(2), unquote(m.group(3)))


def parse(criteria: str) -> Query:
    """Parse an RMA string into a :class:`Query`; :class:`RmaError` when it is not RMA."""
    if not criteria or not criteria.strip():
        raise RmaError("empty criteria")
    query: Query | None = None
    section = None
    for token in split_top(criteria.strip()):
        m = _TOKEN.match(token)
        if not m:
            raise RmaError(f"cannot parse {token!r}")
        head, brackets = m.group(1) or "", _BRACKET.findall(m.group(2) or "")
        if head.startswith("model::"):
            if query is not None:
                raise RmaError("only one model:: stage is supported")
            query = Query(model=head[len("model::"):])
            section = "model"
            if brackets:
                raise RmaError("filters belong after rma::criteria")
            continue
        if head.startswith("service::"):
            raise RmaError(f"the fake server does not run {head}")
        if query is None:
            raise RmaError("criteria must start with model::<Model>")
        if head in ("rma::criteria", "rma::include", "rma::options"):
            section = head[len("rma::"):]
            if head == "rma::options":
                for b in brackets:
                    cond = parse_condition(b)
                    if cond.op != "eq":
                        raise RmaError(f"rma::options take $eq, not ${cond.op}")
                    query.options[cond.field] = cond.value
            elif brackets:
                raise RmaError(f"{head} takes no brackets")
            continue
        if head.startswith("rma::"):
            raise RmaError(f"unknown stage {head}")
        if section == "criteria":
            for b in brackets:
                query.filters.append(parse_condition(b, head))
            if not brackets and not head:
                raise RmaError("empty criteria stage")
        elif section == "include":
            if not head:
                raise RmaError("rma::include needs association names")
            query.includes.append(head)
        elif section == "options":
            raise RmaError(f"unexpected {token!r} after rma::options")
        else:
            raise RmaError(f"unexpected {token!r}")
    if query is None:
        raise RmaError("criteria must start with model::<Model>")
    return query


def _like(pattern: str) -> re.Pattern:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.I | re.S)


def matches(value, op: str, arg: str) -> bool:
    """Whether a row value satisfies ``$op arg`` (RMA semantics, as far as the fake needs)."""
    if op == "in":
        return any(matches(value, "eq", a) for a in (unquote(x) for x in arg.split(",")))
    if op == "ne":
        return not matches(value, "eq", arg)
    if op in ("il", "li"):
        return value is not None and bool(_like(arg).match(str(value)))
    if op == "eq":
        if value is None:
            return arg.lower() in ("null", "nil")
        if isinstance(value, bool):
            return arg.lower() == ("true" if value else "false")
        if isinstance(value, (int, float)):
            try:
                return float(arg) == float(value)
            except ValueError:
                return False
        return str(value) == arg
    try:
        a, v = float(arg), float(value)
    except (TypeError, ValueError):
        return False
    return {"lt": v < a, "gt": v > a, "le": v <= a, "ge": v >= a}[op]
