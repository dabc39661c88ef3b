"""One sidecar per output, never shared, and nothing replaced unasked (issue 18 items 1-2).

For every export kind of the CLI (image, movie, voxels, structures, volume as .nrrd / .mhd /
``--volume all``, compare, matrix, the searches' ``--out``, section-image, search-spatial, and
those of the same round: slice, region-map, the compare image, a gene set's voxels, a
composite image):

* a foreign file at exactly the new sidecar name (``OUT.EXT.json``) and one at the old
  ``STEM.json`` name stay byte-identical, with and without ``--force`` (the export is refused
  in one line while the foreign file is at the sidecar's name; nothing is written);
* our own sidecar at the new name is refused without ``--force`` and replaced with it, both
  one written before the ``format`` key existed and one with it;
* two outputs of one stem keep one sidecar each.

``--screenshot`` and session saving: tests/gui/test_sidecars_gui.py.  The data are the real
embedded grids (Pdyn 71717084, Nrp1 74272479), the fake Allen server's GENERATED section
images and grids, and a library built from the real grids plus GENERATED rows
(tests/library).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from allen_viewer.io.sidecars import SIDECAR_FORMAT, is_own_sidecar, legacy_sidecar_path, sidecar_path
from tests.fake_allen.data import OLD_STYLE_ID
from tests.fake_allen.fixtures import allen_env, fake_allen, fake_allen_data  # noqa: F401
from tests.faults.hostile import assert_one_line_error, cli_run, snapshot
from tests.library import NRP1, PDYN, build_library, make_layout, real_and_generated_rows

pytestmark = pytest.mark.usefixtures("no_anti_aliasing")

FOREIGN_NEW = b'{"my": "notes about this figure", "keep": true}\n'
FOREIGN_OLD = b"my own notes at the old sidecar name\n"
SPATIAL = ("--offline", "search-spatial", "--at", "5400,3000,2000", "--plane", "all", "--min-overlap", "3")


@dataclass(frozen=True)
class Kind:
    name: str
    argv: Callable[[Path], tuple]
    out: str
    export: str  # the sidecar's "export"
    out2: str  # a second output of the same stem
    argv2: Callable[[Path], tuple] | None = None  # another command for it (default argv)
    export2: str | None = None
    needs: tuple[str, ...] = ()


def _offline(*words):
    return lambda out: ("--offline", *words, "--out", out)


KINDS = [
    Kind("voxels", _offline("export", "voxels", PDYN), "t.csv", "voxels", "t.txt"),
    Kind("structures", _offline("export", "structures", PDYN, "--depth", "2"), "t.csv", "structures", "t.tsv"),
    Kind("volume-nrrd", _offline("export", "volume", PDYN), "t.nrrd", "volume", "t.mhd"),
    Kind("volume-mhd", _offline("export", "volume", PDYN), "t.mhd", "volume", "t.nrrd"),
    Kind("volume-all", lambda out: ("export", "volume", str(OLD_STYLE_ID), "--volume", "all", "--out", out),
         "t.nrrd", "volume", "t.mhd", needs=("allen_env",)),
    Kind("compare", _offline("compare", PDYN, NRP1, "--depth", "2"), "t.csv", "compare", "t.txt"),
    Kind("image", _offline("export", "image", PDYN, "--size", "64x48"), "t.png", "image", "t.gif",
         argv2=_offline("export", "movie", PDYN, "--size", "32x32", "--frames", "2"), export2="movie"),
    Kind("movie", _offline("export", "movie", PDYN, "--size", "32x32", "--frames", "2"), "t.gif", "movie", "t.mp4"),
    Kind("matrix", _offline("matrix", "--depth", "2"), "t.csv", "matrix", "t.tsv", needs=("library",)),
    Kind("search-correlated", _offline("search-correlated", str(PDYN)), "t.csv", "search-correlated", "t.txt",
         argv2=_offline("search-differential", "--target", "CP", "--contrast", "Isocortex"),
         export2="search-differential", needs=("library",)),
    Kind("search-spatial", lambda out: (*SPATIAL, "--out", out), "t.csv", "search-spatial", "t.nrrd",
         needs=("library",)),
    Kind("section-image", lambda out: ("section-image", "Pdyn", "--at", "5230,4010,2000", "--downsample", "5",
                                       "--out", out), "t.jpg", "section-image", "t.jpeg", needs=("allen_env",)),
    # the exports added in the same round (issues 21-23)
    Kind("slice", _offline("export", "slice", PDYN, "--plane", "coronal", "--at", "5200,4200,3800"), "t.svg",
         "slice figure", "t.pdf"),
    Kind("region-map", _offline("export", "region-map", PDYN, "--plane", "coronal", "--at", "5200,4200,3800",
                                "--depth", "5"), "t.svg", "region map", "t.pdf"),
    Kind("compare-image", _offline("export", "image", PDYN, "--compare", NRP1, "--size", "240x120"), "t.png",
         "image", "t.gif", argv2=_offline("export", "movie", PDYN, "--size", "32x32", "--frames", "2"),
         export2="movie"),
    Kind("gene-set-voxels", _offline("export", "voxels", "--gene-set", "Pdyn,Nrp1"), "t.csv", "voxels", "t.txt"),
    Kind("composite-image", _offline("export", "image", "--composite", "Pdyn,Nrp1", "--size", "64x48"), "t.png",
         "image", "t.gif", argv2=_offline("export", "movie", PDYN, "--size", "32x32", "--frames", "2"),
         export2="movie"),
]


@pytest.fixture
def library(ontology, gene_index):
    """A library of the real Pdyn and Nrp1 grids and 6 GENERATED rows, in the test's cache."""
    from allen_viewer.store.cache import Cache

    layout = make_layout(ontology)
    rows = real_and_generated_rows(layout, gene_index, generated=6, seed=11, first_id=900000)
    return build_library(Cache().root / "library", layout, rows, chunk=3)


def _ok(r):
    assert r.code == 0, r.err


def _side(out: Path) -> dict:
    return json.loads(Path(f"{out}.json").read_text())


def test_the_sidecar_is_named_after_the_whole_file():
    assert sidecar_path(Path("a/figure.png")) == Path("a/figure.png.json")
    assert sidecar_path("turn.gif") != sidecar_path("turn.mp4")
    assert sidecar_path("table.json") == Path("table.json.json")  # never the output itself
    assert sidecar_path("noext") == Path("noext.json")
    assert legacy_sidecar_path("figure.png") == Path("figure.json")


@pytest.mark.parametrize("text, ours", [
    ('{"format": "allen_viewer.sidecar", "version": 1, "export": "image"}', True),
    ('{"export": "voxels", "software": "allen_viewer 0.3.0"}', True),  # before the format key
    ('{"export": "voxels", "software": "other_tool 1.0"}', False),
    ('{"software": "allen_viewer 0.3.0"}', False),
    ('{"export": "voxels", "software": 7}', False),
    ('{"format": "allen_viewer.session", "version": 3}', False),  # a session is not a sidecar
    ('["export", "software"]', False),
    ('null', False),
    ('not json at all', False),
    ('', False),
])
def test_only_our_own_sidecars_count_as_ours(tmp_path, text, ours):
    path = tmp_path / "x.png.json"
    path.write_text(text)
    assert is_own_sidecar(path) is ours


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_foreign_files_stay_own_sidecars_are_replaced_and_each_output_has_its_own(kind, tmp_path, request):
    for name in kind.needs:
        request.getfixturevalue(name)
    out = tmp_path / kind.out
    new_side, old_side = tmp_path / f"{kind.out}.json", tmp_path / (out.stem + ".json")
    new_side.write_bytes(FOREIGN_NEW)
    old_side.write_bytes(FOREIGN_OLD)
    before = snapshot(tmp_path)
    for force in ((), ("--force",)):  # a foreign file at the sidecar's name: never replaced
        r = cli_run(*kind.argv(out), *force)
        line = assert_one_line_error(r, new_side.name)
        assert "not a sidecar written by allen_viewer" in line and "not even with --force" in line
        assert snapshot(tmp_path) == before
    new_side.unlink()
    _ok(cli_run(*kind.argv(out)))
    assert old_side.read_bytes() == FOREIGN_OLD  # the old STEM.json name is never written
    side = _side(out)
    assert (side["format"], side["version"], side["export"]) == (SIDECAR_FORMAT, 1, kind.export)
    assert list(side)[:2] == ["format", "version"]

    # our own sidecar: refused without --force (one line, nothing written), replaced with it
    before = snapshot(tmp_path)
    r = cli_run(*kind.argv(out))
    assert_one_line_error(r, "already exists", "--force")
    assert snapshot(tmp_path) == before
    for own in ({"export": kind.export, "software": "allen_viewer 0.2.0", "note": "before the format key"},
                {**side, "note": "this program's, with the format key"}):
        new_side.write_text(json.dumps(own))
        _ok(cli_run(*kind.argv(out), "--force"))
        replaced = _side(out)
        assert replaced["format"] == SIDECAR_FORMAT and "note" not in replaced
    assert old_side.read_bytes() == FOREIGN_OLD

    # a second output of the same stem: its own sidecar, the first one's untouched
    first = new_side.read_bytes()
    out2 = tmp_path / kind.out2
    _ok(cli_run(*(kind.argv2 or kind.argv)(out2)))
    assert new_side.read_bytes() == first and old_side.read_bytes() == FOREIGN_OLD
    assert _side(out2)["export"] == (kind.export2 or kind.export)
    assert Path(f"{out2}.json") != new_side


def test_volume_all_checks_every_per_volume_file(allen_env, tmp_path):
    """``--volume all`` writes t_energy/t_intensity/t_density: each one existing is refused
    without --force (naming it), nothing written; with --force all are replaced.  (Refused
    once the grid is read: which volumes it has decides the files; the cache is elsewhere.)"""
    tmp_path = tmp_path / "outputs"
    tmp_path.mkdir()
    out = tmp_path / "t.mhd"
    argv = ("export", "volume", str(OLD_STYLE_ID), "--volume", "all", "--out", out)
    (tmp_path / "t_density.raw").write_bytes(b"a user's raw file")
    before = snapshot(tmp_path)
    assert_one_line_error(cli_run(*argv), "t_density.raw", "--force")
    assert snapshot(tmp_path) == before
    _ok(cli_run(*argv, "--force"))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([*(f"t_{v}.{e}" for v in ("energy", "intensity", "density") for e in ("mhd", "raw")),
                            "t.mhd.json"])
    assert _side(out)["files"] == [str(tmp_path / f"t_{v}.mhd") for v in ("energy", "intensity", "density")]


def test_an_mhd_never_replaces_its_raw_unasked(tmp_path):
    out = tmp_path / "vol.mhd"
    (tmp_path / "vol.raw").write_bytes(b"somebody's raw volume")
    before = snapshot(tmp_path)
    assert_one_line_error(cli_run("--offline", "export", "volume", PDYN, "--out", out), "vol.raw", "--force")
    assert snapshot(tmp_path) == before
    _ok(cli_run("--offline", "export", "volume", PDYN, "--out", out, "--force"))
    assert (tmp_path / "vol.raw").stat().st_size == 67 * 41 * 58 * 4  # float32, replaced as asked
