"""The allen-viewer command against the loopback fake Allen server."""
import gzip

import numpy as np

import pytest

from allen_viewer import cli
from allen_viewer.cli import experiments
from allen_viewer.formats.grid_file import read_grid_zip
from tests.fake_allen.fixtures import allen_env, fake_allen, fake_allen_data  # noqa: F401


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class RecordingBar:
    """Stands in for the tqdm bar to see what progress the command reported."""

    calls: list = []

    def __init__(self, label):
        self.label = label

    def __call__(self, done, total):
        RecordingBar.calls.append((done, total))

    def close(self):
        pass


def test_fetch_downloads_into_the_cache_then_info_reads_it(capsys, allen_env, tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "TqdmProgress", RecordingBar)
    RecordingBar.calls = []
    code, out, err = run(capsys, "fetch", "Gad1")
    assert code == 0, err
    assert "fetched into" in out and "using coronal" in err and "sagittal" in err
    done, total = RecordingBar.calls[-1]
    assert total and done == total  # progress reached the end of the download
    exp_id = int(out.split("(")[1].split(",")[1].split(")")[0])
    assert (tmp_path / "cache" / "grids" / f"{exp_id}.zip").is_file()
    code, out, err = run(capsys, "fetch", str(exp_id))
    assert code == 0 and "already cached" in out
    code, out, err = run(capsys, "info", str(exp_id))
    assert code == 0 and "cached" in out and "Gad1" in out


def test_fetch_reports_each_failure_and_keeps_going(capsys, allen_env):
    allen_env.inject("/grid_data/download/", "html", times=10)
    code, out, err = run(capsys, "fetch", "Gad1", "Pdyn")
    assert code == 1
    assert "HTML" in err and "already embedded" in out  # Gad1 failed, Pdyn still answered
    assert "Traceback" not in err


def test_refresh_index_replaces_the_embedded_list(capsys, allen_env, tmp_path):
    code, out, err = run(capsys, "refresh-index")
    assert code == 0, err
    cached = tmp_path / "cache" / "gene_index.tsv.gz"
    assert cached.is_file() and gzip.decompress(cached.read_bytes()).startswith(b"id\tsymbol")
    assert "experiments" in out
    code, out, _ = run(capsys, "search", "Pdyn")
    assert code == 0 and "71717084" in out


def test_refresh_index_outage_keeps_the_old_index(capsys, allen_env, tmp_path):
    allen_env.inject("/api/v2/data/query.json", "status", times=50, status=503)
    code, out, err = run(capsys, "refresh-index")
    assert code == 1 and "503" in err
    assert not (tmp_path / "cache" / "gene_index.tsv.gz").exists()


@pytest.mark.parametrize("kind", ["nissl"])
def test_download_reference(capsys, allen_env, tmp_path, kind):
    code, out, err = run(capsys, "download-reference", kind)
    assert code == 0, err
    assert (tmp_path / "cache" / "reference" / "ara_nissl_25.nrrd").is_file()
    code, out, _ = run(capsys, "download-reference", kind)
    assert "already in the cache" in out


def test_template_of_wrong_shape_is_quarantined(allen_env, tmp_path):
    from allen_viewer.data import AtlasData
    from allen_viewer.errors import CorruptData

    from allen_viewer.errors import CorruptDownload

    allen_env.add_file("mouse_ccf/average_template/average_template_25.nrrd", b"NRRD0004\n# not a volume\n")
    data = AtlasData()
    with pytest.raises(CorruptDownload, match="nothing was saved"):  # checked whole before it is saved
        data.download_reference("template")
    assert not data.has_reference("template")
    # one already in the cache (an older version saved it unchecked) is quarantined when read
    data.reference_path("template").write_bytes(b"NRRD0004\n# not a volume\n")
    with pytest.raises(CorruptData):
        data.reference_volume("template")
    assert not data.has_reference("template")
    assert any((tmp_path / "cache" / "quarantine").iterdir())


def test_fetch_replaces_a_damaged_cache_entry(capsys, allen_env, tmp_path):
    assert run(capsys, "fetch", "79913171")[0] == 0
    entry = tmp_path / "cache" / "grids" / "79913171.zip"
    good = read_grid_zip(entry).volumes["energy"]
    entry.write_bytes(entry.read_bytes()[:1000])
    code, out, err = run(capsys, "fetch", "79913171")
    assert code == 0 and "damaged" in err and "fetched into" in out
    # a fresh download (its zip timestamps differ, its values do not)
    assert np.array_equal(read_grid_zip(entry).volumes["energy"], good)
