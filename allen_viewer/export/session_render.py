"""Any figure redrawn from its session: what ``export image --session`` and ``export movie
--session`` draw (Qt-free).

A session (:class:`~allen_viewer.state.ViewerState`: a session file, a sidecar, or an
image with its sidecar, :func:`allen_viewer.export.provenance.read_session_source`) says
what was on show; :func:`session_data` loads the objects that show it (the gene's grid and,
when comparing, gene B's; the reference space, the brain outline and, for Nissl slice
planes, the Nissl volume) from the embedded resources and the cache as every command does,
into a :class:`~allen_viewer.loaded_data.LoadedData`; :func:`session_scene` builds the
off-screen :class:`~allen_viewer.render.scene.Scene` with
:meth:`~allen_viewer.render.scene.Scene.show_state` -- the display settings (the threshold
in effect, size scale, colour map, opacity, *Colour by*, outside-brain voxels), the
ticked and selected structures' surfaces, the cursor, the cut-away, the slice planes and
the camera (its preset fitted to the image, else its pose).

``caption`` false (``--no-caption``) leaves out the title and the credit line: the window
draws neither, so a window's 3-D view and ``export image --session ITS_SIDECAR --size ITS_SIZE
--no-caption`` give the same picture.  Flags given beside the session override it
(:func:`override_session`).  A compare session draws the three-panel figure
(:mod:`allen_viewer.export.compare_image`) with the session's compare options; there the
panels' titles stay (they say what each panel shows) and ``--no-caption`` leaves out the
credit line.
"""
from __future__ import annotations

import contextlib

from allen_viewer.errors import AllenViewerError
from allen_viewer.loaded_data import LoadedData

SESSION_MODES = ("gene",)
"""Session modes ``--session`` redraws (composite and gene-set sessions: not yet)."""


def check_drawable(session) -> None:
    """One AllenViewerError line for a session that names no gene or a mode not redrawn."""
    if session.experiment is None:
        raise AllenViewerError("The session shows no gene, so there is nothing to draw.")
    if session.mode not in SESSION_MODES:
        raise AllenViewerError(f"The session is a {session.mode} view; --session redraws single-gene and compare "
                               f"sessions only (export image --{session.mode} draws the others).")
    if session.comparing and session.compare_with is None:
        raise AllenViewerError("The session compares with no second gene.")


def comparing(session) -> bool:
    return bool(session.comparing and session.compare_with is not None)


def session_data(session, data=None, planes: bool | None = None) -> LoadedData:
    """The loaded objects ``session`` shows (module docstring), from ``data`` (an
    :class:`~allen_viewer.data.AtlasData`; None: a new one)."""
    from allen_viewer.data import AtlasData
    from allen_viewer.render.meshes import brain_outline

    check_drawable(session)
    data = data or AtlasData()
    loaded = LoadedData()
    loaded.grid = data.load_grid(int(session.experiment.id))
    if comparing(session):
        loaded.compare_grid = data.load_grid(int(session.compare_with.id))
    loaded.space = data.reference_space
    loaded.outline_mesh = brain_outline(loaded.space)
    planes = session.slice_planes if planes is None else planes
    if planes and session.slice_background == "nissl" and data.has_nissl():
        loaded.nissl = data.nissl()
    return loaded


def override_session(session, grid=None, *, threshold: float | None = None, percentile: float | None = None,
                     view: str | None = None):
    """A copy of ``session`` with what the command line gives beside it: ``threshold`` (an
    energy, pinned), ``percentile`` (the threshold at that percentile of ``grid``'s in-brain
    energies), ``view`` (a camera preset instead of the session's camera)."""
    from allen_viewer.expression.brain import percentile_threshold

    state = session.copy()
    d = state.display
    if threshold is not None:
        d.threshold, d.threshold_pinned = float(threshold), True
    elif percentile is not None:
        d.threshold = float(percentile_threshold(grid, percentile))
        d.threshold_pinned, d.threshold_percentile = False, float(percentile)
    if view is not None:
        from allen_viewer.render.layers import PARALLEL_PRESETS

        c = state.camera
        c.preset, c.position_um, c.focal_point_um, c.view_up = view, None, None, None
        c.projection = "parallel" if view in PARALLEL_PRESETS else "perspective"
        c.parallel_scale_um = None
    return state


def threshold_rule(session) -> str:
    d = session.display
    if d.threshold_pinned:
        return f"energy {d.threshold:g} (the session's, pinned)"
    return f"{d.threshold_percentile:g}th percentile of the gene's in-brain energies (the session's)"


def session_caption(session, grid, width: int, text_scale: float, name_view: bool = True) -> str:
    """The export's title: the gene and experiment, and the preset's name when the camera is at one."""
    from allen_viewer.export.image import default_caption, fit_caption
    from allen_viewer.render.layers import PRESET_NAMES
    from allen_viewer.render.scene import CAPTION_PX

    text = fit_caption(default_caption(grid), int(round(CAPTION_PX * text_scale)), width)
    if name_view and session.camera.preset in PRESET_NAMES:
        text += "\n" + PRESET_NAMES[session.camera.preset]
    return text


@contextlib.contextmanager
def session_scene(session, loaded: LoadedData, size, *, caption: bool = True, transparent: bool = False,
                  name_view: bool = True, text_scale: float | None = None):
    """The off-screen scene of ``session`` drawn from ``loaded`` at ``size`` (width, height)
    pixels, as an :class:`~allen_viewer.export.image.OffscreenScene` (its ``scene`` is the
    :class:`~allen_viewer.render.scene.Scene`); freed when the block ends."""
    import pyvista as pv

    from allen_viewer.export.image import (
        _offscreen,
        _offscreen_plotter,
        _quiet_without_display,
        check_size,
    )
    from allen_viewer.render.layers import DARK_WORD_COLOR, WORD_COLOR
    from allen_viewer.render.scene import Scene

    width, height = check_size(size)
    with _quiet_without_display(), _offscreen_plotter(pv, width, height, transparent, text_scale) as (plotter, scale, color):
        scene = Scene(plotter, text_scale=scale, text_color=color,
                      word_color=DARK_WORD_COLOR if transparent else WORD_COLOR, leave_parallel_on_turn=False)
        try:
            if caption and loaded.grid is not None:  # before the camera: the preset leaves room for it
                scene.set_caption(session_caption(session, loaded.grid, width, scale, name_view), credit=True)
            scene.show_state(session, loaded)
            yield _offscreen(scene, width, height, transparent)
        finally:
            scene.close()


def figure_of(session):
    """The session's cut-away and slice planes as :class:`~allen_viewer.render.cuts.FigureOptions`
    (for the sidecar), or None when it has neither."""
    from allen_viewer.render.cuts import FigureOptions

    if session.cut_away == "none" and not session.slice_planes:
        return None
    return FigureOptions(clip=session.cut_away, planes=bool(session.slice_planes),
                         slices_um=tuple(float(v) for v in session.cursor_um))


def camera_of(session) -> dict:
    """The sidecar's ``camera`` of a session render."""
    c = session.camera
    if c.preset is not None:
        return {"preset": c.preset}
    return {"position_um": list(c.position_um or ()), "focal_point_um": list(c.focal_point_um or ()),
            "view_up": list(c.view_up or ()), "view_angle_deg": c.view_angle_deg, "projection": c.projection}


def compare_percentile(session) -> float:
    return float(session.display.threshold_percentile)
