"""The core's layers: no Qt below gui/, nothing of gui/ below it, the lower packages never
import the higher ones, and no import cycle between two packages or top-level modules
(docs/design.md, "Layers and nevers", draws the layers and lists the nevers).

The import rules are checked on the source (every ``import`` and ``from ... import`` of
every module, also those inside functions), so a lazy import cannot hide a wrong edge; one
run in a fresh interpreter checks that importing the core loads no Qt.  A failing never
prints each offending edge as ``file imports name``.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "allen_viewer"
QT = ("PySide6", "pyvistaqt", "qtpy", "superqt", "shiboken6")
VTK = ("pyvista", "vtk", "vtkmodules")


def _imports(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[:len(parts) - node.level + (1 if path.name == "__init__.py" else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _modules(*packages: str) -> list[Path]:
    out = []
    for name in packages:
        target = PACKAGE / name
        out += sorted(target.rglob("*.py")) if target.is_dir() else [target.with_suffix(".py")]
    return out


def _offending(paths: list[Path], banned: tuple[str, ...]) -> list[str]:
    bad = []
    for path in paths:
        for name in sorted(_imports(path)):
            if any(name == b or name.startswith(b + ".") for b in banned):
                bad.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    return bad


CORE = [p for p in PACKAGE.rglob("*.py") if "gui" not in p.relative_to(PACKAGE).parts]


def _all_imports(paths: list[Path]) -> set[str]:
    return set().union(*(_imports(p) for p in paths))


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    assert "allen_viewer.gui.app" in _all_imports(_modules("cli"))  # imported inside cmd_gui
    assert "allen_viewer.formats.grid_file" in _imports(PACKAGE / "api" / "client.py")


def test_no_core_module_imports_gui_or_qt():
    assert len(CORE) > 30
    cli = _modules("cli")  # the CLI starts the GUI (``allen-viewer`` with no command), lazily
    bad = _offending([p for p in CORE if p not in cli], ("allen_viewer.gui", *QT))
    bad += _offending(cli, QT)
    assert bad == []


def test_api_atlas_store_and_formats_import_nothing_from_expression_export_render_or_library():
    lower = _modules("api", "atlas", "store", "formats")
    assert _offending(lower, ("allen_viewer.expression", "allen_viewer.export", "allen_viewer.render",
                              "allen_viewer.library", "allen_viewer.state", "allen_viewer.data")) == []


def _outside(paths: list[Path], allowed: tuple[str, ...]) -> list[str]:
    """Each import of an allen_viewer module by ``paths`` that is not in ``allowed`` (module
    names; their submodules and attributes count as allowed)."""
    allowed = tuple(f"allen_viewer.{a}" for a in allowed)
    return [f"{p.relative_to(PACKAGE.parent)} imports {n}" for p in paths for n in sorted(_imports(p))
            if n.startswith("allen_viewer.") and not any(n == a or n.startswith(a + ".") for a in allowed)]


def test_formats_imports_only_io_errors_and_sanitize():
    bad = _outside(_modules("formats"), ("formats", "io", "errors", "sanitize"))
    assert bad == [], "\n".join(bad)


def test_io_is_the_bottom():
    """io/ (the atomic writer, the output guard, sidecar naming) imports nothing above it:
    of allen_viewer only itself, ``errors`` and ``sanitize``, which import only each other."""
    assert len(_modules("io")) >= 4
    assert _outside(_modules("io"), ("io", "errors", "sanitize")) == []
    assert _outside(_modules("errors", "sanitize"), ("errors", "sanitize")) == []


def test_records_import_nothing_of_the_viewer():
    """The plain records (``Experiment``) sit below expression/ and store/."""
    assert [n for n in _imports(PACKAGE / "records.py") if n.startswith("allen_viewer")] == []


def test_api_never_imports_store():
    bad = _offending(_modules("api"), ("allen_viewer.store",))
    assert bad == [], "\n".join(bad)


def test_expression_never_imports_store():
    bad = _offending(_modules("expression"), ("allen_viewer.store",))
    assert bad == [], "\n".join(bad)


def _is_cli(name: str) -> bool:
    """Whether an imported name is the command line: ``allen_viewer.cli`` (module or
    package) or a ``*_commands`` / ``commands`` module anywhere in the package."""
    parts = name.split(".")
    if parts[0] != "allen_viewer" or len(parts) < 2:
        return False
    return parts[1] == "cli" or any(part == "commands" or part.endswith("_commands") for part in parts[1:])


def test_library_never_imports_export_or_the_cli():
    """library/ is computation: it returns results that the CLI and the GUI write through
    export/.  (library/commands.py is command-line code; its place is cli/.)"""
    bad = sorted({f"{p.relative_to(PACKAGE.parent)} imports {_module_of(n)}" for p in _modules("library")
                  for n in _imports(p) if n.split(".")[:2] == ["allen_viewer", "export"] or _is_cli(n)})
    bad += [f"{p.relative_to(PACKAGE.parent)} is command-line code inside library/" for p in _modules("library")
            if _is_cli(".".join(("allen_viewer", *p.relative_to(PACKAGE).with_suffix("").parts)))]
    assert bad == [], "\n".join(bad)


def test_nothing_but_main_imports_the_cli():
    """``python -m allen_viewer`` (``__main__``) is the one importer of ``allen_viewer.cli``;
    the CLI's own modules may import each other.  (The GUI is started by the CLI, lazily:
    the direction cli -> gui.)"""
    cli = set(_modules("cli"))
    bad = sorted({f"{p.relative_to(PACKAGE.parent)} imports {_module_of(n)}" for p in PACKAGE.rglob("*.py")
                  if p not in cli and p != PACKAGE / "__main__.py"
                  for n in _imports(p) if n == "allen_viewer.cli" or n.startswith("allen_viewer.cli.")})
    assert bad == [], "\n".join(bad)


@pytest.mark.parametrize("package", ["expression", "atlas", "formats", "api", "store", "state", "library"])
def test_numpy_only_packages_never_import_vtk(package):
    assert _offending(_modules(package), VTK) == []


def test_render_imports_no_qt_and_nothing_above_it():
    assert _offending(_modules("render"), ("allen_viewer.gui", "allen_viewer.export", "allen_viewer.library",
                                           "allen_viewer.data", *QT)) == []


def test_core_modules_do_not_import_qt():
    code = (
        "import sys, allen_viewer.cli, allen_viewer.data, allen_viewer.atlas.reference_space, "
        "allen_viewer.expression.summary, allen_viewer.store.gene_index, allen_viewer.state, "
        "allen_viewer.render.layers, allen_viewer.render.meshes, allen_viewer.export.image\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyvistaqt', 'qtpy', 'superqt')]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_reference_space_of_plane_is_defined_once_at_the_bottom():
    """api/ (section images) and expression/ (grids) both need it and api/ may not import
    expression/: it lives in formats/ and everyone imports it from there."""
    import re

    defined = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if re.search(r"^REFERENCE_SPACE_OF_PLANE\s*[:=]", p.read_text(encoding="utf-8"), re.M)]
    assert defined == ["formats/grid_file.py"]
    from allen_viewer.expression import grid
    from allen_viewer.formats import grid_file
    from allen_viewer.store import section_store

    assert grid.REFERENCE_SPACE_OF_PLANE is grid_file.REFERENCE_SPACE_OF_PLANE
    assert section_store.REFERENCE_SPACE_OF_PLANE is grid_file.REFERENCE_SPACE_OF_PLANE


def test_one_atomic_writer_at_the_bottom():
    """io/atomic.py is the one place that makes temporary files and renames them over
    entries (docs/reliability.md); it imports nothing of the viewer but io/ (the guard's
    special-file test), so api/, formats/, store/, library/ and export/ all use it without
    an upward edge.  (store/cache.py's write probe and quarantine move are no writes of an
    entry.)"""
    import re

    atomic = PACKAGE / "io" / "atomic.py"
    assert _outside([atomic], ("io",)) == []
    pattern = re.compile(r"\b(?:os\.replace|os\.rename|tempfile\.mkstemp|NamedTemporaryFile|mkstemp)\(")
    allowed = {atomic, PACKAGE / "store" / "cache.py"}
    hand_rolled = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if p not in allowed and pattern.search(p.read_text(encoding="utf-8"))]
    assert hand_rolled == []
    users = {p.relative_to(PACKAGE).parts[0] for p in CORE if "allen_viewer.io.atomic" in _imports(p)}
    assert {"api", "formats", "store", "library", "export"} <= users


def test_the_transport_knows_no_endpoint_and_writes_through_io():
    transport = _imports(PACKAGE / "api" / "transport.py")
    assert _offending([PACKAGE / "api" / "transport.py"],
                      ("allen_viewer.api.client", "allen_viewer.api.rma", "allen_viewer.api.section_images",
                       "allen_viewer.formats", "allen_viewer.config")) == []
    assert {"allen_viewer.io.atomic", "allen_viewer.io.guard"} <= transport
    assert "allen_viewer.api.transport" in _imports(PACKAGE / "api" / "client.py")


ONE_DEFINITION = {
    "io/atomic.py": ("AtomicFile", "atomic_write", "atomic_path", "replace_file", "is_temporary"),
    "io/guard.py": ("OutputRefused", "special_kind", "refuse_special", "write_error", "output_errors",
                    "output_files", "check_output_path", "existing_output_files", "output_lock",
                    "claim_output", "undo_on_failure"),
    "io/sidecars.py": ("sidecar_path", "legacy_sidecar_path", "is_own_sidecar", "foreign_sidecar_message",
                       "SIDECAR_FORMAT", "SIDECAR_VERSION", "SIDECAR_MAX_BYTES"),
    "records.py": ("Experiment",),
}


def _top_level_definitions(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names.add(leaf.id)
    return names


def test_file_system_primitives_and_records_are_defined_once():
    """Each primitive of io/ and each record is defined in its one module and nowhere else
    (no copy, no alias left in its old place: store/atomic.py, export/paths.py,
    export/provenance.py, api/transport.py, store/gene_index.py)."""
    defined = {str(p.relative_to(PACKAGE)): _top_level_definitions(p) for p in PACKAGE.rglob("*.py")}
    for home, names in ONE_DEFINITION.items():
        for name in names:
            assert [m for m, d in defined.items() if name in d] == [home], name
    assert not (PACKAGE / "store" / "atomic.py").exists() and not (PACKAGE / "export" / "paths.py").exists()


# ---- the package-level import graph ------------------------------------------------------------

def _unit(name: str) -> str | None:
    """The package or top-level module of allen_viewer that an imported name belongs to
    (``allen_viewer.io.atomic.atomic_write`` -> ``io``; ``allen_viewer.state.ViewerState``
    -> ``state``); None for names outside allen_viewer and for the package root's own
    attributes (``allen_viewer.__version__``): the root holds the version and the citation,
    which every layer may read, and is not a node of the graph."""
    parts = name.split(".")
    if parts[0] != "allen_viewer" or len(parts) < 2:
        return None
    head = parts[1]
    return head if (PACKAGE / head).is_dir() or (PACKAGE / f"{head}.py").is_file() else None


def _module_of(name: str) -> str:
    """``allen_viewer.store.gene_index.GeneIndex`` -> ``allen_viewer.store.gene_index``: the
    longest prefix that is a module or package of allen_viewer (the name itself otherwise)."""
    parts = name.split(".")
    for n in range(len(parts), 1, -1):
        target = PACKAGE.parent.joinpath(*parts[:n])
        if target.is_dir() or target.with_suffix(".py").is_file():
            return ".".join(parts[:n])
    return name


def import_graph() -> dict[str, dict[str, list[str]]]:
    """{unit: {imported unit: ["file imports name", ...]}} over every module of the package
    but the root's ``__init__.py`` (see :func:`_unit`); edges inside one unit are left out."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "__init__.py":
            continue
        source = path.relative_to(PACKAGE).with_suffix("").parts[0]
        edges = graph.setdefault(source, {})
        for name in sorted(_imports(path)):
            target = _unit(name)
            line = f"{path.relative_to(PACKAGE.parent)} imports {_module_of(name)}"
            if target is not None and target != source and line not in edges.get(target, []):
                edges.setdefault(target, []).append(line)
    return graph


def strongly_connected(graph: dict[str, set[str] | dict]) -> list[list[str]]:
    """The strongly connected components with more than one node (each an import cycle), each
    sorted, in sorted order (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    nodes = sorted(set(graph) | {t for targets in graph.values() for t in targets})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def test_the_cycle_finder_reports_a_cycle_and_only_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": set(), "f": {"a", "g"}, "g": {"f"},
             "h": {"h"}}
    assert strongly_connected(graph) == [["a", "b", "c"], ["f", "g"]]
    assert strongly_connected({"io": set(), "store": {"io", "api"}, "api": {"io"}}) == []
    long_chain = {str(i): {str(i + 1)} for i in range(3000)}  # deep: no recursion limit
    assert strongly_connected(long_chain) == []
    long_chain["3000"] = {"0"}
    assert strongly_connected(long_chain) == [sorted(str(i) for i in range(3001))]


def test_the_graph_is_read_from_the_source():
    graph = import_graph()
    assert "io" in graph["api"] and "io" in graph["store"] and "records" in graph["expression"]
    assert "allen_viewer" not in graph and None not in graph["export"]  # the root's constants: no node


def test_no_import_cycle_between_packages_or_top_level_modules():
    graph = import_graph()
    cycles = strongly_connected(graph)
    edges = [f"{a} -> {b}: " + "; ".join(graph[a][b])
             for cycle in cycles for a in cycle for b in cycle if b in graph.get(a, {})]
    assert cycles == [], "\n".join(edges)


def test_the_library_store_layers():
    """layout.py is below reader.py and writer.py; the reader reaches the writer only lazily
    (``Library.writer``), the writer reads through the reader."""
    layout = _imports(PACKAGE / "library" / "layout.py")
    assert not any(n.startswith(("allen_viewer.library.reader", "allen_viewer.library.writer",
                                 "allen_viewer.library.store")) for n in layout)
    assert "allen_viewer.library.reader" in _imports(PACKAGE / "library" / "writer.py")
    tree = ast.parse((PACKAGE / "library" / "reader.py").read_text(encoding="utf-8"))
    top_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert not any((getattr(node, "module", "") or "").endswith("library.writer") for node in top_level)
