"""Images and movies of many genes at once: a gene set's score map, a composite of 2-3 genes.

The scene is export image's (:func:`~allen_viewer.export.image.offscreen_scene`: outline,
orientation words, caption, credit, camera presets) with no single gene's spheres; the
spheres are a :class:`~allen_viewer.render.gene_set_layers.ScoreLayer` or
:class:`~allen_viewer.render.gene_set_layers.CompositeLayer` added to it.  The PNG and
movie writers, sidecars and the turntable are the single-gene exports' own.  The sidecar
lists every experiment, the rule that drew the voxels and (gene sets) where the grids came
from; its ``session`` reopens the view (mode ``gene-set`` or ``composite``).
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from allen_viewer import config
from allen_viewer.expression.gene_sets import SCORE_TITLE, composite_drawn
from allen_viewer.export.image import (
    DEFAULT_IMAGE_SIZE,
    DEFAULT_VIEW,
    SCENE_COORDINATES,
    camera_record,
    image_record,
    offscreen_scene,
    write_png,
)

DEFAULT_MOVIE_FRAMES = 120


def experiments_record(experiments) -> list[dict]:
    """The sidecar's ``experiments`` for Experiments (what single-gene exports write, less
    the grid's volumes)."""
    return [{"experiment_id": e.id, "gene": e.symbol, "gene_name": e.name, "entrez_id": e.entrez_id,
             "plane": e.plane, "source_url": f"{config.api_url()}/grid_data/download/{e.id}",
             "experiment_page": config.experiment_page(e.id)} for e in experiments]


def many_session(mode: str, experiments, threshold: float, percentile: float | None, view: str = DEFAULT_VIEW):
    """The ViewerState of a gene-set or composite export: ``mode``, the experiment ids used,
    the first experiment on show, the threshold (a score or rank) and the camera preset."""
    from allen_viewer.state import ExperimentRef, ViewerState

    state = ViewerState(experiment=ExperimentRef.of(experiments[0]))
    state.mode = mode
    state.mode_experiments = tuple(int(e.id) for e in experiments)
    state.display.threshold = float(threshold)
    state.display.threshold_pinned = percentile is None
    if percentile is not None:
        state.display.threshold_percentile = float(percentile)
    state.camera.preset = view
    return state


@contextlib.contextmanager
def many_scene(kind: str, data, outline=None, size=DEFAULT_IMAGE_SIZE, view: str = DEFAULT_VIEW,
               transparent: bool = False, caption: str = ""):
    """An off-screen scene with a ``score`` (data: the score map, threshold set by the
    caller) or ``composite`` (data: (ranks, colours, labels)) layer; yields (scene, layer)."""
    from allen_viewer.render.gene_set_layers import CompositeLayer, ScoreLayer

    cls = ScoreLayer if kind == "score" else CompositeLayer
    made = []

    def make_layer(plotter, text_scale, text_color):
        made.append(cls(plotter, text_scale=text_scale, text_color=text_color))
        return made[0]

    # the score (composite) layer is the scene's sphere layer: one visual, closed with the scene
    with offscreen_scene(None, outline, size, view, transparent=transparent, caption=caption,
                         make_layer=make_layer, panel=False) as scene:
        yield scene, made[0]


def _render(kind, payload, threshold, outline, size, view, transparent, caption):
    with many_scene(kind, payload, outline, size, view, transparent, caption) as (scene, layer):
        layer.set_display(threshold=threshold)
        if kind == "score":
            layer.set_data(payload)
        else:
            layer.set_data(*payload)
        return scene.screenshot()


def score_display(score: np.ndarray, threshold: float, rule: str) -> dict:
    return {"score_threshold": threshold, "threshold_rule": rule,
            "voxels_drawn": int(np.sum(~np.isnan(score) & (np.nan_to_num(score, nan=-1) >= threshold))),
            "colour": SCORE_TITLE, "colour_range": [float(min(max(threshold, 0.0), 0.99)), 1.0],
            "sphere_radius": "100 um at score 1, area linear in the score"}


def composite_display(ranks: np.ndarray, colors, labels, threshold: float, rule: str) -> dict:
    return {"rank_threshold": threshold, "threshold_rule": rule,
            "voxels_drawn": int(composite_drawn(ranks, threshold).sum()),
            "colours": {label: {"colour": name, "rgb": list(rgb)} for label, (name, rgb) in zip(labels, colors)},
            "mapping": "a voxel is drawn where at least one gene's percentile rank >= the threshold; each gene's "
                       "colour times (rank - threshold) / (1 - threshold), clipped to 0-1, the colours added and "
                       "clipped; sphere area linear in the largest of those brightnesses"}


def export_many_image(kind: str, payload, path: Path | str, experiments, display: dict, session, extra: dict,
                      outline=None, size=DEFAULT_IMAGE_SIZE, view: str = DEFAULT_VIEW, transparent: bool = False,
                      caption: str = "") -> dict:
    """Render a score map (``kind="score"``, ``payload`` the score) or a composite
    (``"composite"``, ``payload`` (ranks, colours, labels)) and write the PNG and sidecar."""
    threshold = display.get("score_threshold", display.get("rank_threshold"))
    pixels = _render(kind, payload, threshold, outline, size, view, transparent, caption)
    what = ("3-D scene (gene-set score spheres, brain outline)" if kind == "score"
            else "3-D scene (composite of genes, brain outline)")
    record = image_record([], what, pixels, camera=camera_record(view), display=display,
                          coordinates=SCENE_COORDINATES, session=session.to_dict(), **extra)
    record["experiments"] = experiments_record(experiments)
    files = write_png(path, pixels, record)
    return {"files": files, "width": int(pixels.shape[1]), "height": int(pixels.shape[0])}


def export_many_movie(kind: str, payload, path: Path | str, experiments, display: dict, session, extra: dict,
                      outline=None, size=(960, 720), frames: int = DEFAULT_MOVIE_FRAMES, fps: float = 30.0,
                      view: str = DEFAULT_VIEW, caption: str = "", progress=None, cancel=None) -> dict:
    """A turntable movie of a score map or composite (as :func:`export_many_image`), with
    export movie's planning, encoder, atomic file and sidecar record."""
    from allen_viewer.errors import Cancelled
    from allen_viewer.export.movie import _encoder, movie_record, plan_movie, turntable_poses
    from allen_viewer.export.provenance import write_sidecar
    from allen_viewer.io.atomic import atomic_path
    from allen_viewer.io.guard import output_errors, undo_on_failure
    from allen_viewer.render.layers import CameraPose

    plan = plan_movie(path, frames, fps, size)
    path = Path(path)
    threshold = display.get("score_threshold", display.get("rank_threshold"))
    title = f"Allen Viewer turntable: {caption}"
    with output_errors(path), atomic_path(path, "." + plan.fmt) as tmp, _encoder(tmp, plan, title) as add, \
            many_scene(kind, payload, outline, plan.size, view, False, caption) as (scene, layer):
        layer.set_display(threshold=threshold)
        layer.set_data(payload) if kind == "score" else layer.set_data(*payload)
        camera = scene.plotter.camera
        start = CameraPose.of(camera, scene.aspect)
        for done, p in enumerate(turntable_poses(start, scene.bounds, plan.frames, scene.aspect, scene.fit_points,
                                                 fit=True), start=1):
            if cancel is not None and cancel():
                raise Cancelled("Movie export")
            p.apply(camera, scene.aspect)
            add(scene.screenshot())
            if progress is not None:
                progress(done, plan.frames)
    record = movie_record([], plan, camera={**camera_record(view), "turn": "360 degrees about the dorsal-ventral "
                                                                          "axis, as export movie"},
                          display=display, coordinates=SCENE_COORDINATES, session=session.to_dict(), **extra)
    record["experiments"] = experiments_record(experiments)
    with undo_on_failure(path):
        side = write_sidecar(path, record)
    return {"files": [path, side], "width": plan.size[0], "height": plan.size[1], "frames": plan.frames,
            "fps": plan.fps_written, "format": plan.fmt, "rounded": plan.rounded}
