"""Image exports of the 3-D view draw the session's structure surfaces and cursor (issue 25).

Off-screen renders of the real embedded Pdyn grid and the real CCFv3 annotation's meshes;
expected opacities come from :mod:`allen_viewer.render.structure_style`'s rule.
"""
from __future__ import annotations

import numpy as np
import pytest

from allen_viewer.export.image import render_scene
from allen_viewer.render.scene import Scene
from allen_viewer.render.session_scene import session_layers
from allen_viewer.render.structure_style import NEUTRAL_SURFACE_RGB, shown_opacity
from allen_viewer.state import StructureStyle, ViewerState

pytestmark = pytest.mark.usefixtures("no_anti_aliasing")  # tests/conftest.py

ORANGE = (255, 140, 0)
SIZE = (480, 360)


@pytest.fixture(scope="module")
def cp_aon(reference_space):
    onto = reference_space.ontology
    return onto.get("CP").id, onto.get("AON").id


def _session(cp, aon, cursor=None) -> ViewerState:
    state = ViewerState()
    state.visible_structures = (cp,)
    state.selected_structure = aon
    state.structure_styles = (StructureStyle(cp, ORANGE, 0.8),)
    if cursor is not None:
        state.cursor_um = cursor
    return state


def test_session_layers_follow_the_window_rule(reference_space, cp_aon):
    cp, aon = cp_aon
    layers = session_layers(_session(cp, aon), reference_space, expression_shown=True)
    described = {s["id"]: s for s in layers.describe()["structure_surfaces"]}
    assert set(described) == {cp, aon}  # the ticked one and the selected one
    assert described[cp]["rgb"] == list(ORANGE) and described[cp]["opacity"] == 0.8
    assert described[aon]["rgb"] == list(NEUTRAL_SURFACE_RGB)  # no style: the neutral colour with a gene shown
    assert layers.highlight == aon


def test_exported_image_draws_the_ticked_surface(pdyn, outline, reference_space, cp_aon):
    cp, aon = cp_aon
    display = {"threshold": float(np.nanmax(pdyn.energy)) + 1}  # no spheres: only the surfaces can differ
    plain = render_scene(pdyn, outline, SIZE, "lateral", display=display, caption="", orientation=False)
    layers = session_layers(_session(cp, aon), reference_space)
    layers.cursor_um = None
    drawn = render_scene(pdyn, outline, SIZE, "lateral", display=display, caption="", orientation=False,
                         session_layers=layers)
    changed = np.abs(drawn.astype(int) - plain.astype(int)).sum(axis=2) > 30
    assert changed.sum() > 500, "the structure surfaces are not in the image"
    px = drawn[changed].astype(int)
    orange = (px[:, 0] > px[:, 2] + 60) & (px[:, 0] >= px[:, 1])
    assert orange.sum() > 200, "the ticked CP is not drawn in its chosen orange"


def test_exported_image_draws_the_cursor(pdyn, outline, reference_space, cp_aon):
    display = {"threshold": float(np.nanmax(pdyn.energy)) + 1}
    state = ViewerState()
    state.cursor_um = (5200.0, 4200.0, 3800.0)
    plain = render_scene(pdyn, outline, SIZE, "lateral", display=display, caption="", orientation=False)
    drawn = render_scene(pdyn, outline, SIZE, "lateral", display=display, caption="", orientation=False,
                         session_layers=session_layers(state, reference_space))
    changed = np.abs(drawn.astype(int) - plain.astype(int)).sum(axis=2) > 30
    px = drawn[changed].astype(int)
    red = (px[:, 0] > 150) & (px[:, 1] < 120) & (px[:, 2] < 120)
    assert red.sum() > 30, "the red cursor is not in the image"


def test_dimmed_ticked_surface_keeps_the_floor(reference_space, cp_aon):
    import pyvista as pv

    cp, aon = cp_aon
    state = _session(cp, aon)
    state.structure_styles = ()
    scene = Scene(pv.Plotter(off_screen=True, window_size=(64, 64)))
    try:
        session_layers(state, reference_space, cursor=False).add_to(scene)
        layer = scene.layers["structures"]
        assert layer.opacity(cp) == pytest.approx(shown_opacity(0.30, False, True))
        assert layer.opacity(aon) == pytest.approx(shown_opacity(0.30, True, False))
    finally:
        scene.close()
