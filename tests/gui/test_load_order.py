"""What the first frame needs comes first; the rest is lazy.

The window loads the gene index and the grid first and the atlas after them; with the
outline mesh cached (an earlier run made it) the 77 MB brain mask is never made, and the
25 µm labels come memory-mapped from the cache.
"""
from __future__ import annotations

import numpy as np
import pytest

from allen_viewer.render.meshes import brain_outline, mesh_cache_path

pytestmark = pytest.mark.gui


def test_grid_before_atlas_and_no_brain_mask_with_a_cached_outline(qtbot, isolated_environment, make_window,
                                                                   reference_space):
    brain_outline(reference_space)  # an earlier run's outline mesh, in this test's own cache
    assert mesh_cache_path(997).is_file()
    # the reference space is loaded for real
    w = make_window(network="offline", size=None, restore_layout=False, notices=False, cache=isolated_environment,
                    preload=("ontology", "gene_index"))
    order = []
    w.gridLoaded.connect(lambda *_: order.append("grid"))
    w.atlasReady.connect(lambda: order.append("atlas"))
    w.outlineReady.connect(lambda: order.append("outline"))
    w.request_gene("Pdyn")
    qtbot.waitUntil(lambda: "outline" in order, timeout=180_000)
    assert order == ["grid", "atlas", "outline"]
    space = w.space
    assert "brain_mask25" not in space.__dict__  # the cached mesh needed no mask
    assert len(list((isolated_environment / "atlas").glob("labels25-*.npy"))) == 1
    base = space.labels25
    while base is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)
    assert w.outline_mesh is not None and w.outline_mesh.n_points > 10_000
