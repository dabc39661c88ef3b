"""``export image|movie --session FILE`` (issue 19 item 5): a figure redrawn from its session.

* a compare session with separate scales and a log2 ratio of percentile ranks is drawn as
  the three panels with those options: the titles and colour bars say them, each gene's
  colour range is its own (plain numpy: mid-ranks of its in-brain energies, from its own
  90th percentile), and the sidecar carries the options and reopens the same session;
* flags beside the session override it (``--threshold``, ``--view``, ``--size``);
* ``--no-caption`` leaves the title and credit line out (the top-left corner is background);
* the public functions :func:`export_session_image` / :func:`export_session_movie`;
* bad input: one error line, nothing written.

Runs in process (``cli.main``) on the real embedded Pdyn (71717084) and Nrp1 (74272479)
grids, offline.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from allen_viewer import cli
from allen_viewer.export.image import DEFAULT_IMAGE_SIZE, export_session_image
from allen_viewer.export.movie import export_session_movie
from allen_viewer.state import ExperimentRef, ViewerState, read_session, write_session
from tests import numpy_reference as ref

pytestmark = pytest.mark.usefixtures("no_anti_aliasing")  # tests/conftest.py

PDYN, NRP1 = 71717084, 74272479


def _run(capsys, *args) -> tuple[int, str, str]:
    rc = cli.main(["--offline", "export", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def _ref(gene_index, eid) -> ExperimentRef:
    return ExperimentRef.of(gene_index.by_id(eid))


def _gene_session(gene_index) -> ViewerState:
    state = ViewerState(experiment=_ref(gene_index, PDYN))
    state.display.threshold = ref.percentile(PDYN, 90.0)
    state.camera.preset = "lateral"
    state.camera.projection = "parallel"
    return state


def test_a_compare_session_draws_its_options(tmp_path, capsys, gene_index):
    state = ViewerState(experiment=_ref(gene_index, PDYN), compare_with=_ref(gene_index, NRP1), comparing=True)
    state.display.threshold_percentile = 90.0
    o = state.compare_options
    o.scale, o.kind, o.normalise = "separate", "ratio", "rank"
    session = write_session(tmp_path / "compare.json", state)
    out = tmp_path / "compare.png"
    rc, stdout, err = _run(capsys, "image", "--session", session, "--size", "1200x500", "--out", out)
    assert rc == 0, err
    assert "1200x500 image of Pdyn" in stdout and "Nrp1" in stdout and "compare.png.json" in stdout
    assert Image.open(out).size == (1200, 500)
    side = json.loads((tmp_path / "compare.png.json").read_text())
    c = side["compare"]
    assert (c["scale"], c["kind"], c["normalise"]) == ("separate", "ratio", "rank")
    assert c["titles"] == ["A: Pdyn (percentile rank)", "B: Nrp1 (percentile rank)", "log2 A / B (rank ratio)"]
    assert c["colour_bar_titles"][:2] == ["percentile rank"] * 2  # not "(shared scale)"
    assert "log2" in c["colour_bar_titles"][2]
    # separate scales: each gene's colour range is its own drawn voxels' lowest rank to 1
    for n, eid in enumerate((PDYN, NRP1)):
        e = ref.energy(eid)[ref.has_data(eid)].astype(np.float64)
        ranks = ref.mid_ranks(e)
        low = ranks[e >= ref.percentile(eid, 90.0)].min()
        assert c["colour_ranges"][n] == pytest.approx([low, 1.0], abs=1e-6)
    assert c["colour_ranges"][0] != c["colour_ranges"][1]
    # the sidecar reopens the same comparison
    back = read_session(tmp_path / "compare.png.json")
    assert back.comparing and back.compare_with.id == NRP1
    assert (back.compare_options.scale, back.compare_options.kind) == ("separate", "ratio")


def test_flags_beside_the_session_override_it(tmp_path, capsys, gene_index):
    session = write_session(tmp_path / "s.json", _gene_session(gene_index))
    out = tmp_path / "o.png"
    rc, stdout, err = _run(capsys, "image", "--session", session, "--threshold", 15, "--view", "dorsal",
                           "--size", "400x300", "--out", out)
    assert rc == 0, err
    side = json.loads((tmp_path / "o.png.json").read_text())
    assert side["camera"] == {"preset": "dorsal"}
    assert side["display"]["energy_threshold"] == 15.0
    drawn = int((ref.has_data(PDYN) & (ref.energy(PDYN) >= 15.0)).sum())
    assert side["display"]["voxels_drawn"] == drawn
    back = read_session(tmp_path / "o.png.json")
    assert back.camera.preset == "dorsal" and back.display.threshold == 15.0 and back.display.threshold_pinned


def test_no_caption_leaves_out_title_and_credit(tmp_path, gene_index):
    state = _gene_session(gene_index)
    with_caption = export_session_image(state, tmp_path / "c.png", size=(480, 360))
    without = export_session_image(state, tmp_path / "n.png", size=(480, 360), caption=False)
    assert [p.name for p in with_caption] == ["c.png", "c.png.json"]
    assert [p.name for p in without] == ["n.png", "n.png.json"]
    a = np.asarray(Image.open(with_caption[0]).convert("RGB")).astype(int)
    b = np.asarray(Image.open(without[0]).convert("RGB")).astype(int)
    background = b[-1, -1]
    # the title's corner (top left) and the credit's (bottom right): text with, background without
    for rows, cols in ((slice(0, 30), slice(0, 150)), (slice(-14, None), slice(-200, None))):
        assert (np.abs(b[rows, cols] - background).sum(axis=2) < 30).all()
        assert (np.abs(a[rows, cols] - background).sum(axis=2) > 200).sum() > 20
    assert json.loads((tmp_path / "n.png.json").read_text())["caption"] is False


def test_a_movie_from_a_session(tmp_path, gene_index):
    files = export_session_movie(_gene_session(gene_index), tmp_path / "t.gif", size=(240, 180), frames=4, fps=10)
    assert [p.name for p in files] == ["t.gif", "t.gif.json"]
    import imageio.v3 as iio

    frames = iio.imread(files[0], index=None, plugin="pillow", mode="RGB")
    assert frames.shape == (4, 180, 240, 3)
    side = json.loads(files[1].read_text())
    assert side["session"]["camera"]["preset"] == "lateral"
    assert side["display"]["energy_threshold"] == pytest.approx(ref.percentile(PDYN, 90.0))


@pytest.mark.parametrize("extra, message", [
    (["Pdyn"], "Give either --session or an experiment, not both"),
    (["--clip", "left"], "leave out --clip, --planes and --slices"),
])
def test_bad_combinations_are_one_line(tmp_path, capsys, gene_index, extra, message):
    session = write_session(tmp_path / "s.json", _gene_session(gene_index))
    rc, stdout, err = _run(capsys, "image", "--session", session, "--out", tmp_path / "x.png", *extra)
    assert rc != 0 and message in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_a_session_without_a_gene_is_refused(tmp_path, capsys):
    session = write_session(tmp_path / "empty.json", ViewerState())
    rc, stdout, err = _run(capsys, "image", "--session", session, "--out", tmp_path / "x.png")
    assert rc != 0 and "The session shows no gene" in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_default_size(tmp_path, gene_index):
    png, _side = export_session_image(_gene_session(gene_index), tmp_path / "d.png")
    assert Image.open(png).size == DEFAULT_IMAGE_SIZE
