"""All three channels and the in-brain mask, end to end against the fake Allen server.

The fake serves each grid with the real files' outside-brain voxels and all three channels
(for Pdyn 71717084 and Nrp1 74272479: real energy with GENERATED intensity and density; for
the others all GENERATED), and one experiment (OLD_STYLE_ID) whose intensity has values
where energy and density are -1.  The expected figures are computed here with numpy
straight from what the server sends, independently of the exporters.
"""
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import requests

from allen_viewer import cli
from allen_viewer.formats.grid_file import read_grid_zip
from tests.fake_allen.data import OLD_STYLE_ID
from tests.fake_allen.fixtures import allen_env, fake_allen, fake_allen_data  # noqa: F401

PDYN, SAGITTAL = 71717084, OLD_STYLE_ID  # 69782969: Pdyn sagittal


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def served(server, experiment_id):
    url = f"{server.api_url}/grid_data/download/{experiment_id}?include=energy,intensity,density"
    return read_grid_zip(requests.get(url, timeout=30).content).volumes


def rows_of(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("experiment_id", [PDYN, SAGITTAL])
def test_export_voxels_gives_each_in_brain_voxels_channels_as_served(capsys, allen_env, fake_allen_data,
                                                                     tmp_path, experiment_id):
    vols = served(allen_env, experiment_id)
    brain = fake_allen_data.grid_annotation > 0
    with_data = vols["energy"] != -1
    out = tmp_path / "v.csv"
    code, _, err = run(capsys, "export", "voxels", str(experiment_id), "--out", str(out))
    assert code == 0, err
    rows = rows_of(out)
    assert len(rows) == int((brain & with_data).sum())
    for row in rows:
        ijk = int(row["ap"]), int(row["dv"]), int(row["ml"])
        assert brain[ijk] and row["in_brain"] == "1"
        for name in ("energy", "intensity", "density"):
            assert np.float32(float(row[name])) == vols[name][ijk], (name, ijk)
    if experiment_id == SAGITTAL:  # intensity has values where energy/density are -1: still no data
        assert ((vols["intensity"] > 0) & ~with_data & brain).any()
        assert {r["hemisphere"] for r in rows} == {"left"}


def test_export_structures_gives_mean_intensity_over_voxels_with_data(capsys, allen_env, fake_allen_data,
                                                                      reference_space, ontology, tmp_path):
    vols = served(allen_env, SAGITTAL)
    out = tmp_path / "s.csv"
    code, _, err = run(capsys, "export", "structures", str(SAGITTAL), "--out", str(out),
                       "--structures", "root,CP,Isocortex,CB")
    assert code == 0, err
    rows = {r["acronym"]: r for r in rows_of(out)}
    for acr, row in rows.items():
        mask = np.isin(reference_space.grid_annotation, list(ontology.descendant_ids(acr)))
        valid = mask & (vols["energy"] != -1)
        for name in ("energy", "intensity", "density"):
            expected = vols[name][valid].astype(np.float64).mean()
            assert float(row[f"mean_{name}"]) == pytest.approx(expected, rel=1e-9)
            assert float(row[f"mean_{name}_left"]) == pytest.approx(expected, rel=1e-9)
            assert row[f"mean_{name}_right"] == ""  # sagittal: the right hemisphere has no data
        assert row["voxels_with_data_right"] == "0" and int(row["voxels_with_data"]) == valid.sum()


def test_all_voxels_adds_the_outside_ones_marked(capsys, allen_env, fake_allen_data, tmp_path):
    vols = served(allen_env, PDYN)
    brain = fake_allen_data.grid_annotation > 0
    out = tmp_path / "all.csv"
    code, _, err = run(capsys, "export", "voxels", str(PDYN), "--out", str(out), "--all-voxels")
    assert code == 0, err
    rows = rows_of(out)
    outside = [r for r in rows if r["in_brain"] == "0"]
    assert len(rows) == int((vols["energy"] != -1).sum())
    assert len(outside) == int(((vols["energy"] != -1) & ~brain).sum()) > 0
    assert all(r["structure_id"] == "" and r["intensity"] != "" for r in outside)
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["all_voxels"] is True and "CENTRE" in side["coordinates"]


def test_info_counts_in_brain_and_outside_separately(capsys, allen_env, fake_allen_data):
    vols = served(allen_env, PDYN)
    brain = fake_allen_data.grid_annotation > 0
    code, out, err = run(capsys, "info", str(PDYN))
    assert code == 0, err
    inside, outside = int(((vols["energy"] != -1) & brain).sum()), int(((vols["energy"] != -1) & ~brain).sum())
    assert (inside, outside) == (60556, 38463)
    assert f"{inside} in the brain" in out and f"{outside} outside it" in out
    assert "energy, intensity, density" in out and "energy only" not in out
