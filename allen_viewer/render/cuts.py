"""Cut-aways and figure options of the 3-D scene: which part of the brain is hidden, where the slice planes are.

Light on purpose (nothing heavy is imported at module level): the CLI builds its
``--clip``/``--planes`` options from these names while ``--help`` stays fast.

Cut-aways (:data:`CUT_AWAYS`), in CCF micrometres, x = AP (+ posterior), y = DV
(+ ventral), z = ML (+ right):

=================  ===============================================================
``none``           nothing hidden
``left``           the left hemisphere: grid ML index 0-28 (z < :data:`MIDLINE_UM`)
``right``          the right hemisphere: grid ML index 29-57 (z > :data:`MIDLINE_UM`)
``anterior``       everything anterior of the coronal slice (AP < the slice's AP)
``posterior``      everything posterior of the coronal slice
``dorsal``         everything dorsal of the horizontal slice (DV < the slice's DV)
``ventral``        everything ventral of the horizontal slice
``sagittal-left``  everything left of the sagittal slice (ML < the slice's ML)
``sagittal-right`` everything right of the sagittal slice
=================  ===============================================================

A cut hides the expression spheres whose voxel centre lies on the removed side (a voxel
exactly on a slice plane stays), clips the brain outline and structure surfaces along the
plane and closes them with a cut face, and clips the slice planes.  The hemisphere rule is
the project's: by grid ML index, left = 0-28, right = 29-57, so the plane sits at
z = 28.5 x 200 µm = 5700 µm, between the two hemispheres' voxel centres.
"""
from __future__ import annotations

from dataclasses import dataclass, field

MIDLINE_UM = 5700.0
"""z (ML, µm) of the plane between grid ML index 28 (left) and 29 (right): 28.5 x 200 µm."""
GRID_CENTRE_UM = (6600.0, 4000.0, 5700.0)
"""(AP, DV, ML) µm of the 200 µm grid's centre ((67-1)/2, (41-1)/2, (58-1)/2 voxels x
200 µm): where ``export image --planes`` puts the slice planes unless told otherwise."""

SLICE_BOX_UM = (13175.0, 7975.0, 11375.0)
"""Largest (AP, DV, ML) µm of a 25 µm slice: (528, 320, 456) voxels, (n - 1) x 25 µm."""


def parse_point_um(text: str, example: str = "5300,4000,5700") -> tuple[float, float, float]:
    """``AP,DV,ML`` micrometres (``--slices``, ``--at``) -> a 3-tuple inside the 25 µm
    annotation's box (:data:`SLICE_BOX_UM`); ValueError saying what is wrong otherwise."""
    import math

    parts = str(text).replace(" ", "").split(",")
    try:
        values = tuple(float(v) for v in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{text!r} is not three numbers AP,DV,ML in micrometres, e.g. {example}")
    for name, v, top in zip(("AP", "DV", "ML"), values, SLICE_BOX_UM):
        if not 0.0 <= v <= top:
            raise ValueError(f"{name} {v:g} um is outside the atlas (0 to {top:g} um)")
    return values

CUT_AWAYS: dict[str, str] = {
    "none": "nothing",
    "left": "the left hemisphere",
    "right": "the right hemisphere",
    "anterior": "anterior of the coronal slice",
    "posterior": "posterior of the coronal slice",
    "dorsal": "dorsal of the horizontal slice",
    "ventral": "ventral of the horizontal slice",
    "sagittal-left": "left of the sagittal slice",
    "sagittal-right": "right of the sagittal slice",
}
"""Cut-away name -> what it hides (see the module docstring)."""

# name: (axis, removes the side below the plane?, plane at the slice (True) or the midline)
_CUTS = {
    "left": (2, True, False), "right": (2, False, False),
    "anterior": (0, True, True), "posterior": (0, False, True),
    "dorsal": (1, True, True), "ventral": (1, False, True),
    "sagittal-left": (2, True, True), "sagittal-right": (2, False, True),
}


@dataclass(frozen=True)
class CutAway:
    """Hide everything on one side of an axis-aligned plane.

    ``axis``: 0 AP, 1 DV, 2 ML; ``position_um``: the plane's coordinate along it (µm);
    ``remove_below``: True hides coordinates below ``position_um``, False those above;
    ``name``: the :data:`CUT_AWAYS` key it came from.
    """

    axis: int
    position_um: float
    remove_below: bool
    name: str = ""

    def keep(self, points):
        """bool per point of an (n, 3) µm array: True where it stays (on the plane stays)."""
        import numpy as np

        coord = np.asarray(points, dtype=np.float64).reshape(-1, 3)[:, self.axis]
        return coord >= self.position_um if self.remove_below else coord <= self.position_um

    @property
    def normal(self) -> tuple[float, float, float]:
        """Unit normal of the plane pointing to the kept side."""
        n = [0.0, 0.0, 0.0]
        n[self.axis] = 1.0 if self.remove_below else -1.0
        return tuple(n)

    @property
    def origin(self) -> tuple[float, float, float]:
        o = [0.0, 0.0, 0.0]
        o[self.axis] = float(self.position_um)
        return tuple(o)


def cut_away(name: str | None, slices_um=None) -> CutAway | None:
    """The :class:`CutAway` called ``name`` (:data:`CUT_AWAYS`; None or ``"none"``: None),
    its plane through ``slices_um`` ((AP, DV, ML) µm of the current slices; default
    :data:`GRID_CENTRE_UM`) for the slice-relative cuts.  ValueError for an unknown name."""
    if name is None or name == "none":
        return None
    if name not in _CUTS:
        raise ValueError(f"unknown cut-away {name!r}; one of {', '.join(CUT_AWAYS)}")
    axis, below, at_slice = _CUTS[name]
    at = GRID_CENTRE_UM if slices_um is None else tuple(float(v) for v in slices_um)
    return CutAway(axis, float(at[axis]) if at_slice else MIDLINE_UM, below, name)


@dataclass
class FigureOptions:
    """What a figure adds to the plain 3-D scene (``export image``, the GUI's export dialog
    and the movie export share it).

    ``clip``: a :data:`CUT_AWAYS` name; ``planes``: draw the three slice planes, textured
    as the slice panes draw them; ``slices_um``: (AP, DV, ML) µm of the slices (the planes'
    positions and the slice-relative cuts' planes; None: :data:`GRID_CENTRE_UM`);
    ``space``: the :class:`~allen_viewer.atlas.reference_space.ReferenceSpace` the planes
    are drawn from (needed with ``planes`` unless ``source`` is given); ``background``: ``"annotation"`` or ``"nissl"``
    with ``nissl`` the uint8 (AP, DV, ML) grey volume (as the slice panes).
    """

    clip: str = "none"
    planes: bool = False
    slices_um: tuple[float, float, float] | None = None
    space: object = field(default=None, repr=False, compare=False)
    nissl: object = field(default=None, repr=False, compare=False)
    min_energy: float | None = None
    """Slice heat map only where energy >= this (the panes' *Slices follow the 3-D threshold*)."""
    source: object = field(default=None, repr=False, compare=False)
    """A :class:`~allen_viewer.render.slice_images.SliceLayers` to draw the planes from as it
    is (the viewer passes its slice panes' own); None: one made from ``space``."""

    def __post_init__(self) -> None:
        if self.clip not in CUT_AWAYS:
            raise ValueError(f"unknown cut-away {self.clip!r}; one of {', '.join(CUT_AWAYS)}")

    @property
    def positions_um(self) -> tuple[float, float, float]:
        return GRID_CENTRE_UM if self.slices_um is None else tuple(float(v) for v in self.slices_um)

    def cut(self) -> CutAway | None:
        return cut_away(self.clip, self.positions_um)

    @property
    def is_plain(self) -> bool:
        return self.clip == "none" and not self.planes

    def describe(self) -> dict:
        """For provenance records: the cut, the planes and their positions (µm)."""
        return {"cut_away": self.clip, "cut_away_hides": CUT_AWAYS[self.clip],
                "slice_planes": bool(self.planes),
                "slices_um": [float(v) for v in self.positions_um]}
