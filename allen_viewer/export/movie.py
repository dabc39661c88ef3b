"""Turntable movies: the 3-D expression scene turning once around the brain, as MP4 or GIF.

:func:`export_movie` builds the scene that ``export image`` draws once, off screen
(:func:`allen_viewer.export.image.offscreen_scene`: the same spheres, outline, words,
colour bar, caption and credit), then turns the camera and takes one frame per step,
feeding each to the encoder as it comes (an MP4 holds one frame in memory at a time):

* **The turn**: one full turn (360 degrees) about the brain's dorsal-ventral axis -- the
  line parallel to CCF y (DV; PIR, +y ventral) through the centre of the brain outline's
  box -- in ``frames`` equal steps.  Frame 0 is the starting view, frame ``k`` is turned
  by ``360 k / frames`` degrees, so the last frame is one step short of the first and the
  movie loops without a repeated frame.  The camera goes round right-handed about the
  dorsal direction (counter-clockwise seen from above): from the left side it passes
  behind the brain (posterior), then to the right, then in front.
* **The starting view**: a camera preset (``oblique`` by default), or a
  :class:`~allen_viewer.render.layers.CameraPose` (the viewer's camera).  A preset's
  camera stands as far away as the widest view of the whole turn needs
  (:func:`turntable_poses`), so no frame crops the brain and the scale stays constant; a
  pose keeps its own distance (what the user framed).
* **Formats** (by the file name): ``.mp4`` -- H.264 (libx264, ``yuv420p``, CRF 18,
  ``+faststart``) by the ffmpeg program imageio-ffmpeg finds, run as a child process fed
  through a pipe (:class:`FfmpegEncoder`: bounded in time, its exit status checked, never
  left running); ``.gif`` -- Pillow,
  each frame reduced to its own 256-colour palette (Pillow's fast octree), looping forever.
* **Sizes**: H.264 in ``yuv420p`` needs even sides, so an MP4's odd side is **rounded
  down to the next even number** (481x361 -> 480x360) and the frames are rendered at that
  size (nothing is rescaled).  GIFs keep the size asked for.  Each side is
  :data:`~allen_viewer.export.image.MIN_SIDE` to :data:`MAX_MOVIE_SIDE` pixels; a GIF
  (all frames held until written) may use at most half the machine's memory.
* **Frame rate**: ``fps`` 1 to :data:`MAX_FPS`; a GIF stores each frame's duration in
  hundredths of a second, so its rate is 100 / round(100 / fps) (30 fps -> 33.3 fps) and
  at most 50.
* **Writing**: to a temporary file beside the target, renamed over it when complete
  (:func:`allen_viewer.io.atomic.atomic_path`); a failure or a cancel leaves no file
  and an older file untouched.  Then the ``FILE.mp4.json`` (``FILE.gif.json``) provenance sidecar, which embeds
  the session (:mod:`allen_viewer.state`) that drew the movie, as image sidecars do; if
  the sidecar cannot be written the movie is removed again.

Qt-free: ``allen-viewer export movie`` and the viewer's *File > Export > Movie…* both
call :func:`export_movie`; the caller reports progress (``progress(done, total)`` frames)
and may stop it (``cancel()`` returning True raises :class:`~allen_viewer.errors.Cancelled`).
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from allen_viewer import signals
from allen_viewer.errors import AllenViewerError, Cancelled
from allen_viewer.export.image import (
    BYTES_PER_PIXEL,
    DEFAULT_VIEW,
    MEMORY_SHARE,
    MIN_SIDE,
    SCENE_COORDINATES,
    camera_record,
    check_size,
    default_caption,
    display_record,
    offscreen_scene,
    parse_size,
    physical_memory_bytes,
)
from allen_viewer.export.provenance import provenance, write_sidecar
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.io.atomic import atomic_path
from allen_viewer.io.guard import output_errors, undo_on_failure
from allen_viewer.render.layers import CameraPose, DisplaySettings, fit_view

FORMATS = {".mp4": "mp4", ".gif": "gif"}
"""File name suffix -> movie format."""
DEFAULT_MOVIE_SIZE = (960, 720)
"""(width, height) pixels of ``allen-viewer export movie`` without ``--size``."""
DEFAULT_FRAMES = 120
DEFAULT_FPS = 30
"""120 frames at 30 frames per second: a four-second turn, 3 degrees a frame."""
MIN_FRAMES, MAX_FRAMES = 2, 3600
"""Frames in a turn: at least 2, at most 3600 (a tenth of a degree a frame; two minutes at 30 fps)."""
MAX_FPS = 60
MAX_GIF_FPS = 50
"""GIF frame durations are whole hundredths of a second, and players slow down shorter ones."""
MAX_MOVIE_SIDE = 4096
"""Largest side of a movie frame in pixels (4K; H.264 players rarely take more)."""
GIF_BYTES_PER_PIXEL = 2
"""Memory a GIF needs per pixel of every frame until it is written (the 256-colour frame,
and Pillow's work while saving)."""
MP4_CRF = 18
"""x264's constant rate factor: 18 is close to visually lossless for these pictures."""
TURN_AXIS = (0.0, -1.0, 0.0)
"""The turn's axis direction, CCF (AP, DV, ML): dorsal (CCF +y is ventral)."""

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]


@dataclass(frozen=True)
class MoviePlan:
    """What :func:`export_movie` will write: ``fmt`` (``mp4`` or ``gif``), ``size`` (width,
    height) pixels as written, ``requested`` (width, height) as asked, ``frames``, ``fps``
    (as asked) and ``fps_written`` (what the file holds: a GIF's is 100 / whole
    hundredths)."""

    fmt: str
    size: tuple[int, int]
    requested: tuple[int, int]
    frames: int
    fps: float
    fps_written: float

    @property
    def codec(self) -> str:
        if self.fmt == "mp4":
            return "H.264 (libx264, yuv420p)"
        return "GIF (Pillow, a 256-colour palette per frame by fast octree)"

    @property
    def rounded(self) -> bool:
        return self.size != self.requested

    @property
    def frame_duration_ms(self) -> float:
        return 1000.0 / self.fps_written


def movie_format(path: Path | str) -> str:
    """``mp4`` or ``gif`` from the name of ``path``; AllenViewerError for any other suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise AllenViewerError(f"Movies are written as MP4 or GIF; name the file ….mp4 or ….gif, "
                               f"not {Path(path).name!r}.")
    return FORMATS[suffix]


def check_movie_size(size) -> tuple[int, int]:
    """(width, height) within :data:`~allen_viewer.export.image.MIN_SIDE` to
    :data:`MAX_MOVIE_SIDE` pixels (and the image renderer's memory rule), else AllenViewerError."""
    w, h = (int(v) for v in size)
    if not (MIN_SIDE <= w <= MAX_MOVIE_SIDE and MIN_SIDE <= h <= MAX_MOVIE_SIDE):
        raise AllenViewerError(f"Movie size {w}x{h} is out of range; each side must be {MIN_SIDE} to "
                               f"{MAX_MOVIE_SIDE} pixels.")
    return check_size((w, h))


def parse_movie_size(text: str) -> tuple[int, int]:
    """``"WxH"`` -> (width, height) pixels, checked by :func:`check_movie_size`."""
    return parse_size(text, check=check_movie_size)


def plan_movie(path: Path | str, frames: int = DEFAULT_FRAMES, fps: float = DEFAULT_FPS,
               size=DEFAULT_MOVIE_SIZE) -> MoviePlan:
    """Check a movie's arguments before any work and say what will be written (see the
    module docstring for the rules); AllenViewerError, one line, for the first bad one."""
    fmt = movie_format(path)
    if isinstance(frames, bool) or int(frames) != frames or not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise AllenViewerError(f"The number of frames (--frames) must be a whole number from {MIN_FRAMES} to "
                               f"{MAX_FRAMES}, not {frames}.")
    fps = float(fps)
    most = MAX_GIF_FPS if fmt == "gif" else MAX_FPS
    if not (np.isfinite(fps) and 1.0 <= fps <= most):
        raise AllenViewerError(f"The frame rate (--fps) must be from 1 to {most} frames per second for "
                               f"{fmt.upper()}, not {fps:g}.")
    requested = check_movie_size(size)
    written = requested
    if fmt == "mp4":
        written = (requested[0] - requested[0] % 2, requested[1] - requested[1] % 2)
        check_movie_size(written)
        ffmpeg_program()
    frames = int(frames)
    fps_written = fps if fmt == "mp4" else 100.0 / max(2, round(100.0 / fps))
    if fmt == "gif":
        memory = physical_memory_bytes()
        need = frames * written[0] * written[1] * GIF_BYTES_PER_PIXEL + written[0] * written[1] * BYTES_PER_PIXEL
        if memory and need > memory * MEMORY_SHARE:
            raise AllenViewerError(f"A GIF of {frames} frames of {written[0]}x{written[1]} would need about "
                                   f"{need / 2**30:.1f} GiB of memory, more than half of this machine's "
                                   f"{memory / 2**30:.1f} GiB; use fewer frames, a smaller size, or .mp4.")
    return MoviePlan(fmt, written, requested, frames, fps, fps_written)


def ffmpeg_program() -> str:
    """The ffmpeg program MP4s are encoded with: imageio-ffmpeg's choice (``$IMAGEIO_FFMPEG_EXE``,
    the binary in its wheel, or ``ffmpeg`` on the PATH); AllenViewerError when there is none."""
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        exe = None
    if exe and ((os.path.isfile(exe) and os.access(exe, os.X_OK)) or shutil.which(exe)):
        return exe
    raise AllenViewerError("MP4 movies need the ffmpeg program and none was found (imageio-ffmpeg's own, "
                           "$IMAGEIO_FFMPEG_EXE, or ffmpeg on the PATH); install ffmpeg, or write a .gif.")


def encoder_versions(fmt: str) -> str:
    """The encoding software and its versions, for the sidecar."""
    import PIL

    if fmt == "gif":
        return f"Pillow {PIL.__version__} (GIF writer)"
    import subprocess

    try:  # bounded: a hung ffmpeg must not hang the export here either
        first = subprocess.run([ffmpeg_program(), "-version"], capture_output=True, timeout=10,
                               start_new_session=True).stdout.split(b"\n", 1)[0].decode("utf-8", "replace")
        ffmpeg = first.split("version", 1)[-1].split()[0] if "version" in first else "unknown version"
    except (OSError, subprocess.SubprocessError, IndexError, AllenViewerError):
        ffmpeg = "unknown version"
    return f"ffmpeg {ffmpeg} (libx264), driven by allen_viewer through a pipe"


# ---- the turn ---------------------------------------------------------------------------

def turn_pose(pose: CameraPose, centre, degrees: float) -> CameraPose:
    """``pose`` turned by ``degrees`` about the DV axis through ``centre`` (CCF µm),
    right-handed about :data:`TURN_AXIS` (dorsal): position, focal point and view-up turn
    together, so the picture is the scene seen from the turned side."""
    a = np.asarray(TURN_AXIS, float)
    t = np.radians(degrees)
    c, s = np.cos(t), np.sin(t)
    k = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    rot = np.eye(3) * c + s * k + (1.0 - c) * np.outer(a, a)  # Rodrigues
    centre = np.asarray(centre, float)

    def move(p):
        return tuple(float(v) for v in rot @ (np.asarray(p, float) - centre) + centre)

    return replace(pose, position=move(pose.position), focal_point=move(pose.focal_point),
                   view_up=tuple(float(v) for v in rot @ np.asarray(pose.view_up, float)))


def turn_centre(bounds) -> np.ndarray:
    """The point the turn's axis passes through: the centre of ``bounds`` (xmin, xmax, ymin,
    ymax, zmin, zmax µm, the brain outline's box), in CCF µm."""
    b = np.asarray(bounds, float)
    return (b[0::2] + b[1::2]) / 2.0


def turntable_poses(start: CameraPose, bounds, frames: int, aspect: float = 0.0, fit_points=None,
                    fit: bool = True, margins=None) -> list[CameraPose]:
    """The ``frames`` camera poses of one full turn from ``start`` about the DV axis through
    the centre of ``bounds`` (see the module docstring).

    With ``fit`` (a camera preset), the camera first moves along its line of sight to the
    largest distance any frame needs to show the whole brain (``fit_points``, the outline's
    vertices, and the anatomical words around ``bounds``; :func:`~allen_viewer.render.layers.fit_view`)
    in a view of width / height ``aspect``; without it the pose keeps its distance."""
    centre = turn_centre(bounds)
    steps = [360.0 * k / frames for k in range(frames)]
    if fit:
        focal = np.asarray(start.focal_point, float)
        d = np.asarray(start.position, float) - focal
        distance = _turn_distance(start, centre, steps, bounds, aspect, fit_points, margins)
        start = replace(start, position=tuple(float(v) for v in focal + d / np.linalg.norm(d) * distance))
    return [turn_pose(start, centre, deg) for deg in steps]


def _turn_distance(start: CameraPose, centre, steps, bounds, aspect, fit_points, margins=None) -> float:
    """The largest camera distance the poses of the turn need to fit the brain."""
    best = 0.0
    for deg in steps:
        pose = turn_pose(start, centre, deg)
        direction = np.subtract(pose.position, pose.focal_point)
        best = max(best, fit_view(direction, pose.view_up, bounds, aspect, start.view_angle, fit_points, margins)[3])
    return best


def turntable_frames(grid: ExpressionGrid | None, outline=None, size=DEFAULT_MOVIE_SIZE, frames: int = DEFAULT_FRAMES,
                     view: str = DEFAULT_VIEW, pose: CameraPose | None = None,
                     display: DisplaySettings | dict | None = None, cancel: Cancel | None = None,
                     turn: dict | None = None, **scene_options) -> Iterator[np.ndarray]:
    """The frames of one turn (uint8 (height, width, 3), row 0 at the top), rendered one at
    a time in a single off-screen scene.

    ``grid``, ``outline``, ``size`` (width, height), ``view``, ``pose``, ``display`` and
    ``scene_options`` (any other keyword of :func:`~allen_viewer.export.image.offscreen_scene`:
    ``color_by``, ``show_outside``, ``caption``, ``orientation``, ...) draw the scene as
    ``export image`` does (``open_scene(size)``: a context manager giving the scene instead,
    e.g. a session's, :func:`~allen_viewer.export.session_render.session_scene`); the turn starts at ``pose`` or, without one, at preset ``view``
    (moved back to fit the whole turn, :func:`turntable_poses`).  ``cancel()`` returning
    True stops it with :class:`~allen_viewer.errors.Cancelled`; ``turn``, a dict, receives
    the turn's geometry for the sidecar."""
    # Ctrl-C and SIGTERM are held while VTK loads, builds the scene, renders a frame and frees it,
    # and delivered between frames (signals.deferred): an interrupt in the middle of a VTK import or
    # of OpenGL work gave an ImportError traceback or a segfault
    stack = contextlib.ExitStack()
    open_scene = scene_options.pop("open_scene", None)  # a session's scene (export_session_movie)
    try:
        with signals.deferred():
            scene = stack.enter_context(open_scene(size) if open_scene is not None else
                                        offscreen_scene(grid, outline, size, view, pose, display=display,
                                                        **scene_options))
            camera = scene.plotter.camera
            # a turn is drawn in perspective, also from a (parallel) preset: no one scale bar
            # holds while it turns (issue 21)
            start = replace(CameraPose.of(camera, scene.aspect), parallel=False)
            from allen_viewer.export.image import text_scale_for
            from allen_viewer.render.figure_overlays import word_margins

            # room for the words in the margins, and a three-line caption over the brain's top
            ts = text_scale_for((scene.width, scene.height))
            margins = word_margins(scene.width, scene.height, ts, 3 * 1.25 * 16 * ts)
            poses = turntable_poses(start, scene.bounds, frames, scene.aspect, scene.fit_points, fit=pose is None,
                                    margins=margins)
        if turn is not None:
            first = poses[0]
            turn.update(axis="dorsal-ventral: parallel to CCF y (DV), through the centre of the brain outline's box",
                        through_um=[float(v) for v in turn_centre(scene.bounds)],
                        degrees=360.0, degrees_per_frame=360.0 / frames,
                        direction="counter-clockwise seen from above (right-handed about dorsal): "
                                  "left side -> posterior -> right side -> anterior",
                        first_frame_camera={"position_um": list(first.position),
                                            "focal_point_um": list(first.focal_point),
                                            "view_up": list(first.view_up), "view_angle_deg": first.view_angle},
                        camera_distance_um=float(np.linalg.norm(np.subtract(first.position, first.focal_point))),
                        fitted_to_the_whole_turn=pose is None)
        for p in poses:
            if cancel is not None and cancel():
                raise Cancelled("Movie export")
            with signals.deferred():
                p.apply(camera, scene.aspect)
                shot = scene.screenshot()
            yield shot
    finally:
        with signals.deferred():
            stack.close()


@contextlib.contextmanager
def _encoder(tmp: Path, plan: MoviePlan, title: str) -> Iterator[Callable[[np.ndarray], None]]:
    """An ``add(frame)`` that encodes frames into ``tmp``; the file is complete when the block ends."""
    comment = f"{title}. Data: Allen Mouse Brain Atlas, mouse.brain-map.org. Provenance in the .json beside it."
    if plan.fmt == "mp4":
        with FfmpegEncoder(tmp, plan, title, comment) as encoder:
            yield encoder.add
        return
    from PIL import Image

    # Pillow writes the GIF itself (no imageio plugin object whose __del__ retries a failed save and
    # prints a second traceback); the frames are held as 1-byte palette images until the end
    frames: list = []

    def add(frame: np.ndarray) -> None:
        # 256 colours by Pillow's fast octree (on a rendered 960x720 frame 0.02 s against 1.4 s for
        # its default median cut, which looks the same here), kept as a palette image
        frames.append(Image.fromarray(frame).quantize(256, method=Image.Quantize.FASTOCTREE))

    yield add
    with open(tmp, "wb") as out:
        frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:],
                       duration=plan.frame_duration_ms, loop=0, comment=comment)
        out.flush()
        os.fsync(out.fileno())


# ---- the MP4 encoder: ffmpeg as a child process, bounded in time ---------------------------

ENCODER_STALL_S = 60.0
"""Seconds ffmpeg may take to accept one frame, or to finish the file after the last one;
beyond that it is taken for hung, killed, and the export fails in one line with nothing
written.  (A stall deadline, not a total: a long movie on a slow machine is not cut short.)"""
_STDERR_KEEP = 4000
"""Bytes of ffmpeg's own messages kept for the one-line report."""


class FfmpegEncoder:
    """ffmpeg (:func:`ffmpeg_program`) encoding raw RGB frames from a pipe into ``tmp`` as H.264.

    The rules (docs/reliability.md, "Movies: the encoder"):

    * ffmpeg runs in its own session, so a Ctrl-C in the terminal reaches this process only; the
      export then stops ffmpeg itself.  Whatever ends the block -- success, an error, Ctrl-C,
      SIGTERM (:func:`terminate_as_interrupt`), a cancel -- no ffmpeg process is left running.
    * Each frame must be taken, and the file finished after the last one, within
      :data:`ENCODER_STALL_S` seconds; otherwise ffmpeg is killed and one line says it hung.
    * ffmpeg's exit status is checked (a non-zero status is a failure even when every frame was
      taken), and so is the output (present and not empty).  A full disk (ENOSPC, ffmpeg's "No
      space left on device") reads as :func:`~allen_viewer.io.guard.write_error`'s line for
      the movie; any other failure names ffmpeg, its exit status and its last message line --
      never the folder's permissions.
    """

    def __init__(self, tmp: Path, plan: MoviePlan, title: str, comment: str):
        import subprocess
        import tempfile

        self.tmp = Path(tmp)
        self.exe = ffmpeg_program()
        w, h = plan.size
        self.frame_bytes = w * h * 3
        self.shape = (h, w, 3)
        self.command = [self.exe, "-y", "-hide_banner",
                        "-f", "rawvideo", "-vcodec", "rawvideo", "-s", f"{w}x{h}", "-pix_fmt", "rgb24",
                        "-r", _rate(plan.fps), "-i", "-", "-an", "-vcodec", "libx264", "-pix_fmt", "yuv420p",
                        "-crf", str(MP4_CRF), "-movflags", "+faststart",
                        "-metadata", f"title={title}", "-metadata", f"comment={comment}",
                        "-v", "error", "-f", "mp4", str(self.tmp)]
        self.killed_for = ""  # why this module killed ffmpeg ("hung": the stall deadline)
        self._errors = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=self._errors, bufsize=0, start_new_session=True)
        except OSError as exc:
            self._errors.close()
            raise AllenViewerError(f"Cannot start the ffmpeg program {self.exe} to encode the MP4 "
                                   f"({exc.strerror or exc}); nothing was written.") from None

    # -- time bound
    def _bounded(self, step: Callable[[], None], what: str) -> None:
        """Run ``step`` (a blocking write or wait); kill ffmpeg if it takes longer than the deadline."""
        import threading

        timer = threading.Timer(ENCODER_STALL_S, self._kill, args=(what,))
        timer.daemon = True
        timer.start()
        try:
            step()
        finally:
            timer.cancel()

    def _kill(self, why: str = "") -> None:
        if why and not self.killed_for:
            self.killed_for = why
        with contextlib.suppress(OSError):
            if hasattr(os, "killpg"):  # ffmpeg leads its own process group: whatever it started goes too
                os.killpg(self.process.pid, 9)
            else:
                self.process.kill()

    # -- frames
    def add(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(frame, dtype=np.uint8)
        if frame.shape != self.shape:
            raise AllenViewerError(f"A movie frame of shape {frame.shape} does not match the movie's {self.shape}.")
        try:
            self._bounded(lambda: self.process.stdin.write(memoryview(frame).cast("B")),
                          f"took no frame for {ENCODER_STALL_S:g} s")
        except (BrokenPipeError, ConnectionResetError, ValueError):
            self._wait_after_failure()
            raise self.failure() from None

    def finish(self) -> None:
        """Close ffmpeg's input and wait (bounded) for it to finish the file; check its status and output."""
        import subprocess

        with contextlib.suppress(BrokenPipeError, OSError):
            self.process.stdin.close()
        def wait() -> None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=ENCODER_STALL_S)
            if self.process.poll() is None:
                self._kill(f"did not finish the file within {ENCODER_STALL_S:g} s of the last frame")
                self.process.wait()
        wait()
        if self.process.returncode != 0 or self.killed_for:
            raise self.failure()
        try:
            size = os.path.getsize(self.tmp)
        except OSError:
            size = 0
        if size == 0:
            raise AllenViewerError(f"ffmpeg ({self.exe}) ended without writing the movie (an empty file); "
                                   f"nothing was written.")

    def _wait_after_failure(self) -> None:
        import subprocess

        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill()
            self.process.wait()

    def messages(self) -> str:
        """ffmpeg's own messages (the last :data:`_STDERR_KEEP` bytes), as text."""
        try:
            self._errors.seek(0, os.SEEK_END)
            self._errors.seek(max(0, self._errors.tell() - _STDERR_KEEP))
            return self._errors.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""

    def failure(self) -> AllenViewerError:
        """One line for a failed encoding (see the class docstring)."""
        from allen_viewer.io.guard import write_error
        from allen_viewer.sanitize import clean_text

        text = self.messages()
        if "No space left on device" in text:
            return write_error(self.tmp.parent / _final_name(self.tmp), OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        if self.killed_for:
            return AllenViewerError(f"The ffmpeg encoder ({self.exe}) {self.killed_for} and was stopped; "
                                    f"nothing was written.")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        last = f": {clean_text(lines[-1], 200)}" if lines else " and said nothing"
        code = self.process.returncode
        status = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with status {code}"
        return AllenViewerError(f"The ffmpeg encoder ({self.exe}) failed: it {status}{last}. Nothing was written.")

    def close(self) -> None:
        """Stop ffmpeg if it still runs (an error, a cancel, a signal) and release its pipes."""
        if self.process.poll() is None:
            self._kill()
            with contextlib.suppress(Exception):
                self.process.wait(timeout=10)
        with contextlib.suppress(OSError, ValueError):
            self.process.stdin.close()
        with contextlib.suppress(OSError):
            self._errors.close()

    def __enter__(self) -> "FfmpegEncoder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.finish()
        finally:
            self.close()


def _rate(fps: float) -> str:
    from fractions import Fraction

    return str(Fraction(fps).limit_denominator())


def _final_name(tmp: Path) -> str:
    """The movie's name from its temporary name ``.NAME.random.mp4``."""
    name = tmp.name
    if name.startswith("."):
        name = name[1:]
        head, _, _ = name.rpartition(".")
        head, _, _ = head.rpartition(".")
        return head or name
    return name


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While the block runs (on the main thread of a process without Qt -- the CLI -- when
    SIGTERM has no handler of the program's own), SIGTERM raises :class:`allen_viewer.signals.Interrupted` (as the CLI's own handler does) so the export unwinds like
    a Ctrl-C: ffmpeg stopped, the temporary file removed, one line from the CLI.  The previous
    handler comes back when the block ends."""
    import signal
    import threading

    if (threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM")
            or sys.modules.get("PySide6.QtCore") is not None):
        yield  # the viewer (Qt loaded) ends on SIGTERM by its own rules, not by an exception in a slot
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        yield  # the program's own SIGTERM handler rules
        return

    def raise_terminated(signum, frame):
        raise signals.Interrupted(signum)

    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def movie_record(grid: ExpressionGrid, plan: MoviePlan, **extra) -> dict:
    """The provenance record of a movie of ``grid`` written as ``plan`` says."""
    w, h = plan.size
    movie = {"content": "3-D scene (expression spheres, brain outline) turning once about the dorsal-ventral axis",
             "format": plan.fmt, "codec": plan.codec, "frames": plan.frames,
             "fps": plan.fps_written, "fps_asked": plan.fps,
             "frame_duration_ms": plan.frame_duration_ms, "duration_s": plan.frames / plan.fps_written,
             "loop": ("frame k is turned 360 k / frames degrees: the last frame is one step short of the first, "
                      "so the turn loops without a repeated frame" + ("; the GIF loops forever" if plan.fmt == "gif"
                                                                      else "")),
             "width_px": w, "height_px": h,
             "size_asked": {"width_px": plan.requested[0], "height_px": plan.requested[1]},
             "size_rule": ("H.264 (yuv420p) needs even sides: an odd side is rounded down to even, and the frames "
                           "are rendered at that size (not rescaled)" if plan.fmt == "mp4"
                           else "as asked")}
    movie["encoder"] = encoder_versions(plan.fmt)
    if plan.fmt == "mp4":
        movie["crf"] = MP4_CRF
    else:
        movie["note"] = ("GIF durations are whole hundredths of a second; Pillow merges identical consecutive "
                         "frames into one longer frame")
    return provenance(grid, "movie", movie=movie, **extra)


def export_movie(grid: ExpressionGrid, path: Path | str, outline=None, size=DEFAULT_MOVIE_SIZE,
                 frames: int = DEFAULT_FRAMES, fps: float = DEFAULT_FPS, view: str = DEFAULT_VIEW,
                 pose: CameraPose | None = None, display: DisplaySettings | dict | None = None,
                 color_by: str = "auto", show_outside: bool = False, threshold_rule: str = "", session=None,
                 progress: Progress | None = None, cancel: Cancel | None = None,
                 scene_options: dict | None = None) -> dict:
    """Write a turntable movie of ``grid`` to ``path`` (``.mp4`` or ``.gif``) and its
    ``FILE.mp4.json`` sidecar (see the module docstring).

    ``size`` (width, height) pixels asked (an MP4 rounds odd sides down to even);
    ``frames`` in the turn, at ``fps`` frames per second; the turn starts at ``pose`` or at
    preset ``view``; ``display`` (threshold, size scale, colour map, opacity),
    ``color_by`` and ``show_outside`` as the viewer's; ``threshold_rule`` says where the
    threshold came from; ``session`` (a :class:`~allen_viewer.state.ViewerState`, by
    default :func:`~allen_viewer.export.image.image_session` of these arguments) is
    embedded in the sidecar.  ``progress(done, total)`` after each frame; ``cancel()``
    returning True stops with :class:`~allen_viewer.errors.Cancelled`, leaving no file.
    ``scene_options``: further keywords of :func:`~allen_viewer.export.image.offscreen_scene`
    (e.g. ``caption``, ``orientation``, and what export image's figure options add).

    Returns ``{"files": [movie, sidecar], "width", "height", "frames", "fps", "format",
    "rounded"}``."""
    with terminate_as_interrupt():  # SIGTERM unwinds as a Ctrl-C does: no temp file, no ffmpeg left
        return _export_movie(grid, path, outline, size, frames, fps, view, pose, display, color_by, show_outside,
                             threshold_rule, session, progress, cancel, scene_options)


def _export_movie(grid, path, outline, size, frames, fps, view, pose, display, color_by, show_outside,
                  threshold_rule, session, progress, cancel, scene_options) -> dict:
    from allen_viewer.export.image import image_session

    plan = plan_movie(path, frames, fps, size)
    path = Path(path)
    settings = DisplaySettings(**(asdict(display) if isinstance(display, DisplaySettings) else (display or {})))
    if session is None:
        session = image_session(grid, settings, view, pose)
    turn: dict = {}
    title = f"Allen Viewer turntable: {default_caption(grid)}"
    options = {"color_by": color_by, "show_outside": show_outside, **(scene_options or {})}
    with output_errors(path), atomic_path(path, "." + plan.fmt) as tmp, _encoder(tmp, plan, title) as add:
        for done, frame in enumerate(turntable_frames(grid, outline, plan.size, plan.frames, view, pose, settings,
                                                      cancel, turn, **options), start=1):
            add(frame)
            if progress is not None:
                progress(done, plan.frames)
    record = movie_record(grid, plan, camera={**camera_record(view, pose), "turn": turn},
                          display=display_record(grid, settings, threshold_rule, color_by, show_outside),
                          coordinates=SCENE_COORDINATES, session=session.to_dict())
    figure = options.get("figure")
    if figure is not None:
        record["figure"] = figure.describe()  # the cut-away and slice planes, as export image's sidecar
    with undo_on_failure(path):
        side = write_sidecar(path, record)
    return {"files": [path, side], "width": plan.size[0], "height": plan.size[1], "frames": plan.frames,
            "fps": plan.fps_written, "format": plan.fmt, "rounded": plan.rounded}


def export_session_movie(session, path: Path | str, *, size=None, frames: int | None = None, fps: float | None = None,
                         caption: bool = True, force: bool = False) -> list[Path]:
    """A turntable movie of the figure ``session`` (a :class:`~allen_viewer.state.ViewerState`)
    shows, starting from its camera (a preset is moved back to fit the whole turn, a pose
    keeps its distance), written to ``path`` (``.mp4`` or ``.gif``) with its sidecar; returns
    the files written.  ``size`` (None: :data:`DEFAULT_MOVIE_SIZE`), ``frames`` (None:
    :data:`DEFAULT_FRAMES`), ``fps`` (None: :data:`DEFAULT_FPS`); ``caption`` false leaves
    out the title and credit line; ``force`` replaces an existing file.  The scene is
    :func:`~allen_viewer.export.session_render.session_scene`'s (what ``export image
    --session`` draws); compare sessions are not turned (one AllenViewerError line)."""
    return session_movie(session, path, size=size, frames=frames, fps=fps, caption=caption, force=force)["files"]


def session_movie(session, path: Path | str, *, size=None, frames: int | None = None, fps: float | None = None,
                  caption: bool = True, force: bool = False, data=None, progress: Progress | None = None,
                  cancel: Cancel | None = None) -> dict:
    """:func:`export_session_movie`, returning :func:`export_movie`'s dict (and ``grid``);
    ``data``: the :class:`~allen_viewer.data.AtlasData` to load from (None: a new one);
    ``progress``, ``cancel``: as :func:`export_movie`'s."""
    from allen_viewer.io.guard import check_output_path, claim_output
    from allen_viewer.export.session_render import (
        check_drawable,
        comparing,
        figure_of,
        session_data,
        session_scene,
        threshold_rule,
    )

    check_drawable(session)
    if comparing(session):
        raise AllenViewerError("A compare session is drawn as three panels; export image --session draws it "
                               "(export movie turns one gene).")
    plan_movie(path, frames or DEFAULT_FRAMES, fps or DEFAULT_FPS, size or DEFAULT_MOVIE_SIZE)  # before the work
    check_output_path(Path(path), force)
    loaded = session_data(session, data)
    d, c = session.display, session.camera
    pose = None
    if c.preset is None and c.position_um is not None and c.focal_point_um is not None:
        pose = CameraPose(tuple(c.position_um), tuple(c.focal_point_um), tuple(c.view_up or (0.0, -1.0, 0.0)),
                          float(c.view_angle_deg), 0.0, c.projection == "parallel" and c.parallel_scale_um is not None,
                          float(c.parallel_scale_um or 0.0))
    options = {"open_scene": lambda sz: session_scene(session, loaded, sz, caption=caption, name_view=False),
               "figure": figure_of(session)}
    with claim_output(path, force) as out:
        result = export_movie(loaded.grid, out, loaded.outline_mesh, size or DEFAULT_MOVIE_SIZE,
                              frames or DEFAULT_FRAMES, fps or DEFAULT_FPS, c.preset or DEFAULT_VIEW, pose,
                              d.render_values(), d.color_by, d.show_outside_brain, threshold_rule(session), session,
                              progress, cancel, options)
    return {**result, "grid": loaded.grid}
