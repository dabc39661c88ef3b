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
        drawn = composite_drawn(self.ranks, t)
        flat = np.flatnonzero(drawn)
        strength = composite_brightness(self.ranks, t).max(axis=0).ravel()[flat]
        rgb = composite_rgb(self.ranks, self.colors, t).reshape(-1, 3)[flat]
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
        self.scalar_bar.SetVisibility(False)  # the legend says what the colours are
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

