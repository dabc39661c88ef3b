"""The packed store: layout, packing, reading back, crash safety, locking."""
import json
import os

import numpy as np
import pytest

from allen_viewer.errors import CorruptData
from allen_viewer.formats.grid_file import GRID_SHAPE
from allen_viewer.library import store
from allen_viewer.library.store import F16_MAX, Layout, Library, LibraryError, pack_rows
from tests.library import NRP1, PDYN, build_library, f16, grid_annotation, make_layout, real_grid


@pytest.fixture(scope="module")
def layout(ontology):
    return make_layout(ontology)


@pytest.fixture(scope="module")
def columns(layout):
    ap, _, ml = np.unravel_index(layout.voxels.astype(np.int64), GRID_SHAPE)
    return ap, ml


def test_layout_covers_the_brain_once_with_structures_contiguous(layout, ontology):
    ga = grid_annotation()
    assert sorted(layout.voxels.tolist()) == np.flatnonzero(ga.ravel() > 0).tolist()
    assert layout.n_voxels == 62529
    seg = layout.segments
    assert seg["start"][0] == 0 and seg["stop"][-1] == layout.n_voxels
    assert np.array_equal(seg["start"][1:], seg["stop"][:-1])
    labels = ga.ravel()[layout.voxels]
    for s in seg:  # every column of a segment has its label and hemisphere
        cols = slice(s["start"], s["stop"])
        assert np.all(labels[cols] == s["label"])
        ml = np.unravel_index(layout.voxels[cols].astype(np.int64), GRID_SHAPE)[2]
        assert np.all((ml >= 29) == bool(s["hemisphere"]))
    assert np.all(np.diff(seg["hemisphere"].astype(int)) >= 0)  # left hemisphere first
    for acronym in ("CP", "Isocortex", "HPF", "CB"):  # one block of columns per hemisphere
        for h in (0, 1):
            idx = np.flatnonzero(layout.segment_mask(ontology.descendant_ids(acronym), hemispheres=[h]))
            assert len(idx) and np.all(np.diff(idx) == 1), acronym


def test_columns_and_grid_round_trip(layout):
    vol = np.arange(np.prod(GRID_SHAPE), dtype=np.float32).reshape(GRID_SHAPE)
    cols = layout.columns(vol)
    back = layout.to_grid(cols)
    brain = grid_annotation() > 0
    assert np.array_equal(back[brain], vol[brain]) and np.all(np.isnan(back[~brain]))


def _masks(layout, columns, rng):
    ap, ml = columns
    v = layout.n_voxels
    coronal = np.ones(v, bool)
    coronal[np.isin(ap, [3, 4, 40])] = False
    sagittal = ml < 29
    sagittal[ml == 10] = False
    scattered = rng.random(v) > 0.3
    return {"coronal": coronal, "sagittal": sagittal, "scattered": scattered, "none": np.zeros(v, bool),
            "all": np.ones(v, bool)}


def test_rows_read_back_at_float16_precision_with_their_masks(tmp_path, layout, columns, gene_index):
    rng = np.random.default_rng(1)
    masks = _masks(layout, columns, rng)
    pdyn = layout.columns(real_grid(gene_index, PDYN).energy)
    rows, expected = [], []
    for i, (name, mask) in enumerate(masks.items()):
        values = (rng.random(layout.n_voxels) * 50).astype(np.float32)
        values[rng.random(layout.n_voxels) < 0.05] = 0.0  # exact zeros are data, not "no data"
        values[~mask] = np.nan
        rows.append((100 + i, f"G{i}", "sagittal" if name == "sagittal" else "coronal", values))
        expected.append(values)
    rows.append((PDYN, "Pdyn", "coronal", pdyn))
    expected.append(pdyn)
    lib = build_library(tmp_path / "lib", layout, rows, chunk=3)
    assert len(lib) == len(rows) and lib.ids.tolist() == [r[0] for r in rows]
    assert lib.symbols[-1] == "Pdyn" and lib.planes[1] == "sagittal"
    for row, values in enumerate(expected):
        got = lib.values(row)
        assert np.array_equal(np.isnan(got), np.isnan(values)), row
        assert np.array_equal(got[~np.isnan(got)], f16(values)[~np.isnan(values)]), row
        assert np.array_equal(lib.has_data(row), ~np.isnan(values))
        assert lib.table["voxels_with_data"][row] == (~np.isnan(values)).sum()
    # the cheaper mask order is chosen: sagittal in ML-first order, coronal slabs in AP-first order
    assert lib.table["mask_order"][1] == 1 and lib.table["mask_order"][0] == 0
    assert lib.table["n_runs"][1] <= 2 and lib.table["n_runs"][0] <= 3
    assert lib.table["n_runs"][3] == 0  # "none": no data at all
    # a row as a grid: in-brain voxels only
    grid = lib.grid(len(rows) - 1)
    real = real_grid(gene_index, PDYN)
    brain = grid_annotation() > 0
    keep = brain & real.has_data
    assert np.allclose(grid[keep], real.energy[keep], rtol=2 ** -11, atol=3e-8)  # float16 rounding
    assert np.all(np.isnan(grid[~brain]))


def test_segment_sums_are_exact_sums_of_the_original_and_rounded_values(tmp_path, layout, gene_index):
    energy = np.stack([layout.columns(real_grid(gene_index, i).energy) for i in (PDYN, NRP1)])
    lib = build_library(tmp_path / "lib", layout, [(PDYN, "Pdyn", "coronal", energy[0]),
                                                   (NRP1, "Nrp1", "coronal", energy[1])])
    starts = layout.segment_starts
    has = ~np.isnan(energy)
    e = np.where(has, energy, 0).astype(np.float64)
    q = f16(np.where(has, energy, 0)).astype(np.float64)
    assert np.array_equal(lib.seg("count"), np.add.reduceat(has, starts, axis=1))
    assert np.allclose(lib.seg("energy"), np.add.reduceat(e, starts, axis=1), rtol=1e-7, atol=0)
    assert np.allclose(lib.seg("q"), np.add.reduceat(q, starts, axis=1), rtol=1e-7, atol=0)
    assert np.allclose(lib.seg("q2"), np.add.reduceat(q * q, starts, axis=1), rtol=1e-7, atol=0)
    assert np.all(np.isnan(lib.seg("density")))  # no density grid was packed


def test_values_above_float16_range_are_clipped_and_counted(tmp_path, layout):
    values = np.ones(layout.n_voxels, np.float32)
    values[:3] = [70000.0, 1e6, F16_MAX]
    lib = build_library(tmp_path / "lib", layout, [(1, "X", "coronal", values)])
    assert lib.values(0)[:3].tolist() == [F16_MAX] * 3
    assert lib.table["clipped"][0] == 2
    assert lib.seg("energy")[0].sum() == pytest.approx(values.astype(np.float64).sum(), rel=1e-6)


def test_pack_rejects_negative_values(layout):
    values = np.zeros((1, layout.n_voxels), np.float32)
    values[0, 5] = -0.5
    with pytest.raises(CorruptData):
        pack_rows(layout, [1], ["X"], ["coronal"], values)


def test_append_skips_experiments_already_there_and_snapshots_do_not_move(tmp_path, layout):
    v = np.ones(layout.n_voxels, np.float32)
    lib = build_library(tmp_path / "lib", layout, [(1, "A", "coronal", v), (2, "B", "coronal", 2 * v)])
    old = Library(tmp_path / "lib").refresh()
    with lib.writer() as w:
        w.append(pack_rows(layout, [2, 3], ["B", "C"], ["coronal", "sagittal"], np.stack([5 * v, 3 * v])))
    assert len(old) == 2  # an open snapshot sees the rows committed when it opened
    lib.refresh()
    assert lib.ids.tolist() == [1, 2, 3]
    assert lib.values(1)[0] == 2.0 and lib.values(2)[0] == 3.0  # id 2 kept its first row
    assert lib.row_of(3) == 2 and lib.row_of(99) is None and 3 in lib


def _corrupt_tail(root, layout):
    """What a process killed after writing rows but before committing them leaves."""
    for name in store.ROW_FILES:
        with open(root / name, "ab") as fh:
            fh.write(os.urandom(1000))
    with open(root / store.RUNS_FILE, "ab") as fh:
        fh.write(os.urandom(24))


def test_uncommitted_bytes_are_never_read_and_are_cut_by_the_next_append(tmp_path, layout):
    v = np.arange(layout.n_voxels, dtype=np.float32) % 7
    v[::11] = np.nan
    lib = build_library(tmp_path / "lib", layout, [(1, "A", "coronal", v)])
    _corrupt_tail(lib.root, layout)
    again = Library(lib.root).refresh()
    assert len(again) == 1 and np.array_equal(np.isnan(again.values(0)), np.isnan(v))
    with again.writer() as w:
        w.append(pack_rows(layout, [2], ["B"], ["coronal"], (v * 2)[None]))
    again.refresh()
    assert again.ids.tolist() == [1, 2]
    assert np.array_equal(again.values(1), f16(v * 2), equal_nan=True)
    assert np.array_equal(again.has_data(0), ~np.isnan(v))
    assert (lib.root / "energy.f16").stat().st_size == 2 * layout.n_voxels * 2  # the garbage is gone


def test_a_failed_commit_leaves_the_committed_rows(tmp_path, layout, monkeypatch):
    v = np.ones(layout.n_voxels, np.float32)
    lib = build_library(tmp_path / "lib", layout, [(1, "A", "coronal", v)])

    def killed(self, manifest):
        raise KeyboardInterrupt  # as if the process died between the data and the manifest

    with lib.writer() as w:
        monkeypatch.setattr(store.LibraryWriter, "_write_manifest", killed)
        with pytest.raises(KeyboardInterrupt):
            w.append(pack_rows(layout, [2], ["B"], ["coronal"], (3 * v)[None]))
    monkeypatch.undo()
    assert Library(lib.root).refresh().ids.tolist() == [1]
    with lib.writer() as w:
        w.append(pack_rows(layout, [2], ["B"], ["coronal"], (4 * v)[None]))
    assert lib.refresh().ids.tolist() == [1, 2] and lib.values(1)[0] == 4.0


def test_one_writer_at_a_time(tmp_path, layout):
    lib = Library(tmp_path / "lib")
    with lib.writer(layout):
        with pytest.raises(LibraryError, match="Another allen-viewer process"):
            lib.writer(layout)
    with lib.writer(layout):  # released
        pass


def test_missing_damaged_or_foreign_libraries_say_so(tmp_path, layout, ontology):
    with pytest.raises(LibraryError, match="no library"):
        len(Library(tmp_path / "none"))
    lib = build_library(tmp_path / "lib", layout, [(1, "A", "coronal", np.ones(layout.n_voxels, np.float32))])
    manifest = json.loads((lib.root / "manifest.json").read_text())
    other = np.array(grid_annotation())
    other[0, 0, 0] = 8  # another annotation: the layout checksum differs
    with pytest.raises(LibraryError, match="another grid annotation"):
        lib.writer(Layout.build(other, ontology))
    (lib.root / "manifest.json").write_text(json.dumps(dict(manifest, format=99)))
    with pytest.raises(LibraryError, match="format"):
        Library(lib.root).refresh()
    (lib.root / "manifest.json").write_text(json.dumps(dict(manifest, rows=5)))
    with pytest.raises(CorruptData, match="shorter than its manifest"):
        Library(lib.root).refresh()
    (lib.root / "manifest.json").write_text("{not json")
    with pytest.raises(CorruptData, match="unreadable"):
        Library(lib.root).refresh()
