"""What the user sees, as one Qt-free evented model: :class:`ViewerState`, and sessions.

The viewer window, its panes and the exports read this model and subscribe to its events;
the loaders write into it.  It holds no arrays and no Qt or VTK objects, only the small
values that say what is on show, so the CLI can write one (``export image``) and the GUI can
reopen it (``allen-viewer --session FILE``, *File > Open session…*).

Events come from `psygnal <https://psygnal.readthedocs.io>`_ (what napari's evented models
use): every field of an ``@evented`` dataclass has a signal ``state.events.<field>`` that
fires ``(new, old)`` when the value changes (not when it is set to an equal value), and
``state.events.all`` relays every change of the model and of its parts
(``state.display``, ``state.camera``) with the path of the field that changed.

Units and axes: positions are CCF micrometres in (AP, DV, ML) order (x = AP + posterior,
y = DV + ventral, z = ML + right); energies are Allen's expression energy.

Sessions
--------
:meth:`ViewerState.to_dict` gives a JSON-ready dict with ``"format": "allen_viewer.session"``
and ``"version": 1``; :meth:`ViewerState.from_dict` checks it strictly: an unknown or a
missing key, a wrong type or a value out of range raises one
:class:`~allen_viewer.errors.AllenViewerError` naming the key (``display.threshold: ...``),
never a traceback.  Not saved: the network state (found again at start-up).  Version 2
added ``structure_styles`` and ``structure_labels``, version 3 ``cut_away`` and
``slice_planes``, version 4 ``mode``, ``mode_experiments``, ``compare_options`` and
(issue 19) ``slices_follow_threshold``, ``section_um`` and ``spatial_seed_um``; older files
still read (without those keys, which then take their defaults).
:func:`read_session` reads a session file or any export sidecar that embeds one under
``"session"``; :func:`write_session` writes one atomically.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path

from psygnal import evented

from allen_viewer.errors import AllenViewerError

SESSION_FORMAT = "allen_viewer.session"
SESSION_VERSION = 4
"""Version 2 added ``structure_styles`` and ``structure_labels`` (figures: per-structure
colour and opacity, acronyms on the slices); a version 1 session has neither key and reads
with their defaults (no styles, labels off).  Version 3 added ``cut_away`` and
``slice_planes`` (the 3-D view's cut-away and slice planes; older sessions: none, off).
Version 4 (figures, issue 21) added ``compare_options`` and the camera's ``projection`` and
``parallel_scale_um``; older sessions reopen with raw compare scaling, a shared scale, the
difference and a 10 % cut (as drawn then) and a perspective camera."""
SESSION_V2_KEYS = ("structure_styles", "structure_labels")
SESSION_V3_KEYS = ("cut_away", "slice_planes")
SESSION_V4_MODE_KEYS = ("mode", "mode_experiments")
"""Version 4 (gene sets, issue 23) added ``mode`` (:data:`MODES`) and ``mode_experiments``
(the experiment ids a composite or gene-set map uses); versions 1-3 read as ``gene`` and ()."""
MODES = ("gene", "composite", "gene-set")
"""What the 3-D view shows: one gene (or the comparison, see ``comparing``), a composite of
2-3 genes (``mode_experiments``, one colour each), or a gene set's score map."""

FIGURES_V4_KEYS = ("compare_options",)
"""Top-level keys version 4 added for the figures (issue 21)."""
VIEW_V4_KEYS = ("slices_follow_threshold", "section_um", "spatial_seed_um")
"""Top-level keys version 4 added for issue 19 (everything the user sees in the state):
whether the slice panes colour only where energy reaches the 3-D threshold, the point whose
ISH section the Section dock shows and the seed of the Spatial correlation dock.  They may
be missing from a version 4 file (written before issue 19) and then take their defaults
(off, none, none), as they do for versions 1-3."""
CAMERA_V4_KEYS = ("projection", "parallel_scale_um")
"""Camera keys version 4 added: a version 1-3 camera has neither and opens in perspective."""
PROJECTIONS = ("perspective", "parallel")
COMPARE_SCALES = ("shared", "separate")
COMPARE_KINDS = ("difference", "ratio")
COMPARE_NORMALISE = ("raw", "rank", "z")
DEFAULT_MIN_ABS_FRACTION = 0.1

MAX_VISIBLE_STRUCTURES = 32
"""Most structure surfaces a session may show at once besides the selected one: each is a
mesh of tens of MB (about 50 MB with its picking and rendering copies), so 32 stay within
about 1.6 GB.  A session listing more is refused in one line naming this cap."""
MAX_STRUCTURE_STYLES = 2000
"""Most per-structure styles in a session (the ontology has about 1,300 structures)."""
GRID_EXTENT_UM = (13200.0, 8000.0, 11400.0)
"""The 200 µm grid's voxel centres span 0 to (67-1, 41-1, 58-1) x 200 µm (AP, DV, ML): a
session's ``cursor_um`` is clipped into this box (``1e308`` is the far edge, not an overflow)."""
MAX_THRESHOLD = 3.4028234663852886e38
"""Largest energy threshold kept (float32's largest value; grids are float32, energies at
most 1e6): a larger one (1e308) is clipped to it when it enters (a session, ``--threshold``),
so comparing it with a grid never overflows (numpy's "overflow encountered in cast")."""
CAMERA_LIMIT_UM = 1.0e6
"""A session's camera position and focal point are clipped to +-1 m: far enough for any
view of a mouse brain, near enough that VTK's arithmetic never overflows."""
SESSION_KEY = "session"
"""The key under which an export's provenance sidecar embeds the session that drew it."""

COLOR_BY = ("auto", "energy", "intensity", "density")
"""What the spheres' colours show: ``auto`` is intensity when the experiment has it, else
energy (the sphere sizes always follow energy); a channel the download lacks falls back to
energy (the colour bar says so)."""
CMAPS = ("viridis", "magma", "inferno", "plasma", "hot", "gray")
"""The colour maps the 3-D view offers (render/layers.py imports this list)."""
CAMERA_PRESETS = ("dorsal", "lateral", "anterior", "oblique")
SLICE_BACKGROUNDS = ("annotation", "nissl")
NETWORK_STATES = ("unknown", "online", "offline", "offline-mode")
PLANES = ("coronal", "sagittal")
CUT_AWAYS = ("none", "left", "right", "anterior", "posterior", "dorsal", "ventral", "sagittal-left",
             "sagittal-right")
"""The 3-D view's cut-aways (:data:`allen_viewer.render.cuts.CUT_AWAYS` says what each hides;
a test keeps the two lists equal)."""

DEFAULT_THRESHOLD = 1.0
"""Default energy threshold: voxels with energy below it are not drawn.  Energy is Allen's
'expression energy' (summed intensity of the expressing pixels over all pixels of the
voxel; arbitrary units, about 0..40)."""
DEFAULT_PERCENTILE = 90.0
DEFAULT_SIZE_SCALE = 1.0
DEFAULT_CMAP = "viridis"
DEFAULT_OPACITY = 1.0
DEFAULT_CURSOR_UM = (5200.0, 4200.0, 3800.0)
"""Where the cursor starts (CCF µm, (AP, DV, ML)): the left caudoputamen."""


@dataclass(frozen=True)
class ExperimentRef:
    """Which experiment is shown: Allen experiment id, gene symbol and section plane.

    The id is what a session reopens; the symbol and plane are there for people reading it."""

    id: int
    gene: str
    plane: str

    @classmethod
    def of(cls, experiment) -> "ExperimentRef":
        """From a :class:`~allen_viewer.records.Experiment` (or anything with
        ``id``, ``symbol`` and ``plane``)."""
        return cls(int(experiment.id), str(experiment.symbol), str(experiment.plane))

    def to_dict(self) -> dict:
        return {"id": self.id, "gene": self.gene, "plane": self.plane}


@dataclass(frozen=True)
class StructureStyle:
    """How one structure's surface is drawn in the 3-D view, when the user chose so.

    ``id``: Allen structure id; ``color``: (r, g, b) 0-255, or None for the default rule
    (the atlas colour, or the neutral surface colour while expression is shown; see
    :mod:`allen_viewer.render.structure_style`); ``opacity``: in (0, 1], or None for the
    default (0.30).  A style with neither set is no style at all and is not kept."""

    id: int
    color: tuple[int, int, int] | None = None
    opacity: float | None = None

    def to_dict(self) -> dict:
        return {"id": self.id, "color": None if self.color is None else list(self.color), "opacity": self.opacity}


_KEEP = object()


@evented
@dataclass
class DisplayState:
    """How the expression spheres are drawn.

    ``threshold``: the energy threshold in effect (voxels with a lower expression energy are
    not drawn); ``threshold_pinned``: the threshold rule -- True keeps that energy for
    every gene opened, False gives each gene opened the ``threshold_percentile`` (0-100) of
    its own in-brain energies (see :attr:`threshold_rule`); ``color_by``: one of
    :data:`COLOR_BY`; ``size_scale``: multiplies every sphere radius; ``opacity``: of the
    spheres, (0, 1]; ``cmap``: one of :data:`CMAPS`; ``show_outside_brain``: also draw the
    voxels with data outside the brain (200 µm grid annotation == 0).
    """

    color_by: str = "auto"
    threshold: float = DEFAULT_THRESHOLD
    threshold_percentile: float = DEFAULT_PERCENTILE
    threshold_pinned: bool = False
    size_scale: float = DEFAULT_SIZE_SCALE
    opacity: float = DEFAULT_OPACITY
    cmap: str = DEFAULT_CMAP
    show_outside_brain: bool = False

    @property
    def threshold_rule(self) -> str:
        """``energy`` (pinned: an absolute energy for every gene) or ``percentile`` (each gene
        gets its own :attr:`threshold_percentile`)."""
        return "energy" if self.threshold_pinned else "percentile"

    def saved_values(self) -> dict:
        """:meth:`render_values` with the threshold rule and the colour choice
        (``threshold_percentile``, ``threshold_pinned``, ``color_by``): the keys of the
        viewer's ``ExpressionControls.saved_values()`` and of its settings."""
        return {**self.render_values(), "threshold_percentile": self.threshold_percentile,
                "threshold_pinned": self.threshold_pinned, "color_by": self.color_by}

    def render_values(self) -> dict:
        """``{threshold, size_scale, cmap, opacity}``: the keyword arguments of the render
        layer's ``set_display`` (and of the viewer's ``ExpressionControls.values()``)."""
        return {"threshold": self.threshold, "size_scale": self.size_scale, "cmap": self.cmap,
                "opacity": self.opacity}


@evented
@dataclass
class CameraState:
    """The 3-D camera: a preset name (``preset``; None once the user moved the camera
    away from it) and the pose (CCF µm position and focal point, view-up vector, vertical
    view angle in degrees; None until a view reported one).  Reopening applies the preset
    when there is one (fitted to the window it opens in), else the pose."""

    preset: str | None = "oblique"
    position_um: tuple[float, float, float] | None = None
    focal_point_um: tuple[float, float, float] | None = None
    view_up: tuple[float, float, float] | None = None
    view_angle_deg: float = 30.0
    projection: str = "perspective"
    parallel_scale_um: float | None = None


@evented
@dataclass
class CompareOptions:
    """How a comparison of two genes is drawn (the compare window and ``export image A
    --compare B``): ``scale`` ``shared`` or ``separate`` (one colour range for A and B, or
    each its own); ``kind`` ``difference`` (A - B) or ``ratio`` (log2 of A over B, with a
    pseudocount); ``normalise`` ``rank`` (each gene's percentile rank among its own in-brain
    voxels with data, the default), ``raw`` energy or ``z`` scores; ``min_abs_fraction``: the
    A - B panel hides |value| below this fraction of its colour range (0-0.9).  Sessions of
    version 1-3 reopen raw, shared, difference, 0.1: as they were drawn."""

    scale: str = "shared"
    kind: str = "difference"
    normalise: str = "rank"
    min_abs_fraction: float = DEFAULT_MIN_ABS_FRACTION


@evented
@dataclass
class ViewerState:
    """Everything the user sees (see the module docstring).

    ``experiment``: gene A, the gene on show (None before one is loaded); ``compare_with``:
    gene B (None until one is loaded); ``comparing``: the comparison is on show;
    ``selected_structure``: Allen structure id or None; ``visible_structures``: ids of the
    structures whose surfaces are shown (besides the selected one); ``cursor_um``: the
    cursor (all slice panes cut through it), CCF µm (AP, DV, ML); ``slice_background``:
    ``annotation`` or ``nissl``; ``network``: ``unknown``, ``online``, ``offline`` (found)
    or ``offline-mode`` (asked for) -- not saved in sessions; ``structure_styles``: the
    colours and opacities the user chose for structure surfaces (:class:`StructureStyle`,
    one per structure, ordered by id; change them with :meth:`set_structure_style`);
    ``structure_labels``: acronyms drawn on the slice panes; ``cut_away``: what the 3-D view
    hides (:data:`CUT_AWAYS`; the slice-relative cuts are at ``cursor_um``);
    ``slice_planes``: the three slices through ``cursor_um`` drawn as planes in the 3-D view;
    ``slices_follow_threshold``: the slice panes colour only voxels whose energy reaches
    ``display.threshold``; ``section_um``: the point (CCF µm) whose ISH section the Section
    dock shows (None: none asked for); ``spatial_seed_um``: the seed point of the Spatial
    correlation dock's map (None: no map).
    """

    experiment: ExperimentRef | None = None
    compare_with: ExperimentRef | None = None
    comparing: bool = False
    display: DisplayState = field(default_factory=DisplayState)
    camera: CameraState = field(default_factory=CameraState)
    cursor_um: tuple[float, float, float] = DEFAULT_CURSOR_UM
    selected_structure: int | None = None
    visible_structures: tuple[int, ...] = ()
    slice_background: str = "annotation"
    network: str = "unknown"
    structure_styles: tuple[StructureStyle, ...] = ()
    structure_labels: bool = False
    cut_away: str = "none"
    slice_planes: bool = False
    mode: str = "gene"
    mode_experiments: tuple[int, ...] = ()
    compare_options: CompareOptions = field(default_factory=CompareOptions)
    slices_follow_threshold: bool = False
    section_um: tuple[float, float, float] | None = None
    spatial_seed_um: tuple[float, float, float] | None = None

    @property
    def genes(self) -> tuple[ExperimentRef, ...]:
        """The genes on show, in order: gene A, then gene B while ``comparing`` (empty
        before a gene is loaded).  A composite or gene-set map (``mode``) lists its
        experiments in ``mode_experiments``."""
        if self.experiment is None:
            return ()
        if self.comparing and self.compare_with is not None:
            return (self.experiment, self.compare_with)
        return (self.experiment,)

    # ---- structure styles ---------------------------------------------------------------

    def structure_style(self, structure_id: int) -> StructureStyle | None:
        """The style the user chose for a structure, or None (the defaults)."""
        for style in self.structure_styles:
            if style.id == int(structure_id):
                return style
        return None

    def set_structure_style(self, structure_id: int, color=_KEEP, opacity=_KEEP) -> None:
        """Set a structure's colour ((r, g, b) 0-255, or None: the default rule) and/or
        opacity ((0, 1], or None: the default); an argument left out keeps its value.
        ValueError for a colour or opacity out of range.  Fires ``structure_styles`` once."""
        old = self.structure_style(structure_id)
        new_color = old.color if (color is _KEEP and old is not None) else (None if color is _KEEP else color)
        new_opacity = old.opacity if (opacity is _KEEP and old is not None) else (None if opacity is _KEEP else opacity)
        if new_color is not None:
            new_color = tuple(int(c) for c in new_color)
            if len(new_color) != 3 or not all(0 <= c <= 255 for c in new_color):
                raise ValueError(f"a colour is three whole numbers 0-255, not {new_color!r}")
        if new_opacity is not None:
            new_opacity = float(new_opacity)
            if not 0.0 < new_opacity <= 1.0:
                raise ValueError(f"opacity must be in (0, 1], not {new_opacity}")
        rest = [s for s in self.structure_styles if s.id != int(structure_id)]
        if new_color is not None or new_opacity is not None:
            rest.append(StructureStyle(int(structure_id), new_color, new_opacity))
        self.structure_styles = tuple(sorted(rest, key=lambda s: s.id))

    # ---- sessions -----------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The session as a JSON-ready dict (see the module docstring)."""
        return {
            "format": SESSION_FORMAT,
            "version": SESSION_VERSION,
            "experiment": None if self.experiment is None else self.experiment.to_dict(),
            "compare_with": None if self.compare_with is None else self.compare_with.to_dict(),
            "comparing": self.comparing,
            "display": {f.name: getattr(self.display, f.name) for f in fields(DisplayState)},
            "camera": {f.name: (list(v) if isinstance(v, tuple) else v)
                       for f in fields(CameraState) for v in (getattr(self.camera, f.name),)},
            "cursor_um": list(self.cursor_um),
            "selected_structure": self.selected_structure,
            "visible_structures": list(self.visible_structures),
            "slice_background": self.slice_background,
            "structure_styles": [s.to_dict() for s in self.structure_styles],
            "structure_labels": self.structure_labels,
            "cut_away": self.cut_away,
            "slice_planes": self.slice_planes,
            "mode": self.mode,
            "mode_experiments": list(self.mode_experiments),
            "compare_options": {f.name: getattr(self.compare_options, f.name) for f in fields(CompareOptions)},
            "slices_follow_threshold": self.slices_follow_threshold,
            "section_um": None if self.section_um is None else list(self.section_um),
            "spatial_seed_um": None if self.spatial_seed_um is None else list(self.spatial_seed_um),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data, where: str = "session") -> "ViewerState":
        """A new state from :meth:`to_dict`'s output; AllenViewerError naming the first key
        that is unknown, missing, of the wrong type or out of range."""
        d = _Checker(where)
        top = d.mapping(data, "")
        fmt = top.get("format")
        if fmt != SESSION_FORMAT:
            raise AllenViewerError(f"{where}: not an allen_viewer session (its \"format\" is {fmt!r}, "
                                   f"expected {SESSION_FORMAT!r}).")
        version = top.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise AllenViewerError(f"{where}: \"version\" must be a whole number, not {version!r}.")
        if version > SESSION_VERSION:
            raise AllenViewerError(f"{where}: session version {version} was written by a newer allen_viewer; "
                                   f"this one reads version {SESSION_VERSION}.")
        if version < 1:
            raise AllenViewerError(f"{where}: session version {version} is not a version allen_viewer wrote.")
        d.keys(top, "", ("format", "version", "experiment", "compare_with", "comparing", "display", "camera",
                         "cursor_um", "selected_structure", "visible_structures", "slice_background")
               + (SESSION_V2_KEYS if version >= 2 else ()) + (SESSION_V3_KEYS if version >= 3 else ())
               + (SESSION_V4_MODE_KEYS + FIGURES_V4_KEYS if version >= 4 else ())
               + tuple(k for k in VIEW_V4_KEYS if version >= 4 and k in top))
        display = d.mapping(top["display"], "display")
        d.keys(display, "display", [f.name for f in fields(DisplayState)])
        camera = d.mapping(top["camera"], "camera")
        d.keys(camera, "camera", [f.name for f in fields(CameraState)
                                  if version >= 4 or f.name not in CAMERA_V4_KEYS])
        state = cls(
            experiment=d.experiment(top["experiment"], "experiment"),
            compare_with=d.experiment(top["compare_with"], "compare_with"),
            comparing=d.boolean(top["comparing"], "comparing"),
            display=DisplayState(
                color_by=d.choice(display["color_by"], "display.color_by", COLOR_BY),
                threshold=min(d.number(display["threshold"], "display.threshold", 0.0), MAX_THRESHOLD),
                threshold_percentile=d.number(display["threshold_percentile"], "display.threshold_percentile",
                                              0.0, 100.0),
                threshold_pinned=d.boolean(display["threshold_pinned"], "display.threshold_pinned"),
                size_scale=d.number(display["size_scale"], "display.size_scale", 0.01, 100.0),
                opacity=d.number(display["opacity"], "display.opacity", 0.0, 1.0, low_open=True),
                cmap=d.choice(display["cmap"], "display.cmap", CMAPS),
                show_outside_brain=d.boolean(display["show_outside_brain"], "display.show_outside_brain"),
            ),
            camera=CameraState(
                preset=d.choice(camera["preset"], "camera.preset", CAMERA_PRESETS, optional=True),
                position_um=_clip(d.vector(camera["position_um"], "camera.position_um", optional=True),
                                  (-CAMERA_LIMIT_UM,) * 3, (CAMERA_LIMIT_UM,) * 3),
                focal_point_um=_clip(d.vector(camera["focal_point_um"], "camera.focal_point_um", optional=True),
                                     (-CAMERA_LIMIT_UM,) * 3, (CAMERA_LIMIT_UM,) * 3),
                view_up=d.vector(camera["view_up"], "camera.view_up", optional=True),
                view_angle_deg=d.number(camera["view_angle_deg"], "camera.view_angle_deg", 0.0, 180.0,
                                        low_open=True),
                **({} if version < 4 else {
                    "projection": d.choice(camera["projection"], "camera.projection", PROJECTIONS),
                    "parallel_scale_um": None if camera["parallel_scale_um"] is None else d.number(
                        camera["parallel_scale_um"], "camera.parallel_scale_um", 0.0, 1e7, low_open=True)}),
            ),
            cursor_um=_clip(d.vector(top["cursor_um"], "cursor_um"), (0.0,) * 3, GRID_EXTENT_UM),
            selected_structure=d.integer(top["selected_structure"], "selected_structure", optional=True),
            visible_structures=d.structure_ids(top["visible_structures"], "visible_structures"),
            slice_background=d.choice(top["slice_background"], "slice_background", SLICE_BACKGROUNDS),
            structure_styles=d.styles(top["structure_styles"], "structure_styles") if version >= 2 else (),
            structure_labels=d.boolean(top["structure_labels"], "structure_labels") if version >= 2 else False,
            cut_away=d.choice(top["cut_away"], "cut_away", CUT_AWAYS) if version >= 3 else "none",
            slice_planes=d.boolean(top["slice_planes"], "slice_planes") if version >= 3 else False,
            mode=d.choice(top["mode"], "mode", MODES) if version >= 4 else "gene",
            mode_experiments=tuple(d.integer(v, f"mode_experiments[{i}]") for i, v in enumerate(
                d.sequence(top["mode_experiments"], "mode_experiments"))) if version >= 4 else (),
            compare_options=(d.compare_options(top["compare_options"], "compare_options") if version >= 4
                             else CompareOptions(normalise="raw")),
            slices_follow_threshold=(d.boolean(top["slices_follow_threshold"], "slices_follow_threshold")
                                     if "slices_follow_threshold" in top else False),
            section_um=(_clip(d.vector(top["section_um"], "section_um", optional=True), (0.0,) * 3,
                              GRID_EXTENT_UM) if "section_um" in top else None),
            spatial_seed_um=(_clip(d.vector(top["spatial_seed_um"], "spatial_seed_um", optional=True), (0.0,) * 3,
                                   GRID_EXTENT_UM) if "spatial_seed_um" in top else None),
        )
        if state.camera.preset is None and state.camera.position_um is None:
            raise AllenViewerError(f"{where}: camera has neither a preset nor a position_um.")
        if state.mode == "composite" and not 2 <= len(state.mode_experiments) <= 3:
            raise AllenViewerError(f"{where}: a composite has 2 or 3 mode_experiments, not "
                                   f"{len(state.mode_experiments)}.")
        if state.mode == "gene-set" and not 2 <= len(state.mode_experiments) <= 500:
            raise AllenViewerError(f"{where}: a gene set has 2 to 500 mode_experiments, not "
                                   f"{len(state.mode_experiments)}.")
        if state.comparing and (state.experiment is None or state.compare_with is None):
            raise AllenViewerError(f"{where}: \"comparing\" is true but experiment and compare_with are not both set.")
        return state

    @classmethod
    def from_json(cls, text: str, where: str = "session") -> "ViewerState":
        return cls.from_dict(_parse_json(text, where), where)

    def update_from(self, other: "ViewerState", network: bool = False) -> None:
        """Copy every saved field of ``other`` into this state, so that subscribers see each
        change as an event (``network`` too when asked)."""
        for f in fields(DisplayState):
            setattr(self.display, f.name, getattr(other.display, f.name))
        for f in fields(CameraState):
            setattr(self.camera, f.name, getattr(other.camera, f.name))
        for f in fields(CompareOptions):
            setattr(self.compare_options, f.name, getattr(other.compare_options, f.name))
        for name in ("experiment", "compare_with", "comparing", "cursor_um", "selected_structure",
                     "visible_structures", "slice_background", *SESSION_V2_KEYS, *SESSION_V3_KEYS,
                     *SESSION_V4_MODE_KEYS, *VIEW_V4_KEYS):
            setattr(self, name, getattr(other, name))
        if network:
            self.network = other.network

    def copy(self) -> "ViewerState":
        """An independent copy (no subscribers) of the saved fields and the network state."""
        twin = ViewerState.from_dict(self.to_dict())
        twin.network = self.network
        return twin


# ---- files ------------------------------------------------------------------------------

def _parse_json(text: str, where: str):
    """``json.loads(text)``, with a one-line :class:`AllenViewerError` naming ``where`` for
    text that is not JSON or is nested too deeply for the parser."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise AllenViewerError(f"{where} is not valid JSON ({exc}).") from None
    except RecursionError:  # e.g. "[" * 100000: the parser's recursion runs out
        raise AllenViewerError(f"{where} is not a session: its JSON is nested too deeply.") from None


def session_from_record(record, where: str) -> ViewerState:
    """The session in ``record``: a session dict itself, or an export sidecar that embeds one
    under :data:`SESSION_KEY`."""
    if isinstance(record, dict) and record.get("format") != SESSION_FORMAT and SESSION_KEY in record:
        return ViewerState.from_dict(record[SESSION_KEY], f"{where} (its embedded session)")
    if isinstance(record, dict) and record.get("format") in (None, "allen_viewer.sidecar") and "export" in record:
        raise AllenViewerError(f"{where} is an export sidecar without a session (written by an older "
                               "allen_viewer, or an export that does not record one).")
    return ViewerState.from_dict(record, where)


def read_session(path: Path | str) -> ViewerState:
    """Read a session file, or an export's sidecar (``FILE.EXT.json``) that embeds one.

    Raises AllenViewerError (one line) when the file is missing, unreadable, not JSON or
    not a valid session."""
    path = Path(path)
    try:
        if not path.is_file():
            raise AllenViewerError(f"{path} is not a file." if path.exists() else f"{path} does not exist.")
        if path.stat().st_size > 10_000_000:
            raise AllenViewerError(f"{path} is too large to be a session file.")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AllenViewerError(f"{path} is not a text file.") from None
    except OSError as exc:
        raise AllenViewerError(f"Could not read {path} ({exc.strerror or exc}).") from None
    return session_from_record(_parse_json(text, str(path)), str(path))


def write_session(path: Path | str, state: ViewerState) -> Path:
    """Write ``state`` as a session file, atomically; AllenViewerError when it cannot be
    written (nothing is left half-written)."""
    from allen_viewer.io.atomic import atomic_write

    path = Path(path)
    if path.exists() and not path.is_file():
        raise AllenViewerError(f"{path} exists and is not a regular file; not replaced.")
    try:
        with atomic_write(path, "w") as fh:
            fh.write(state.to_json())
    except OSError as exc:
        raise AllenViewerError(f"Could not write {path} ({exc.strerror or exc}).") from None
    return path


# ---- checking ---------------------------------------------------------------------------

class _Checker:
    """Type and range checks that raise one AllenViewerError naming the key."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, key: str, message: str) -> None:
        raise AllenViewerError(f"{self.where}: {key + ': ' if key else ''}{message}")

    def mapping(self, value, key: str) -> dict:
        if not isinstance(value, dict):
            self.fail(key, f"expected a JSON object, not {_kind(value)}.")
        return value

    def keys(self, mapping: dict, key: str, expected) -> None:
        prefix = f"{key}." if key else ""
        unknown = [k for k in mapping if k not in expected]
        if unknown:
            self.fail("", f"unknown key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(repr(prefix + str(k)) for k in unknown)}.")
        missing = [k for k in expected if k not in mapping]
        if missing:
            self.fail("", f"missing key{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(repr(prefix + k) for k in missing)}.")

    def compare_options(self, value, key: str) -> "CompareOptions":
        m = self.mapping(value, key)
        self.keys(m, key, [f.name for f in fields(CompareOptions)])
        return CompareOptions(
            scale=self.choice(m["scale"], f"{key}.scale", COMPARE_SCALES),
            kind=self.choice(m["kind"], f"{key}.kind", COMPARE_KINDS),
            normalise=self.choice(m["normalise"], f"{key}.normalise", COMPARE_NORMALISE),
            min_abs_fraction=self.number(m["min_abs_fraction"], f"{key}.min_abs_fraction", 0.0, 0.9))

    def boolean(self, value, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, not {_kind(value)}.")
        return value

    def number(self, value, key: str, low: float | None = None, high: float | None = None,
               low_open: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"expected a number, not {_kind(value)}.")
        try:
            number = float(value)  # an int past float's range (10**400) raises OverflowError
        except OverflowError:
            self.fail(key, f"{_kind(value)} is out of range.")
        if not math.isfinite(number):
            self.fail(key, f"expected a number, not {_kind(value)}.")
        value = number
        if low is not None and (value < low or (low_open and value == low)):
            self.fail(key, f"{value:g} is out of range (must be {'>' if low_open else '>='} {low:g}).")
        if high is not None and value > high:
            self.fail(key, f"{value:g} is out of range (must be <= {high:g}).")
        return value

    def integer(self, value, key: str, optional: bool = False) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected a whole number{' or null' if optional else ''}, not {_kind(value)}.")
        if abs(value) >= 2 ** 63:  # no id or index is this large; later code assumes int64
            self.fail(key, f"{_kind(value)} is out of range.")
        return value

    def choice(self, value, key: str, choices, optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        if value not in choices:
            self.fail(key, f"{_kind(value)} is not one of {', '.join(choices)}{' (or null)' if optional else ''}.")
        return value

    def sequence(self, value, key: str) -> list:
        if not isinstance(value, list):
            self.fail(key, f"expected a JSON array, not {_kind(value)}.")
        return value

    def vector(self, value, key: str, optional: bool = False) -> tuple[float, float, float] | None:
        if value is None and optional:
            return None
        if not isinstance(value, list) or len(value) != 3:
            self.fail(key, f"expected an array of 3 numbers{' or null' if optional else ''}, not {_kind(value)}.")
        return tuple(self.number(v, f"{key}[{i}]") for i, v in enumerate(value))

    def structure_ids(self, value, key: str) -> tuple[int, ...]:
        """Distinct positive structure ids, sorted; at most :data:`MAX_VISIBLE_STRUCTURES`."""
        items = self.sequence(value, key)
        ids = {self.integer(v, f"{key}[{i}]") for i, v in enumerate(items)}
        if any(i <= 0 for i in ids):
            self.fail(key, f"{min(ids)} is not a structure id.")
        if len(ids) > MAX_VISIBLE_STRUCTURES:
            self.fail(key, f"{len(ids)} structures; at most {MAX_VISIBLE_STRUCTURES} surfaces are shown at once "
                           "(each takes tens of MB of memory).")
        return tuple(sorted(ids))

    def styles(self, value, key: str) -> tuple[StructureStyle, ...]:
        """A list of ``{"id", "color", "opacity"}``; one per structure; ordered by id."""
        out: dict[int, StructureStyle] = {}
        if isinstance(value, list) and len(value) > MAX_STRUCTURE_STYLES:
            self.fail(key, f"{len(value)} styles; at most {MAX_STRUCTURE_STYLES} (one per structure).")
        for i, item in enumerate(self.sequence(value, key)):
            where = f"{key}[{i}]"
            m = self.mapping(item, where)
            self.keys(m, where, ("id", "color", "opacity"))
            ident = self.integer(m["id"], f"{where}.id")
            if ident in out:
                self.fail(f"{where}.id", f"{ident} has a style already.")
            color = m["color"]
            if color is not None:
                if not isinstance(color, list) or len(color) != 3:
                    self.fail(f"{where}.color", f"expected an array of 3 whole numbers 0-255 or null, "
                                                f"not {_kind(color)}.")
                for j, c in enumerate(color):
                    self.integer(c, f"{where}.color[{j}]")
                    if not 0 <= c <= 255:
                        self.fail(f"{where}.color[{j}]", f"{c} is out of range (must be 0-255).")
                color = tuple(color)
            opacity = m["opacity"]
            if opacity is not None:
                opacity = self.number(opacity, f"{where}.opacity", 0.0, 1.0, low_open=True)
            if color is not None or opacity is not None:
                out[ident] = StructureStyle(ident, color, opacity)
        return tuple(out[k] for k in sorted(out))

    def experiment(self, value, key: str) -> ExperimentRef | None:
        if value is None:
            return None
        m = self.mapping(value, key)
        self.keys(m, key, ("id", "gene", "plane"))
        ident = self.integer(m["id"], f"{key}.id")
        if ident <= 0:
            self.fail(f"{key}.id", f"{ident} is not an experiment id.")
        if not isinstance(m["gene"], str) or not m["gene"].strip():
            self.fail(f"{key}.gene", f"expected a gene symbol, not {_kind(m['gene'])}.")
        return ExperimentRef(ident, m["gene"], self.choice(m["plane"], f"{key}.plane", PLANES))


def _clip(vector, low, high):
    """``vector`` (or None) with each coordinate clipped into ``[low, high]`` (plain floats:
    no numpy overflow warning for 1e308)."""
    if vector is None:
        return None
    return tuple(min(max(float(v), lo), hi) for v, lo, hi in zip(vector, low, high))


def _kind(value) -> str:
    """A short, safe description of a JSON value for messages (never the whole value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) >= 10 ** 15:  # never print hundreds of digits
        try:
            return f"a whole number of {len(str(abs(value)))} digits"
        except ValueError:  # past Python's int-to-text limit (4,300 digits)
            return "a whole number of thousands of digits"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, list):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return "a JSON object"
    return type(value).__name__
