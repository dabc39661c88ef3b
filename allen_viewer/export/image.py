"""Images: the 3-D expression scene rendered off screen at any size, and PNG files with provenance.

:func:`render_scene` draws what the viewer's 3-D view draws -- the expression spheres
(:class:`~allen_viewer.render.layers.ExpressionLayer`, same display settings), the
translucent brain outline, the orientation words and marker, the colour bar -- into a
``pyvista.Plotter(off_screen=True)`` of the requested size (larger than the screen too;
anti-aliasing off), plus a caption naming the experiment and a data credit.  The camera is
one of the viewer's presets (``oblique``, ``dorsal``, ``lateral``, ``anterior``; see
:mod:`allen_viewer.render.layers`) or a :class:`CameraPose` copied from the
viewer.  Text sizes grow with the image so a 3000 px figure stays legible.

Scene coordinates are CCF µm with x = AP, y = DV, z = ML (grid voxel (i, j, k) at
200 (i, j, k) µm).  Pixel arrays are (rows, columns, channels) uint8 with row 0 at the top.

:func:`write_png` writes any such array as a PNG, atomically (a temporary file in the same
folder, then ``os.replace``: a failed export leaves no half-written file), with the
provenance record in the PNG's text chunks (``Title``, ``Software``, ``Source``,
``Copyright``, ``Creation Time`` and the whole record as JSON under
``allen_viewer:provenance``) and in a ``FILE.png.json`` sidecar
(:func:`allen_viewer.export.provenance.write_sidecar`).

Transparent background: the scene is rendered over black with the window's alpha channel
read back (alpha 0 where nothing is drawn, partial under the translucent outline); the
colours are then un-premultiplied so the PNG composites correctly over any background.
Such images are meant for light pages, so their text is dark.

The scene is :class:`allen_viewer.render.scene.Scene`, the one the window's 3-D view
builds too, here on an off-screen plotter (:func:`offscreen_scene`);
:func:`export_session_image` redraws a whole session with it
(:mod:`allen_viewer.export.session_render`).

Qt-free: the CLI (``allen-viewer export image``) and the viewer's File > Export menu both
call these functions.
"""
from __future__ import annotations

import contextlib
import gc
import json
import os
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np

from allen_viewer import __version__
from allen_viewer.errors import AllenViewerError
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.export.provenance import PNG_PROVENANCE_KEY, provenance, write_sidecar
from allen_viewer.io.sidecars import sidecar_path
from allen_viewer.render.cuts import FigureOptions
from allen_viewer.render.layers import (
    BACKGROUND,
    DARK_TEXT_COLOR,
    DARK_WORD_COLOR,
    PARALLEL_PRESETS,
    PRESET_NAMES,
    PRESETS,
    TEXT_COLOR,
    WORD_COLOR,
    CameraPose,
    DisplaySettings,
    color_channel,
    color_note,
)
from allen_viewer.render.scene import Scene
from allen_viewer.io.atomic import atomic_write

DEFAULT_IMAGE_SIZE = (1600, 1200)
"""(width, height) pixels of ``allen-viewer export image`` without ``--size``."""
MIN_SIDE, MAX_SIDE = 16, 16384
"""Allowed image sides in pixels (16384: OpenGL's usual largest framebuffer side)."""
VIEWS = tuple(PRESETS)
"""Camera presets by name: dorsal, lateral, anterior, oblique."""
DEFAULT_VIEW = "oblique"
TEXT_REFERENCE_PX = 720.0
"""Text is drawn at the on-screen font sizes for images whose shorter side is this many
pixels or less, and scaled up in proportion above."""
PROVENANCE_KEY = PNG_PROVENANCE_KEY
"""The PNG text chunk that holds the whole provenance record as JSON."""


def parse_size(text: str, check=None) -> tuple[int, int]:
    """``"WxH"`` (e.g. ``"3000x2000"``) -> (width, height) pixels; AllenViewerError when
    malformed or outside [:data:`MIN_SIDE`, :data:`MAX_SIDE`] (``check``: another check
    of the (width, height), e.g. a movie's, instead of :func:`check_size`)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX\u00d7]\s*(\d+)\s*", str(text))
    if not m:
        raise AllenViewerError(f"Image size {text!r} is not WIDTHxHEIGHT in pixels, e.g. 1600x1200.")
    # a side of more than 9 digits is out of range anyway (and int() refuses over 4300 digits)
    return (check or check_size)(tuple(int(g) if len(g) <= 9 else 10**9 for g in m.groups()))


BYTES_PER_PIXEL = 64
"""Peak memory of an off-screen render per pixel (VTK's colour and depth buffers, the
read-back, the PNG encoder; 16384 x 16384 was measured at 16 GB)."""
MEMORY_SHARE = 0.5
"""An image may need at most this share of the machine's physical memory."""


def physical_memory_bytes() -> int | None:
    """The machine's physical memory in bytes, or None where it cannot be read."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def check_size(size) -> tuple[int, int]:
    """(width, height) as ints within [:data:`MIN_SIDE`, :data:`MAX_SIDE`] pixels, else
    AllenViewerError; also refused: an image whose render would need more than
    :data:`MEMORY_SHARE` of the physical memory (:data:`BYTES_PER_PIXEL` per pixel)."""
    w, h = (int(v) for v in size)
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise AllenViewerError(f"Image size {w}x{h} is out of range; each side must be "
                               f"{MIN_SIDE} to {MAX_SIDE} pixels.")
    memory = physical_memory_bytes()
    need = w * h * BYTES_PER_PIXEL
    if memory and need > memory * MEMORY_SHARE:
        most = int(memory * MEMORY_SHARE / BYTES_PER_PIXEL)
        raise AllenViewerError(f"Image size {w}x{h} would need about {need / 2**30:.1f} GiB of memory to render, "
                               f"more than half of this machine's {memory / 2**30:.1f} GiB; ask for at most "
                               f"{most / 1e6:.0f} megapixels (e.g. {int(most ** 0.5)}x{int(most ** 0.5)}).")
    return w, h


MIN_TEXT_SCALE = 0.75
"""Text shrinks with images smaller than :data:`TEXT_REFERENCE_PX`, down to this factor (a
480x360 movie frame: 0.75, so labels of 9-12 px)."""


def text_scale_for(size, reference_px: float = TEXT_REFERENCE_PX) -> float:
    """Factor on the on-screen font sizes for an image of ``size`` (width, height) pixels:
    in proportion to the shorter side (1 at ``reference_px``: :data:`TEXT_REFERENCE_PX`, or
    a window view's own side when a screenshot is redrawn), at least :data:`MIN_TEXT_SCALE`
    from a 360 px side up (thumbnails smaller still)."""
    side = min(int(size[0]), int(size[1]))
    # below a 360 px side (thumbnails) the text shrinks on, so it never fills the picture
    return max(min(MIN_TEXT_SCALE, side / 480.0), side / float(reference_px))


def default_caption(grid: ExpressionGrid) -> str:
    """``Pdyn (prodynorphin) - coronal experiment 71717084``."""
    e = grid.experiment
    name = f" ({e.name})" if e.name else ""
    return f"{e.symbol}{name} - {e.plane} experiment {e.id}"


def fit_caption(text: str, font_px: int, width: int) -> str:
    """``text`` as it fits left of the colour bar (which starts at 62 % of the width):
    broken at " - " into lines when one line would run into the bar."""
    from allen_viewer.render.figure_overlays import text_width_px
    from allen_viewer.render.layers import BAR_LEFT

    room = BAR_LEFT * width - 0.03 * width
    if not text or text_width_px(text, font_px) <= room:
        return text
    return text.replace(" - ", "\n", 1)


@contextlib.contextmanager
def _quiet_without_display():
    """Without an X display VTK first tries X, warns "bad X server connection" and falls back
    to EGL; that warning is noise for a command-line export, so VTK logs only errors then."""
    if os.environ.get("DISPLAY"):
        yield
        return
    from vtkmodules.vtkCommonCore import vtkLogger

    previous = vtkLogger.GetCurrentVerbosityCutoff()
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_ERROR)
    try:
        yield
    finally:
        vtkLogger.SetStderrVerbosity(previous)


def render_scene(grid: ExpressionGrid | None, outline=None, size=DEFAULT_IMAGE_SIZE, view: str = DEFAULT_VIEW,
                 pose: CameraPose | None = None, transparent: bool = False,
                 display: DisplaySettings | dict | None = None, caption: str | None = None,
                 orientation: bool = True, color_by: str = "auto", show_outside: bool = False,
                 figure: FigureOptions | None = None, session_layers=None, credit: bool = True) -> np.ndarray:
    """Render the 3-D scene off screen; returns uint8 pixels (height, width, 3), or
    (height, width, 4) straight (not premultiplied) RGBA with ``transparent``.

    ``grid``: the experiment whose spheres are drawn (None: outline only); ``outline``: the
    brain outline mesh in CCF µm (:func:`allen_viewer.render.meshes.brain_outline`; None:
    none, the camera then fits the grid's box); ``size``: (width, height) pixels;
    ``view``: a preset name (:data:`VIEWS`), used when ``pose`` is None; ``display``:
    threshold, size scale, colour map, opacity (default: the viewer's defaults);
    ``caption``: text in the top left corner (None: :func:`default_caption`, "": none);
    ``color_by``: what the sphere colours show (:data:`~allen_viewer.state.COLOR_BY`;
    the channel drawn is :func:`~allen_viewer.render.layers.color_channel`);
    ``show_outside``: also draw the voxels with data outside the brain (in magenta), as the
    viewer's *Show voxels outside the brain* does; ``figure``: a cut-away and the slice
    planes (:class:`~allen_viewer.render.cuts.FigureOptions`; None: neither), drawn by
    :func:`add_figure_layers`; ``session_layers``: the structure surfaces and cursor the
    window shows (:class:`~allen_viewer.render.session_scene.SessionLayers`; None: none).
    """
    with offscreen_scene(grid, outline, size, view, pose, transparent, display, caption, orientation, color_by,
                         show_outside, figure, name_view=True, session_layers=session_layers,
                         credit=credit) as scene:
        return scene.screenshot()


class OffscreenScene:
    """An off-screen plotter holding the 3-D scene (:func:`offscreen_scene`): render it,
    as often as wanted (a movie turns its camera between frames), with :meth:`screenshot`.

    ``plotter``: the ``pyvista.Plotter``; ``bounds``: (xmin, xmax, ymin, ymax, zmin, zmax)
    CCF µm of the brain outline (or of the grid without one), the box the camera presets
    fit; ``fit_points``: the outline vertices the presets fit ((n, 3) CCF µm; None without
    an outline); ``width``, ``height``: pixels."""

    def __init__(self, plotter, width: int, height: int, transparent: bool, bounds, fit_points):
        self.plotter, self.width, self.height, self.transparent = plotter, width, height, transparent
        self.bounds, self.fit_points = bounds, fit_points

    @property
    def aspect(self) -> float:
        return self.width / self.height

    def screenshot(self) -> np.ndarray:
        """Render the scene as the camera now stands; uint8 pixels (height, width, 3), or
        (height, width, 4) straight RGBA when the scene is transparent."""
        plotter = self.plotter
        plotter.renderer.ResetCameraClippingRange()
        plotter.camera_set = True
        plotter.render()  # pyvista renders by itself only for a plotter's first screenshot (render() skips it)
        pixels = np.asarray(plotter.screenshot(None, transparent_background=self.transparent, return_img=True))
        width, height = self.width, self.height
        if pixels.shape[:2] != (height, width):
            raise AllenViewerError(f"The renderer returned a {pixels.shape[1]}x{pixels.shape[0]} image instead of "
                                   f"{width}x{height}; try a smaller size.")
        pixels = np.ascontiguousarray(pixels[:, :, :4 if self.transparent else 3], dtype=np.uint8)
        if self.transparent:
            pixels = unpremultiply(pixels)
        return pixels


@contextlib.contextmanager
def offscreen_scene(grid: ExpressionGrid | None, outline=None, size=DEFAULT_IMAGE_SIZE, view: str = DEFAULT_VIEW,
                    pose: CameraPose | None = None, transparent: bool = False,
                    display: DisplaySettings | dict | None = None, caption: str | None = None,
                    orientation: bool = True, color_by: str = "auto", show_outside: bool = False,
                    figure: FigureOptions | None = None, make_layer=None, name_view: bool = False,
                    session_layers=None, credit: bool = True, panel: bool | None = None):
    """The scene :func:`render_scene` draws (same arguments), built once in an off-screen
    plotter with the camera set, as an :class:`OffscreenScene`; its OpenGL objects are freed
    when the block ends.  :func:`render_scene` takes one screenshot of it;
    :mod:`allen_viewer.export.movie` turns the camera and takes one per frame.
    ``name_view``: the caption's second line names the preset ("left lateral view"; a still
    image's, :func:`render_scene`; a movie turns away from it).
    ``make_layer(plotter, text_scale, text_color)``: the scene's sphere layer, drawn instead
    of ``grid``'s (a compare panel's, a gene-set score's); ``panel`` (default: whenever
    ``make_layer`` is given) lays the scene out as a compare panel: the colour bar under the
    caption, wide."""
    import pyvista as pv

    width, height = check_size(size)
    if pose is None and view not in PRESETS:
        raise AllenViewerError(f"Unknown view {view!r}; one of {', '.join(PRESETS)}.")
    if isinstance(display, DisplaySettings):
        display = asdict(display)
    with _quiet_without_display(), _scene(pv, grid, outline, width, height, view, pose, transparent, display,
                                          caption, orientation, color_by, show_outside, figure,
                                          make_layer, name_view, session_layers, credit,
                                          make_layer is not None if panel is None else panel) as scene:
        yield scene


def add_figure_layers(scene: Scene, figure: FigureOptions | None, grid: ExpressionGrid | None,
                      cmap: str = "viridis") -> None:
    """Put ``figure``'s cut-away and slice planes into ``scene`` (a
    :class:`~allen_viewer.render.scene.Scene`): the cut at the figure's slices (call this
    before the grid is set, so the spheres are built once) and the planes drawn from
    ``figure.source``, else from ``figure.space`` with ``grid``'s heat map in ``cmap``.  The
    image and movie exports share this."""
    from allen_viewer.render.slice_images import slice_layers_for

    if figure is None or figure.is_plain:
        return
    scene.set_cursor(figure.positions_um, drawn=False)
    scene.set_cut_away(figure.clip)
    if figure.planes:
        source = figure.source
        if source is None:
            if figure.space is None:
                raise AllenViewerError("Slice planes need the reference space (the annotation) to draw from.")
            source = slice_layers_for(figure.space, grid, cmap, figure.min_energy, figure.nissl)
        scene.show_slice_planes(source)


@contextlib.contextmanager
def _scene(pv, grid, outline, width, height, view, pose, transparent, display, caption, orientation,
           color_by="auto", show_outside=False, figure=None, make_layer=None, name_view=False,
           session_layers=None, credit=True, panel=False):
    """The :class:`~allen_viewer.render.scene.Scene` of :func:`offscreen_scene` on an
    off-screen plotter, as an :class:`OffscreenScene`; closed when the block ends."""
    with _offscreen_plotter(pv, width, height, transparent) as (plotter, scale, text_color):
        layer = None if make_layer is None else make_layer(plotter, scale, text_color)  # a panel's, a score's
        scene = Scene(plotter, layer, text_scale=scale, text_color=text_color,
                      word_color=DARK_WORD_COLOR if transparent else WORD_COLOR, orientation=orientation,
                      leave_parallel_on_turn=False)
        try:
            layer = scene.layer
            if make_layer is None:
                if display:
                    layer.set_display(**display)
                layer.set_color_by(color_by)  # before set_grid: no grid yet, so nothing is built twice
                layer.set_show_outside(show_outside)
                add_figure_layers(scene, figure, grid, layer.cmap)
                if session_layers is not None:  # the window's structure surfaces and cursor (issue 25)
                    session_layers.add_to(scene)
                layer.set_grid(grid)
            scene.set_outline(outline)
            text = default_caption(grid) if (caption is None and grid is not None) else (caption or "")
            caption_px = int(round(16 * scale))
            if not panel:
                text = fit_caption(text, caption_px, width)
            if text and pose is None and caption is None and name_view:
                text += "\n" + PRESET_NAMES[view]  # the preset names itself (a still image; a movie turns)
            scene.set_caption(text, credit=credit)
            if panel and text:  # a panel: the colour bar under its caption, wide
                layer.colour_bar.set_box(0.06, 0.88)
                layer.colour_bar.top_offset_px = scene.layers["caption"].band_px
                scene.band_extra_px = 48 * scale
            if pose is not None:
                scene.set_camera_pose(pose)
            else:
                scene.camera_preset(view)
            yield _offscreen(scene, width, height, transparent)
        finally:
            scene.close()


@contextlib.contextmanager
def _offscreen_plotter(pv, width: int, height: int, transparent: bool, text_scale: float | None = None):
    """An off-screen ``pyvista.Plotter`` of (width, height) pixels, no anti-aliasing, with its
    text scale (``text_scale``, else :func:`text_scale_for` the size) and colour; yields
    (plotter, text scale, text colour).  The caller's :class:`~allen_viewer.render.scene.Scene`
    closes it; OpenGL objects are freed at the end."""
    scale = text_scale_for((width, height)) if text_scale is None else float(text_scale)
    plotter = pv.Plotter(off_screen=True, window_size=(width, height))
    try:
        ren_win = plotter.render_window
        ren_win.SetMultiSamples(0)
        ren_win.SetAlphaBitPlanes(1)
        plotter.disable_anti_aliasing()
        plotter.set_background("black" if transparent else BACKGROUND)
        yield plotter, scale, DARK_TEXT_COLOR if transparent else TEXT_COLOR
    finally:
        if plotter.render_window is not None:  # a scene that failed before it was built
            plotter.close()
        del plotter
        gc.collect()


def _offscreen(scene: Scene, width: int, height: int, transparent: bool) -> "OffscreenScene":
    shot = OffscreenScene(scene.plotter, width, height, transparent, scene.bounds(), scene.fit_points())
    shot.scene, shot.layer, shot.overlay = scene, scene.layer, scene.overlay  # the sphere layer (colour bar), words
    return shot


def unpremultiply(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 whose colours were blended over black (premultiplied by alpha) -> straight RGBA."""
    out = rgba.copy()
    a = rgba[:, :, 3:4].astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        rgb = np.where(a > 0, rgba[:, :, :3].astype(np.float32) * 255.0 / a, 0.0)
    out[:, :, :3] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return out


def image_record(grids, what: str, pixels: np.ndarray, text_scale: float | None = None, **extra) -> dict:
    """The provenance record of an image of ``grids`` (one ExpressionGrid, a list, or []);
    ``text_scale``, when given, is the factor on the on-screen font sizes its 3-D text was
    drawn with (1 in the window), which ``export image --session`` uses to redraw it."""
    h, w = pixels.shape[:2]
    image = {"content": what, "width_px": int(w), "height_px": int(h),
             "transparent_background": bool(pixels.shape[2] == 4)}
    if text_scale is not None:
        image["text_scale"] = round(float(text_scale), 6)
    return provenance(grids, "image", image=image, **extra)


def _text_chunks(record: dict) -> dict[str, str]:
    exps = record.get("experiments") or []
    title = "Allen Viewer image"
    if exps:
        title += ": " + ", ".join(f"{e['gene']} ({e['plane']}, {e['experiment_id']})" for e in exps)
    chunks = {
        "Title": title,
        "Software": str(record.get("software", f"allen_viewer {__version__}")),
        "Creation Time": str(record.get("created_utc", "")),
        "Copyright": str(record.get("citation", "")),
        PROVENANCE_KEY: json.dumps(record, ensure_ascii=True, default=str),
    }
    if exps:
        chunks["Source"] = " ".join(str(e["source_url"]) for e in exps)
    return chunks


def write_png(path: Path | str, pixels: np.ndarray, record: dict | None = None) -> list[Path]:
    """Write ``pixels`` ((H, W, 3) RGB or (H, W, 4) RGBA uint8, row 0 at the top) as a PNG
    with ``record`` in its text chunks and in a ``FILE.png.json`` sidecar; both atomically.

    Returns [png, sidecar] (just [png] without a record).  Raises AllenViewerError when
    either file cannot be written; the PNG is then removed again, so nothing is left half done.
    """
    from PIL import Image, PngImagePlugin

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise AllenViewerError(f"Images are written as PNG; name the file ….png, not {path.name!r}.")
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"pixels must be (H, W, 3) or (H, W, 4), not {pixels.shape}")
    info = PngImagePlugin.PngInfo()
    for key, value in (_text_chunks(record) if record else {}).items():
        info.add_text(key, value)
    image = Image.fromarray(pixels, "RGBA" if pixels.shape[2] == 4 else "RGB")
    if record is not None:  # a file at the sidecar's name that is not ours: refused before the PNG is touched
        from allen_viewer.io.sidecars import foreign_sidecar_message, is_own_sidecar

        if os.path.lexists(sidecar_path(path)) and not is_own_sidecar(sidecar_path(path)):
            raise AllenViewerError(foreign_sidecar_message(sidecar_path(path)))
    try:
        with atomic_write(path, "wb") as fh:
            image.save(fh, format="PNG", pnginfo=info, compress_level=6)
    except OSError as exc:
        raise AllenViewerError(f"Could not write {path} ({exc.strerror or exc}).") from None
    if record is None:
        return [path]
    try:
        side = write_sidecar(path, record)
    except (OSError, AllenViewerError) as exc:
        path.unlink(missing_ok=True)
        reason = getattr(exc, "strerror", None) or exc
        raise AllenViewerError(f"Could not write {sidecar_path(path)} ({reason}); "
                               f"the image was not kept either.") from None
    return [path, side]


def read_png_provenance(path: Path | str) -> dict | None:
    """The provenance record kept in a PNG's text chunks by :func:`write_png` (None if absent)."""
    from PIL import Image

    with Image.open(path) as im:
        text = im.text.get(PROVENANCE_KEY) if hasattr(im, "text") else None
    return json.loads(text) if text else None


def image_session(grid: ExpressionGrid, display: DisplaySettings | dict | None = None, view: str = DEFAULT_VIEW,
                  pose: CameraPose | None = None, percentile: float | None = None, figure=None):
    """The :class:`~allen_viewer.state.ViewerState` of an off-screen image: ``grid`` on show
    with ``display`` (threshold, size scale, colour map, opacity), the camera at preset
    ``view`` (or at ``pose``), and the threshold rule ``percentile`` (the threshold is that
    percentile of the gene's in-brain energies) or, when None, the absolute energy
    threshold; ``figure`` (:class:`~allen_viewer.render.cuts.FigureOptions` or None): its
    cut-away and slice planes, and, when it has either, the cursor at its slice positions
    (the viewer's planes and slice-relative cuts go through the cursor).  Embedded in the
    image's sidecar, so ``allen-viewer --session FILE.png`` reopens the figure in the viewer."""
    from allen_viewer.state import ExperimentRef, ViewerState

    settings = DisplaySettings(**(asdict(display) if isinstance(display, DisplaySettings) else (display or {})))
    state = ViewerState(experiment=ExperimentRef.of(grid.experiment))
    d = state.display
    d.threshold, d.size_scale, d.cmap, d.opacity = (float(settings.threshold), float(settings.size_scale),
                                                    settings.cmap, float(settings.opacity))
    d.threshold_pinned = percentile is None
    if percentile is not None:
        d.threshold_percentile = float(percentile)
    if pose is None:
        state.camera.preset = view
        state.camera.projection = "parallel" if view in PARALLEL_PRESETS else "perspective"
    else:
        state.camera.preset = None
        state.camera.position_um = tuple(float(v) for v in pose.position)
        state.camera.focal_point_um = tuple(float(v) for v in pose.focal_point)
        state.camera.view_up = tuple(float(v) for v in pose.view_up)
        state.camera.view_angle_deg = float(pose.view_angle)
        state.camera.projection = "parallel" if pose.parallel else "perspective"
        state.camera.parallel_scale_um = float(pose.parallel_scale) if pose.parallel else None
    if figure is not None and (figure.planes or figure.clip != "none"):
        state.cut_away, state.slice_planes = figure.clip, bool(figure.planes)
        state.cursor_um = tuple(float(v) for v in figure.positions_um)
    return state


SCENE_COORDINATES = "CCFv3 micrometres, x = AP (posterior), y = DV (ventral), z = ML (right)"
"""How a scene export's sidecar names its coordinates."""


def camera_record(view: str = DEFAULT_VIEW, pose: CameraPose | None = None) -> dict:
    """The sidecar's ``camera``: the preset ``view``, or the ``pose`` (CCF µm) when given."""
    return ({"preset": view} if pose is None else
            {"position_um": list(pose.position), "focal_point_um": list(pose.focal_point),
             "view_up": list(pose.view_up), "view_angle_deg": pose.view_angle})


def display_record(grid: ExpressionGrid, settings: DisplaySettings, threshold_rule: str = "",
                   color_by: str = "auto", show_outside: bool = False) -> dict:
    """The sidecar's ``display`` of a scene of ``grid`` drawn with ``settings``: the energy
    threshold used and where it came from (``threshold_rule``), the voxels drawn, sizes,
    colours (the channel :func:`render_scene` draws for ``color_by``); ``show_outside_brain``
    only when those voxels were drawn too."""
    record = {"energy_threshold": settings.threshold,
              "threshold_rule": threshold_rule or "energy threshold given by the caller",
              "voxels_drawn": int((grid.has_data & (grid.energy >= settings.threshold)).sum()),
              "voxels": "in-brain voxels with data (200 um grid annotation > 0)",
              "size_scale": settings.size_scale,
              "cmap": settings.cmap, "opacity": settings.opacity,
              "colour": color_channel(grid, color_by),  # what render_scene drew for color_by
              "colour_bar": "threshold (energy) or the drawn voxels' lowest value to the 99th percentile "
                            "of the in-brain values; a top label with >= means higher values take its colour",
              "sphere_radius": "100 um x size scale at the 99th percentile of energy, area linear in energy"}
    note = color_note(grid, color_by)
    if note:  # what the download lacks: here and in the status bar, not in the picture
        record["colour_note"] = note
    if show_outside:
        drawn = np.asarray(grid.has_data_anywhere, dtype=bool) & (grid.energy >= settings.threshold)
        record.update(show_outside_brain=True, voxels_drawn=int(drawn.sum()),
                      voxels="voxels with data, in the brain and outside it (outside: magenta)")
    return record


def export_image(grid: ExpressionGrid, path: Path | str, outline=None, size=DEFAULT_IMAGE_SIZE,
                 view: str = DEFAULT_VIEW, pose: CameraPose | None = None, transparent: bool = False,
                 display: DisplaySettings | dict | None = None, threshold_rule: str = "", session=None,
                 figure: FigureOptions | None = None, caption: bool = True) -> dict:
    """Render the 3-D scene of ``grid`` (:func:`render_scene`) and write it to ``path``
    (:func:`write_png`, with provenance).  Returns ``{"files": [png, sidecar], "width": w,
    "height": h}``.  The sidecar's ``display.energy_threshold`` is the energy threshold used
    (a number) and ``display.threshold_rule`` says where it came from (``threshold_rule``).
    The sidecar's ``session`` is ``session`` (a :class:`~allen_viewer.state.ViewerState`),
    by default :func:`image_session` of these arguments: what reopens the image in the viewer.
    ``figure``: cut-away and slice planes (:func:`render_scene`); the sidecar's ``figure``
    says which.  ``caption`` false (``--no-caption``): no title and no credit line."""
    settings = DisplaySettings(**(asdict(display) if isinstance(display, DisplaySettings) else (display or {})))
    if session is None:
        session = image_session(grid, settings, view, pose)
    pixels = render_scene(grid, outline, size, view, pose, transparent, settings, caption=None if caption else "",
                          figure=figure, credit=caption)
    record = image_record(
        grid, "3-D scene (expression spheres, brain outline)", pixels, camera=camera_record(view, pose),
        display=display_record(grid, settings, threshold_rule),
        coordinates=SCENE_COORDINATES,
        session=session.to_dict(), **({} if figure is None else {"figure": figure.describe()}))
    files = write_png(path, pixels, record)
    return {"files": files, "width": int(pixels.shape[1]), "height": int(pixels.shape[0])}


def export_session_image(session, path: Path | str, *, size=None, caption: bool = True,
                         force: bool = False) -> list[Path]:
    """Redraw the figure ``session`` (a :class:`~allen_viewer.state.ViewerState`) shows and
    write it to ``path`` (a PNG with its sidecar, which embeds the session); returns the
    files written.  ``size`` (width, height) pixels (None: :data:`DEFAULT_IMAGE_SIZE`, a
    compare session :data:`~allen_viewer.export.compare_image.DEFAULT_COMPARE_SIZE`);
    ``caption`` false leaves out the title and credit line (the window draws neither);
    ``force`` replaces an existing file and its own sidecar (else AllenViewerError).  The
    data come from the embedded resources and the cache, as the command line's do.
    What is drawn: :mod:`allen_viewer.export.session_render`."""
    return session_image(session, path, size=size, caption=caption, force=force)["files"]


def session_image(session, path: Path | str, *, size=None, caption: bool = True, force: bool = False,
                  data=None, transparent: bool = False, text_scale: float | None = None) -> dict:
    """:func:`export_session_image`, returning ``{"files", "width", "height", "grids"}``
    (the grids drawn) for the command line's report; ``data``: the
    :class:`~allen_viewer.data.AtlasData` to load from (None: a new one); ``text_scale``: the
    factor on the on-screen font sizes (None: :func:`text_scale_for` the size; a window's
    screenshot redrawn: :func:`text_scale_for` with
    :func:`~allen_viewer.export.provenance.recorded_text_reference_px`)."""
    from allen_viewer.io.guard import check_output_path, claim_output
    from allen_viewer.export.session_render import (
        camera_of,
        check_drawable,
        compare_percentile,
        comparing,
        figure_of,
        session_data,
        session_scene,
        threshold_rule,
    )

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise AllenViewerError(f"Images are written as PNG; name the file ….png, not {path.name!r}.")
    check_drawable(session)
    check_output_path(path, force)  # before the work, not after it
    loaded = session_data(session, data)
    grid = loaded.grid
    if comparing(session):
        from allen_viewer.export.compare_image import DEFAULT_COMPARE_SIZE, export_compare_image

        with claim_output(path, force) as out:
            result = export_compare_image(grid, loaded.compare_grid, out, loaded.outline_mesh,
                                          check_size(size or DEFAULT_COMPARE_SIZE), session.camera.preset or DEFAULT_VIEW,
                                          session.compare_options, compare_percentile(session), transparent,
                                          credit=caption, session=session)
        return {**result, "grids": [grid, loaded.compare_grid]}
    with claim_output(path, force) as out, session_scene(session, loaded, size or DEFAULT_IMAGE_SIZE,
                                                         caption=caption, transparent=transparent,
                                                         text_scale=text_scale) as shot:
        pixels = shot.screenshot()
        from allen_viewer.render.session_scene import session_layers

        layers = session_layers(session, loaded.space, expression_shown=True)
        d = session.display
        settings = DisplaySettings(**d.render_values())
        figure = figure_of(session)
        record = image_record(
            grid, "3-D scene redrawn from a session (expression spheres, brain outline, structure surfaces, cursor)",
            pixels, camera=camera_of(session), scene_layers=layers.describe(),
            display=display_record(grid, settings, threshold_rule(session), d.color_by, d.show_outside_brain),
            coordinates=SCENE_COORDINATES, session=session.to_dict(), caption=bool(caption),
            **({} if figure is None else {"figure": figure.describe()}))
        files = write_png(out, pixels, record)
    return {"files": files, "width": int(pixels.shape[1]), "height": int(pixels.shape[0]), "grids": [grid]}
