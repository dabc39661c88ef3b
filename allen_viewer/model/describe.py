"""The point under the cursor and the selected structure, described in words (Qt-free)."""
from __future__ import annotations

import numpy as np

from allen_viewer.atlas.reference_space import um_to_grid
from allen_viewer.expression.summary import summarize
from allen_viewer.model.texts import fmt

NO_SELECTION = "Select a structure to see the loaded gene's expression in it."


def position_text(um) -> str:
    """``AP 5.20, DV 4.20, ML 3.80 mm`` for a CCF point in µm (AP, DV, ML)."""
    um = np.asarray(um, dtype=float)
    return f"AP {um[0] / 1000:.2f}, DV {um[1] / 1000:.2f}, ML {um[2] / 1000:.2f} mm"


def describe_point(um, space=None, grid=None, compare_text: str | None = None) -> str:
    """The status bar's text for a CCF point (µm, (AP, DV, ML)): the structure there (25 µm
    annotation), the position, and the gene's energy, intensity and density in the 200 µm
    voxel there ("no data" where the grid has none, "n/a" for a channel the download lacks).
    ``compare_text``: in compare mode, what the compare view says of the point (replaces the
    gene part).  Without the atlas (``space`` None) only the position."""
    pos = position_text(um)
    if space is None:
        return pos
    um = np.asarray(um, dtype=float)
    s = space.structure_at_um(um)
    where = f"{s.acronym} — {s.name}" if s is not None else "outside the brain"
    if compare_text is not None:
        return f"{where}   |   {pos}   |   {compare_text}"
    if grid is None:
        return f"{where}   |   {pos}   |   no gene loaded"
    i, j, k = um_to_grid(um)
    has = bool(grid.has_data[i, j, k])
    parts = []
    for name in ("energy", "intensity", "density"):
        vol = grid.volume(name)
        if vol is None:
            parts.append(f"{name} n/a")
        elif not has:
            parts.append(f"{name} no data")
        else:
            parts.append(f"{name} {fmt(float(vol[i, j, k]))}")
    return f"{where}   |   {pos}   |   {grid.gene}: " + ", ".join(parts)


def summary_text(selected: int | None, ontology=None, space=None, grid=None) -> str:
    """The structure panel's summary (HTML) of the selected structure and the loaded gene:
    mean energy and density over the structure's 200 µm voxels with data, and how many
    of its voxels have data."""
    if selected is None or ontology is None:
        return NO_SELECTION
    s = ontology.by_id(selected)
    head = f"<b>{s.acronym}</b> — {s.name}"
    if grid is None:
        return head + "<br>No gene loaded."
    if space is None:
        return head + "<br>Loading the atlas…"
    summ = summarize(grid, space, s)
    lines = [head, f"{grid.gene} ({grid.plane}, {grid.id}):"]
    if summ.voxels == 0:
        lines.append("no 200 µm grid voxels in this structure (too small for the grid).")
    else:
        lines.append(f"mean energy {fmt(summ.mean_energy)}, mean density {fmt(summ.mean_density)}")
        lines.append(f"voxels with data {summ.voxels_with_data:,} / {summ.voxels:,}")
    return "<br>".join(lines)
