"""The core's layers: no Qt below gui/, nothing of gui/ below it, and the lower packages never
import the higher ones (docs/design.md draws the layers).

The import rules are checked on the source (every ``import`` and ``from ... import`` of
every module, also those inside functions), so a lazy import cannot hide a wrong edge; one
run in a fresh interpreter checks that importing the core loads no Qt.
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


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    assert "allen_viewer.gui.app" in _imports(PACKAGE / "cli" / "viewing.py")  # imported inside cmd_gui
    assert "allen_viewer.formats.grid_file" in _imports(PACKAGE / "api" / "client.py")


def test_no_core_module_imports_gui_or_qt():
    assert len(CORE) > 30
    cli = PACKAGE / "cli" / "viewing.py"  # the CLI starts the GUI (``allen-viewer`` with no command), lazily
    bad = _offending([p for p in CORE if p != cli], ("allen_viewer.gui", *QT))
    bad += _offending([cli], QT)
    assert bad == []


def test_api_atlas_store_and_formats_import_nothing_from_expression_export_render_or_library():
    lower = _modules("api", "atlas", "store", "formats")
    assert _offending(lower, ("allen_viewer.expression", "allen_viewer.export", "allen_viewer.render",
                              "allen_viewer.library", "allen_viewer.state", "allen_viewer.data")) == []


def test_formats_is_the_bottom():
    bad = [f"{p.name} imports {n}" for p in _modules("formats") for n in _imports(p)
           if n.startswith("allen_viewer")
           and not n.startswith(("allen_viewer.errors", "allen_viewer.formats", "allen_viewer.store.atomic",
                                 "allen_viewer.sanitize"))]
    assert bad == []


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
    """store/atomic.py is the one place that makes temporary files and renames them over
    entries (docs/reliability.md); it imports nothing of the viewer, so api/, formats/,
    store/, library/ and export/ all use it without an upward edge.  (store/cache.py's
    write probe and quarantine move are no writes of an entry.)"""
    import re

    atomic = PACKAGE / "store" / "atomic.py"
    assert [n for n in _imports(atomic) if n.startswith("allen_viewer")] == []
    pattern = re.compile(r"\b(?:os\.replace|os\.rename|tempfile\.mkstemp|NamedTemporaryFile|mkstemp)\(")
    allowed = {atomic, PACKAGE / "store" / "cache.py"}
    hand_rolled = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                   if p not in allowed and pattern.search(p.read_text(encoding="utf-8"))]
    assert hand_rolled == []
    users = {p.relative_to(PACKAGE).parts[0] for p in CORE if "allen_viewer.store.atomic" in _imports(p)}
    assert {"api", "formats", "store", "library", "export"} <= users


def test_the_transport_knows_no_endpoint_and_api_uses_only_the_writer_of_store():
    transport = _imports(PACKAGE / "api" / "transport.py")
    assert _offending([PACKAGE / "api" / "transport.py"],
                      ("allen_viewer.api.client", "allen_viewer.api.rma", "allen_viewer.api.section_images",
                       "allen_viewer.formats", "allen_viewer.config")) == []
    assert "allen_viewer.store.atomic" in transport
    assert "allen_viewer.api.transport" in _imports(PACKAGE / "api" / "client.py")
    store_edges = {n for p in _modules("api", "formats") for n in _imports(p) if n.startswith("allen_viewer.store")}
    assert {n.rsplit(".", 1)[0] if n.count(".") > 2 else n for n in store_edges} == {"allen_viewer.store.atomic"}


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
