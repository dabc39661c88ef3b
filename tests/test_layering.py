"""The core never imports Qt: scripts and the CLI work without a display."""
import subprocess
import sys


def test_core_modules_do_not_import_qt():
    code = (
        "import sys, allen_viewer.cli, allen_viewer.data, allen_viewer.atlas.reference_space, "
        "allen_viewer.expression.summary, allen_viewer.store.gene_index\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyvistaqt', 'qtpy', 'superqt')]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
