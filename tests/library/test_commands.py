"""The library's CLI commands, through a parser built with add_library_commands, against
the fake Allen server."""
from pathlib import Path
import argparse
import csv
import json

import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.cli import library as commands
from tests.fake_allen.fixtures import allen_env, fake_allen, fake_allen_data  # noqa: F401

PDYN = 71717084


def run(capsys, *argv):
    """Parse with a parser holding only the library commands, run, return (code, out, err)."""
    parser = argparse.ArgumentParser(prog="allen-viewer")
    commands.add_library_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        code = args.func(args)
    except AllenViewerError as exc:  # what cli.main does with it
        code = 1
        print(f"allen-viewer: error: {exc}", file=__import__("sys").stderr)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def synced(allen_env, capsys):
    """A library of Pdyn, Nrp1 and Gad1 (real and GENERATED grids from the fake server)."""
    code, out, err = run(capsys, "library", "sync", "Pdyn", "Nrp1", "Gad1", "--workers", "3")
    assert code == 0, err
    return out


def test_sync_then_status(synced, capsys, allen_env):
    assert "0 failed" in synced and "Library:" in synced
    code, out, err = run(capsys, "library", "status")
    assert code == 0
    assert "in-brain voxels" in out and "float16" in out and "Last sync" in out and "0 still missing" in out
    assert "Space: library" in out


def test_sync_needs_a_selection_and_reports_failures(allen_env, capsys, tmp_path):
    code, out, err = run(capsys, "library", "sync")
    assert code == 1 and "Say what to sync" in err
    genes = tmp_path / "genes.txt"
    genes.write_text("Gad1\nNotAGene\n")
    allen_env.inject("/grid_data/download/", "status", times=1000, code=500)
    code, out, err = run(capsys, "library", "sync", "--genes", str(genes), "--plane", "coronal")
    assert code == 1
    assert "NotAGene" in err and "HTTP 500" in err and "run the same command again" in err
    assert "Traceback" not in err


def test_search_differential_table_csv_and_sidecar(synced, capsys, tmp_path):
    out_csv = tmp_path / "diff.csv"
    code, out, err = run(capsys, "search-differential", "--target", "CP", "--contrast", "Isocortex", "--top", "5",
                         "--out", str(out_csv))
    assert code == 0, err
    assert "fold" in out and "local" in out and "Wrote" in out
    with open(out_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert 0 < len(rows) <= 5 and list(rows[0])[:5] == ["rank", "experiment_id", "gene", "plane", "fold_change"]
    folds = [float(r["fold_change"]) for r in rows]
    assert folds == sorted(folds, reverse=True)
    side = json.loads(Path(f"{out_csv}.json").read_text())
    assert side["export"] == "search-differential" and side["target"] == ["CP"] and "citation" in side
    code, out, err = run(capsys, "search-differential", "--target", "CP", "--contrast", "Isocortex",
                         "--out", str(out_csv))
    assert code == 1 and "--force" in err


def test_search_correlated_local_and_remote(synced, capsys, allen_env, tmp_path):
    allen_env.search_ids = [PDYN, 74272479]
    code, out, err = run(capsys, "search-correlated", "Pdyn", "--top", "3", "--remote")
    assert code == 0, err
    assert "local" in out and "allen" in out and "using coronal 71717084" in err
    code, out, err = run(capsys, "search-correlated", str(PDYN), "--domain", "Isocortex", "--plane", "sagittal",
                         "--out", str(tmp_path / "c.csv"))
    assert code == 0, err
    with open(tmp_path / "c.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["plane"] == "sagittal" for r in rows)
    assert json.loads((tmp_path / "c.csv.json").read_text())["domain"] == ["Isocortex"]


def test_remote_failures_fall_back_or_fail_plainly(synced, capsys, allen_env):
    allen_env.inject("/api/v2/data/query.json", "status", times=100, code=504)
    code, out, err = run(capsys, "search-differential", "--target", "CP", "--contrast", "Isocortex", "--remote")
    assert code == 0 and "showing the local results only" in err and "local" in out
    code, out, err = run(capsys, "search-differential", "--target", "CP", "--contrast", "Isocortex",
                         "--remote-only")
    assert code == 1 and "HTTP 504" in err and err.count("\n") == 1


def test_search_errors_are_one_line(synced, capsys):
    code, out, err = run(capsys, "search-differential", "--target", "CPP", "--contrast", "Isocortex")
    assert code == 1 and "No brain structure 'CPP'" in err and "did you mean" in err
    code, out, err = run(capsys, "search-correlated", "NoSuchGene")
    assert code == 1 and "No ISH experiment for gene" in err


def test_searches_without_a_library_say_how_to_make_one(allen_env, capsys):
    code, out, err = run(capsys, "search-differential", "--target", "CP", "--contrast", "Isocortex")
    assert code == 1 and "library sync" in err


def test_matrix_command(synced, capsys, tmp_path):
    structures = tmp_path / "structures.txt"
    structures.write_text("acronym\nCP\nIsocortex\nHPF\n")
    genes = tmp_path / "genes.txt"
    genes.write_text("Pdyn\nGad1\nNotThere\n")
    out_csv = tmp_path / "m.csv"
    code, out, err = run(capsys, "matrix", "--structures", str(structures), "--genes", str(genes),
                         "--combine", "mean", "--out", str(out_csv))
    assert code == 0, err
    assert "NotThere" in err and "3 structures x 2 genes" in out
    with open(out_csv, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["structure_id", "acronym", "name", "depth", "voxels", "Pdyn", "Gad1"]
    assert [r[1] for r in rows[1:]] == ["CP", "Isocortex", "HPF"]
    side = json.loads(Path(f"{out_csv}.json").read_text())
    assert side["combine"] == "mean" and len(side["experiments"]["Gad1"]) > 1
    code, out, err = run(capsys, "matrix", "--depth", "1", "--value", "density", "--out", str(tmp_path / "d.csv"))
    assert code == 0, err  # no density was synced: empty cells, but a valid table


def test_the_main_cli_runs_the_same_commands(allen_env, capsys):
    from allen_viewer import cli

    assert cli.main(["library", "status"]) == 0
    assert "not created yet" in capsys.readouterr().out
    assert cli.main(["search-correlated", "Pdyn"]) == 1
    assert capsys.readouterr().err.startswith("allen-viewer: error:")


def test_search_correlated_r_equals_compare_in_brain_r(synced, capsys, tmp_path):
    """One pair, one answer: search-correlated's r for Pdyn vs Nrp1 is compare's whole-brain
    r and its root row (in-brain voxels, 0.0102), up to the library's float16 precision."""
    from allen_viewer import cli

    out_csv = tmp_path / "c.csv"
    code, out, err = run(capsys, "search-correlated", "Pdyn", "--out", str(out_csv))
    assert code == 0, err
    with open(out_csv, newline="") as fh:
        r_search = {r["experiment_id"]: float(r["r"]) for r in csv.DictReader(fh)}["74272479"]
    assert cli.main(["compare", "Pdyn", "Nrp1", "--out", str(tmp_path / "cmp.csv")]) == 0
    side = json.loads((tmp_path / "cmp.csv.json").read_text())
    with open(tmp_path / "cmp.csv", newline="") as fh:
        root = next(r for r in csv.DictReader(fh) if r["acronym"] == "root")
    assert side["whole_brain_r"] == pytest.approx(float(root["r"]), abs=1e-9)
    assert side["whole_brain_r"] == pytest.approx(0.0102, abs=5e-5)
    assert r_search == pytest.approx(side["whole_brain_r"], abs=5e-4)
