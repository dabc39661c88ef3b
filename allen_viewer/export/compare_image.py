"""The three-panel compare figure, off screen: ``allen-viewer export image A --compare B``.

Panels, left to right, each a 3-D scene of a third of the width (:func:`render_compare`):

* **A** and **B**: each gene's spheres (size: energy, as everywhere), drawn from its own
  ``threshold_percentile`` (default the 90th) of its in-brain energies, coloured by the
  compare scaling ``normalise``: ``rank`` (the default: each voxel's percentile rank among the
  gene's own in-brain voxels with data, :func:`allen_viewer.expression.compare.scaled_energy`,
  the program's one rank function), ``raw`` energy or ``z`` scores.  ``scale`` ``shared``
  gives both one colour range, ``separate`` each its own.
* **A - B** (or the log2 ratio): :class:`~allen_viewer.render.layers.DifferenceLayer` in the
  same scaling, where both have data and A or B reaches its own threshold, on a diverging map
  with a white centre; |value| below
  ``min_abs_fraction`` of its range is not drawn (the colour bar's title says so).

Each panel is titled by what it shows ("A: Pdyn (percentile rank)", "B: Nrp1 (percentile
rank)", "A - B (rank difference)"), with its own colour bar under the title (A's and B's
bars say "(shared scale)" when they share one, as the window's do; with separate scales the
first panel's caption says so); the third panel adds the Pearson r of **energy** over the in-brain voxels where both have data (equal to the
``root`` row of ``allen-viewer compare``).  The options are a
:class:`~allen_viewer.state.CompareOptions`, saved in the sidecar's session, so
``allen-viewer --session F.png.json`` reopens the comparison drawn.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from allen_viewer.expression.brain import percentile_threshold
from allen_viewer.expression.compare import both_have_data, correlation
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.render.layers import NORMALISE_SCALE, DifferenceLayer, ExpressionLayer, robust_max
from allen_viewer.state import CompareOptions

DEFAULT_COMPARE_SIZE = (2400, 1000)
"""(width, height) of ``export image A --compare B`` without ``--size``: three 800 x 1000 panels."""
QUANTITY = {"rank": "percentile rank", "raw": "energy", "z": "z-score"}
DIFF_WORD = {"rank": "rank", "raw": "energy", "z": "z-score"}


def panel_titles(a: ExpressionGrid, b: ExpressionGrid, options: CompareOptions) -> list[str]:
    """The three panels' titles."""
    q = QUANTITY[options.normalise]
    if options.kind == "ratio":
        scale = "rank" if options.normalise == "z" else options.normalise  # z-scores have no ratio
        third = f"log2 A / B ({DIFF_WORD[scale]} ratio)"
    else:
        third = f"A - B ({DIFF_WORD[options.normalise]} difference)"
    return [f"A: {a.gene} ({q})", f"B: {b.gene} ({q})", third]


def _shared_range(layers) -> tuple[float, float]:
    lo = min(layer.color_range[0] for layer in layers)
    hi = max(layer.color_range[1] for layer in layers)
    return lo, hi


def compare_layers_setup(a: ExpressionGrid, b: ExpressionGrid, options: CompareOptions,
                         percentile: float) -> dict:
    """The numbers the panels are drawn with: each gene's energy threshold (its own
    ``percentile``), the shared colour range (when ``options.scale`` is shared), r and n."""
    ta, tb = percentile_threshold(a, percentile), percentile_threshold(b, percentile)
    both = both_have_data(a, b)
    return {"threshold_a": ta, "threshold_b": tb, "r_energy": correlation(a, b), "voxels_both": int(both.sum()),
            "energy_ref": max(robust_max(a.energy[a.has_data]), robust_max(b.energy[b.has_data]))}


def render_compare(a: ExpressionGrid, b: ExpressionGrid, outline=None, size=DEFAULT_COMPARE_SIZE,
                   view: str = "oblique", options: CompareOptions | None = None, percentile: float = 90.0,
                   transparent: bool = False, credit: bool = True) -> tuple[np.ndarray, dict]:
    """The three panels side by side: uint8 pixels (height, width, 3 or 4) and a dict of
    what was drawn (thresholds, colour ranges, r, titles) for the sidecar; ``credit``: the
    data credit line in each panel's corner."""
    from allen_viewer.export.image import check_size, offscreen_scene

    options = options or CompareOptions()
    width, height = check_size(size)
    widths = [width // 3, width // 3, width - 2 * (width // 3)]
    setup = compare_layers_setup(a, b, options, percentile)
    titles = panel_titles(a, b, options)
    shared = options.scale == "shared"

    def gene_layer(grid, threshold):
        def make(plotter, text_scale, text_color):
            layer = ExpressionLayer(plotter, text_scale=text_scale, text_color=text_color, color_by="energy")
            layer.set_display(threshold=threshold)
            layer.normalise = options.normalise
            layer.set_grid(grid)
            return layer
        return make

    # the colour ranges each gene would take alone, for a shared range (a throwaway pass)
    ranges = []
    for grid, t in ((a, setup["threshold_a"]), (b, setup["threshold_b"])):
        ranges.append(_own_range(grid, t, options.normalise))
    shared_range = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    r = setup["r_energy"]
    r_text = "r = n/a" if not np.isfinite(r) else f"r = {r:.2f}"
    panels, drawn = [], {"titles": titles, "colour_ranges": []}
    for n, (w, title) in enumerate(zip(widths, titles)):
        caption = title
        if n == 0:
            from allen_viewer.render.layers import PRESET_NAMES

            caption += "\n" + PRESET_NAMES[view] + ("" if shared else "; A and B each on its own colour scale")
        if n == 2:
            caption += f"\n{r_text} (Pearson, energy, {setup['voxels_both']:,} voxels with data in both)"
        if n < 2:
            grid, t = (a, setup["threshold_a"]) if n == 0 else (b, setup["threshold_b"])
            base = gene_layer(grid, t)

            def make(plotter, text_scale, text_color, base=base):
                layer = base(plotter, text_scale, text_color)
                if shared:
                    layer.set_scale(color_max=shared_range[1], energy_ref=setup["energy_ref"],
                                    note="shared scale", color_min=shared_range[0])  # as the window's bars
                return layer
        else:
            def make(plotter, text_scale, text_color):
                layer = DifferenceLayer(plotter, text_scale=text_scale, text_color=text_color)
                layer.display.threshold = setup["threshold_a"]
                layer.scale = {"raw": "raw", **NORMALISE_SCALE}[options.normalise]
                layer.min_abs_fraction = float(options.min_abs_fraction)
                layer.gene_thresholds = (setup["threshold_a"], setup["threshold_b"])
                layer.set_grids(a, b, options.kind)
                return layer
        holder = {}

        def made(plotter, text_scale, text_color, make=make, holder=holder):
            holder["layer"] = layer = make(plotter, text_scale, text_color)
            return layer
        with offscreen_scene(a if n != 1 else b, outline, (w, height), view, transparent=transparent,
                             caption=caption, make_layer=made, credit=credit) as scene:
            panels.append(scene.screenshot())
            layer = holder["layer"]
            drawn["colour_ranges"].append([float(v) for v in layer.color_range])
            drawn.setdefault("colour_bar_titles", []).append(layer.title)
    drawn.update(threshold_a=setup["threshold_a"], threshold_b=setup["threshold_b"], r_energy=r,
                 voxels_both=setup["voxels_both"])
    return np.concatenate(panels, axis=1), drawn


def _own_range(grid: ExpressionGrid, threshold: float, normalise: str) -> tuple[float, float]:
    """The colour range an :class:`ExpressionLayer` takes for ``grid`` alone (no plotter)."""
    from allen_viewer.expression.compare import scaled_energy

    has = np.asarray(grid.has_data, bool)
    if normalise == "raw":
        return float(threshold), robust_max(grid.energy[has])
    values = scaled_energy(grid, NORMALISE_SCALE[normalise])
    drawn = values[has & (grid.energy >= threshold)]
    lo = float(drawn.min()) if drawn.size else 0.0
    return lo, (1.0 if normalise == "rank" else robust_max(values[has]))


def compare_session(a: ExpressionGrid, b: ExpressionGrid, view: str, options: CompareOptions, percentile: float):
    """The :class:`~allen_viewer.state.ViewerState` that reopens the comparison drawn."""
    from allen_viewer.render.layers import PARALLEL_PRESETS
    from allen_viewer.state import ExperimentRef, ViewerState

    state = ViewerState(experiment=ExperimentRef.of(a.experiment), compare_with=ExperimentRef.of(b.experiment),
                        comparing=True)
    state.display.threshold_pinned = False
    state.display.threshold_percentile = float(percentile)
    state.display.threshold = percentile_threshold(a, percentile)
    state.camera.preset = view
    state.camera.projection = "parallel" if view in PARALLEL_PRESETS else "perspective"
    for name in ("scale", "kind", "normalise", "min_abs_fraction"):
        setattr(state.compare_options, name, getattr(options, name))
    return state


def export_compare_image(a: ExpressionGrid, b: ExpressionGrid, path: Path | str, outline=None,
                         size=DEFAULT_COMPARE_SIZE, view: str = "oblique", options: CompareOptions | None = None,
                         percentile: float = 90.0, transparent: bool = False, credit: bool = True,
                         session=None) -> dict:
    """Render :func:`render_compare` and write it with its provenance sidecar (embedding
    ``session``, by default :func:`compare_session`).  Returns ``{"files": [png, sidecar],
    "width", "height", "drawn"}``."""
    from allen_viewer.export.image import SCENE_COORDINATES, camera_record, image_record, write_png

    options = options or CompareOptions()
    pixels, drawn = render_compare(a, b, outline, size, view, options, percentile, transparent, credit)
    if session is None:
        session = compare_session(a, b, view, options, percentile)
    record = image_record(
        [a, b], "3-D compare figure: A, B and their difference, side by side", pixels,
        camera=camera_record(view), coordinates=SCENE_COORDINATES, session=session.to_dict(),
        compare={"normalise": options.normalise, "scale": options.scale, "kind": options.kind,
                 "min_abs_fraction": options.min_abs_fraction,
                 "threshold_rule": f"each gene's own {percentile:g}th percentile of its in-brain energies",
                 "rank": "each gene's percentile rank among its own in-brain voxels with data, 0 lowest, "
                         "1 highest, ties share their mean position",
                 "r": "Pearson r of energy over in-brain voxels where both have data",
                 **{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in drawn.items()}})
    files = write_png(path, pixels, record)
    return {"files": files, "width": int(pixels.shape[1]), "height": int(pixels.shape[0]), "drawn": drawn}
