"""What the vector slice figure and the region map share: the section through a point, its
structures as vector outlines, the scale bar, the orientation words, the colour bar and the
writer (SVG, PDF or PNG through matplotlib's non-GUI backends).

Rules (docs/making-figures.md, "Vector slices and region maps"):

* **The section**: the 25 µm annotation slice through ``--at AP,DV,ML`` (CCFv3 µm) in the
  plane's axis, oriented as the viewer's slice panes draw it
  (:data:`allen_viewer.render.slice_images.PLANES`: coronal seen with the left hemisphere on
  the left and dorsal up; sagittal anterior left; horizontal anterior up, left on the left).
  The figure's data coordinates are CCF micrometres of the two in-plane axes; a 25 µm pixel
  (row r, column c) covers ``25 c - 12.5`` to ``25 c + 12.5`` µm.
* **Outlines** are vector paths traced (marching squares, :mod:`contourpy`) around each
  region's pixels: one ``<path>`` per structure, in the SVG inside a group whose id is
  ``b<structure id>``.
* **Text stays text**: ``svg.fonttype='none'``, ``pdf.fonttype=42``.
* **Margins**: the orientation words sit outside the data axes (top, bottom, left, right),
  the scale bar (1 mm) below the axes at the left, the colour bar right of the words:
  nothing is written over the data.
* Only the Agg, SVG and PDF canvases are used (no pyplot, no Qt, no display).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from allen_viewer.atlas.reference_space import ANNOTATION_SHAPE, ANNOTATION_SPACING_UM, ReferenceSpace, um_to_ccf25
from allen_viewer.errors import AllenViewerError
from allen_viewer.expression.brain import LEFT_ML_END
from allen_viewer.render.slice_images import GRID_MAPS, PLANES, Plane

FIGURE_FORMATS = (".svg", ".pdf", ".png")
PNG_DPI = 200
"""Pixels per inch of a PNG figure (the SVG and PDF are vectors)."""
SCALE_BAR_UM = 1000.0
LINE_COLOUR = "#202020"
VALUE_LABELS = {
    "energy": "expression energy (a.u., intensity x density)",
    "density": "expression density (fraction expressing, 0-1)",
    "intensity": "expression intensity (grey level, 0-255)",
}
"""The colour bar's quantity and unit, per value."""
RC = {"svg.fonttype": "none", "pdf.fonttype": 42, "ps.fonttype": 42, "font.size": 8.0,
      "svg.hashsalt": "allen_viewer", "path.simplify": False}


def figure_format(path: Path | str) -> str:
    """``svg``, ``pdf`` or ``png`` from the file name; AllenViewerError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise AllenViewerError(f"Slice figures are written as FILE.svg, FILE.pdf or FILE.png, not {Path(path).name!r}.")
    return suffix[1:]


@dataclass(frozen=True)
class Section:
    """The 25 µm annotation section of ``plane`` through ``at_um`` (AP, DV, ML µm)."""

    plane: Plane
    at_um: tuple[float, float, float]
    index25: int  # along the plane's axis
    grid_index: int  # the 200 µm grid slice that covers it
    labels: np.ndarray  # (rows, cols) compact labels

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(left, right, bottom, top) in µm for imshow: rows go downwards."""
        h, w = self.labels.shape
        half = ANNOTATION_SPACING_UM / 2
        return (-half, (w - 1) * ANNOTATION_SPACING_UM + half, (h - 1) * ANNOTATION_SPACING_UM + half, -half)

    def hemisphere_pixels(self) -> np.ndarray:
        """int8 (rows, cols): 0 where the pixel is in the left hemisphere, 1 in the right (by
        the grid ML index that covers the pixel: left = 0-28)."""
        h, w = self.labels.shape
        if self.plane.cols == 2:
            left = np.broadcast_to(GRID_MAPS[2][None, :] < LEFT_ML_END, (h, w))
        elif self.plane.rows == 2:
            left = np.broadcast_to(GRID_MAPS[2][:, None] < LEFT_ML_END, (h, w))
        else:  # sagittal: the whole section is one side
            left = np.full((h, w), int(GRID_MAPS[2][self.index25]) < LEFT_ML_END)
        return np.where(left, 0, 1).astype(np.int8)


def parse_at(text: str) -> tuple[float, float, float]:
    """``AP,DV,ML`` micrometres inside the 25 µm annotation's box, else AllenViewerError."""
    from allen_viewer.render.cuts import parse_point_um

    try:
        return parse_point_um(text)
    except ValueError as exc:
        raise AllenViewerError(f"--at {exc}.") from None


def colour_map(name: str):
    """matplotlib's colour map ``name``; one AllenViewerError line for an unknown name."""
    import matplotlib

    try:
        return matplotlib.colormaps[name]
    except (KeyError, ValueError):
        raise AllenViewerError(f"Unknown colour map {name!r}.") from None


def section_at(space: ReferenceSpace, plane: str, at_um) -> Section:
    """The :class:`Section` of ``plane`` (coronal, sagittal, horizontal) through ``at_um``."""
    if plane not in PLANES:
        raise AllenViewerError(f"--plane must be coronal, sagittal or horizontal, not {plane!r}.")
    p = PLANES[plane]
    index = int(um_to_ccf25(at_um)[p.axis])
    labels = np.ascontiguousarray(p.take(space.labels25, index))
    if not labels.any():
        axis = ("AP", "DV", "ML")[p.axis]
        raise AllenViewerError(f"The {plane} section at {axis} {index * ANNOTATION_SPACING_UM:g} um does not cross "
                               "the brain (no annotated voxel there); choose a point inside the brain.")
    return Section(p, tuple(float(v) for v in at_um), index, int(GRID_MAPS[p.axis][index]), labels)


def mask_path(mask: np.ndarray):
    """A matplotlib Path (µm, compound, holes included) around the True pixels of ``mask``,
    traced at the pixels' half-way level by marching squares; None when the mask is empty."""
    import contourpy
    from matplotlib.path import Path as MplPath

    if not mask.any():
        return None
    rows, cols = np.nonzero(mask)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    z = np.zeros((r1 - r0 + 2, c1 - c0 + 2))
    z[1:-1, 1:-1] = mask[r0:r1, c0:c1]
    x = (np.arange(c0 - 1, c1 + 1)) * ANNOTATION_SPACING_UM
    y = (np.arange(r0 - 1, r1 + 1)) * ANNOTATION_SPACING_UM
    gen = contourpy.contour_generator(x, y, z, fill_type=contourpy.FillType.OuterCode, line_type="SeparateCode")
    points, codes = gen.filled(0.5, 2.0)
    if not points:
        return None
    return MplPath(np.concatenate(points), np.concatenate(codes).astype(MplPath.code_type))


def region_ids(section: Section, space: ReferenceSpace) -> np.ndarray:
    """(rows, cols) Allen ids of the section's finest structures (0 outside the brain)."""
    return space.label_ids[section.labels].astype(np.int64)


def add_outlines(ax, ids: np.ndarray, linewidth: float = 0.35, colour: str = LINE_COLOUR,
                 prefix: str = "b") -> int:
    """One vector outline (a PathPatch without fill, gid ``<prefix><id>``) per non-zero id of
    ``ids`` (a (rows, cols) id map); returns how many were drawn."""
    from matplotlib.patches import PathPatch

    n = 0
    for sid in np.unique(ids).tolist():
        if sid == 0:
            continue
        path = mask_path(ids == sid)
        if path is None:
            continue
        patch = PathPatch(path, facecolor="none", edgecolor=colour, linewidth=linewidth, joinstyle="round", zorder=4)
        patch.set_gid(f"{prefix}{sid}")
        ax.add_patch(patch)
        n += 1
    return n


def brain_outline(ax, ids: np.ndarray, linewidth: float = 0.8) -> None:
    """The section's brain outline (all labelled pixels), gid ``brain_outline``."""
    from matplotlib.patches import PathPatch

    path = mask_path(ids > 0)
    if path is not None:
        patch = PathPatch(path, facecolor="none", edgecolor=LINE_COLOUR, linewidth=linewidth, zorder=5)
        patch.set_gid("brain_outline")
        ax.add_patch(patch)


@dataclass
class FigureLayout:
    figure: object
    ax: object  # the data axes
    cax: object  # the colour bar axes


def new_figure(section: Section, width_in: float = 7.0) -> FigureLayout:
    """A matplotlib Figure (no pyplot, no canvas needing a display) sized to the section's
    aspect, with room in the margins for the words, the scale bar and a colour bar."""
    from matplotlib.figure import Figure

    h, w = section.labels.shape
    aspect = h / w
    left, right_words, cbar_w, cbar_gap, right_pad = 0.35, 0.35, 0.15, 0.1, 1.25
    top, bottom = 0.6, 0.6
    data_w = width_in - left - right_words - cbar_gap - cbar_w - right_pad
    data_h = data_w * aspect
    height_in = data_h + top + bottom
    fig = Figure(figsize=(width_in, height_in))
    ax = fig.add_axes((left / width_in, bottom / height_in, data_w / width_in, data_h / height_in))
    cax = fig.add_axes(((left + data_w + right_words + cbar_gap) / width_in, (bottom + 0.15 * data_h) / height_in,
                        cbar_w / width_in, 0.7 * data_h / height_in))
    l, r, b, t = section.extent
    ax.set_xlim(l, r)
    ax.set_ylim(b, t)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return FigureLayout(fig, ax, cax)


def add_orientation_words(layout: FigureLayout, section: Section) -> None:
    """The plane's edge words (top, bottom, left, right) in the margins, outside the data."""
    ax = layout.ax
    top, bottom, left, right = section.plane.edges
    style = dict(transform=ax.transAxes, fontsize=8, color="#404040")
    ax.text(0.5, 1.02, top, ha="center", va="bottom", **style).set_gid("orientation_top")
    ax.text(0.5, -0.02, bottom, ha="center", va="top", **style).set_gid("orientation_bottom")
    ax.text(-0.02, 0.5, left, ha="right", va="center", rotation=90, **style).set_gid("orientation_left")
    ax.text(1.02, 0.5, right, ha="left", va="center", rotation=90, **style).set_gid("orientation_right")


def add_scale_bar(layout: FigureLayout, section: Section, length_um: float = SCALE_BAR_UM) -> None:
    """A ``length_um`` bar with its length written under it, below the data axes at the left."""
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    ax = layout.ax
    trans = blended_transform_factory(ax.transData, ax.transAxes)
    x0 = section.extent[0]
    bar = Line2D([x0, x0 + length_um], [-0.04, -0.04], transform=trans, color="black", linewidth=2.0,
                 solid_capstyle="butt", clip_on=False)
    bar.set_gid("scale_bar")
    ax.add_line(bar)
    ax.text(x0 + length_um / 2, -0.06, f"{length_um / 1000:g} mm", transform=trans, ha="center", va="top",
            fontsize=7).set_gid("scale_bar_label")


def add_colour_bar(layout: FigureLayout, cmap, norm, label: str, extend: str = "neither") -> None:
    from matplotlib.cm import ScalarMappable

    bar = layout.figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=layout.cax, extend=extend)
    if bar.solids is not None:
        bar.solids.set_rasterized(False)  # matplotlib rasterizes long colour bars; keep it a vector
        bar.solids.set_edgecolor("face")  # and without seams between its bands in PDF/SVG viewers
    bar.set_label(label, fontsize=7)
    bar.ax.tick_params(labelsize=7)
    layout.cax.set_gid("colour_bar")


def add_title(layout: FigureLayout, text: str, note: str, subtitle: str = "") -> None:
    """The title (bold) and ``subtitle`` at the top left, ``note`` (the data credit) at the bottom."""
    layout.figure.text(0.01, 0.995, text, ha="left", va="top", fontsize=8.5, fontweight="bold").set_gid("title")
    if subtitle:
        layout.figure.text(0.01, 0.995 - 0.16 / layout.figure.get_figheight(), subtitle, ha="left", va="top",
                           fontsize=7.5).set_gid("subtitle")
    layout.figure.text(0.01, 0.005, note, ha="left", va="bottom", fontsize=6, color="#505050").set_gid("credit")


def section_words(section: Section) -> str:
    """``coronal section at AP 5300 um`` (the slice's position along its axis)."""
    axis = ("AP", "DV", "ML")[section.plane.axis]
    words = f"{section.plane.name} section at {axis} {section.index25 * ANNOTATION_SPACING_UM:g} um"
    if section.plane.axis == 2:  # sagittal: say which hemisphere (grid ML 0-28 is the left)
        words += " (left hemisphere)" if section.hemisphere_pixels()[0, 0] == 0 else " (right hemisphere)"
    return words


def save_figure(layout: FigureLayout, path: Path | str, record: dict) -> list[Path]:
    """Write the figure to ``path`` (format from the suffix) atomically, with a short title
    in its metadata, then the sidecar (``record``); the figure is removed again when the
    sidecar cannot be written.  Returns [figure, sidecar]."""
    import json

    import matplotlib

    from allen_viewer.export.provenance import write_sidecar
    from allen_viewer.io.atomic import atomic_write
    from allen_viewer.io.guard import output_errors, undo_on_failure

    path = Path(path)
    fmt = figure_format(path)
    exps = record.get("experiments") or []
    title = "Allen Viewer figure" + (": " + ", ".join(f"{e['gene']} ({e['plane']}, {e['experiment_id']})"
                                                      for e in exps) if exps else "")
    if fmt == "svg":
        metadata = {"Title": title, "Creator": record.get("software"), "Date": None,
                    "Description": record.get("citation")}
    elif fmt == "pdf":
        metadata = {"Title": title, "Creator": record.get("software"), "Subject": record.get("citation")}
    else:
        metadata = {"Title": title, "Software": record.get("software"),
                    "allen_viewer:provenance": json.dumps(record, ensure_ascii=True, default=str)}
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        layout.figure.savefig(buf, format=fmt, dpi=PNG_DPI, metadata=metadata, facecolor="white")
    with output_errors(path), atomic_write(path, "wb") as fh:
        fh.write(buf.getvalue())
    with undo_on_failure(path):
        side = write_sidecar(path, record)
    return [path, side]


def figure_rc():
    """The rc settings every figure is drawn under (text stays text)."""
    import matplotlib

    return matplotlib.rc_context(RC)
