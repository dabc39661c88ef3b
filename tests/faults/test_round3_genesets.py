"""Hostile inputs to the gene-set options (issue 23): each is one line, exit status 1, no
traceback, and nothing written or replaced."""
import os

import pytest

from allen_viewer import cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _dir(tmp):
    (tmp / "folder").mkdir()
    return tmp / "folder", "is not a file"


def _fifo(tmp):
    os.mkfifo(tmp / "pipe")
    return tmp / "pipe", "is not a file"


def _latin1(tmp):
    (tmp / "latin.txt").write_bytes("Pdyn\nNrp1 \xe9\n".encode("latin-1"))
    return tmp / "latin.txt", "not UTF-8"


def _huge(tmp):
    with open(tmp / "huge.txt", "wb") as fh:
        fh.truncate(17 * 1024 * 1024)
    return tmp / "huge.txt", "at most"


def _missing(tmp):
    return tmp / "absent.txt", "not a file"


@pytest.mark.parametrize("make", [_dir, _fifo, _latin1, _huge, _missing])
def test_hostile_gene_set_files(capsys, tmp_path, make):
    path, message = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = run(capsys, "--offline", "export", "structures", "--gene-set-file", str(path),
                       "--out", str(tmp_path / "out.csv"))
    assert code == 1 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_existing_output_is_never_replaced_without_force(capsys, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("the user's file\n")
    code, _, err = run(capsys, "--offline", "export", "structures", "--gene-set", "Pdyn,Nrp1", "--out", str(out))
    assert code == 1 and err.count("\n") == 1
    assert out.read_text() == "the user's file\n"
    code, _, err = run(capsys, "--offline", "export", "structures", "--gene-set", "Pdyn,Nrp1", "--out", str(out),
                       "--force")
    assert code == 0 and out.read_text().startswith("structure_id,acronym,name")
