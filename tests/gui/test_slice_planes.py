"""Slice planes and cut-aways in the viewer's 3-D view (View > Slice planes in 3-D, View > Cut away).

Run under a display: ``xvfb-run -a -s "-screen 0 1920x1080x24" python -m pytest tests/gui/test_slice_planes.py``.
The scene, the slice panes and the menu actions are wired as the window wires them (the
window's cursor timer calls ``scene.set_cursor`` when the panes' cursor moves).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import pyvista as pv
from PIL import Image

from allen_viewer.formats.grid_file import GRID_SPACING_UM
from allen_viewer.gui.export_actions import ImageExportDialog
from allen_viewer.gui.scene3d import ExpressionScene
from allen_viewer.gui.scene_figure import CUT_LABELS, SceneFigureActions
from allen_viewer.gui.slice_view import SlicePanes
from allen_viewer.render.cuts import MIDLINE_UM
from allen_viewer.state import ViewerState

pytestmark = pytest.mark.gui

PDYN = 71717084


@pytest.fixture
def rig(qtbot, reference_space, pdyn, outline):
    pv.global_theme.anti_aliasing = None
    scene = ExpressionScene()
    qtbot.addWidget(scene)
    scene.resize(640, 480)
    scene.show()
    qtbot.waitExposed(scene)
    slices = SlicePanes()
    qtbot.addWidget(slices)
    slices.set_reference_space(reference_space)
    slices.set_grid(pdyn)
    slices.cursorMoved.connect(scene.set_cursor)
    scene.set_brain_outline(outline)
    scene.set_display(threshold=15.0)  # few spheres: the planes show
    scene.set_grid(pdyn)
    scene.set_cursor(slices.cursor_um())
    actions = SceneFigureActions(scene, scene, slices)
    yield scene, slices, actions
    scene.close_scene()


def _pixels(scene) -> np.ndarray:
    scene.render()
    return np.asarray(scene.plotter.screenshot(None, return_img=True))[:, :, :3].astype(int)


def test_the_scene_holds_named_layers(rig):
    scene, _slices, _actions = rig
    assert set(scene.layers) == {"outline", "structures", "cursor", "expression", "planes", "caption"}
    assert scene.layers["expression"] is scene.layer
    for layer in scene.layers.values():
        assert callable(layer.set_data) and callable(layer.set_cut) and callable(layer.detach)


def test_planes_toggle_follow_the_sliders_and_the_panes_look(qtbot, rig):
    scene, slices, actions = rig
    before = _pixels(scene)
    actions.planes_action.trigger()
    assert actions.planes_shown and sorted(scene.slice_planes_shown) == ["coronal", "horizontal", "sagittal"]
    planes = scene.layers["planes"]
    assert planes.indices == {name: int(v) for name, v in
                              zip(("coronal", "horizontal", "sagittal"), slices.cursor_index()[[0, 1, 2]])}
    shown = _pixels(scene)
    if os.environ.get("ALLEN_VIEWER_TEST_SHOTS"):  # to look at by hand
        Image.fromarray(shown.astype(np.uint8)).save(os.environ["ALLEN_VIEWER_TEST_SHOTS"])
    assert (np.abs(shown - before).sum(axis=2) > 30).mean() > 0.05  # the planes are drawn

    slices.panes["coronal"].slider.setValue(150)  # a user drags the coronal slider
    assert planes.indices["coronal"] == 150
    coronal = planes.meshes_by_plane["coronal"]
    assert np.allclose(np.asarray(coronal.cell_centers().points)[:, 0], 150 * 25.0)
    assert (np.abs(_pixels(scene) - shown).sum(axis=2) > 30).mean() > 0.005

    colours = np.asarray(planes.meshes_by_plane["sagittal"].cell_data["rgb"]).copy()
    slices.set_cmap("magma")  # the panes' look changes: the planes are drawn again
    assert not np.array_equal(np.asarray(planes.meshes_by_plane["sagittal"].cell_data["rgb"]), colours)
    image = slices.layers.render(slices.panes["sagittal"].plane, slices.panes["sagittal"].slice_index)
    assert {tuple(c) for c in np.asarray(planes.meshes_by_plane["sagittal"].cell_data["rgb"])[::97]} <= \
        {tuple(c) for c in image.reshape(-1, 3)}

    actions.planes_action.trigger()
    assert scene.slice_planes_shown == []
    assert (np.abs(_pixels(scene) - before).sum(axis=2) > 30).mean() < 0.01


def test_cut_away_left_hides_the_left_spheres_and_cuts_the_outline(rig):
    scene, slices, actions = rig
    n = scene.expression_points.n_points
    assert set(CUT_LABELS) >= {"none", "left", "right"}
    actions.cut_actions["left"].trigger()
    assert scene.cut_away_name == "left" and actions.cut == "left"
    ml = np.asarray(scene.expression_points.points)[:, 2] / GRID_SPACING_UM
    assert ml.min() >= 29 and scene.expression_points.n_points < n
    outline = scene.layers["outline"]
    assert outline.face_actor is not None  # the cut face
    assert outline.actor.GetMapper().GetInput().GetBounds()[4] >= MIDLINE_UM - 1
    actions.cut_actions["none"].trigger()
    assert scene.expression_points.n_points == n and scene.layers["outline"].face_actor is None


def test_a_slice_relative_cut_moves_with_the_slices(rig):
    scene, slices, actions = rig
    actions.set_cut("anterior")
    slices.panes["coronal"].slider.setValue(200)  # AP 5000 µm
    ap = np.asarray(scene.expression_points.points)[:, 0]
    assert ap.min() >= 5000.0
    slices.panes["coronal"].slider.setValue(320)  # AP 8000 µm
    assert np.asarray(scene.expression_points.points)[:, 0].min() >= 8000.0
    actions.set_cut("none")


def test_the_menus_write_the_state_and_the_scene_follows_it(rig):
    scene, slices, _actions = rig
    state = ViewerState()
    actions = SceneFigureActions(scene, scene, slices, state)
    actions.cut_actions["right"].trigger()  # the menu writes the state ...
    assert state.cut_away == "right" and scene.cut_away_name == "right"
    actions.planes_action.trigger()
    assert state.slice_planes and actions.planes_shown and scene.slice_planes_shown
    state.update_from(ViewerState(cut_away="left", slice_planes=False))  # ... and a reopened session drives both
    assert scene.cut_away_name == "left" and actions.cut_actions["left"].isChecked()
    assert not actions.planes_shown and scene.slice_planes_shown == []
    bound = SceneFigureActions(scene, scene, slices, ViewerState(cut_away="anterior", slice_planes=True))
    assert scene.cut_away_name == "anterior" and bound.planes_shown  # a state set before the menu exists
    bound.set_planes(False)
    bound.set_cut("none")


def test_the_export_dialog_offers_cut_and_planes(qtbot):
    dialog = ImageExportDialog(None, (800, 600), "left", True)
    qtbot.addWidget(dialog)
    values = dialog.values()
    assert values["clip"] == "left" and values["planes"] is True
    dialog.clip_box.setCurrentIndex(dialog.clip_box.findData("dorsal"))
    dialog.planes_box.setChecked(False)
    assert dialog.values()["clip"] == "dorsal" and dialog.values()["planes"] is False
    assert ImageExportDialog(None).values()["clip"] == "none"


def test_the_gui_export_draws_the_panes_slices_and_the_cut(rig, outline):
    """ExportActions.figure_options: the slices at the panes' cursor, drawn from the panes'
    own SliceLayers; the off-screen render then has the cut and the planes."""
    from types import SimpleNamespace

    from allen_viewer.export.image import render_scene
    from allen_viewer.gui.export_actions import ExportActions

    _scene, slices, _actions = rig
    slices.set_cursor_um((5000.0, 4000.0, 6500.0))
    exports = SimpleNamespace(views=SimpleNamespace(figure_slices=lambda: slices))  # ExportViews, in part
    figure = ExportActions.figure_options(exports, "left", True)
    assert figure.clip == "left" and figure.planes and figure.source is slices.layers
    assert figure.positions_um == (5000.0, 4000.0, 6500.0)
    plain = render_scene(None, outline, (320, 240), "dorsal", caption="", orientation=False)
    drawn = render_scene(None, outline, (320, 240), "dorsal", caption="", orientation=False, figure=figure)
    assert (np.abs(drawn.astype(int) - plain.astype(int)).sum(axis=2) > 30).mean() > 0.05
    assert ExportActions.figure_options(exports).planes is False
