"""``export region-map``: each structure on a section filled with the gene's mean over it,
per hemisphere, as a vector figure (SVG, PDF; or PNG).

Rules (docs/making-figures.md, "Vector slices and region maps"):

* **Values** are exactly the per-hemisphere means of ``export structures``
  (:func:`allen_viewer.expression.summary.summarize_all`: each structure pools its own and
  its descendants' in-brain 200 µm voxels with data, -1 excluded; left = grid ML 0-28,
  right = 29-57).  ``--value`` picks energy (default), density or intensity; an experiment
  downloaded without that volume is refused with one line.
* **Which structure paints a pixel**: the finest structure of the 25 µm annotation there;
  with ``--depth N`` its ancestor at ontology depth N (itself when shallower); with
  ``--structures A,B`` the nearest of those that is the pixel's structure or one of its
  ancestors -- pixels under none of them are not painted, only outlined.
* **Which half**: a pixel's hemisphere is that of the grid ML index covering it (the same
  25 µm -> 200 µm mapping as the slice panes), so the left and right halves of a structure
  are separate regions, painted from the left and right columns.
* **Elements**: every painted region is one path, in the SVG a group with id
  ``s<structure id>_<left|right>``, filled with the colour map at its value (colour scale 0
  to the largest painted value).  A region whose hemisphere has no voxel with data (the
  uncut hemisphere of a sagittal experiment, or a structure too small for the 200 µm grid)
  is drawn grey and hatched, id ``nodata_s<id>_<side>``, and the key says "no data".
* Outlines of every region (vector paths ``b<id>``), the brain's outline, the midline where
  the plane crosses it (coronal, horizontal), colour bar, 1 mm scale bar, orientation words.
  The sidecar lists every region drawn with its value, voxel count and fill colour.

Qt-free; the CLI and File > Export > Region map... call :func:`export_region_map`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from allen_viewer.errors import AllenViewerError
from allen_viewer.export import section_figure as sf
from allen_viewer.expression.grid import ExpressionGrid

VALUES = ("energy", "density", "intensity")
SIDES = ("left", "right")
NO_DATA_FACE = "#e6e6e6"
NO_DATA_HATCH_COLOUR = "#8c8c8c"


def painting_table(space, finest_ids, depth: int | None = None, acronyms: list[str] | None = None) -> dict[int, int]:
    """``{finest id: painted id}`` for the ids on a section (0: not painted).

    ``depth``: the ancestor at that ontology depth (itself when shallower); ``acronyms``:
    the nearest listed structure among the id and its ancestors, else 0."""
    ontology = space.ontology
    chosen = None
    if acronyms:
        chosen = set()
        for a in acronyms:
            chosen.add(ontology.get(a).id)  # UnknownStructure: one line with close acronyms
    table = {}
    for sid in (int(i) for i in finest_ids):
        if sid == 0 or sid not in ontology:
            table[sid] = 0
            continue
        s = ontology.by_id(sid)
        if chosen is not None:
            while s is not None and s.id not in chosen:
                s = s.parent
            table[sid] = 0 if s is None else s.id
        elif depth is not None:
            while s.depth > depth and s.parent is not None:
                s = s.parent
            table[sid] = s.id
        else:
            table[sid] = s.id
    return table


def hemisphere_values(grid: ExpressionGrid, space, value: str = "energy") -> dict[int, dict[str, tuple[float, int]]]:
    """``{structure id: {"left": (mean, voxels with data), "right": ...}}`` from the same
    summaries ``export structures`` writes (NaN mean where a half has no voxel with data)."""
    from allen_viewer.expression.summary import summarize_all

    return {s.structure.id: {side: (float(getattr(s.hemispheres[side], f"mean_{value}")),
                                    int(s.hemispheres[side].voxels_with_data)) for side in SIDES}
            for s in summarize_all(grid, space)}


def check_value(grid: ExpressionGrid, value: str) -> None:
    if value not in VALUES:
        raise AllenViewerError(f"--value must be energy, density or intensity, not {value!r}.")
    if getattr(grid, value) is None:
        raise AllenViewerError(f"{grid.experiment.label} was downloaded without its {value} volume (energy only); "
                               f"use --value energy.")


def region_session(grid: ExpressionGrid, section: sf.Section, cmap: str):
    from allen_viewer.export.image import image_session

    state = image_session(grid, {"threshold": 0.0, "cmap": cmap})
    state.cursor_um = tuple(section.at_um)
    return state


def export_region_map(grid: ExpressionGrid, space, path: Path | str, plane: str, at_um, depth: int | None = None,
                      structures: list[str] | None = None, value: str = "energy", cmap: str = "viridis",
                      note: str = "") -> dict:
    """Draw the region map of ``grid`` on the section of ``plane`` through ``at_um`` (CCF
    µm) and write it to ``path`` (``.svg``, ``.pdf`` or ``.png``) with its sidecar.

    ``note``: a line added under the title (e.g. that the data are generated).
    Returns ``{"files": [figure, sidecar], "regions": [...]}`` (``regions`` as the sidecar's
    ``painted``)."""
    from matplotlib.colors import Normalize, to_hex
    from matplotlib.lines import Line2D
    from matplotlib.patches import PathPatch, Rectangle

    from allen_viewer.export.provenance import provenance

    sf.figure_format(path)
    if depth is not None and structures:
        raise AllenViewerError("Give --depth or --structures, not both.")
    if depth is not None and depth < 0:
        raise AllenViewerError(f"--depth must be 0 or more, not {depth}.")
    check_value(grid, value)
    colour_map = sf.colour_map(cmap)
    section = sf.section_at(space, plane, at_um)
    finest = sf.region_ids(section, space)
    uniq, inverse = np.unique(finest, return_inverse=True)
    table = painting_table(space, uniq.tolist(), depth, structures)
    painted = np.array([table[int(i)] for i in uniq], dtype=np.int64)[inverse.reshape(finest.shape)]
    side_px = section.hemisphere_pixels()
    values = hemisphere_values(grid, space, value)
    regions = []
    for pid in np.unique(painted).tolist():
        if pid == 0:
            continue
        for k, side in enumerate(SIDES):
            mask = (painted == pid) & (side_px == k)
            if mask.any():
                mean, n = values.get(pid, {}).get(side, (math.nan, 0))
                regions.append({"structure_id": pid, "acronym": space.ontology.by_id(pid).acronym,
                                "hemisphere": side, "value": mean, "voxels_with_data": n,
                                "pixels_25um": int(mask.sum()), "_mask": mask})
    finite = [r["value"] for r in regions if math.isfinite(r["value"])]
    vmax = max(finite) if finite and max(finite) > 0 else 1.0
    norm = Normalize(0.0, vmax)
    with sf.figure_rc():
        layout = sf.new_figure(section)
        ax = layout.ax
        for r in regions:
            path_ = sf.mask_path(r.pop("_mask"))
            gid = f"s{r['structure_id']}_{r['hemisphere']}"
            if math.isfinite(r["value"]):
                colour = to_hex(colour_map(norm(r["value"])))
                patch = PathPatch(path_, facecolor=colour, edgecolor="none", linewidth=0, zorder=2)
                r["colour"] = colour
            else:
                patch = PathPatch(path_, facecolor=NO_DATA_FACE, edgecolor=NO_DATA_HATCH_COLOUR, hatch="////",
                                  linewidth=0, zorder=2)
                gid = "nodata_" + gid
                r["colour"] = None
            patch.set_gid(gid)
            ax.add_patch(patch)
        outline_ids = np.where(painted > 0, painted, finest)
        n_outlines = sf.add_outlines(ax, outline_ids)
        sf.brain_outline(ax, finest)
        if section.plane.cols == 2:  # the midline between the halves, where the brain is
            left_cols = np.flatnonzero(sf.GRID_MAPS[2] < sf.LEFT_ML_END)
            x = (left_cols.max() + 0.5) * sf.ANNOTATION_SPACING_UM
            rows = np.flatnonzero((finest > 0).any(axis=1))
            if rows.size:
                line = Line2D([x, x], [(rows.min() - 0.5) * sf.ANNOTATION_SPACING_UM,
                                       (rows.max() + 0.5) * sf.ANNOTATION_SPACING_UM],
                              color=sf.LINE_COLOUR, linewidth=0.5, linestyle=(0, (3, 2)), zorder=4)
                line.set_gid("midline")
                ax.add_line(line)
        sf.add_orientation_words(layout, section)
        sf.add_scale_bar(layout, section)
        quantity = sf.VALUE_LABELS[value]
        sf.add_colour_bar(layout, colour_map, norm, f"mean {quantity}")
        if any(r["colour"] is None for r in regions):  # the key to the hatching, under the colour bar
            box = layout.cax.get_position()
            fig = layout.figure
            key = Rectangle((box.x0, box.y0 - 0.09), box.width, 0.045, transform=fig.transFigure,
                            facecolor=NO_DATA_FACE, edgecolor=NO_DATA_HATCH_COLOUR, hatch="////", linewidth=0.5)
            key.set_gid("no_data_key")
            fig.add_artist(key)
            fig.text(box.x1 + 0.01, box.y0 - 0.0675, "no voxel with data", fontsize=7, va="center").set_gid("no_data_label")
        e = grid.experiment
        rule = (f"structures at depth {depth}" if depth is not None else
                f"{', '.join(structures)} (with their descendants)" if structures else "finest structures")
        sf.add_title(layout, f"{e.symbol} ({e.plane} experiment {e.id}): mean {value} per structure and hemisphere",
                     "Data: Allen Mouse Brain Atlas, mouse.brain-map.org. Regions: CCFv3 2017 annotation (25 um). "
                     "Means over the 200 um grid voxels with data.",
                     f"{rule}; {sf.section_words(section)}" + (f". {note}" if note else ""))
    session = region_session(grid, section, cmap)
    record = provenance(
        grid, "region map", figure={
            "format": sf.figure_format(path), "plane": section.plane.name, "at_um": list(section.at_um),
            "section_index_25um": section.index25, "depth": depth, "structures": structures,
            "orientation": dict(zip(("top", "bottom", "left", "right"), section.plane.edges)),
            "outlines": f"{n_outlines} regions, vector paths (ids b<structure id>)",
            "scale_bar_um": sf.SCALE_BAR_UM},
        display={"value": value, "cmap": cmap, "colour_scale": [0.0, vmax],
                 "colour_scale_rule": "0 to the largest painted value",
                 "no_data": "grey, hatched (ids nodata_s<id>_<side>): no voxel with data in that hemisphere"},
        method="per-hemisphere means of `export structures` (each structure pools its own and its descendants' "
               "in-brain 200 um voxels with data; -1 excluded; left = grid ML 0-28, right = 29-57); a 25 um pixel "
               "is painted by its finest structure, its ancestor at --depth, or its nearest --structures ancestor",
        painted=regions, session=session.to_dict())
    files = sf.save_figure(layout, path, record)
    return {"files": files, "regions": regions}
