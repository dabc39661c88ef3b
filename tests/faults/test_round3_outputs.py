"""Round three, outputs (issue 18 items 1-2 and item 6's output cases; docs/reliability.md,
"Sidecars and --force"): an output is never written onto its own sidecar or onto a file the
command reads; ``--screenshot`` refuses an existing file (``--force`` replaces it) and a FIFO
without hanging; two exports to one output at once never mix one experiment's data with
another's sidecar; ``--session`` reads an image's text chunk, then ``X.png.json``, then the
older ``X.json``.

Real data: the embedded Pdyn (71717084) and Nrp1 (74272479) grids, offline.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.export.provenance import read_session_source, write_sidecar
from allen_viewer.io.guard import output_lock
from tests.faults.hostile import EMBEDDED, assert_one_line_error, cli_run, snapshot

NRP1 = 74272479
ROOT = Path(__file__).resolve().parents[2]


def _cli_subprocess(*argv, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "allen_viewer", *map(str, argv)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("argv", [("export", "voxels", EMBEDDED), ("export", "structures", EMBEDDED),
                                  ("compare", EMBEDDED, NRP1)], ids=["voxels", "structures", "compare"])
def test_a_table_named_json_keeps_its_data_beside_its_own_sidecar(tmp_path, argv):
    """``--out X.json``: the CSV is X.json and its sidecar X.json.json (before: the sidecar
    replaced the data, exit 0)."""
    out = tmp_path / "x.json"
    r = cli_run("--offline", *argv, "--out", out)
    assert r.code == 0, r.err
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) > 1 and len(rows[0]) > 3  # a CSV with a header, not JSON
    side = json.loads((tmp_path / "x.json.json").read_text())
    assert side["format"] == "allen_viewer.sidecar" and side["export"] == argv[0 if argv[0] == "compare" else 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.json.json"]


def test_matrix_never_writes_onto_the_list_it_reads(tmp_path):
    genes = tmp_path / "genes.txt"
    genes.write_text("Pdyn\nNrp1\n")
    before = snapshot(tmp_path)
    r = cli_run("--offline", "matrix", "--genes", genes, "--out", genes, "--force")
    assert_one_line_error(r, "genes.txt", "reads")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("screenshot, session", [("fig.png", "fig.png.json"), ("s.json", "s.json")],
                         ids=["onto-its-own-sidecar", "onto-the-session"])
def test_a_screenshot_never_writes_onto_the_session_it_reads(tmp_path, screenshot, session):
    (tmp_path / session).write_text(json.dumps({"format": "allen_viewer.sidecar", "version": 1, "export": "image",
                                                "software": "allen_viewer 0.3.0", "session": {}}))
    if screenshot != session:
        (tmp_path / screenshot).write_bytes(b"an older screenshot")
    before = snapshot(tmp_path)
    r = cli_run("--offline", "--session", tmp_path / session, "--screenshot", tmp_path / screenshot, "--force")
    assert_one_line_error(r, session, "reads")
    assert snapshot(tmp_path) == before


def test_a_screenshot_refuses_an_existing_file_unless_force(tmp_path):
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"yesterday's screenshot")
    before = snapshot(tmp_path)
    r = cli_run("--offline", "--gene", "Pdyn", "--screenshot", shot)
    assert_one_line_error(r, "shot.png", "--force")
    assert snapshot(tmp_path) == before
    shot.unlink()
    (tmp_path / "shot.png.json").write_text('{"mine": 1}')
    before = snapshot(tmp_path)
    r = cli_run("--offline", "--gene", "Pdyn", "--screenshot", shot, "--force")  # a foreign sidecar-named file
    assert_one_line_error(r, "shot.png.json", "not even with --force")
    assert snapshot(tmp_path) == before


def test_force_without_screenshot_is_a_usage_error(tmp_path):
    r = cli_run("--force", "--gene", "Pdyn")
    assert r.code == 2 and "--force" in r.err and "--screenshot" in r.err


@pytest.mark.parametrize("name", ["f.jpg", "f.png"])
def test_a_screenshot_onto_a_fifo_is_refused_without_hanging(tmp_path, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    for force in ((), ("--force",)):
        r = _cli_subprocess("--offline", "--gene", "Pdyn", "--screenshot", fifo, *force, timeout=120)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and "FIFO" in lines[0], r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_an_export_to_an_output_being_written_is_refused(tmp_path):
    out = tmp_path / "v.csv"
    with output_lock(out):  # another export holds the output's name
        r = cli_run("--offline", "export", "voxels", EMBEDDED, "--out", out)
        assert_one_line_error(r, "v.csv", "being written")
    assert list(tmp_path.iterdir()) == []
    with output_lock(tmp_path / "other.csv"):  # another output's lock does not matter
        assert cli_run("--offline", "export", "voxels", EMBEDDED, "--out", out).code == 0


def test_two_exports_to_one_output_at_once_never_mix_their_files(tmp_path):
    """Pdyn and Nrp1 voxels to one CSV at the same moment, with --force: whatever wins, the CSV
    is one experiment's and the sidecar names that experiment (the loser refused in one line
    or replacing both files)."""
    refs = {}
    for exp in (EMBEDDED, NRP1):
        ref = tmp_path / f"ref_{exp}.csv"
        assert cli_run("--offline", "export", "voxels", exp, "--out", ref).code == 0
        refs[exp] = ref.read_bytes()
    assert refs[EMBEDDED] != refs[NRP1]
    out = tmp_path / "both.csv"
    for _ in range(2):
        procs = [subprocess.Popen([sys.executable, "-m", "allen_viewer", "--offline", "export", "voxels", str(exp),
                                   "--out", str(out), "--force"], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
                 for exp in (EMBEDDED, NRP1)]
        results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
        for p in procs:
            p.stdout.close()
            p.stderr.close()
        assert any(code == 0 for code, _ in results), results
        for code, err in results:
            assert code == 0 or (code == 1 and err.count("\n") == 1 and "being written" in err), err
        side = json.loads((tmp_path / "both.csv.json").read_text())
        exp = side["experiments"][0]["experiment_id"]
        assert out.read_bytes() == refs[exp]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temporary file left


def test_write_sidecar_never_replaces_a_foreign_file(tmp_path):
    (tmp_path / "a.csv.json").write_bytes(b"[1, 2, 3]\n")
    with pytest.raises(AllenViewerError, match="not a sidecar written by allen_viewer"):
        write_sidecar(tmp_path / "a.csv", {"export": "voxels"})
    assert (tmp_path / "a.csv.json").read_bytes() == b"[1, 2, 3]\n"


def _session(threshold: float) -> dict:
    from allen_viewer.state import ExperimentRef, ViewerState

    state = ViewerState()
    state.experiment = ExperimentRef(id=EMBEDDED, gene="Pdyn", plane="coronal")
    state.display.threshold = threshold
    state.display.threshold_pinned = True
    return state.to_dict()


def test_session_of_an_image_reads_its_text_then_its_sidecar_then_the_old_name(tmp_path):
    from PIL import Image

    from allen_viewer.export.image import write_png

    px = np.zeros((8, 8, 3), np.uint8)
    fig = tmp_path / "fig.png"
    write_png(fig, px, {"export": "image", "session": _session(1.0)})  # text chunk 1.0, fig.png.json 1.0
    (tmp_path / "fig.png.json").write_text(json.dumps({"export": "image", "software": "allen_viewer 0",
                                                       "session": _session(2.0)}))
    (tmp_path / "fig.json").write_text(json.dumps({"export": "image", "software": "allen_viewer 0",
                                                   "session": _session(3.0)}))
    assert read_session_source(fig).display.threshold == 1.0  # the PNG's own text first
    Image.fromarray(px).save(fig)  # a PNG without our text chunk
    assert read_session_source(fig).display.threshold == 2.0  # then fig.png.json
    (tmp_path / "fig.png.json").unlink()
    assert read_session_source(fig).display.threshold == 3.0  # then the older fig.json
    (tmp_path / "fig.json").unlink()
    with pytest.raises(AllenViewerError, match="fig.png.json"):
        read_session_source(fig)
    (tmp_path / "s.json").write_text(json.dumps(_session(4.0)))
    assert read_session_source(tmp_path / "s.json").display.threshold == 4.0  # a .json: read as it is


def test_a_screenshot_may_make_its_folder_an_export_may_not(tmp_path):
    from allen_viewer.io.guard import OutputRefused, check_output_path

    target = tmp_path / "new" / "shot.png"
    assert check_output_path(target, False, make_folder=True) == target  # --screenshot makes the folder
    with pytest.raises(OutputRefused, match="does not exist"):
        check_output_path(target, False)
    (tmp_path / "new").write_text("a file where the folder would be")
    with pytest.raises(OutputRefused, match="(?i)not a (folder|directory)"):
        check_output_path(target, False, make_folder=True)
