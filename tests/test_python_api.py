"""The Python API (``import allen_viewer as av``, allen_viewer/scripting.py) and README's
"Python" example, run as written.

Expected values come from the real embedded files read with plain numpy
(tests/numpy_reference.py): the Pdyn (71717084) and Nrp1 (74272479) grids and the 200 µm
annotation.  Everything runs offline (the data are embedded) in the test's isolated cache.
"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests import numpy_reference as ref

REPO = Path(__file__).resolve().parents[1]
PDYN, NRP1 = 71717084, 74272479
QT = ("PySide6", "pyvistaqt", "qtpy", "superqt", "shiboken6")


def readme_python_block() -> str:
    """The fenced ```python block of README.md's "## Python" section."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^```python\n(.*?)^```$", section, re.S | re.M)
    assert len(blocks) == 1, "README's Python section has exactly one python block"
    return blocks[0]


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, ALLEN_VIEWER_OFFLINE="1", PYTHONPATH=str(REPO))  # the isolated cache and settings
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def _qt_report() -> str:
    return ("\nimport json as _j, sys as _s\n"
            f"print('QT-MODULES', _j.dumps(sorted(m for m in _s.modules if m.split('.')[0] in {QT!r})))\n")


def _qt_modules(stdout: str) -> list[str]:
    line = [ln for ln in stdout.splitlines() if ln.startswith("QT-MODULES ")]
    assert line, stdout[-2000:]
    return json.loads(line[-1].split(" ", 1)[1])


# ---- README's example, as written ------------------------------------------------------------

def test_the_readme_python_example_runs_headless_and_imports_no_qt(tmp_path):
    """The README block exec'd unchanged (after a test preamble: anti-aliasing off) in a
    fresh interpreter, in a temporary working folder; then the files it wrote are checked
    against numpy, and the interpreter's modules for Qt.

    Needs ``export_session_image`` (engineer 'scene', export/image.py): on a branch without
    it this test fails at ``av.render_image``, as it should."""
    preamble = "import pyvista as _pv\n_pv.global_theme.anti_aliasing = None  # tests: no anti-aliasing\n"
    result = _run(preamble + readme_python_block() + _qt_report(), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _qt_modules(result.stdout) == []

    # the printed counts and mean: plain numpy over the in-brain voxels with data
    has = ref.has_data(PDYN)
    assert (f"{has.sum()} of {ref.brain().sum()} in-brain voxels with data, mean energy "
            f"{ref.energy(PDYN)[has].mean():.3f}") in result.stdout
    # the structure table: CP's mean energy is numpy's over CP and its descendants' in-brain voxels with data
    with open(tmp_path / "pdyn_structures.csv", newline="") as fh:
        rows = {r["acronym"]: r for r in csv.DictReader(fh)}
    assert float(rows["CP"]["mean_energy"]) == pytest.approx(ref.mean_energy(PDYN, "CP"), rel=1e-6)
    assert (tmp_path / "pdyn_structures.csv.json").is_file()
    # the correlated genes: Nrp1's r is numpy's Pearson r over in-brain voxels where both have data
    r, n = _library_r(PDYN, NRP1)
    line = [ln for ln in result.stdout.splitlines() if " Nrp1 " in ln]
    assert line and f"r = {r:.3f} over {n} voxels" in line[0]
    # the session and the figure
    session = json.loads((tmp_path / "pdyn.session.json").read_text())
    assert session["experiment"]["id"] == PDYN and session["camera"]["preset"] == "lateral"
    png = tmp_path / "pdyn.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "pdyn.png.json").is_file()


def _library_r(a: int, b: int) -> tuple[float, int]:
    """Pearson r of two embedded grids over the in-brain voxels where both have data, at the
    library's float16 precision, and the number of those voxels."""
    both = ref.has_data(a) & ref.has_data(b)
    x, y = (ref.energy(e)[both].astype(np.float16).astype(np.float64) for e in (a, b))
    return float(np.corrcoef(x, y)[0, 1]), int(both.sum())


# ---- the functions, one by one (no rendering) -----------------------------------------------

def test_import_allen_viewer_is_cheap_and_the_names_load_on_first_use():
    code = ("import sys, allen_viewer as av\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('numpy', 'vtkmodules', 'pyvista', 'PySide6')]\n"
            "assert heavy == [], heavy\n"
            "assert 'allen_viewer.scripting' not in sys.modules\n"
            "assert callable(av.load_grid) and 'allen_viewer.scripting' in sys.modules\n"
            "assert {'load_grid', 'session', 'render_image'} <= set(dir(av))\n"
            "try:\n    av.no_such_name\nexcept AttributeError as e:\n    print('AE', e)\n")
    result = _run(code, REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "AE module 'allen_viewer' has no attribute 'no_such_name'" in result.stdout


def test_every_public_name_is_offered_at_the_top_level():
    import allen_viewer
    from allen_viewer import scripting

    assert set(scripting.__all__) == set(allen_viewer._SCRIPTING)
    assert all(getattr(allen_viewer, n) is getattr(scripting, n) for n in scripting.__all__)


def test_load_grid_by_symbol_or_id_is_the_raw_file_in_ap_dv_ml_order():
    import allen_viewer as av

    by_symbol, by_id = av.load_grid("Pdyn"), av.load_grid(PDYN)
    assert by_symbol.experiment.id == by_id.experiment.id == PDYN  # the coronal experiment
    assert by_symbol.energy.shape == (67, 41, 58)
    e = ref.energy(PDYN)
    np.testing.assert_array_equal(by_symbol.has_data, ref.has_data(PDYN))
    np.testing.assert_array_equal(by_symbol.energy[by_symbol.has_data], e[ref.has_data(PDYN)])
    assert np.isnan(by_symbol.energy[e == -1]).all()  # Allen's -1 is NaN in the grid, never a value
    assert [e.id for e in av.find("Nrp1") if e.plane == "coronal"][0] == av.experiment("Nrp1").id
    np.testing.assert_array_equal(av.in_brain(), ref.brain())


def test_export_structures_and_voxels_match_numpy_and_refuse_existing_files(tmp_path):
    import allen_viewer as av
    from allen_viewer.errors import AllenViewerError

    written = av.export_structures(NRP1, tmp_path / "s.csv", structures=["CP", "ACB"])
    assert written == [tmp_path / "s.csv", tmp_path / "s.csv.json"] and all(p.is_file() for p in written)
    with open(written[0], newline="") as fh:
        rows = {r["acronym"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"CP", "ACB"}
    for acr in rows:
        assert float(rows[acr]["mean_energy"]) == pytest.approx(ref.mean_energy(NRP1, acr), rel=1e-6)
    before = written[0].read_bytes()
    with pytest.raises(AllenViewerError, match="exists"):
        av.export_structures(NRP1, written[0])
    assert written[0].read_bytes() == before  # never replaced without force

    voxels = av.export_voxels(PDYN, tmp_path / "v.csv", structure="CP")
    with open(voxels[0], newline="") as fh:
        n = sum(1 for _ in csv.DictReader(fh))
    assert n == int((ref.structure_mask("CP") & ref.has_data(PDYN)).sum())


def test_session_threshold_is_the_percentile_of_the_in_brain_energies(tmp_path):
    import allen_viewer as av
    from allen_viewer.errors import AllenViewerError

    s = av.session("Pdyn", percentile=95, view="dorsal", structures=["CP", "ACB"], cut_away="left",
                   cursor_um=(5000, 4000, 3000))
    assert s.experiment.id == PDYN and s.camera.preset == "dorsal"
    assert s.display.threshold == pytest.approx(ref.percentile(PDYN, 95), rel=1e-6)
    assert not s.display.threshold_pinned and s.display.threshold_percentile == 95
    acr_ids = {ref._ontology()[0][a] for a in ("CP", "ACB")}
    assert set(s.visible_structures) == acr_ids
    assert s.cut_away == "left" and s.cursor_um == (5000.0, 4000.0, 3000.0)
    pinned = av.session(NRP1, threshold=2.5)
    assert pinned.display.threshold == 2.5 and pinned.display.threshold_pinned

    path = av.save_session(s, tmp_path / "s.json")[0]
    again = av.read_session(path)
    assert again.to_dict() == s.to_dict()
    with pytest.raises(AllenViewerError, match="exists"):
        av.save_session(s, path)
    with pytest.raises(AllenViewerError, match="cut_away"):
        av.session("Pdyn", cut_away="sideways")
    with pytest.raises(AllenViewerError, match="not both"):
        av.session("Pdyn", threshold=1.0, percentile=90)


def test_searches_over_the_library_match_numpy():
    import allen_viewer as av
    from allen_viewer.errors import AllenViewerError

    with pytest.raises(AllenViewerError, match="sync_library"):
        av.correlated_genes("Pdyn")  # no library yet: says how to fill it
    report = av.sync_library(["Pdyn", "Nrp1"], plane="coronal")
    assert report.packed == 2 and report.downloaded == 0 and not report.failed
    hits = av.correlated_genes("Pdyn")
    assert [h.experiment_id for h in hits] == [NRP1]
    r, n = _library_r(PDYN, NRP1)
    assert hits[0].r == pytest.approx(r, abs=1e-6) and hits[0].voxels == n

    hits = av.differential_genes("CP", ["ACB"])
    by_id = {h.experiment_id: h for h in hits}
    assert set(by_id) == {PDYN, NRP1}
    for exp in (PDYN, NRP1):
        target = ref.energy(exp)[ref.structure_mask("CP") & ref.has_data(exp)].astype(np.float16).astype(np.float64)
        contrast = ref.energy(exp)[ref.structure_mask("ACB") & ref.has_data(exp)].astype(np.float16).astype(np.float64)
        assert by_id[exp].fold_change == pytest.approx(target.mean() / contrast.mean(), rel=1e-4)
