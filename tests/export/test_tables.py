"""CSV exports checked against an independent reading of the real Allen zips."""
from pathlib import Path
import csv
import json
import zipfile

import numpy as np
import pytest

from allen_viewer import config
from allen_viewer.errors import AllenViewerError
from allen_viewer.expression.grid import load_grid
from allen_viewer.export import tables
from allen_viewer.records import Experiment

GRIDS = {
    71717084: Experiment(71717084, "Pdyn", "prodynorphin", 18610, "coronal"),
    74272479: Experiment(74272479, "Nrp1", "neuropilin 1", 18186, "coronal"),
}


def raw_brain():
    """Independent reading of gridAnnotation.raw: True where the label is > 0."""
    with zipfile.ZipFile(config.resources_dir() / "P56_Mouse_gridAnnotation.zip") as zf:
        return np.frombuffer(zf.read("gridAnnotation.raw"), "<u4").reshape(58, 41, 67).transpose(2, 1, 0) > 0


def raw_energy(exp_id):
    """Independent reading: the Allen recipe straight from the zip."""
    with zipfile.ZipFile(config.resources_dir() / "grids" / f"{exp_id}.zip") as zf:
        return np.frombuffer(zf.read("energy.raw"), "<f4").reshape(58, 41, 67).transpose(2, 1, 0)


def grid(exp_id):
    return load_grid(config.resources_dir() / "grids" / f"{exp_id}.zip", GRIDS[exp_id])


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("exp_id", sorted(GRIDS))
def test_voxel_csv_matches_the_raw_file(tmp_path, reference_space, ontology, exp_id):
    raw = raw_energy(exp_id)
    out = tmp_path / "v.csv"
    n = tables.export_voxels(grid(exp_id), reference_space, out)
    rows = read_csv(out)
    brain = raw_brain()
    assert n == len(rows) == int(((raw != -1) & brain).sum())  # in-brain voxels by default
    assert list(rows[0]) == tables.VOXEL_COLUMNS
    assert {r["in_brain"] for r in rows} == {"1"}
    assert all(r["hemisphere"] == ("left" if int(r["ml"]) <= 28 else "right") for r in rows)
    for row in rows[:: max(1, len(rows) // 500)]:
        ap, dv, ml = int(row["ap"]), int(row["dv"]), int(row["ml"])
        assert np.float32(float(row["energy"])) == raw[ap, dv, ml]
        assert (float(row["x_um"]), float(row["y_um"]), float(row["z_um"])) == (200.0 * ap, 200.0 * dv, 200.0 * ml)
        assert row["intensity"] == "" and row["density"] == ""  # energy-only zips
        sid = int(reference_space.grid_annotation[ap, dv, ml])
        assert sid and int(row["structure_id"]) == sid
        assert row["structure_name"] == ontology.by_id(sid).name
    side = json.loads(Path(f"{out}.json").read_text())
    assert "CENTRE" in side["coordinates"] and "29-57" in side["units"]["hemisphere"]
    assert side["experiments"][0]["experiment_id"] == exp_id and "Allen" in side["citation"]
    assert side["rows"] == n and side["software"].startswith("allen_viewer")


def test_voxel_csv_structure_filter_and_missing(tmp_path, reference_space, ontology):
    raw = raw_energy(71717084)
    mask = np.isin(reference_space.grid_annotation, list(ontology.descendant_ids("CP")))
    n = tables.export_voxels(grid(71717084), reference_space, tmp_path / "cp.csv", structure="CP")
    assert n == int((mask & (raw != -1)).sum())
    assert {r["structure_acronym"] for r in read_csv(tmp_path / "cp.csv")} == {"CP"}
    brain = raw_brain()
    n_all = tables.export_voxels(grid(71717084), reference_space, tmp_path / "all.csv", include_missing=True)
    rows = read_csv(tmp_path / "all.csv")
    assert n_all == int(brain.sum()) == 62529
    assert sum(1 for r in rows if r["energy"] == "") == int(((raw == -1) & brain).sum())
    n_out = tables.export_voxels(grid(71717084), reference_space, tmp_path / "out.csv", all_voxels=True)
    rows = read_csv(tmp_path / "out.csv")
    assert n_out == int((raw != -1).sum()) == 99019
    outside = [r for r in rows if r["in_brain"] == "0"]
    assert len(outside) == int(((raw != -1) & ~brain).sum()) == 38463
    assert all(r["structure_id"] == r["structure_acronym"] == "" and r["energy"] != "" for r in outside)
    n_every = tables.export_voxels(grid(71717084), reference_space, tmp_path / "every.csv", all_voxels=True,
                                   include_missing=True)
    assert n_every == 67 * 41 * 58


def test_structure_csv_matches_numpy(tmp_path, reference_space, ontology):
    raw = raw_energy(71717084)
    out = tmp_path / "s.csv"
    tables.export_structures(grid(71717084), reference_space, out)
    rows = {r["acronym"]: r for r in read_csv(out)}
    leaf = "MOp5"
    assert not ontology.by_acronym(leaf).children
    for acr in ("root", "CP", "CB", leaf):
        s = ontology.by_acronym(acr)
        mask = np.isin(reference_space.grid_annotation, [d.id for d in ontology.descendants(s)])
        valid = mask & (raw != -1)
        row = rows[acr]
        assert int(row["voxels"]) == mask.sum() and int(row["voxels_with_data"]) == valid.sum()
        assert float(row["mean_energy"]) == pytest.approx(raw[valid].astype(np.float64).mean(), rel=1e-9)
        assert int(row["depth"]) == s.depth and row["parent_id"] == ("" if s.parent is None else str(s.parent.id))
        assert row["mean_density"] == "" and row["mean_intensity"] == ""
    assert all(int(r["voxels_with_data"]) > 0 for r in rows.values())


def test_structure_csv_row_selection(tmp_path, reference_space):
    out = tmp_path / "d.csv"
    tables.export_structures(grid(71717084), reference_space, out, depth=2)
    assert max(int(r["depth"]) for r in read_csv(out)) == 2
    tables.export_structures(grid(71717084), reference_space, out, acronyms=["CP", "CB"])
    assert [r["acronym"] for r in read_csv(out)] == ["CP", "CB"]


def test_comparison_csv_matches_numpy(tmp_path, reference_space, ontology):
    a, b = raw_energy(71717084), raw_energy(74272479)
    result = tables.export_comparison(grid(71717084), grid(74272479), reference_space, tmp_path / "c.csv")
    both = (a != -1) & (b != -1) & raw_brain()
    assert result["whole_brain_r"] == pytest.approx(0.0102, abs=5e-5) and result["whole_brain_voxels"] == 59591
    assert result["whole_brain_r"] == pytest.approx(np.corrcoef(a[both], b[both])[0, 1], abs=1e-9)
    rows = {r["acronym"]: r for r in read_csv(tmp_path / "c.csv")}
    for acr in ("root", "CP", "CB"):
        mask = np.isin(reference_space.grid_annotation, list(ontology.descendant_ids(acr)))
        m = mask & both
        row = rows[acr]
        assert float(row["r"]) == pytest.approx(np.corrcoef(a[m], b[m])[0, 1], abs=1e-6)
        ma = a[mask & (a != -1)].astype(np.float64).mean()
        mb = b[mask & (b != -1)].astype(np.float64).mean()
        assert float(row["mean_energy_a"]) == pytest.approx(ma)
        assert float(row["difference"]) == pytest.approx(ma - mb)
        assert float(row["ratio"]) == pytest.approx(ma / mb)
    assert float(rows["root"]["r"]) == pytest.approx(result["whole_brain_r"], abs=1e-9)


def test_failed_export_leaves_no_file(tmp_path, reference_space, monkeypatch):
    out = tmp_path / "v.csv"

    def broken_rows(*args, **kwargs):
        yield [1] * len(tables.VOXEL_COLUMNS)
        raise OSError("disk full")

    monkeypatch.setattr(tables, "voxel_rows", broken_rows)
    with pytest.raises(AllenViewerError, match="disk full"):  # one line, not a raw OSError
        tables.export_voxels(grid(71717084), reference_space, out)
    assert list(tmp_path.iterdir()) == []


def test_structure_csv_per_hemisphere_columns(tmp_path, reference_space, ontology):
    """Pdyn (coronal, real): left/right columns pool the ML 0-28 / 29-57 halves."""
    raw, brain = raw_energy(71717084), raw_brain()
    out = tmp_path / "h.csv"
    tables.export_structures(grid(71717084), reference_space, out, acronyms=["root", "CP"])
    rows = {r["acronym"]: r for r in read_csv(out)}
    assert list(next(iter(rows.values()))) == tables.STRUCTURE_COLUMNS
    for acr in ("root", "CP"):
        mask = np.isin(reference_space.grid_annotation, list(ontology.descendant_ids(acr))) & brain & (raw != -1)
        for side, half in (("left", slice(0, 29)), ("right", slice(29, 58))):
            m = np.zeros_like(mask)
            m[:, :, half] = mask[:, :, half]
            assert int(rows[acr][f"voxels_with_data_{side}"]) == int(m.sum()) > 0
            assert float(rows[acr][f"mean_energy_{side}"]) == pytest.approx(raw[m].astype(np.float64).mean())
            assert rows[acr][f"mean_intensity_{side}"] == ""  # energy-only zip


def test_sagittal_structure_csv_has_empty_right_cells(tmp_path, reference_space):
    """A GENERATED sagittal grid (data on ML 0-28 only, as a sagittal experiment has)."""
    from allen_viewer.formats import grid_file as gf

    brain = raw_brain()
    rng = np.random.default_rng(5)
    energy = np.where(brain, rng.uniform(0, 5, gf.GRID_SHAPE), -1).astype(np.float32)
    energy[:, :, 29:] = -1
    density = np.where(energy >= 0, 0.5, -1).astype(np.float32)
    intensity = np.where(energy >= 0, energy * 2, -1).astype(np.float32)
    path = tmp_path / "sag.zip"
    gf.write_grid_zip(path, {"energy": energy, "intensity": intensity, "density": density})
    g = load_grid(path, Experiment(5, "Gen5", "generated", None, "sagittal"))
    out = tmp_path / "sag.csv"
    tables.export_structures(g, reference_space, out, acronyms=["root", "CP"])
    for row in read_csv(out):
        assert row["voxels_with_data_right"] == "0"
        assert row["mean_energy_right"] == row["mean_density_right"] == row["mean_intensity_right"] == ""
        assert int(row["voxels_with_data_left"]) == int(row["voxels_with_data"]) > 0
        assert float(row["mean_intensity_left"]) == pytest.approx(float(row["mean_intensity"]))
