"""How a structure's surface is coloured in the 3-D view (Qt-free).

The rule, in order:

1. the colour the user chose for that structure (right-click in the structure tree; held in
   :attr:`allen_viewer.state.ViewerState.structure_styles`, so sessions keep it);
2. otherwise, while a gene's expression is shown, the **neutral surface colour**
   :data:`NEUTRAL_SURFACE_RGB`, a light blue-grey that is in none of the colour maps offered
   (viridis, magma, inferno, plasma, hot, gray end in yellow, white or black; the grey map
   has no blue), so a surface never reads as expression and the atlas' reds, greens and
   yellows never clash with the colour map;
3. otherwise (no gene shown) the structure's Allen atlas colour.

Opacity: the user's choice, else :data:`DEFAULT_SURFACE_OPACITY`.  While one structure is
highlighted (selected in the tree) it is drawn at least :data:`HIGHLIGHT_OPACITY` opaque
and the others at :data:`DIMMED_FRACTION` of their own opacity, but never below
:data:`DIMMED_FLOOR` (nor above their own): a ticked structure stays plainly visible while
another is selected (issue 25; at 0.4 x 0.30 = 0.12 a ticked surface all but vanished).
"""
from __future__ import annotations

NEUTRAL_SURFACE_RGB = (150, 178, 220)
"""The default surface colour while expression is shown (0-255 RGB)."""
DEFAULT_SURFACE_OPACITY = 0.30
HIGHLIGHT_OPACITY = 0.40
"""A light shell (issue 21): the selected surface never hides the spheres inside it, and still
stands out above the default 0.30 with the others dimmed (0.75 before covered CP's spheres)."""
DIMMED_FRACTION = 0.4
"""Other surfaces keep this fraction of their opacity while one is highlighted (0.30 -> 0.12)."""
DIMMED_FLOOR = 0.22
"""A dimmed surface keeps at least this opacity (or its own, if lower)."""
OPACITY_CHOICES = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
"""The opacities the structure tree's menu offers."""


def surface_color(atlas_rgb, style=None, expression_shown: bool = False) -> tuple[int, int, int]:
    """The (r, g, b) 0-255 colour of a structure's surface under the rule above.

    ``atlas_rgb``: the structure's atlas colour; ``style``: its
    :class:`~allen_viewer.state.StructureStyle` or None."""
    if style is not None and style.color is not None:
        return tuple(int(c) for c in style.color)
    if expression_shown:
        return NEUTRAL_SURFACE_RGB
    return tuple(int(c) for c in atlas_rgb)


def surface_opacity(style=None) -> float:
    """The opacity (0, 1] of a structure's surface when nothing is highlighted."""
    return float(style.opacity) if style is not None and style.opacity is not None else DEFAULT_SURFACE_OPACITY


def shown_opacity(base: float, highlighted: bool, another_highlighted: bool) -> float:
    """The opacity a surface of opacity ``base`` is drawn with: highlighted, at least
    :data:`HIGHLIGHT_OPACITY`; while another is highlighted, :data:`DIMMED_FRACTION` of it,
    floored at :data:`DIMMED_FLOOR` (never above ``base``)."""
    if highlighted:
        return max(float(base), HIGHLIGHT_OPACITY)
    if another_highlighted:
        return min(float(base), max(float(base) * DIMMED_FRACTION, DIMMED_FLOOR))
    return float(base)
