"""Picking in depth in the real window: a click at the centre of Pdyn's oblique view.

Offline: Pdyn (71717084) is embedded, so nothing needs a server.  Run under a display:
``xvfb-run -a -s "-screen 0 1920x1080x24" python -m pytest tests/gui/test_picking_depth.py``.
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from allen_viewer.atlas.reference_space import um_to_ccf25, um_to_grid
from tests.gui.offline_window import offline_window

pytestmark = pytest.mark.gui

PDYN = 71717084


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory, ontology, reference_space, gene_index):
    with offline_window(tmp_path_factory, ontology, reference_space, gene_index, gene="Pdyn") as w:
        assert w.grid.id == PDYN
        yield w


def test_click_on_pdyns_brightest_voxel_in_the_oblique_view_picks_it(qtbot, window, ontology, reference_space):
    w = window
    # the threshold pinned at 1.0, as a user would set it
    w.controls.pinned.setChecked(True)
    w.controls.threshold.setValue(1.0)
    assert w.state.display.threshold_pinned and w.scene.display_settings.threshold == pytest.approx(1.0)
    w.camera_preset("oblique")
    widget = w.scene.plotter
    # the drawn voxel of highest energy (computed here from the grid: in the brain, with data,
    # >= 1.0), and the point of the view it is drawn at: whatever else the ray there crosses,
    # the pick rule (highest energy wins) must give this voxel
    energy = np.where(w.grid.has_data & (w.grid.energy >= 1.0), w.grid.energy, -np.inf)
    top = np.unravel_index(int(np.argmax(energy)), energy.shape)
    from vtkmodules.vtkRenderingCore import vtkCoordinate

    coord = vtkCoordinate()
    coord.SetCoordinateSystemToWorld()
    coord.SetValue(*(200.0 * np.array(top, dtype=float)))
    x, y = coord.GetComputedDoubleDisplayValue(widget.renderer)
    ratio = widget.devicePixelRatioF()
    at = QPoint(round(x / ratio), round(widget.height() - y / ratio))
    with qtbot.waitSignal(w.scene.pointPicked, timeout=3000) as blocker:
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=at)
    um = blocker.args[0]
    i, j, k = um_to_grid(um)
    assert np.allclose(um, (i * 200.0, j * 200.0, k * 200.0))  # a voxel centre
    # the highest-energy voxel on the ray, not the nearest sphere in front of it: this one
    assert w.grid.energy[i, j, k] == energy[top] and (i, j, k) == tuple(int(v) for v in top)
    assert reference_space.grid_structure_ids()[i, j, k] > 0  # in the brain
    assert w.grid.has_data[i, j, k] and w.grid.energy[i, j, k] >= 1.0  # a drawn voxel
    # the slices and the cursor moved there
    qtbot.waitUntil(lambda: np.allclose(w.scene.cursor, w.slices.cursor_um()), timeout=2000)
    a, b, c = um_to_ccf25(um)
    assert w.slices.panes["coronal"].slice_index == a
    assert w.slices.panes["horizontal"].slice_index == b
    assert w.slices.panes["sagittal"].slice_index == c
    assert np.allclose(w.state.cursor_um, w.slices.cursor_um())


def test_below_the_threshold_nothing_there_is_picked(qtbot, window, reference_space):
    """Raising the threshold above the striatal voxels on the ray changes the pick: only
    drawn voxels count."""
    w = window
    w.controls.pinned.setChecked(True)
    w.controls.threshold.setValue(1.0)
    w.camera_preset("oblique")
    size = w.scene.plotter.render_window.GetSize()
    first = w.scene.pick_display(size[0] / 2, size[1] / 2)
    i, j, k = um_to_grid(first)
    strongest = float(w.grid.energy[i, j, k])
    w.controls.threshold.setValue(strongest + 0.01)
    second = w.scene.pick_display(size[0] / 2, size[1] / 2)
    # the ray still crosses the brain: the pick lands either on a sphere still drawn
    # (a voxel centre at or above the new threshold) or, past the spheres, on the brain
    # outline's surface pushed in along the ray; never nothing, never the first voxel
    assert second is not None
    assert not np.allclose(second, first)
    i2, j2, k2 = um_to_grid(second)
    on_voxel = bool(np.allclose(second, np.array([i2, j2, k2]) * 200.0) and w.grid.has_data[i2, j2, k2])
    if on_voxel:
        assert w.grid.energy[i2, j2, k2] >= strongest + 0.01
    else:  # a surface point: on the click's ray
        ren = w.scene.plotter.renderer
        ends = []
        for depth in (0.0, 1.0):
            ren.SetDisplayPoint(size[0] / 2, size[1] / 2, depth)
            ren.DisplayToWorld()
            ends.append(np.array(ren.GetWorldPoint()[:3]) / ren.GetWorldPoint()[3])
        ray = (ends[1] - ends[0]) / np.linalg.norm(ends[1] - ends[0])
        off = (second - ends[0]) - np.dot(second - ends[0], ray) * ray
        assert np.linalg.norm(off) < 1.0  # µm
    w.controls.threshold.setValue(1.0)
