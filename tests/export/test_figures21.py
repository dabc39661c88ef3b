"""Figures a journal would take (issue 21): the colour bar says what is drawn, labels stay off
the data, the 1 mm scale bar is 1 mm, the compare figure says what each panel shows, and
nothing overlaps at 480x360.  Expected values come from plain numpy on the embedded Pdyn and
Nrp1 grids; text boxes are read from the renderer."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from vtkmodules.vtkRenderingCore import vtkCoordinate, vtkTextActor

from allen_viewer import cli, config
from allen_viewer.expression.brain import percentile_threshold
from allen_viewer.expression.grid import load_grid
from allen_viewer.export.compare_image import panel_titles, render_compare
from allen_viewer.export.image import offscreen_scene
from allen_viewer.render.figure_overlays import GE, nice_step, round_ticks, text_box
from allen_viewer.state import CompareOptions, read_session

pytestmark = pytest.mark.usefixtures("no_anti_aliasing")  # tests/conftest.py

NRP1_CORONAL = 74272479
IN_PLANE = {"dorsal": {"anterior", "posterior", "left", "right"},
            "lateral": {"anterior", "posterior", "dorsal", "ventral"},
            "anterior": {"dorsal", "ventral", "left", "right"}}


@pytest.fixture(scope="module")
def nrp1(gene_index):
    return load_grid(config.resources_dir() / "grids" / f"{NRP1_CORONAL}.zip", gene_index.by_id(NRP1_CORONAL))


def _visible_texts(plotter):
    """[(text, (x0, x1, y0, y1))] of every visible 2-D text drawn, in display pixels."""
    out = []
    for ren in plotter.render_window.GetRenderers():
        for prop in ren.GetViewProps():
            if isinstance(prop, vtkTextActor) and prop.GetVisibility() and (prop.GetInput() or "").strip():
                out.append((prop.GetInput(), text_box(prop, ren)))
    return out


def _overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _world_to_display(renderer, points) -> np.ndarray:
    c = vtkCoordinate()
    c.SetCoordinateSystemToWorld()
    return np.array([c.GetComputedDoubleDisplayValue(renderer) if c.SetValue(*p) is None else None
                     for p in np.asarray(points, float)])


# ---- colour bar ----------------------------------------------------------------------------

def test_round_ticks_are_round_and_inside():
    assert round_ticks(7.11, 21.4, 4) == [10.0, 15.0, 20.0]
    assert nice_step(0.1, 5) == pytest.approx(0.02)
    assert round_ticks(0.9, 1.0, 4) == pytest.approx([0.9, 0.925, 0.95, 0.975, 1.0])


def test_the_colour_bar_runs_from_the_threshold_to_the_top_and_says_clipped(pdyn, outline):
    threshold = percentile_threshold(pdyn, 90.0)
    in_brain = pdyn.energy[pdyn.has_data].astype(np.float64)
    top = float(np.percentile(in_brain, 99.0))
    assert in_brain.max() > top  # Pdyn's strongest voxels are above the bar's top
    with offscreen_scene(pdyn, outline, (1200, 900), "oblique", display={"threshold": threshold}) as scene:
        scene.screenshot()
        bar = scene.layer.colour_bar
        assert bar.lo == pytest.approx(threshold) and bar.hi == pytest.approx(top, rel=1e-5)
        assert scene.layer.color_range == pytest.approx((threshold, top), rel=1e-5)
        assert bar.title == "expression energy (a.u.)"
        labels = bar.label_texts
        assert labels[0] == f"{threshold:.3g}" and labels[-1] == f"{GE} {top:.3g}"
        interior = [float(t) for t in labels[1:-1]]
        assert len(interior) >= 1
        steps = np.diff(interior) if len(interior) > 1 else [nice_step(top - threshold, 4)]
        step = float(steps[0])
        assert np.allclose(steps, step)
        mag = 10 ** math.floor(math.log10(step))
        assert any(math.isclose(step, m * mag) for m in (1, 2, 2.5, 5))  # 1, 2, 2.5 or 5 x 10^k
        for v in interior:
            assert threshold < v < top
            assert abs(v / step - round(v / step)) < 1e-9  # a multiple of the round step
        boxes = [box for text, box in _visible_texts(scene.plotter) if text in labels]
        assert len(boxes) == len(labels)
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not _overlap(a, b)
        # the bar's colours: the lookup table's ends are the bar's ends
        lut = scene.layer.actor.mapper.lookup_table
        assert tuple(lut.scalar_range) == pytest.approx((threshold, top), rel=1e-5)


def test_a_bar_without_clipping_has_a_plain_top(pdyn, outline):
    # threshold above the 99th percentile: the bar's top is still the 99th percentile, so the
    # drawn voxels above it are clipped; with the colour range set to the maximum nothing is
    with offscreen_scene(pdyn, outline, (800, 600), "dorsal", display={"threshold": 5.0}) as scene:
        top = float(pdyn.energy[pdyn.has_data].max())
        scene.layer.set_scale(color_max=top)
        scene.screenshot()
        assert not scene.layer.colour_bar.label_texts[-1].startswith(GE)
        assert scene.layer.colour_bar.label_texts[-1] == f"{top:.3g}"


# ---- orientation words, presets, scale bar --------------------------------------------------

@pytest.mark.parametrize("view", ["dorsal", "lateral", "anterior"])
def test_in_plane_words_sit_outside_the_projected_brain(pdyn, outline, view):
    with offscreen_scene(pdyn, outline, (1200, 900), view, display={"threshold": 7.0}, name_view=True) as scene:
        scene.screenshot()
        words = scene.overlay.words
        assert set(words.visible_words()) == IN_PLANE[view]
        ren = scene.plotter.renderer
        pts = np.asarray(outline.points)[::7]
        xy = _world_to_display(ren, pts)
        brain = (xy[:, 0].min(), xy[:, 0].max(), xy[:, 1].min(), xy[:, 1].max())
        for word in IN_PLANE[view]:
            box = text_box(words.actors[word], scene.overlay.label_renderer)
            assert not _overlap(box, brain), (word, box, brain)
            assert box[0] >= 0 and box[1] <= 1200 and box[2] >= 0 and box[3] <= 900
        # the preset names itself in the caption
        texts = [t for t, _ in _visible_texts(scene.plotter)]
        name = {"dorsal": "dorsal view", "lateral": "left lateral view", "anterior": "anterior view"}[view]
        assert any(name in t for t in texts)


@pytest.mark.parametrize("view", ["dorsal", "lateral", "anterior"])
def test_presets_are_parallel_with_a_1_mm_scale_bar(pdyn, outline, view):
    with offscreen_scene(pdyn, outline, (1000, 800), view) as scene:
        scene.screenshot()
        cam = scene.plotter.camera
        assert cam.GetParallelProjection()
        bar = scene.overlay.scale_bar
        assert bar.visible
        # 1 mm on the focal plane, projected by VTK itself, across the screen
        fp = np.array(cam.GetFocalPoint())
        dop = np.array(cam.GetDirectionOfProjection())
        right = np.cross(dop, np.array(cam.GetViewUp()))
        right /= np.linalg.norm(right)
        ends = _world_to_display(scene.plotter.renderer, [fp, fp + 1000.0 * right])
        one_mm_px = float(np.linalg.norm(ends[1, :2] - ends[0, :2]))
        assert abs(bar.length_px - one_mm_px) <= 1.0
        assert bar.length_px == pytest.approx(1000.0 * 800 / (2 * cam.GetParallelScale()), abs=1.0)
        x0, x1, _, _ = bar.rect
        assert x1 - x0 == bar.length_px


def test_the_oblique_view_stays_in_perspective_without_a_scale_bar(pdyn, outline):
    with offscreen_scene(pdyn, outline, (800, 600), "oblique") as scene:
        scene.screenshot()
        assert not scene.plotter.camera.GetParallelProjection()
        assert not scene.overlay.scale_bar.visible and scene.overlay.scale_bar.length_px == 0


# ---- small sizes ---------------------------------------------------------------------------

@pytest.mark.parametrize("view", ["oblique", "dorsal", "lateral", "anterior"])
def test_nothing_overlaps_or_is_cut_off_at_480x360(pdyn, outline, view):
    with offscreen_scene(pdyn, outline, (480, 360), view, display={"threshold": 7.0}, name_view=True) as scene:
        scene.screenshot()
        texts = _visible_texts(scene.plotter)
        names = [t for t, _ in texts]
        assert "expression energy (a.u.)" in names and any(t.startswith(GE) for t in names)
        for text, box in texts:
            assert box[0] >= 0 and box[1] <= 480 and box[2] >= 0 and box[3] <= 360, (text, box)
        for i, (ta, a) in enumerate(texts):
            for tb, b in texts[i + 1:]:
                assert not _overlap(a, b), (ta, tb)
        # the colour bar itself against every text but its own labels and title
        bar = scene.layer.colour_bar.bar_rect
        for text, box in texts:
            assert not _overlap(box, bar), text
        marker = scene.overlay.marker_renderer.GetViewport()
        mbox = (marker[0] * 480, marker[2] * 480, marker[1] * 360, marker[3] * 360)
        for word in scene.overlay.words.visible_words():
            assert not _overlap(text_box(scene.overlay.words.actors[word], scene.overlay.label_renderer), mbox), word


# ---- compare ------------------------------------------------------------------------------

def test_compare_defaults_to_ranks_and_titles_each_panel(pdyn, nrp1, outline):
    options = CompareOptions()
    assert options.normalise == "rank"
    assert panel_titles(pdyn, nrp1, options) == ["A: Pdyn (percentile rank)", "B: Nrp1 (percentile rank)",
                                                 "A - B (rank difference)"]
    pixels, drawn = render_compare(pdyn, nrp1, outline, (960, 420), "dorsal", options)
    assert pixels.shape == (420, 960, 3)
    assert drawn["titles"] == panel_titles(pdyn, nrp1, options)
    assert drawn["colour_bar_titles"][:2] == ["percentile rank (shared scale)"] * 2  # as the window's bars
    assert drawn["colour_bar_titles"][2].startswith("rank difference")
    # each gene from its own 90th percentile; the shared rank range ends at 1
    assert drawn["threshold_a"] == pytest.approx(np.percentile(pdyn.energy[pdyn.has_data].astype(np.float64), 90))
    assert drawn["threshold_b"] == pytest.approx(np.percentile(nrp1.energy[nrp1.has_data].astype(np.float64), 90))
    assert drawn["colour_ranges"][0] == drawn["colour_ranges"][1]
    assert drawn["colour_ranges"][0][1] == 1.0 and 0.85 < drawn["colour_ranges"][0][0] < 0.95
    lo, hi = drawn["colour_ranges"][2]
    assert lo == -hi and hi > 0
    # r is the Pearson r of energy over the in-brain voxels where both have data
    both = pdyn.has_data & nrp1.has_data
    r = np.corrcoef(pdyn.energy[both].astype(np.float64), nrp1.energy[both].astype(np.float64))[0, 1]
    assert drawn["r_energy"] == pytest.approx(r, abs=1e-9)
    assert drawn["voxels_both"] == int(both.sum())


def test_cli_compare_image_writes_the_figure_and_a_session_that_reopens_it(tmp_path, capsys):
    out = tmp_path / "cmp.png"
    rc = cli.main(["--offline", "export", "image", "Pdyn", "--compare", "Nrp1", "--out", str(out),
                   "--size", "900x400", "--view", "lateral", "--difference", "log2", "--threshold-percentile", "85"])
    assert rc == 0, capsys.readouterr().err
    assert out.is_file()
    side = out.with_name(out.name[:-4] + ".json")
    if not side.exists():
        side = out.with_name(out.name + ".json")
    record = json.loads(side.read_text())
    assert record["compare"]["normalise"] == "rank" and record["compare"]["kind"] == "ratio"
    assert record["compare"]["titles"][2] == "log2 A / B (rank ratio)"
    state = read_session(side)
    assert state.comparing and state.compare_options.kind == "ratio" and state.compare_options.normalise == "rank"
    assert state.display.threshold_percentile == 85.0 and state.camera.preset == "lateral"
    assert state.camera.projection == "parallel"
    assert cli.main(["--offline", "export", "image", "Pdyn", "--compare", "Nrp1", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "exists" in err and "Traceback" not in err
