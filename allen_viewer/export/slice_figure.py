"""``export slice``: one section through a point as a vector figure (SVG, PDF; or PNG).

What it draws (docs/making-figures.md, "Vector slices and region maps"):

* **Background** (``annotation``, ``nissl`` or ``none``): the 25 µm atlas colours (dimmed
  towards grey as in the slice panes when a gene is on show) or the Nissl stain, as one
  raster image under everything; ``none`` leaves the page white.  Nissl needs the volume
  downloaded (``allen-viewer download-reference nissl``); without it the export stops with
  one line saying so.
* **Expression**: one filled rectangle per 200 µm grid voxel of the section that has data
  (in the brain, i.e. the 200 µm grid annotation > 0, and not -1), each an SVG group with id
  ``v<ap>_<dv>_<ml>`` (grid indices), clipped to the brain's outline so the 200 µm blocks do
  not spill past it.  Colours follow the slice panes' display rules: the colour map
  (default viridis) from energy 0 to the 99th percentile of the gene's in-brain energies
  (:data:`allen_viewer.render.slice_images.ENERGY_MAX_PERCENTILE`), saturating above it;
  with a threshold only voxels at or above it are drawn (as the panes following the 3-D
  threshold).  The exact value of every drawn voxel is in the sidecar (``voxels``).
* **Outlines**: every structure of the section as a vector path (group ``b<id>``), the brain's
  outline thicker; **labels** (``--labels``): the acronyms as real text, placed as the panes'
  *Structure labels* are (:mod:`allen_viewer.atlas.slice_labels`), a label that would overlap
  one already written is left out.
* Colour bar (quantity and unit), 1 mm scale bar and orientation words in the margins.

Qt-free; the CLI and the slice panes' context menu both call :func:`export_slice_figure`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from allen_viewer.errors import AllenViewerError
from allen_viewer.export import section_figure as sf
from allen_viewer.expression.grid import ExpressionGrid

BACKGROUNDS = ("annotation", "nissl", "none")
LABEL_FONT_PT = 5.0
NISSL_MISSING = ("The Nissl volume is not downloaded; run `allen-viewer download-reference nissl` (136 MB) "
                 "or choose --background annotation or none.")


def section_voxels(grid: ExpressionGrid, section: sf.Section, threshold: float | None = None) -> np.ndarray:
    """(n, 3) grid indices (AP, DV, ML) of the section's voxels with data (in-brain, not -1),
    at or above ``threshold`` when given, in C order."""
    keep = np.zeros(grid.energy.shape, bool)
    index = [slice(None)] * 3
    index[section.plane.axis] = section.grid_index
    keep[tuple(index)] = grid.has_data[tuple(index)]
    if threshold is not None:
        with np.errstate(invalid="ignore"):
            keep &= grid.energy >= threshold
    return np.argwhere(keep)


def energy_scale_max(grid: ExpressionGrid) -> float:
    """The panes' saturation value: the 99th percentile of the in-brain energies (1 when none)."""
    from allen_viewer.render.slice_images import ENERGY_MAX_PERCENTILE

    vals = grid.energy[grid.has_data]
    if vals.size == 0:
        return 1.0
    vmax = float(np.percentile(vals, ENERGY_MAX_PERCENTILE))
    if vmax <= 0:
        vmax = float(vals.max()) if vals.max() > 0 else 1.0
    return vmax


def background_image(space, section: sf.Section, background: str, nissl: np.ndarray | None):
    """(rows, cols, 3) uint8 background of the section, or None for ``none``."""
    from allen_viewer.render.slice_images import ATLAS_DIM_WITH_GRID, label_colors, nissl_to_gray

    if background == "none":
        return None
    if background == "nissl":
        if nissl is None:
            raise AllenViewerError(NISSL_MISSING)
        gray = nissl_to_gray(section.plane.take(nissl, section.index25)[None])[0]
        return np.repeat(gray[:, :, None], 3, axis=2)
    colours = label_colors(space).astype(np.float32)
    colours[1:] = colours[1:] * (1 - ATLAS_DIM_WITH_GRID) + 128.0 * ATLAS_DIM_WITH_GRID
    colours[0] = 255.0  # outside the brain: the page
    return np.clip(colours[section.labels] + 0.5, 0, 255).astype(np.uint8)


def add_labels(layout, section: sf.Section, space, min_pixels: int | None = None) -> list[dict]:
    """The structures' acronyms as text (gid ``label_<id>``), skipping overlaps; returns
    what was written (id, acronym, position in µm)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from allen_viewer.atlas.slice_labels import MIN_LABEL_PIXELS, label_groups, slice_labels

    group, group_ids = label_groups(space.ontology, space.label_ids)
    found = slice_labels(section.labels, group, group_ids, space.ontology,
                         MIN_LABEL_PIXELS if min_pixels is None else min_pixels)
    canvas = FigureCanvasAgg(layout.figure)
    renderer = canvas.get_renderer()
    placed, written = [], []
    for lab in found:
        x, y = lab.col * sf.ANNOTATION_SPACING_UM, lab.row * sf.ANNOTATION_SPACING_UM
        text = layout.ax.text(x, y, lab.acronym, ha="center", va="center", fontsize=LABEL_FONT_PT,
                              color="black", zorder=6,
                              bbox={"boxstyle": "round,pad=0.12", "facecolor": "white", "alpha": 0.7,
                                    "edgecolor": "none"})
        box = text.get_window_extent(renderer).expanded(1.05, 1.1)
        if any(box.overlaps(other) for other in placed):
            text.remove()
            continue
        text.set_gid(f"label_{lab.structure_id}")
        placed.append(box)
        written.append({"structure_id": lab.structure_id, "acronym": lab.acronym, "x_um": x, "y_um": y})
    return written


def slice_session(grid: ExpressionGrid, section: sf.Section, cmap: str, threshold: float | None,
                  background: str, labels: bool):
    """The ViewerState the sidecar embeds: the gene, the cursor at the section's point, the
    background and labels as drawn."""
    from allen_viewer.export.image import image_session

    state = image_session(grid, {"threshold": 0.0 if threshold is None else float(threshold), "cmap": cmap})
    state.cursor_um = tuple(section.at_um)
    state.slice_background = "nissl" if background == "nissl" else "annotation"
    state.structure_labels = bool(labels)
    return state


def export_slice_figure(grid: ExpressionGrid, space, path: Path | str, plane: str, at_um,
                        labels: bool = False, background: str = "annotation", nissl: np.ndarray | None = None,
                        cmap: str = "viridis", threshold: float | None = None, threshold_rule: str = "") -> dict:
    """Draw the section of ``plane`` through ``at_um`` (CCF µm, AP, DV, ML) with ``grid``'s
    expression and write it to ``path`` (``.svg``, ``.pdf`` or ``.png``) with its sidecar.

    ``nissl``: the Nissl volume (float (AP, DV, ML), 25 µm) for ``background="nissl"``.
    Returns ``{"files": [figure, sidecar], "voxels": n, "labels": n, "structures": n}``."""
    import matplotlib
    from matplotlib.colors import Normalize
    from matplotlib.patches import PathPatch, Rectangle

    from allen_viewer.export.provenance import provenance

    sf.figure_format(path)
    if background not in BACKGROUNDS:
        raise AllenViewerError(f"--background must be annotation, nissl or none, not {background!r}.")
    if background == "nissl" and nissl is None:
        raise AllenViewerError(NISSL_MISSING)
    colour_map = sf.colour_map(cmap)
    section = sf.section_at(space, plane, at_um)
    ids = sf.region_ids(section, space)
    vmax = energy_scale_max(grid)
    norm = Normalize(0.0, vmax, clip=True)
    with sf.figure_rc():
        layout = sf.new_figure(section)
        ax = layout.ax
        bg = background_image(space, section, background, nissl)
        if bg is not None:
            ax.imshow(bg, extent=section.extent, interpolation="nearest", zorder=0).set_gid("background")
        brain = sf.mask_path(ids > 0)
        clip = PathPatch(brain, transform=ax.transData) if brain is not None else None
        voxels = section_voxels(grid, section, threshold)
        rows_axis, cols_axis = section.plane.rows, section.plane.cols
        drawn = []
        for v in voxels.tolist():
            value = float(grid.energy[tuple(v)])
            colour = colour_map(norm(value))
            x = 200.0 * v[cols_axis] - 100.0
            y = 200.0 * v[rows_axis] - 100.0
            # edged in its own colour: renderers that anti-alias each square leave no seams between them
            rect = Rectangle((x, y), 200.0, 200.0, facecolor=colour, edgecolor=colour, linewidth=0.25, zorder=2)
            rect.set_gid(f"v{v[0]}_{v[1]}_{v[2]}")
            if clip is not None:
                rect.set_clip_path(clip)
            ax.add_patch(rect)
            record = {"ap": v[0], "dv": v[1], "ml": v[2], "energy": value,
                      "colour": matplotlib.colors.to_hex(colour)}
            for name in ("intensity", "density"):
                vol = getattr(grid, name)
                if vol is not None:
                    record[name] = float(vol[tuple(v)])
            drawn.append(record)
        n_outlines = sf.add_outlines(ax, ids)
        sf.brain_outline(ax, ids)
        written = add_labels(layout, section, space) if labels else []
        sf.add_orientation_words(layout, section)
        sf.add_scale_bar(layout, section)
        sf.add_colour_bar(layout, colour_map, norm, sf.VALUE_LABELS["energy"], extend="max")
        e = grid.experiment
        rule = (f"; energy >= {threshold:.3g}" if threshold is not None else "")
        sf.add_title(layout, f"{e.symbol} ({e.plane} experiment {e.id})",
                     "Data: Allen Mouse Brain Atlas, mouse.brain-map.org. Outlines: CCFv3 2017 annotation (25 um). "
                     "Squares: 200 um grid voxels with data.",
                     f"{sf.section_words(section)}{rule}")
    session = slice_session(grid, section, cmap, threshold, background, labels)
    record = provenance(
        grid, "slice figure", figure={
            "format": sf.figure_format(path), "plane": section.plane.name, "at_um": list(section.at_um),
            "section_index_25um": section.index25, "grid_index": section.grid_index,
            "background": background, "labels": written if labels else False,
            "outlines": f"{n_outlines} structures of the 25 um CCFv3 annotation, vector paths (ids b<structure id>)",
            "orientation": dict(zip(("top", "bottom", "left", "right"), section.plane.edges)),
            "scale_bar_um": sf.SCALE_BAR_UM},
        display={"value": "energy", "cmap": cmap, "colour_scale": [0.0, vmax],
                 "colour_scale_rule": "0 to the 99th percentile of the gene's in-brain energies, saturating above",
                 "energy_threshold": threshold,
                 "threshold_rule": threshold_rule or ("none: every voxel with data is drawn" if threshold is None
                                                      else "energy threshold given by the caller"),
                 "voxels": "in-brain 200 um grid voxels with data on the section (ids v<ap>_<dv>_<ml>)"},
        voxels=drawn, session=session.to_dict())
    files = sf.save_figure(layout, path, record)
    return {"files": files, "voxels": len(drawn), "labels": len(written), "structures": n_outlines}
