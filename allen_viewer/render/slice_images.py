"""Slice images, Qt-free: the coronal, sagittal and horizontal sections as the slice panes draw them.

Shared by the viewer's slice panes (:mod:`allen_viewer.gui.slice_view`, which adds the Qt
widgets and documents what a pane shows and how it is oriented), the slice planes in the
3-D scene (:class:`allen_viewer.render.scene_layers.SlicePlanesLayer`) and the off-screen
image export (``export image --planes``).  numpy only.

Images are (rows, cols, 3) uint8 RGB, one 25 µm voxel per pixel; :data:`PLANES` says which
volume axis runs along the rows and the columns of each plane.  Volumes are (AP, DV, ML).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from allen_viewer.atlas.reference_space import ANNOTATION_SHAPE, ReferenceSpace, ccf25_to_grid
from allen_viewer.expression.grid import ExpressionGrid

NO_RESULT_RGB = (70, 70, 70)
"""Grey of an r-map voxel without a result."""


def diverging_rgb(r: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) colours of r in [-1, 1]: blue at -1, white at 0, red at +1; NaN grey."""
    r = np.asarray(r, dtype=np.float64)
    t = np.clip(np.nan_to_num(r), -1.0, 1.0)[..., None]
    blue, white, red = np.array([33, 102, 172.0]), np.array([247, 247, 247.0]), np.array([178, 24, 43.0])
    rgb = np.where(t < 0, white + (blue - white) * (-t), white + (red - white) * t)
    rgb[np.isnan(r)] = NO_RESULT_RGB
    return rgb.round().astype(np.uint8)



AXIS_NAMES = ("AP", "DV", "ML")
BACKGROUND_RGB = (0, 0, 0)
BOUNDARY_DARKEN = 0.45
"""Boundary pixels keep this fraction of their colour."""
ATLAS_DIM_WITH_GRID = 0.65
"""With a gene loaded, atlas colours are mixed this far towards grey so the heat map stands out."""
OVERLAY_ALPHA = (0.0, 0.9)
"""Heat-map opacity from the ramp's start (the threshold when the slices follow it, else energy
0) to the saturation value: the low end is transparent, so the atlas colours or the Nissl stay
readable under weak expression (issue 21; 0.35 from energy 0 before, a wash over the brain)."""
ENERGY_MAX_PERCENTILE = 99.0
"""The heat map saturates at this percentile of the energy of voxels with data (as the 3-D view)."""
HIGHLIGHT_RGB = np.array([255, 255, 255], dtype=np.float32)
"""(Kept for importers.)  The selected structure is shown by its outline in OUTLINE_RGB only:
no fill over the expression (issue 21), so HIGHLIGHT_TINT is 0."""
HIGHLIGHT_TINT = 0.0
RMAP_ALPHA = 0.85
"""Opacity of the r map over the atlas (voxels with an r; the rest is transparent)."""
OUTLINE_RGB = np.array([0, 255, 255], dtype=np.uint8)
"""Cyan: in none of the colour maps offered (viridis, magma, inferno, plasma, hot, gray), so
the outline stays visible over the hottest expression."""


@dataclass(frozen=True)
class Plane:
    """How one pane maps the (AP, DV, ML) volume onto the screen."""

    name: str
    axis: int  # the slice axis
    rows: int  # the axis along image rows (downwards)
    cols: int  # the axis along image columns (rightwards)
    corners: tuple[str, str, str, str]  # top-left, top-right, bottom-left, bottom-right
    edges: tuple[str, str, str, str]  # top, bottom, left, right (full words, for tool tips)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) in 25 µm pixels."""
        return ANNOTATION_SHAPE[self.rows], ANNOTATION_SHAPE[self.cols]

    def take(self, volume: np.ndarray, index: int) -> np.ndarray:
        """The (rows, cols) section of an (AP, DV, ML) volume at ``index`` along the slice axis."""
        sl = np.take(volume, index, axis=self.axis)
        # remaining axes keep their order; transpose when rows come after cols
        remaining = [a for a in range(3) if a != self.axis]
        return sl if remaining == [self.rows, self.cols] else sl.T

    def point(self, slice_index: int, row: float, col: float) -> np.ndarray:
        """A 25 µm (AP, DV, ML) index from a slice index and an image position."""
        idx = np.zeros(3)
        idx[self.axis] = slice_index
        idx[self.rows] = row
        idx[self.cols] = col
        return idx


PLANES = {
    "coronal": Plane("coronal", 0, 1, 2, ("DL", "DR", "VL", "VR"), ("dorsal", "ventral", "left", "right")),
    "sagittal": Plane("sagittal", 2, 1, 0, ("DA", "DP", "VA", "VP"), ("dorsal", "ventral", "anterior", "posterior")),
    "horizontal": Plane("horizontal", 1, 0, 2, ("AL", "AR", "PL", "PR"), ("anterior", "posterior", "left", "right")),
}


def _grid_map(axis: int) -> np.ndarray:
    """For each 25 µm index along ``axis``, the grid index that covers it (ReferenceSpace conversion)."""
    n = ANNOTATION_SHAPE[axis]
    idx = np.zeros((n, 3), dtype=int)
    idx[:, axis] = np.arange(n)
    return ccf25_to_grid(idx)[:, axis]


GRID_MAPS = tuple(_grid_map(a) for a in range(3))


def colormap_lut(name: str, n: int = 256) -> np.ndarray:
    """(n, 3) uint8 RGB colours of a matplotlib colour map (viridis when the name is unknown)."""
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except (KeyError, ValueError):
        cmap = matplotlib.colormaps["viridis"]
    return (cmap(np.linspace(0.0, 1.0, n))[:, :3] * 255 + 0.5).astype(np.uint8)


def label_colors(space: ReferenceSpace) -> np.ndarray:
    """(n_labels, 3) uint8 atlas colour of each compact label (label 0, outside: black)."""
    lut = np.zeros((len(space.label_ids), 3), dtype=np.uint8)
    for i, sid in enumerate(space.label_ids.tolist()):
        if sid and sid in space.ontology:
            lut[i] = space.ontology.by_id(sid).color
    lut[0] = BACKGROUND_RGB
    return lut


def structure_label_table(space: ReferenceSpace, structure_id: int) -> np.ndarray:
    """bool per compact label: True for the structure and its descendants (``mask25`` by label)."""
    ids = np.fromiter(space.ontology.descendant_ids(structure_id), dtype=np.uint32)
    return np.isin(space.label_ids, ids)


def nissl_to_gray(volume: np.ndarray, brain: np.ndarray | None = None) -> np.ndarray:
    """Scale a Nissl volume (AP, DV, ML) to uint8 grey.

    The 0.5th..99.5th percentiles of the brain's voxels (all voxels without ``brain``) map
    to 0..255; when those are equal (a flat volume) the full range is used instead.
    """
    sample = volume[brain] if brain is not None and brain.any() else volume.ravel()
    sample = sample[:: max(1, sample.size // 2_000_000)]
    lo, hi = (float(v) for v in np.percentile(sample, [0.5, 99.5]))
    if hi - lo <= 1e-6:
        lo, hi = float(volume.min()), float(volume.max())
    scale = 255.0 / max(hi - lo, 1e-6)
    out = np.empty(volume.shape, dtype=np.uint8)
    for a in range(volume.shape[0]):  # slab by slab: no 300 MB temporary
        out[a] = np.clip((volume[a] - lo) * scale + 0.5, 0, 255).astype(np.uint8)
    return out


def boundaries(labels: np.ndarray) -> np.ndarray:
    """bool (H, W): pixels whose label differs from the pixel right of or below them."""
    b = np.zeros(labels.shape, dtype=bool)
    b[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    b[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return b


class SliceLayers:
    """What the three panes draw, shared by them: labels, colours, Nissl, grid, highlight."""

    def __init__(self) -> None:
        self.space: ReferenceSpace | None = None
        self.label_rgb: np.ndarray | None = None  # (n_labels, 3) uint8
        self.nissl: np.ndarray | None = None  # uint8 (AP, DV, ML)
        self.background = "annotation"
        self.grid: ExpressionGrid | None = None
        self.cmap_name = "viridis"
        self.cmap = colormap_lut(self.cmap_name)
        self.vmax = 1.0
        self.min_energy: float | None = None  # the 3-D threshold when the slices follow it
        self.rmap: np.ndarray | None = None  # float (AP, DV, ML) 200 µm r grid, NaN = no result
        self.rmap_seed: tuple[int, int, int] | None = None  # its seed's grid index (AP, DV, ML)
        self.highlight_id: int | None = None
        self.highlight_table: np.ndarray | None = None
        self._palette_key = None
        self._palette_cache: np.ndarray | None = None

    @property
    def showing_nissl(self) -> bool:
        return self.background == "nissl" and self.nissl is not None

    def set_grid(self, grid: ExpressionGrid | None) -> None:
        self.grid = grid
        if grid is not None and grid.has_data.any():
            vals = grid.energy[grid.has_data]
            self.vmax = float(np.percentile(vals, ENERGY_MAX_PERCENTILE))
            if self.vmax <= 0:
                self.vmax = float(vals.max()) if vals.max() > 0 else 1.0
        else:
            self.vmax = 1.0

    def _palette(self) -> np.ndarray:
        """(4 n, 3) uint8 colours indexed by ``label + n * (boundary + 2 * highlighted)``."""
        dim = self.grid is not None or self.rmap is not None
        key = (id(self.label_rgb), self.showing_nissl, dim)
        if self._palette_key != key:
            base = self.label_rgb.astype(np.float32)
            if dim:  # dim the atlas colours so the heat map stands out
                base[1:] = base[1:] * (1 - ATLAS_DIM_WITH_GRID) + 128.0 * ATLAS_DIM_WITH_GRID
            edge = base * BOUNDARY_DARKEN
            tint = HIGHLIGHT_RGB * HIGHLIGHT_TINT
            pal = np.concatenate([base, edge, base * (1 - HIGHLIGHT_TINT) + tint, edge * (1 - HIGHLIGHT_TINT) + tint])
            self._palette_cache = np.clip(pal + 0.5, 0, 255).astype(np.uint8)
            self._palette_key = key
        return self._palette_cache

    def render(self, plane: Plane, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB image of the section at 25 µm ``index`` along the plane's axis."""
        h, w = plane.image_shape
        if self.space is None or self.label_rgb is None:
            return np.zeros((h, w, 3), dtype=np.uint8)
        labels = np.ascontiguousarray(plane.take(self.space.labels25, index))
        mask = self.highlight_table[labels] if self.highlight_table is not None else None
        if mask is not None and not mask.any():
            mask = None
        if self.showing_nissl:
            gray = plane.take(self.nissl, index)
            rgb = np.repeat(gray[:, :, None], 3, axis=2)
        else:
            n = len(self.label_rgb)
            code = labels.astype(np.int32)
            code += n * boundaries(labels)
            rgb = self._palette()[code]  # the selection: its outline only (below), no fill
        if self.rmap is not None:  # the r map replaces the gene's heat map while shown
            rgb = self._overlay_r(rgb, plane, index, labels > 0)
        elif self.grid is not None:
            rgb = self._overlay(rgb, plane, index, labels > 0)
        if mask is not None:
            rgb[boundaries(mask) | boundaries(mask[::-1, ::-1])[::-1, ::-1]] = OUTLINE_RGB
        return rgb

    def _overlay(self, rgb: np.ndarray, plane: Plane, index: int, brain: np.ndarray) -> np.ndarray:
        """``rgb`` with the energy heat map blended in where ``brain`` (the annotated brain at
        25 µm) is True; no-data voxels are left untouched.  Clipping to the brain keeps the
        200 µm blocks from spilling past the brain's outline."""
        g_index = GRID_MAPS[plane.axis][index]
        energy = plane.take(self.grid.energy, g_index)  # (grid rows, grid cols), NaN = no data
        # zero energy is left transparent (the atlas shows through), so it never looks like
        # weak expression; with min_energy set (the 3-D threshold), so is everything below it
        with np.errstate(invalid="ignore"):
            has = plane.take(self.grid.has_data, g_index) & (energy > 0)
            if self.min_energy is not None:
                has &= energy >= self.min_energy
        if not has.any():
            return rgb
        # colours and opacity run from the ramp's start (the threshold when the slices follow
        # it, as the 3-D colour bar does; else 0) to vmax
        start = 0.0 if self.min_energy is None else float(self.min_energy)
        ramp = np.zeros(energy.shape, dtype=np.float64)
        span = self.vmax - start
        ramp[has] = np.clip((energy[has] - start) / span, 0.0, 1.0) if span > 0 else 1.0
        level = (ramp * 255.0).astype(np.intp)
        color = self.cmap[level]  # (grid rows, grid cols, 3)
        lo, hi = OVERLAY_ALPHA
        alpha = (has * (256 * (lo + (hi - lo) * ramp))).astype(np.uint16)
        rows, cols = GRID_MAPS[plane.rows], GRID_MAPS[plane.cols]
        color = color.take(rows, axis=0).take(cols, axis=1).astype(np.uint16)
        alpha = (alpha.take(rows, axis=0).take(cols, axis=1) * brain)[:, :, None]
        out = rgb.astype(np.uint16) * (256 - alpha)
        out += color * alpha
        out >>= 8
        return out.astype(np.uint8)


    def _overlay_r(self, rgb: np.ndarray, plane: Plane, index: int, brain: np.ndarray) -> np.ndarray:
        """``rgb`` with the r map blended in (opacity :data:`RMAP_ALPHA`) where there is an r
        and ``brain`` is True; NaN (no result) leaves the atlas untouched."""
        r = plane.take(self.rmap, GRID_MAPS[plane.axis][index])  # (grid rows, grid cols)
        has = ~np.isnan(r)
        if not has.any():
            return rgb
        rows, cols = GRID_MAPS[plane.rows], GRID_MAPS[plane.cols]
        color = diverging_rgb(r).take(rows, axis=0).take(cols, axis=1).astype(np.uint16)
        alpha = (has.take(rows, axis=0).take(cols, axis=1) & brain).astype(np.uint16)[:, :, None]
        alpha *= int(round(256 * RMAP_ALPHA))
        out = rgb.astype(np.uint16) * (256 - alpha)
        out += color * alpha
        out >>= 8
        return out.astype(np.uint8)


def slice_layers_for(space: ReferenceSpace, grid: ExpressionGrid | None = None, cmap: str = "viridis",
                     min_energy: float | None = None, nissl: np.ndarray | None = None) -> SliceLayers:
    """A :class:`SliceLayers` set up as the slice panes are for ``grid`` on ``space`` (atlas
    colours, the heat map in colour map ``cmap``, only where energy >= ``min_energy`` when
    given; the Nissl background when ``nissl`` (uint8 (AP, DV, ML)) is given): what the
    off-screen export draws its slice planes from."""
    layers = SliceLayers()
    layers.space = space
    layers.label_rgb = label_colors(space)
    if nissl is not None:
        layers.nissl = nissl
        layers.background = "nissl"
    layers.set_grid(grid)
    layers.cmap_name = cmap
    layers.cmap = colormap_lut(cmap)
    layers.min_energy = None if min_energy is None else float(min_energy)
    return layers
