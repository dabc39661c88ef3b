"""Spatial (voxel-seeded) correlation on a small GENERATED library, checked against a plain
numpy computation, for a seed in each hemisphere; and the search-spatial command."""
from pathlib import Path
import json

import numpy as np
import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.library.spatial import enriched_at_seed, seed_voxel, spatial_correlation
from tests.library import build_library, f16, make_layout

N_CORONAL, N_SAGITTAL = 36, 18
LEFT_SEED_UM = (5400.0, 3000.0, 2000.0)    # grid voxel (27, 15, 10): left hemisphere
RIGHT_SEED_UM = (7000.0, 4400.0, 9000.0)   # grid voxel (35, 22, 45): right hemisphere


@pytest.fixture(scope="module")
def layout(ontology):
    return make_layout(ontology)


@pytest.fixture(scope="module")
def rows(layout):
    """GENERATED experiments: smooth fields from a few shared spatial patterns (so voxels
    correlate), noise, exact zeros, and realistic no-data masks (coronal: missing AP
    sections and scattered voxels; sagittal: left hemisphere only, missing ML sections)."""
    rng = np.random.default_rng(12)
    ap, dv, ml = (c.astype(np.float32) for c in np.unravel_index(layout.voxels.astype(np.int64), GRID_SHAPE))
    patterns = np.stack([np.exp(-((ap - rng.uniform(10, 57)) ** 2 + (dv - rng.uniform(5, 35)) ** 2
                                  + (ml - rng.uniform(5, 53)) ** 2) / (2 * rng.uniform(5, 12) ** 2))
                         for _ in range(6)]).astype(np.float32)
    out = []
    for i in range(N_CORONAL + N_SAGITTAL):
        plane = "coronal" if i < N_CORONAL else "sagittal"
        w = rng.lognormal(0, 1, 6).astype(np.float32)
        v = (w @ patterns) * np.float32(rng.uniform(1, 40)) + rng.random(layout.n_voxels).astype(np.float32)
        v = np.maximum(v - np.float32(rng.uniform(0, 1)), 0).astype(np.float32)
        missing = rng.random(layout.n_voxels) < 0.02
        if plane == "coronal":
            missing |= np.isin(ap, rng.integers(0, 67, 4))
        else:
            missing |= (ml >= 29) | np.isin(ml, rng.integers(0, 29, 2))
        v[missing] = np.nan
        out.append((1000 + i, f"Gen{i}", plane, v))
    return out


@pytest.fixture(scope="module")
def library(tmp_path_factory, layout, rows):
    return build_library(tmp_path_factory.mktemp("spatial") / "library", layout, rows)


def numpy_spatial(rows, layout, seed_um, planes, min_overlap):
    """Plain numpy: per in-brain voxel, Pearson r across the experiments of ``planes``
    where both the seed voxel and that voxel have data (float16-rounded energies)."""
    ijk = tuple(int(round(c / 200)) for c in seed_um)
    col = int(np.flatnonzero(layout.voxels == np.ravel_multi_index(ijk, GRID_SHAPE))[0])
    y = np.stack([f16(r[3]) for r in rows if r[2] in planes]).astype(np.float64)  # (E, V), NaN no data
    x = y[:, col]
    m = ~np.isnan(x)[:, None] & ~np.isnan(y)                 # (E, V): both have data
    n_out = m.sum(axis=0)
    a = np.where(m, x[:, None], 0.0)
    b = np.where(m, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        a_mean, b_mean = a.sum(0) / n_out, b.sum(0) / n_out      # two-pass: centre, then sum products
        da, db = np.where(m, a - a_mean, 0.0), np.where(m, b - b_mean, 0.0)
        cov, va, vb = (da * db).sum(0), (da * da).sum(0), (db * db).sum(0)
        r_out = cov / np.sqrt(va * vb)
    r_out[(n_out < min_overlap) | (va <= 1e-12 * (a * a).sum(0)) | (vb <= 1e-12 * (b * b).sum(0))] = np.nan
    return r_out, n_out


@pytest.mark.parametrize("seed_um", [LEFT_SEED_UM, RIGHT_SEED_UM], ids=["left", "right"])
@pytest.mark.parametrize("plane", ["coronal", "all"])
def test_equals_plain_numpy(library, layout, rows, seed_um, plane):
    planes = ("coronal",) if plane == "coronal" else ("coronal", "sagittal")
    want_r, want_n = numpy_spatial(rows, layout, seed_um, planes, min_overlap=10)
    got = spatial_correlation(library, seed_um, plane=plane, min_overlap=10)
    assert got.seed_voxel == tuple(int(round(c / 200)) for c in seed_um)
    assert np.array_equal(np.isnan(got.r), np.isnan(want_r))
    ok = ~np.isnan(want_r)
    assert ok.sum() > 0.5 * layout.n_voxels
    assert np.abs(got.r[ok] - want_r[ok]).max() < 2e-5
    seed_has = want_n[got.seed_column]
    assert got.experiments == seed_has
    assert np.array_equal(got.n, want_n)
    assert got.r[got.seed_column] == pytest.approx(1.0)
    if seed_um == RIGHT_SEED_UM:  # sagittal experiments have no right hemisphere: same as coronal
        assert got.experiments == N_CORONAL - sum(np.isnan(r[3][got.seed_column]) for r in rows[:N_CORONAL])


def test_sagittal_rows_are_read_over_the_left_hemisphere_only(library, rows):
    from allen_viewer.library.spatial import _left_only

    left_only, n_left = _left_only(library, np.arange(len(rows)))
    assert left_only.tolist() == [r[2] == "sagittal" for r in rows]
    assert n_left == int((library.layout.voxels % 58 < 29).sum())


def test_min_overlap_and_bad_points(library, layout):
    strict = spatial_correlation(library, LEFT_SEED_UM, plane="coronal", min_overlap=30)
    assert np.all(strict.n[~np.isnan(strict.r)] >= 30)
    assert np.isnan(strict.r).sum() > np.isnan(spatial_correlation(library, LEFT_SEED_UM, min_overlap=10).r).sum()
    with pytest.raises(AllenViewerError, match="at least 20 are needed"):
        spatial_correlation(library, LEFT_SEED_UM, plane="sagittal")
    with pytest.raises(AllenViewerError, match="outside the brain"):
        spatial_correlation(library, (0.0, 0.0, 0.0), min_overlap=10)
    with pytest.raises(AllenViewerError, match="outside the 200 um grid"):
        seed_voxel((-500.0, 100.0, 100.0))
    grid = spatial_correlation(library, LEFT_SEED_UM, min_overlap=10).grid()
    assert grid.shape == GRID_SHAPE and grid[27, 15, 10] == pytest.approx(1.0) and np.isnan(grid[0, 0, 0])


def test_enriched_at_seed_is_energy_over_brain_mean(library, rows, layout):
    col = spatial_correlation(library, LEFT_SEED_UM, min_overlap=10).seed_column
    hits = enriched_at_seed(library, col, plane="coronal", top=None)
    want = {}
    for exp_id, _s, plane, v in rows:
        vv = f16(v)
        if plane == "coronal" and not np.isnan(vv[col]):
            want[exp_id] = vv[col] / np.nanmean(v.astype(np.float64))
    assert {h.experiment_id for h in hits} == set(want)
    assert [h.ratio for h in hits] == sorted((h.ratio for h in hits), reverse=True)
    for h in hits:
        assert h.ratio == pytest.approx(want[h.experiment_id], rel=1e-5)


def test_search_spatial_cli_csv_and_nrrd(library, layout, tmp_path, monkeypatch, capsys):
    import SimpleITK as sitk

    from allen_viewer.cli import main

    cache = library.root.parent
    monkeypatch.setenv("ALLEN_VIEWER_CACHE", str(cache))
    out = tmp_path / "r.csv"
    assert main(["search-spatial", "--at", "5400,3000,2000", "--min-overlap", "10", "--out", str(out)]) == 0
    want = spatial_correlation(library, LEFT_SEED_UM, min_overlap=10)
    lines = out.read_text().splitlines()
    assert lines[0] == "ap,dv,ml,x_um,y_um,z_um,r,n"
    assert len(lines) - 1 == int((~np.isnan(want.r)).sum())
    ap, dv, ml, x, y, z, r, n = lines[1].split(",")
    assert (float(x), float(y), float(z)) == (200 * int(ap), 200 * int(dv), 200 * int(ml))
    col = int(np.flatnonzero(layout.voxels == np.ravel_multi_index((int(ap), int(dv), int(ml)), GRID_SHAPE))[0])
    assert float(r) == pytest.approx(want.r[col], abs=1e-6) and int(n) == want.n[col]
    side = json.loads(Path(f"{out}.json").read_text())
    assert side["seed_voxel"] == [27, 15, 10] and side["plane"] == "coronal" and side["min_overlap"] == 10
    assert "27, 15, 10" in capsys.readouterr().out
    # the NRRD: the grid's geometry, NaN where no result
    vol = tmp_path / "r.nrrd"
    assert main(["search-spatial", "--at", "5400,3000,2000", "--plane", "all", "--min-overlap", "10",
                 "--out", str(vol)]) == 0
    img = sitk.ReadImage(str(vol))
    arr = sitk.GetArrayFromImage(img).transpose(2, 1, 0)
    assert arr.shape == GRID_SHAPE and img.GetSpacing() == (200.0, 200.0, 200.0)
    want_all = spatial_correlation(library, LEFT_SEED_UM, plane="all", min_overlap=10).grid()
    assert np.array_equal(np.isnan(arr), np.isnan(want_all))
    assert np.nanmax(np.abs(arr - want_all)) < 1e-6
    # refuses to overwrite, bad input is one line
    assert main(["search-spatial", "--at", "5400,3000,2000", "--min-overlap", "10", "--out", str(out)]) == 1
    assert main(["search-spatial", "--at", "5400,3000", "--out", str(tmp_path / "x.csv")]) == 1
    assert main(["search-spatial", "--at", "5400,3000,2000", "--out", str(tmp_path / "x.txt")]) == 1
    err = capsys.readouterr().err
    assert err.count("allen-viewer: error:") == 3 and not (tmp_path / "x.csv").exists()
