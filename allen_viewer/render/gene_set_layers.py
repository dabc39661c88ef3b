"""Sphere layers for many genes at once: a gene set's score map and a composite of 2-3 genes.

* :class:`ScoreLayer`: the score drawn as a gene is -- spheres at the voxels whose score is
  at or above the threshold, coloured by the score through the colour map, their area
  linear in the score (full size at score 1), under a colour bar titled
  "gene-set score (mean percentile rank)".
* :class:`CompositeLayer`: each gene one colour (:data:`~allen_viewer.expression.gene_sets.PALETTES`);
  a voxel is drawn where at least one gene's percentile rank is at or above the threshold
  rank; each colour's brightness rises from 0 at the threshold to full at rank 1 and the
  colours add (:func:`~allen_viewer.expression.gene_sets.composite_rgb`); the sphere's size
  follows the largest brightness.  A legend (one line per gene, in its colour) takes the
  colour bar's place.

Both are :class:`~allen_viewer.render.layers.PointLayer` subclasses, so they share its
actor, cut-away and colour-bar renderer.
"""
from __future__ import annotations

import numpy as np
from vtkmodules.vtkRenderingCore import vtkTextActor

from allen_viewer.expression.gene_sets import (
    COMPOSITE_THRESHOLD,
    SCORE_TITLE,
    composite_brightness,
    composite_drawn,
    composite_rgb,
)
from allen_viewer.render.layers import BAR_LEFT, BAR_WIDTH, PointLayer, _points_poly, sphere_radius_um


class ScoreLayer(PointLayer):
    """A gene set's score map as spheres (see the module docstring); ``set_data(score)``
    with score float (AP, DV, ML), NaN where there is none; the display's ``threshold`` is a score."""

    def __init__(self, plotter, text_scale: float = 1.0, text_color=(1.0, 1.0, 1.0)):
        super().__init__(plotter, text_scale, text_color)
        self.score: np.ndarray | None = None

    def set_data(self, score) -> None:
        self.score = None if score is None else np.asarray(score, np.float32)
        self._rebuild()

    def _build(self):
        if self.score is None:
            return None
        s = self.score
        with np.errstate(invalid="ignore"):
            keep = ~np.isnan(s) & (s >= self.display.threshold)
        flat = np.flatnonzero(keep)
        v = s.ravel()[flat]
        return _points_poly(flat, v, v, sphere_radius_um(v, 1.0))

    def _color_range(self):
        lo = float(np.clip(self.display.threshold, 0.0, 0.99))
        return (lo, 1.0)

    def _title(self) -> str:
        return f"{SCORE_TITLE}\nscore >= {self.display.threshold:.3g} drawn"


class CompositeLayer(PointLayer):
    """A composite of 2-3 genes (see the module docstring): ``set_data(ranks, colors, labels)``
    with ranks float (n, AP, DV, ML) (NaN: no data), colors ((name, (r, g, b)), ...) and one
    label per gene; the threshold is a rank (:data:`COMPOSITE_THRESHOLD` by default)."""

    def __init__(self, plotter, text_scale: float = 1.0, text_color=(1.0, 1.0, 1.0)):
        super().__init__(plotter, text_scale, text_color)
        self.ranks = None
        self.colors = ()
        self.labels = ()
        self.display.threshold = COMPOSITE_THRESHOLD
        self.legend: list[vtkTextActor] = []

    def set_data(self, ranks, colors=(), labels=()) -> None:
        self.ranks = None if ranks is None else np.asarray(ranks, np.float32)
        self.colors, self.labels = tuple(colors), tuple(labels)
        self._set_legend()
        self._rebuild()

    def _build(self):
        if self.ranks is None:
            return None
        t = self.display.threshold
        n = len(self.ranks)
        flat = np.flatnonzero(composite_drawn(self.ranks, t))
        # the drawn voxels only: composite_rgb's rule (brightness x colour, added, clipped)
        b = composite_brightness(self.ranks.reshape(n, -1)[:, flat], t)
        strength = b.max(axis=0) if n else np.zeros(0, np.float32)
        rgb = np.clip(b.T @ np.asarray([c for _, c in self.colors], np.float32), 0.0, 1.0)
        poly = _points_poly(flat, strength, strength, sphere_radius_um(strength, 1.0))
        poly.point_data["rgb"] = np.round(rgb * 255).astype(np.uint8)
        return poly

    def _make_actor(self) -> None:
        super()._make_actor()
        mapper = self.actor.mapper
        mapper.SelectColorArray("rgb")
        mapper.SetColorModeToDirectScalars()  # the added colours as they are, no colour map

    def _rebuild(self) -> None:
        super()._rebuild()
        if self.actor is not None:
            self.actor.mapper.SelectColorArray("rgb")
            self.actor.mapper.SetColorModeToDirectScalars()

    def _apply_display(self) -> None:
        super()._apply_display()
        self.colour_bar.set_visible(False)  # the legend says what the colours are
        for a in self.legend:
            a.SetVisibility(self._has_content)

    def _title(self) -> str:
        return ""

    def _set_legend(self) -> None:
        for a in self.legend:
            if self.bar_renderer is not None:
                self.bar_renderer.RemoveViewProp(a)
        self.legend = []
        lines = [(f"{label}: {name}", rgb) for label, (name, rgb) in zip(self.labels, self.colors)]
        lines.append((f"percentile rank >= {self.display.threshold:.2g} drawn;\nbrightness 0 there, full at 1",
                      self.text_color))
        size = int(round(13 * self.text_scale))
        for i, (text, rgb) in enumerate(lines):
            a = vtkTextActor()
            a.SetInput(text)
            tp = a.GetTextProperty()
            tp.SetFontSize(size if i < len(lines) - 1 else int(round(11 * self.text_scale)))
            tp.SetColor(*[float(c) for c in (rgb if max(rgb) > 0.3 else self.text_color)])
            tp.SetBold(i < len(lines) - 1)
            tp.SetJustificationToRight()
            tp.SetVerticalJustificationToTop()
            a.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
            a.SetPosition(BAR_LEFT + BAR_WIDTH, 0.985 - i * 0.045)
            a.PickableOff()
            self.bar_renderer.AddViewProp(a)
            self.legend.append(a)

    def set_display(self, threshold=None, **kwargs) -> None:
        super().set_display(threshold=threshold, **kwargs)
        if threshold is not None:
            self._set_legend()
            self._apply_display()

    def detach(self) -> None:
        self.legend = []
        super().detach()



# ---------------------------------------------------------------------------- slices

SLICE_BRAIN = (0.26, 0.28, 0.31)
"""The grey of in-brain voxels where nothing is drawn on a slice (outside the brain: the background)."""
SLICE_PLANES = ("coronal", "sagittal", "horizontal")


def voxel_colours_score(score: np.ndarray, threshold: float, cmap: str = "viridis") -> tuple[np.ndarray, np.ndarray]:
    """(rgb float (AP, DV, ML, 3), drawn bool) of a score map as the 3-D view colours it:
    the colour map over [threshold, 1], drawn where the score is >= the threshold."""
    from matplotlib import colormaps

    with np.errstate(invalid="ignore"):
        drawn = ~np.isnan(score) & (score >= threshold)
    lo = float(np.clip(threshold, 0.0, 0.99))
    t = np.clip((np.nan_to_num(score, nan=lo) - lo) / (1.0 - lo), 0.0, 1.0)
    return colormaps[cmap](t)[..., :3].astype(np.float32), drawn


def voxel_colours_composite(ranks: np.ndarray, colors, threshold: float = COMPOSITE_THRESHOLD):
    """(rgb float (AP, DV, ML, 3), drawn bool) of a composite, as the 3-D view colours it."""
    return composite_rgb(ranks, colors, threshold), composite_drawn(ranks, threshold)


def mapping_slices(rgb: np.ndarray, drawn: np.ndarray, brain: np.ndarray, index, background) -> dict:
    """The three 200 µm slices through grid voxel ``index`` (AP, DV, ML) of a voxel mapping,
    uint8 RGB each: the mapping where drawn, grey in the brain elsewhere (transparent to
    the anatomy: no colour where no gene reaches the threshold), ``background`` outside.
    Coronal: rows dorsal to ventral, columns ML 0 (left) to 57; sagittal: rows dorsal to
    ventral, columns anterior to posterior; horizontal: rows anterior to posterior, columns
    ML 0 to 57."""
    ap, dv, ml = (int(i) for i in index)
    base = np.where(brain[..., None], np.asarray(SLICE_BRAIN, np.float32), np.asarray(background, np.float32))
    full = np.where(drawn[..., None], rgb, base)
    cuts = {"coronal": full[ap, :, :], "sagittal": full[:, :, ml].transpose(1, 0, 2), "horizontal": full[:, dv, :]}
    return {k: np.round(np.clip(v, 0, 1) * 255).astype(np.uint8) for k, v in cuts.items()}
