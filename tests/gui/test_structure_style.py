"""Structures for figures in the real window: the tree's context menu, surface colours and
opacities, the neutral colour, acronyms on the slices, and sessions keeping all of it.

Offline: Pdyn (71717084) is embedded, so nothing needs a server.
"""
from __future__ import annotations

import numpy as np
import pytest

from allen_viewer.gui.session_views import open_session_file, save_session_file
from allen_viewer.render.structure_style import NEUTRAL_SURFACE_RGB
from tests.gui.offline_window import offline_window
from tests.gui.offline_window import wait as _wait

pytestmark = pytest.mark.gui

PDYN = 71717084
CP, TH = 672, 549


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory, ontology, reference_space, gene_index):
    # the later tests check surfaces next to expression (neutral colour): Pdyn is on show
    with offline_window(tmp_path_factory, ontology, reference_space, gene_index, gene="Pdyn") as w:
        assert w.grid is not None and w.grid.id == PDYN
        yield w


def _action(menu, name):
    for act in menu.findChildren(type(menu.menuAction())):
        if act.objectName() == name:
            return act
    raise AssertionError(f"no action {name}")


def _shown(w, sid) -> bool:
    return _wait(lambda: sid in w.scene.structure_ids and not w.is_busy(), 20_000)


def test_atlas_colours_before_a_gene_and_neutral_once_expression_is_shown(qapp, tmp_path_factory, ontology,
                                                                          reference_space, gene_index):
    # a window of its own, so it starts with no gene whatever ran before (the offline
    # window opens no gene by itself): the atlas-colour check always runs
    with offline_window(tmp_path_factory, ontology, reference_space, gene_index) as w:
        assert w.grid is None
        w.tree_panel.set_visible(TH, True)
        assert _shown(w, TH)
        assert w.scene.structure_color(TH) == tuple(ontology.by_id(TH).color)
        w.request_gene("Pdyn")
        assert _wait(lambda: w.grid is not None and w.grid.id == PDYN and not w.is_busy())
        w.tree_panel.set_visible(TH, True)
        assert _shown(w, TH)
        assert w.scene.structure_color(TH) == NEUTRAL_SURFACE_RGB


def test_the_context_menu_sets_colour_and_opacity_and_the_state_keeps_them(window, ontology):
    w = window
    w.tree_panel.set_visible(TH, True)  # TH shown with its default style, next to CP
    assert _shown(w, TH)
    styles = w.structure_styles
    styles.ask_color = lambda initial, parent, title: (255, 140, 0)  # what the colour dialog returns
    menu = styles.menu_for(CP)
    _action(menu, "structureMenu_colour").trigger()
    assert w.state.structure_style(CP).color == (255, 140, 0)
    assert CP in w.tree_panel.visible_ids() and _shown(w, CP)  # choosing a colour shows the surface
    assert w.scene.structure_color(CP) == (255, 140, 0)
    assert w.tree_panel.model.swatch_color(CP) == (255, 140, 0)

    _action(styles.menu_for(CP), "structureMenu_opacity_75").trigger()
    assert w.state.structure_style(CP).opacity == 0.75
    w.surfaces.select_structure(None)
    assert w.scene.structure_opacity(CP) == pytest.approx(0.75)
    assert w.scene.structure_opacity(TH) == pytest.approx(0.30)
    # the selection brings one forward and dims the others in proportion to their own opacity
    w.surfaces.select_structure(TH)
    from allen_viewer.render.structure_style import HIGHLIGHT_OPACITY

    assert w.scene.structure_opacity(TH) == pytest.approx(HIGHLIGHT_OPACITY)  # a light shell (issue 21)
    assert w.scene.structure_opacity(CP) == pytest.approx(0.30)
    w.surfaces.select_structure(None)

    _action(styles.menu_for(TH), "structureMenu_atlas").trigger()
    assert w.scene.structure_color(TH) == tuple(ontology.by_id(TH).color)  # atlas colour, gene or not

    reset = _action(styles.menu_for(CP), "structureMenu_reset")
    assert reset.isEnabled()
    reset.trigger()
    assert w.state.structure_style(CP) is None
    assert w.scene.structure_color(CP) == NEUTRAL_SURFACE_RGB
    assert w.scene.structure_opacity(CP) == pytest.approx(0.30)
    assert w.tree_panel.model.swatch_color(CP) == tuple(ontology.by_id(CP).color)
    assert not _action(styles.menu_for(CP), "structureMenu_reset").isEnabled()


def test_labels_on_the_slices_follow_the_toggle_and_name_the_striatum(window, qtbot):
    w = window
    w.set_cursor_um(np.array([5200.0, 4200.0, 3800.0]), select=False)
    assert not w.structure_styles.labels_action.isChecked()
    before = w.slices.panes["coronal"].canvas.grab().toImage()
    w.structure_styles.labels_action.trigger()
    assert w.state.structure_labels is True
    qtbot.waitUntil(lambda: "CP" in w.structure_styles.labels.drawn.get("coronal", []), timeout=3000)
    after = w.slices.panes["coronal"].canvas.grab().toImage()
    assert before != after
    drawn = w.structure_styles.labels.drawn
    assert all(drawn.get(name) for name in ("coronal", "sagittal", "horizontal"))
    w.state.structure_labels = False  # e.g. a session without labels
    assert not w.structure_styles.labels_action.isChecked()
    qtbot.waitUntil(lambda: "coronal" not in w.structure_styles.labels.drawn, timeout=3000)


def test_a_session_keeps_styles_and_labels(window, tmp_path):
    w = window
    w.tree_panel.set_visible(CP, True)  # whatever ran before: CP's surface is on show
    assert _shown(w, CP)
    w.structure_styles.set_color(CP, (10, 200, 30))
    w.structure_styles.set_opacity(CP, 0.5)
    w.state.structure_labels = True
    path = tmp_path / "figure.json"
    assert save_session_file(w, path)
    w.structure_styles.reset(CP)
    w.state.structure_labels = False
    assert w.scene.structure_color(CP) == NEUTRAL_SURFACE_RGB
    assert open_session_file(w, path)
    assert _wait(lambda: not w.is_busy() and not w.session.pending)
    assert w.state.structure_style(CP).color == (10, 200, 30) and w.state.structure_labels
    assert w.structure_styles.labels_action.isChecked()
    assert _shown(w, CP)
    assert w.scene.structure_color(CP) == (10, 200, 30)
    w.surfaces.select_structure(None)
    assert w.scene.structure_opacity(CP) == pytest.approx(0.5)
