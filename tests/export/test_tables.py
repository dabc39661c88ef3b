"""CSV exports checked against an independent reading of the real Allen zips."""
import csv
import json
import zipfile

import numpy as np
import pytest

from allen_viewer import config
from allen_viewer.errors import AllenViewerError
from allen_viewer.expression.grid import load_grid
from allen_viewer.export import tables
from allen_viewer.store.gene_index import Experiment

GRIDS = {
    71717084: Experiment(71717084, "Pdyn", "prodynorphin", 18610, "coronal"),
    74272479: Experiment(74272479, "Nrp1", "neuropilin 1", 18186, "coronal"),
}


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
    assert n == len(rows) == int((raw != -1).sum())
    assert list(rows[0]) == tables.VOXEL_COLUMNS
    for row in rows[:: max(1, len(rows) // 500)]:
        ap, dv, ml = int(row["ap"]), int(row["dv"]), int(row["ml"])
        assert np.float32(float(row["energy"])) == raw[ap, dv, ml]
        assert (float(row["x_um"]), float(row["y_um"]), float(row["z_um"])) == (200.0 * ap, 200.0 * dv, 200.0 * ml)
        assert row["intensity"] == "" and row["density"] == ""  # energy-only zips
        sid = int(reference_space.grid_annotation[ap, dv, ml])
        if sid:
            assert int(row["structure_id"]) == sid
            assert row["structure_name"] == ontology.by_id(sid).name
        else:
            assert row["structure_id"] == row["structure_acronym"] == ""
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["experiments"][0]["experiment_id"] == exp_id and "Allen" in side["citation"]
    assert side["rows"] == n and side["software"].startswith("allen_viewer")


def test_voxel_csv_structure_filter_and_missing(tmp_path, reference_space, ontology):
    raw = raw_energy(71717084)
    mask = np.isin(reference_space.grid_annotation, list(ontology.descendant_ids("CP")))
    n = tables.export_voxels(grid(71717084), reference_space, tmp_path / "cp.csv", structure="CP")
    assert n == int((mask & (raw != -1)).sum())
    assert {r["structure_acronym"] for r in read_csv(tmp_path / "cp.csv")} == {"CP"}
    n_all = tables.export_voxels(grid(71717084), reference_space, tmp_path / "all.csv", include_missing=True)
    rows = read_csv(tmp_path / "all.csv")
    assert n_all == 67 * 41 * 58
    assert sum(1 for r in rows if r["energy"] == "") == int((raw == -1).sum())


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
    both = (a != -1) & (b != -1)
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


def test_failed_export_leaves_no_file(tmp_path, reference_space, monkeypatch):
    out = tmp_path / "v.csv"

    def broken_rows(*args, **kwargs):
        yield [1] * len(tables.VOXEL_COLUMNS)
        raise OSError("disk full")

    monkeypatch.setattr(tables, "voxel_rows", broken_rows)
    with pytest.raises(AllenViewerError, match="disk full"):  # one line, not a raw OSError
        tables.export_voxels(grid(71717084), reference_space, out)
    assert list(tmp_path.iterdir()) == []
