"""The CLI's gene-set and composite exports (issue 23), against plain numpy on the real
embedded grids (Pdyn 71717084, Nrp1 74272479), and the one-line refusals that write nothing."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

from allen_viewer import cli
from allen_viewer.io.sidecars import sidecar_path
from tests.expression.test_gene_sets import numpy_ranks, numpy_score
from tests.fake_allen.fixtures import allen_env, fake_allen, fake_allen_data  # noqa: F401
from tests.library import NRP1, PDYN, real_grid

pytestmark = pytest.mark.usefixtures("no_anti_aliasing")  # tests/conftest.py


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def expected(gene_index):
    grids = [real_grid(gene_index, PDYN), real_grid(gene_index, NRP1)]
    return numpy_score([numpy_ranks(g.energy, g.has_data) for g in grids], 2)


def test_structures_of_a_set_with_notes(capsys, tmp_path, expected, reference_space, ontology):
    out = tmp_path / "s.csv"
    code, text, err = run(capsys, "--offline", "export", "structures", "--gene-set", "Pdyn, Nrp1, pdyn, NoSuchGene1",
                          "--out", str(out))
    assert code == 0, err
    assert err.count("note:") == 2 and "duplicates counted once: pdyn" in err and "NoSuchGene1" in err
    rows = {r["acronym"]: r for r in csv.DictReader(out.open())}
    score, _ = expected
    for acr in ("root", "CP", "Isocortex"):
        mask = reference_space.grid_mask(ontology.get(acr)) & ~np.isnan(score)
        assert float(rows[acr]["mean_score"]) == pytest.approx(score[mask].mean(), abs=1e-6)
    side = json.loads(sidecar_path(out).read_text())
    assert side["grids_from"] == "grids" and [e["experiment_id"] for e in side["experiments"]] == [PDYN, NRP1]
    assert side["gene_set"]["unknown"] == ["NoSuchGene1"] and side["gene_set"]["duplicates"] == ["pdyn"]


def test_voxels_of_a_set_file(capsys, tmp_path, expected):
    f = tmp_path / "set.txt"
    f.write_text("# striatum and cortex\nPdyn\n74272479  # Nrp1 by id\n", encoding="utf-8")
    out = tmp_path / "v.csv"
    code, _, err = run(capsys, "--offline", "export", "voxels", "--gene-set-file", str(f), "--structure", "CP",
                       "--out", str(out))
    assert code == 0, err
    score, n = expected
    rows = list(csv.DictReader(out.open()))
    assert rows and "energy" not in rows[0]
    for r in rows:
        i = (int(r["ap"]), int(r["dv"]), int(r["ml"]))
        assert float(r["score"]) == pytest.approx(score[i], abs=1e-6) and int(r["n_genes"]) == n[i]
        assert r["structure_acronym"].startswith("CP")


@pytest.mark.parametrize("args, message", [
    (["--gene-set", "Pdyn"], "names one gene"),
    (["--gene-set", " , "], "is empty"),
    (["--gene-set", ",".join(f"G{i}" for i in range(501))], "at most 500"),
    (["--gene-set", "Pdyn,NoSuchGene1,NoSuchGene2"], "resolves to 1 experiment"),
    (["--gene-set-file", "NUL"], "not a text file"),
    (["--gene-set-file", "EMPTY"], "is empty"),
    (["Pdyn", "--gene-set", "Pdyn,Nrp1"], "not both"),
])
def test_refusals_are_one_line_and_write_nothing(capsys, tmp_path, args, message):
    (tmp_path / "NUL").write_bytes(b"Pdyn\x00Nrp1")
    (tmp_path / "EMPTY").write_text("# nothing here\n\n", encoding="utf-8")
    args = [str(tmp_path / a) if a in ("NUL", "EMPTY") else a for a in args]
    out = tmp_path / "out.csv"
    code, _, err = run(capsys, "--offline", "export", "structures", *args, "--out", str(out))
    assert code == 1 and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["EMPTY", "NUL"]


def _colour_pixels(png):
    px = np.asarray(Image.open(png).convert("RGB")).astype(int)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    green = (g > 120) & (r < 60) & (b < 60)
    magenta = (r > 120) & (b > 120) & (g < 60)
    return int(green.sum()), int(magenta.sum())


def test_composite_image_of_pdyn_and_nrp1(capsys, tmp_path):
    out = tmp_path / "c.png"
    code, text, err = run(capsys, "--offline", "export", "image", "--composite", "Pdyn,Nrp1", "--size", "480x360",
                          "--out", str(out))
    assert code == 0, err
    green, magenta = _colour_pixels(out)
    assert green > 200 and magenta > 200  # both genes drawn in their colours
    side = json.loads(sidecar_path(out).read_text())
    assert side["session"]["mode"] == "composite" and side["session"]["mode_experiments"] == [PDYN, NRP1]
    assert side["display"]["colours"]["Pdyn"]["colour"] == "green"
    assert side["display"]["rank_threshold"] == 0.9
    from allen_viewer.state import read_session

    assert read_session(sidecar_path(out)).mode == "composite"


def test_gene_set_image_and_its_threshold(capsys, tmp_path, expected):
    out = tmp_path / "g.png"
    code, _, err = run(capsys, "--offline", "export", "image", "--gene-set", "Pdyn,Nrp1", "--size", "400x300",
                       "--threshold-percentile", "95", "--out", str(out))
    assert code == 0, err
    side = json.loads(sidecar_path(out).read_text())
    score, _ = expected
    t = np.percentile(score[~np.isnan(score)], 95)
    assert side["display"]["score_threshold"] == pytest.approx(t, abs=1e-6)
    assert side["display"]["voxels_drawn"] == int(np.sum(~np.isnan(score) & (np.nan_to_num(score, nan=-1) >= t)))
    assert side["display"]["colour"] == "gene-set score (mean percentile rank)"
    assert side["session"]["mode"] == "gene-set" and side["grids_from"] == "grids"


def test_composite_refusals(capsys, tmp_path):
    out = tmp_path / "c.png"
    code, _, err = run(capsys, "--offline", "export", "image", "--composite", "Pdyn,Nrp1", "--threshold", "2",
                       "--out", str(out))
    assert code == 1 and "percentile rank" in err
    code, _, err = run(capsys, "--offline", "export", "image", "--composite", "Pdyn,Nrp1,Penk,Drd1", "--out",
                       str(out))
    assert code == 1 and "2 or 3 genes" in err
    assert not any(tmp_path.iterdir())


def test_three_gene_composite_with_the_colour_blind_palette(capsys, tmp_path, allen_env):
    """Penk's grid comes from the fake server: GENERATED data (tests/fake_allen/data.py)."""
    out = tmp_path / "c3.png"
    code, _, err = run(capsys, "export", "image", "--composite", "Pdyn,Nrp1,Penk", "--palette", "colour-blind",
                       "--size", "320x240", "--out", str(out))
    assert code == 0, err
    side = json.loads(sidecar_path(out).read_text())
    assert [c["colour"] for c in side["display"]["colours"].values()] == ["orange", "sky blue", "reddish purple"]
    assert side["composite"]["palette"] == ["orange", "sky blue", "reddish purple"]
    assert len(side["session"]["mode_experiments"]) == 3 and side["grids_from"] == "grids"
    px = np.asarray(Image.open(out).convert("RGB")).astype(int)
    orange = (px[..., 0] > 150) & (px[..., 1] > 90) & (px[..., 1] < 180) & (px[..., 2] < 40)
    assert orange.sum() > 50
