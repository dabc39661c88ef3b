"""The window's slice panes follow the state and the loaded data (docs/design.md "The data
path"), for what no widget writes into the panes directly:

* the **heat map's lower bound**: with ``state.slices_follow_threshold`` the panes colour only
  voxels whose energy reaches ``state.display.threshold`` (the 3-D view's); without it, every
  voxel with energy > 0;
* the **spatial-correlation map**: ``loaded.rmap`` (written by the Spatial dock) is drawn in
  place of gene A's heat map while it is set, with a cross at its seed.

Each follows whoever changes the field: a control, a key, a session being opened.
"""
from __future__ import annotations

from allen_viewer.gui.binding import follow


def follow_slice_fields(slices, state, loaded) -> None:
    """Make ``slices`` (a :class:`~allen_viewer.gui.slice_view.SlicePanes`) follow ``state``
    (a :class:`~allen_viewer.state.ViewerState`) and ``loaded`` (a
    :class:`~allen_viewer.loaded_data.LoadedData`) as the module docstring says, from now on
    and with their values now; undone when ``slices`` is destroyed."""

    def min_energy(*_args) -> None:
        slices.set_min_energy(state.display.threshold if state.slices_follow_threshold else None)

    def rmap(result, *_old) -> None:
        if result is None:
            slices.set_rmap(None)
        else:
            slices.set_rmap(result.grid(), result.seed_voxel)

    follow(state, "slices_follow_threshold", min_energy, slices)
    follow(state.display, "threshold", min_energy, slices)
    follow(loaded, "rmap", rmap, slices)
    min_energy()
    rmap(loaded.rmap)
