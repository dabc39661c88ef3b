"""The adult mouse structure ontology (Allen structure graph 1, about 1,300 structures).

Loaded from the ``structure_graph_download/1.json`` format: an envelope whose ``msg`` is
``[root]``, each node carrying ``id, acronym, name, color_hex_triplet, parent_structure_id,
children, ...``.  Copies in the wild sometimes wrap root 997 in an extra node (ClearMap's
``universe``, id 0); the loader unwraps it.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from allen_viewer.errors import CorruptData, UnknownStructure
from allen_viewer.sanitize import is_id

ROOT_ID = 997
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(eq=False)
class Structure:
    """One brain structure.

    ``depth``: 0 for root; ``path``: ids from root down to this structure (inclusive);
    ``color``: ``(r, g, b)`` in 0..255 from the atlas' ``color_hex_triplet``.
    """

    id: int
    acronym: str
    name: str
    color_hex: str
    parent: "Structure | None" = None
    children: list["Structure"] = field(default_factory=list)
    depth: int = 0
    graph_order: int = 0

    @property
    def color(self) -> tuple[int, int, int]:
        h = self.color_hex
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))

    @property
    def parent_id(self) -> int | None:
        return self.parent.id if self.parent else None

    @property
    def path(self) -> list[int]:
        ids = []
        node: Structure | None = self
        while node is not None:
            ids.append(node.id)
            node = node.parent
        return ids[::-1]

    def __repr__(self) -> str:
        return f"Structure({self.id}, {self.acronym!r})"


class Ontology:
    """The structure tree with lookups by id and acronym (case-insensitive) and name search."""

    def __init__(self, root_node: dict):
        self._by_id: dict[int, Structure] = {}
        self._by_acronym: dict[str, Structure] = {}
        self.root = self._build(root_node, None, 0)
        self._order = sorted(self._by_id.values(), key=lambda s: s.graph_order)

    def _build(self, node: dict, parent: Structure | None, depth: int) -> Structure:
        # iterative to be safe with deep trees
        root = None
        stack = [(node, parent, depth)]
        while stack:
            n, par, d = stack.pop()
            try:
                color = str(n.get("color_hex_triplet") or "AAAAAA").strip().lstrip("#").zfill(6)
                s = Structure(int(n["id"]), str(n["acronym"]), str(n["name"]), color.upper(), par,
                              depth=d, graph_order=int(n.get("graph_order") or 0))
            except (KeyError, TypeError, ValueError) as exc:
                raise CorruptData(f"structure graph node {n!r:.80} is malformed ({exc})") from exc
            if s.id in self._by_id:
                raise CorruptData(f"structure id {s.id} appears twice in the structure graph")
            self._by_id[s.id] = s
            self._by_acronym.setdefault(s.acronym.lower(), s)
            if par is not None:
                par.children.append(s)
            else:
                root = s
            for child in reversed(n.get("children") or []):
                stack.append((child, s, d + 1))
        for s in self._by_id.values():
            s.children.sort(key=lambda c: c.graph_order)
        return root

    @classmethod
    def from_json(cls, data: dict | list) -> "Ontology":
        """From a parsed ``1.json`` envelope, its ``msg`` list, or a bare root node."""
        node = data
        if isinstance(node, dict) and "msg" in node:
            node = node["msg"]
        if isinstance(node, list):
            if not node:
                raise CorruptData("structure graph is empty")
            node = node[0]
        if not isinstance(node, dict) or "id" not in node:
            raise CorruptData("structure graph has no root node")
        # unwrap a wrapper around the real root (e.g. ClearMap's 'universe', id 0)
        while int(node["id"]) != ROOT_ID and len(node.get("children") or []) == 1:
            node = node["children"][0]
        return cls(node)

    @classmethod
    def load(cls, path: Path | str) -> "Ontology":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CorruptData(f"structure graph {path} is unreadable ({exc})") from exc
        return cls.from_json(data)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Structure]:
        """Structures in graph order (root first, depth-first as in the Allen atlas)."""
        return iter(self._order)

    def __contains__(self, structure_id: int) -> bool:
        return int(structure_id) in self._by_id

    def by_id(self, structure_id: int) -> Structure:
        try:
            return self._by_id[int(structure_id)]
        except (KeyError, ValueError):
            raise UnknownStructure(str(structure_id)) from None

    def by_acronym(self, acronym: str) -> Structure:
        s = self._by_acronym.get(acronym.strip().lower())
        if s is None:
            close = difflib.get_close_matches(acronym.strip().lower(), list(self._by_acronym), n=5, cutoff=0.6)
            raise UnknownStructure(acronym, [self._by_acronym[c].acronym for c in close])
        return s

    def get(self, key: int | str) -> Structure:
        """By id (int or digits) or acronym."""
        if isinstance(key, int) or is_id(key):
            return self.by_id(int(key))
        return self.by_acronym(str(key))

    def descendants(self, structure: Structure | int | str, include_self: bool = True) -> list[Structure]:
        s = structure if isinstance(structure, Structure) else self.get(structure)
        out, stack = [], [s]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out if include_self else out[1:]

    def descendant_ids(self, structure: Structure | int | str) -> set[int]:
        return {s.id for s in self.descendants(structure)}

    def ancestors(self, structure: Structure | int | str) -> list[Structure]:
        """From root down to the structure's parent."""
        s = structure if isinstance(structure, Structure) else self.get(structure)
        return [self._by_id[i] for i in s.path[:-1]]

    def search(self, text: str, limit: int = 50) -> list[Structure]:
        """Structures whose acronym starts with ``text`` or whose name has all its words."""
        q = text.strip().lower()
        if not q:
            return []
        words = _WORD.findall(q)
        hits = [s for s in self._order if s.acronym.lower().startswith(q)]
        taken = {s.id for s in hits}
        hits += [s for s in self._order if s.id not in taken and all(
            any(w2.startswith(w) for w2 in _WORD.findall(s.name.lower())) for w in words)]
        return hits[:limit]
