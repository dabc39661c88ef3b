"""The allen-viewer command on the embedded data (no network), and its error handling."""
import re
import subprocess
import sys

import pytest

from allen_viewer import cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_search_prints_id_gene_plane_and_source(capsys):
    code, out, err = run(capsys, "search", "Pdy")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["id", "gene", "plane", "source"]
    row = next(line for line in lines if line.split()[0] == "71717084")
    assert row.split()[1:4] == ["Pdyn", "coronal", "embedded"]
    assert any(line.split()[:4] == ["69782969", "Pdyn", "sagittal", "remote"] for line in lines)


def test_search_without_match_says_so(capsys):
    code, out, err = run(capsys, "search", "Pdyx")
    assert code == 1 and "No experiment matches" in err and "Pdyn" in err


def test_info_on_embedded_symbol_says_which_experiment_was_picked(capsys, monkeypatch):
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    code, out, err = run(capsys, "info", "Pdyn")
    assert code == 0
    assert "using coronal 71717084" in err and "69782969" in err
    fields = dict(re.match(r"(.+?)\s{2,}(.*)", line).groups() for line in out.splitlines())
    assert fields["experiment id"] == "71717084" and fields["plane"] == "coronal"
    assert fields["voxels with data"].startswith("60556 in the brain (of its 62529 voxels); 38463 outside it")
    assert fields["hemispheres"].startswith("both")
    assert "energy" in fields["volumes"] and "not in this download" in fields["volumes"]


def test_info_by_id(capsys):
    code, out, _ = run(capsys, "info", "74272479")
    assert code == 0 and "Nrp1" in out and "embedded" in out


@pytest.mark.parametrize("argv, message", [
    (["info", "Pdym"], "did you mean"),
    (["info", "2"], "No adult-mouse ISH experiment with id 2"),
    (["--offline", "fetch", "Gad1"], "Offline"),
    (["fetch", "Gad1"], "Cannot reach"),
])
def test_user_errors_are_one_clear_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert message in err
    assert "Traceback" not in err and err.strip().count("\n") <= 1


def test_fetch_of_embedded_needs_no_network(capsys):
    code, out, _ = run(capsys, "fetch", "71717084")
    assert code == 0 and "already embedded" in out


def test_python_dash_m_entry_point_and_usage_error():
    result = subprocess.run([sys.executable, "-m", "allen_viewer", "search"], capture_output=True, text=True)
    assert result.returncode == 2 and "usage:" in result.stderr and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "allen_viewer", "--screenshot", "x.png"], capture_output=True, text=True)
    assert result.returncode == 2 and "--screenshot needs --gene" in result.stderr


def test_export_and_compare_commands(capsys, tmp_path):
    out = tmp_path / "s.csv"
    code, stdout, _ = run(capsys, "export", "structures", "Pdyn", "--out", str(out), "--structures", "CP")
    assert code == 0 and out.read_text().splitlines()[1].startswith("672,CP,Caudoputamen")
    code, _, err = run(capsys, "export", "structures", "Pdyn", "--out", str(out))
    assert code == 1 and "already exists" in err and out.read_text().count("\n") == 2
    code, stdout, _ = run(capsys, "compare", "Pdyn", "Nrp1", "--out", str(tmp_path / "c.csv"))
    # the in-brain r, as the root row and search-correlated (0.0102 over 59,591 voxels)
    assert code == 0 and "whole-brain r = 0.0102 over the 59591 in-brain voxels" in stdout
    code, _, err = run(capsys, "export", "voxels", "Pdyn", "--out", str(tmp_path / "nope" / "v.csv"))
    assert code == 1 and "does not exist" in err
