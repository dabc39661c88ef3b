"""The window's summary texts (title, status messages, the offline note), Qt-free."""
from __future__ import annotations

import html
import math

SOURCE_WORDS = {"embedded": "embedded data", "cached": "the cache", "remote": "the Allen API (now cached)"}
"""Where a grid came from (:meth:`~allen_viewer.data.AtlasData.locate`), as the status bar says it."""


def fmt(value, digits: int = 3) -> str:
    """``value`` to ``digits`` significant digits; ``n/a`` for None or NaN."""
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}g}"


def window_title(grid=None, compare_grid=None, comparing: bool = False, offline: bool = False) -> str:
    """``Allen Viewer — Pdyn (coronal, 71717084)[ vs B (...)][ [offline]]``."""
    title = "Allen Viewer"
    if grid is not None:
        title += f" — {grid.gene} ({grid.plane}, {grid.id})"
        if compare_grid is not None and comparing:
            title += f" vs {compare_grid.gene} ({compare_grid.plane}, {compare_grid.id})"
    if offline:
        title += " [offline]"
    return title


def colour_sentence(note: str) -> str:
    """``render.layers.color_note``'s words as a sentence after the status message
    (" Colour shows energy: ..."), or "" (issue 21: said in the status bar and the sidecar,
    not in the picture)."""
    return f" {note[0].upper()}{note[1:]}." if note else ""


def grid_loaded_text(grid, where: str, colour_note: str = "") -> str:
    """The status message when gene A is shown: its coverage (in-brain voxels with data,
    hemispheres, voxels outside the brain), its channels, where it came from and
    ``colour_note`` (``render.layers.color_note``: what the download lacks for the colour
    asked for)."""
    exp = grid.experiment
    cov = grid.coverage()
    source = SOURCE_WORDS.get(where, "file")
    return (f"{exp.label}: {cov['voxels_with_data']:,} voxels with data in the brain "
            f"({cov['hemispheres']} hemispheres; {cov['voxels_with_data_outside_brain']:,} outside it, "
            f"not counted), {'energy only' if grid.energy_only else ', '.join(grid.available)}, "
            f"from {source}." + colour_sentence(colour_note))


def comparing_text(a, b, r: float, n: int) -> str:
    """The status message when the comparison of ``a`` and ``b`` is shown (whole-brain r over n voxels)."""
    return (f"Comparing {a.gene} ({a.id}) with {b.gene} ({b.id}): whole-brain r = "
            f"{'n/a' if math.isnan(r) else f'{r:.4f}'} over {n:,} in-brain voxels with data in both.")


def offline_note_text(detail: str, genes: list[str], cached: int) -> str:
    """The note above the views when the API cannot be reached (HTML): why, and what still
    works (the embedded ``genes`` and the ``cached`` experiments)."""
    detail = detail or "the Allen API cannot be reached"
    names = (" and ".join(genes) if len(genes) < 3 else ", ".join(genes[:-1]) + " and " + genes[-1]) or "-"
    more = f", and the {cached} experiment{'s' if cached != 1 else ''} in the cache" if cached else ""
    return (f"<b>Offline</b> ({html.escape(detail)}). The viewer works on the embedded data: the atlas and the genes "
            f"{names}{more}. A gene that needs a download fails until the network is back.")
