"""The per-gene display: percentile threshold (pinned or not), its histogram, colour by
channel, the outside-brain toggle, and the settings that keep them."""
from __future__ import annotations

import numpy as np
import pytest

from allen_viewer.expression.brain import DEFAULT_THRESHOLD_PERCENTILE, percentile_threshold
from allen_viewer.expression.grid import load_grid
from allen_viewer.render.layers import OUTSIDE_COLOR, build_expression_points
from allen_viewer.gui.scene3d import ExpressionControls, ExpressionScene
from allen_viewer.gui.settings import ViewerSettings
from tests import numpy_reference as ref

pytestmark = pytest.mark.gui

PDYN, NRP1 = 71717084, 74272479


def test_default_threshold_rule_is_the_genes_90th_percentile(grids, reference_space):
    """The rule: 90th percentile of the gene's in-brain energies.  Every expected value is
    computed here by plain numpy from the real files (tests/numpy_reference.py: the embedded
    grid zips, the 200 µm annotation, the ontology JSON); on this data Pdyn's is 7.11 and
    Nrp1's 1.49, the striatum holds about half of Pdyn's drawn voxels and the 85th
    percentile would bury it in cortex (about 1,900 isocortex voxels against 672)."""
    assert DEFAULT_THRESHOLD_PERCENTILE == 90.0
    pdyn, nrp1 = grids[PDYN], grids[NRP1]
    np.testing.assert_array_equal(pdyn.has_data, ref.has_data(PDYN))
    assert percentile_threshold(pdyn) == pytest.approx(ref.percentile(PDYN, 90), rel=1e-12)
    assert percentile_threshold(nrp1) == pytest.approx(ref.percentile(NRP1, 90), rel=1e-12)
    cut90 = ref.percentile(PDYN, 90)
    expected = ref.has_data(PDYN) & (ref.energy(PDYN) >= cut90)
    drawn = pdyn.has_data & (pdyn.energy >= percentile_threshold(pdyn))
    np.testing.assert_array_equal(drawn, expected)
    striatum, isocortex = ref.structure_mask("STR"), ref.structure_mask("Isocortex")
    np.testing.assert_array_equal(reference_space.grid_mask("STR"), striatum)
    np.testing.assert_array_equal(reference_space.grid_mask("Isocortex"), isocortex)
    in_str, in_ctx = int((expected & striatum).sum()), int((expected & isocortex).sum())
    assert int((drawn & striatum).sum()) == in_str and int((drawn & isocortex).sum()) == in_ctx
    assert in_str > expected.sum() * 0.45 and in_ctx < in_str / 4  # the rule's point: striatum, not cortex
    cut85 = ref.percentile(PDYN, 85)
    at85 = pdyn.has_data & (pdyn.energy >= percentile_threshold(pdyn, 85))
    expected85 = int((ref.has_data(PDYN) & (ref.energy(PDYN) >= cut85) & isocortex).sum())
    assert int((at85 & isocortex).sum()) == expected85
    assert expected85 > 2.5 * in_ctx  # the 85th would bring much more cortex in


def test_each_gene_gets_its_own_threshold_unless_pinned(qtbot, grids):
    controls = ExpressionControls()
    qtbot.addWidget(controls)
    controls.set_energy_range(40.0)
    controls.apply_gene(grids[PDYN])
    # the spin box shows two decimals: the rule's value to within its rounding
    assert controls.values()["threshold"] == pytest.approx(ref.percentile(PDYN, 90), abs=0.005)
    assert controls.histogram.counts.sum() == int(ref.has_data(PDYN).sum())
    assert controls.histogram.drawn_fraction() == pytest.approx(0.1, abs=0.02)
    controls.apply_gene(grids[NRP1])
    assert controls.values()["threshold"] == pytest.approx(ref.percentile(NRP1, 90), abs=0.005)
    controls.threshold.setValue(3.0)
    controls.pinned.setChecked(True)
    controls.apply_gene(grids[PDYN])
    assert controls.values()["threshold"] == pytest.approx(3.0)
    controls.pinned.setChecked(False)
    controls.percentile.setValue(85.0)  # recomputed at once for the shown gene
    assert controls.values()["threshold"] == pytest.approx(ref.percentile(PDYN, 85), abs=0.005)


def test_settings_keep_the_rule_and_the_pin(qtbot, tmp_path):
    path = tmp_path / "s.ini"
    controls = ExpressionControls()
    qtbot.addWidget(controls)
    controls.set_values(threshold_percentile=87.5, threshold_pinned=True, color_by="density")
    settings = ViewerSettings(path)
    settings.save_display(controls.saved_values())
    settings.sync()
    back = ViewerSettings(path).display()
    assert back["threshold_percentile"] == 87.5 and back["threshold_pinned"] is True
    assert back["color_by"] == "density"
    other = ExpressionControls()
    qtbot.addWidget(other)
    other.set_values(**back)
    assert other.rule() == {"threshold_percentile": 87.5, "threshold_pinned": True, "color_by": "density"}


def test_colour_by_channel_and_outside_voxels_marked(qtbot, gene_index, tmp_path):
    """A GENERATED grid with all three channels and data outside the brain."""
    from allen_viewer.formats import grid_file as gf

    rng = np.random.default_rng(1)
    energy = rng.uniform(0, 10, gf.GRID_SHAPE).astype(np.float32)
    density = rng.uniform(0, 1, gf.GRID_SHAPE).astype(np.float32)
    intensity = rng.uniform(0, 200, gf.GRID_SHAPE).astype(np.float32)
    gf.write_grid_zip(tmp_path / "g.zip", {"energy": energy, "intensity": intensity, "density": density})
    grid = load_grid(tmp_path / "g.zip", gene_index.by_id(PDYN))
    scene = ExpressionScene()
    qtbot.addWidget(scene)
    scene.resize(400, 300)
    scene.show()
    qtbot.waitExposed(scene)
    try:
        scene.set_display(threshold=0.0)
        scene.set_grid(grid)
        assert scene.expression_points.n_points == int(ref.brain().sum())
        assert scene.color_bar_title.startswith("intensity")
        for channel, volume in (("density", density), ("energy", energy)):
            scene.set_color_by(channel)
            pts = scene.expression_points
            assert channel in scene.color_bar_title  # "density (a.u.)", "expression energy (a.u.)"
            np.testing.assert_array_equal(np.asarray(pts["color_value"]),
                                          volume.ravel()[np.asarray(pts["grid_index"])])
        scene.set_show_outside(True)
        pts = scene.expression_points
        assert pts.n_points == energy.size
        outside = ~ref.brain().ravel()[np.asarray(pts["grid_index"])]
        assert np.isnan(np.asarray(pts["color_value"])[outside]).all()
        assert not np.isnan(np.asarray(pts["color_value"])[~outside]).any()
        nan_rgb = scene.expression_actor.mapper.GetLookupTable().GetNanColor()[:3]
        assert nan_rgb == pytest.approx(OUTSIDE_COLOR) and "outside the brain" in scene.color_bar_title
    finally:
        scene.close_scene()


def test_outside_voxels_are_never_drawn_by_default(grids):
    pts = build_expression_points(grids[PDYN], 0.0)
    assert pts.n_points == int(ref.has_data(PDYN).sum())
    np.testing.assert_array_equal(np.sort(np.asarray(pts["grid_index"])), np.flatnonzero(ref.has_data(PDYN)))
