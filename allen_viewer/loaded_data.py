"""What the viewer has loaded, as one Qt-free evented holder: :class:`LoadedData`.

:class:`~allen_viewer.state.ViewerState` says *what* is on show (small values a session
saves); :class:`LoadedData` holds the loaded objects that show it: the gene index, the
ontology and the reference space (the atlas), the expression grids of the gene on show
(A) and of the gene compared with (B), the brain outline mesh and the Nissl volume made
ready for the slice panes.  The loaders (``allen_viewer.gui.loaders``) write it; the
window, the compare view and the exports read it and subscribe to its events.  One field is
computed rather than loaded: ``rmap``, the spatial-correlation map the Spatial dock writes and
the slice panes and the 3-D view draw in place of gene A's heat map and spheres.  Nothing
here is saved: a session reopens by loading again.

Events (`psygnal <https://psygnal.readthedocs.io>`_, as the state's): every field has a
signal ``loaded.events.<field>`` that fires ``(new, old)`` when the field is set to
another object (identity, not equality: arrays and meshes are never compared element by
element), and ``loaded.events.all`` relays every change with the field's name.  Callbacks
run in the thread that sets the field; the GUI sets them in its UI thread only.

Units and axes: grids are (AP, DV, ML) at 200 µm (``allen_viewer.expression.grid``); the
outline mesh is in CCF µm; the Nissl volume is the 25 µm (AP, DV, ML) greyscale the slice
panes draw (uint8, 0 outside the brain when the atlas was in when it was made).
"""
from __future__ import annotations

from typing import Any

from psygnal import Signal, SignalGroup

FIELDS = ("index", "ontology", "space", "grid", "compare_grid", "outline_mesh", "nissl", "rmap")
"""The fields of :class:`LoadedData`, in the order a viewer loads them (roughly)."""


class LoadedDataEvents(SignalGroup):
    """The signals of :class:`LoadedData`: one per field, each ``(new, old)``."""

    index = Signal(object, object)
    ontology = Signal(object, object)
    space = Signal(object, object)
    grid = Signal(object, object)
    compare_grid = Signal(object, object)
    outline_mesh = Signal(object, object)
    nissl = Signal(object, object)
    rmap = Signal(object, object)


class _Field:
    """A field whose setting emits ``events.<name>(new, old)`` when the object changes."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return obj._values[self.name]

    def __set__(self, obj, value) -> None:
        old = obj._values[self.name]
        if value is old:
            return
        obj._values[self.name] = value
        getattr(obj.events, self.name).emit(value, old)


class LoadedData:
    """The loaded objects a viewer shows (see the module docstring); every field starts None.

    ``index``: :class:`~allen_viewer.store.gene_index.GeneIndex`; ``ontology``:
    :class:`~allen_viewer.atlas.ontology.Ontology`; ``space``:
    :class:`~allen_viewer.atlas.reference_space.ReferenceSpace` (set after ``ontology``:
    a subscriber to ``space`` finds both); ``grid``: the
    :class:`~allen_viewer.expression.grid.ExpressionGrid` of the gene on show (A);
    ``compare_grid``: gene B of compare mode; ``outline_mesh``: the brain outline
    (``pyvista.PolyData``, CCF µm); ``nissl``: the slice panes' Nissl greyscale (uint8,
    25 µm, (AP, DV, ML)); ``rmap``: the spatial-correlation map on show in place of gene A
    (a :class:`~allen_viewer.library.spatial.SpatialResult`: its ``grid()`` of r on the 200 µm
    grid, NaN without a result, and its ``seed_voxel``), None when gene A's own values show.
    """

    index = _Field()
    ontology = _Field()
    space = _Field()
    grid = _Field()
    compare_grid = _Field()
    outline_mesh = _Field()
    nissl = _Field()
    rmap = _Field()

    def __init__(self) -> None:
        self._values: dict[str, Any] = dict.fromkeys(FIELDS)
        self.events = LoadedDataEvents()

    @property
    def atlas_loaded(self) -> bool:
        """True once the reference space (and with it the ontology) is in."""
        return self.space is not None

    @property
    def grids(self) -> dict[int, Any]:
        """The grids held, by Allen experiment id: gene A's and, when loaded, gene B's."""
        return {g.id: g for g in (self.grid, self.compare_grid) if g is not None}

    def grids_on_show(self, comparing: bool) -> list:
        """Gene A's grid (when loaded), then gene B's when ``comparing``."""
        grids = [g for g in (self.grid,) if g is not None]
        if comparing and self.compare_grid is not None:
            grids.append(self.compare_grid)
        return grids

    def swap_grids(self) -> None:
        """Gene B becomes the gene on show and A the one compared with: ``compare_grid``
        changes first, then ``grid`` (each with its event)."""
        a, b = self.grid, self.compare_grid
        self.compare_grid = a
        self.grid = b

    def __repr__(self) -> str:
        held = ", ".join(name for name in FIELDS if self._values[name] is not None) or "nothing"
        return f"LoadedData({held})"
