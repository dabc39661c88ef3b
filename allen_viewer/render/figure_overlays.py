"""Figure furniture drawn over a 3-D scene: the colour bar, the 1 mm scale bar and the
orientation words in the margins (issue 21).  Qt-free: pyvista/VTK and numpy only.

Everything here is laid out in pixels before every frame (a renderer's ``StartEvent``), from
the render window's size, so the same code serves a 480x360 movie frame and a 4000 px figure;
font sizes are the on-screen sizes times ``text_scale``.

Colour bar (:class:`ColourBar`)
-------------------------------
A horizontal bar in the top right corner, drawn as 256 coloured quads through the layer's
lookup table, so its ends are exactly the colour range ``(lo, hi)``: for expression that is the
threshold (or the drawn voxels' lowest value) up to the top of the drawn scale.  Under it: the
low end's value (left-aligned at the bar's left end), the top (right-aligned at its right end;
"≥ 21.4" when values above it are clipped to it) and round interior ticks
(:func:`round_ticks`: 1, 2, 2.5 or 5 times a power of ten) wherever they do not touch the end
labels.  Above it: a one-line title, the quantity and its unit.

Scale bar (:class:`ScaleBar`)
-----------------------------
In a parallel projection a length L µm on the focal plane spans ``L * H_px / (2 * S)`` pixels
(``S``: the camera's parallel scale, half the view's height in µm; ``H_px``: the view's height
in pixels).  The bar is 1 mm long at that scale, rounded to whole pixels (so within one pixel),
in the lower right corner above the data credit, labelled "1 mm".  Hidden in perspective,
where no single length holds across the depth of the brain.

Orientation words (:class:`MarginWords`)
----------------------------------------
Each anatomical word sits outside the 2-D box of the projected brain (the outline's vertices
projected to the screen), on the side its axis points to on screen, on a dark (or, for light
pages, a light) rounded background so it reads on any colour.  A word whose axis points within
35° of the line of sight is hidden.  Words that would overlap one another slide along the
box's side.
"""
from __future__ import annotations

import math

import numpy as np
from vtkmodules.vtkCommonCore import vtkPoints, vtkUnsignedCharArray
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingCore import vtkActor2D, vtkPolyDataMapper2D, vtkTextActor

GE, LE = "\u2265", "\u2264"
"""The "greater than or equal" sign of a clipped top label."""
CHAR_WIDTH = 0.62
"""Approximate width of a label character in font sizes (for laying out before drawing)."""


# ---- numbers -----------------------------------------------------------------------------

def nice_step(span: float, max_ticks: int) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that splits ``span`` into at most
    ``max_ticks`` steps."""
    if not span > 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, int(max_ticks))
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * mag >= raw * (1 - 1e-9):
            return m * mag
    return 10.0 * mag


def round_ticks(lo: float, hi: float, max_ticks: int = 5) -> list[float]:
    """Round values (multiples of :func:`nice_step`) in ``[lo, hi]``, ascending."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return []
    step = nice_step(hi - lo, max_ticks)
    first = math.ceil(lo / step - 1e-9)
    out = []
    k = first
    while k * step <= hi + 1e-9 * step:
        out.append(round(k * step, 10))
        k += 1
    return out


def format_value(v: float) -> str:
    """A value with three significant digits ("7.11", "21.4", "0.9", "40")."""
    if v == 0:
        return "0"
    return f"{v:.3g}"


def format_tick(v: float) -> str:
    """A round tick value as written ("10", "2.5", "0.25", "-1")."""
    return f"{round(v, 10):.6g}"


def text_width_px(text: str, font_px: float) -> float:
    return len(text) * CHAR_WIDTH * font_px


def _text_actor(font_px: int, color, bold: bool = False) -> vtkTextActor:
    actor = vtkTextActor()
    tp = actor.GetTextProperty()
    tp.SetFontSize(max(1, int(font_px)))
    tp.SetColor(*color)
    tp.SetBold(bold)
    tp.ItalicOff()
    tp.ShadowOff()
    actor.GetPositionCoordinate().SetCoordinateSystemToDisplay()
    actor.PickableOff()
    return actor


def text_box(actor: vtkTextActor, renderer) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) display pixels of a text actor as the renderer draws it (VTK gives the
    box relative to the actor's anchor, justification included; the anchor is added here)."""
    bbox = [0.0, 0.0, 0.0, 0.0]
    actor.GetBoundingBox(renderer, bbox)
    ax, ay = actor.GetPositionCoordinate().GetComputedDoubleDisplayValue(renderer)
    return (float(bbox[0] + ax), float(bbox[1] + ax), float(bbox[2] + ay), float(bbox[3] + ay))


# ---- colour bar --------------------------------------------------------------------------

class ColourBar:
    """The colour bar of a sphere layer, in ``renderer`` (a layer-1 renderer covering the
    view).  Set it with :meth:`set_lookup_table`, :meth:`set_range`, :meth:`set_title`,
    :meth:`set_visible`; it lays itself out before every frame of ``renderer``.

    ``left``, ``width``: the bar's left end and length as fractions of the view's width (the
    compare panels use a longer one); the label texts are :attr:`label_texts`."""

    N_STEPS = 256

    def __init__(self, renderer, text_scale: float = 1.0, text_color=(0.92, 0.92, 0.92),
                 left: float = 0.62, width: float = 0.34):
        self.renderer = renderer
        self.text_scale = float(text_scale)
        self.text_color = tuple(text_color)
        self.left, self.width = float(left), float(width)
        self.top_offset_px = 0.0
        """Pixels between the view's top and the bar's block (a compare panel puts its caption there)."""
        self.lo, self.hi, self.clipped_top, self.clipped_bottom = 0.0, 1.0, False, False
        self.visible = False
        self.lut = None
        self.poly = vtkPolyData()
        mapper = vtkPolyDataMapper2D()
        mapper.SetInputData(self.poly)
        self.bar_actor = vtkActor2D()
        self.bar_actor.SetMapper(mapper)
        self.bar_actor.PickableOff()
        self.title_actor = _text_actor(self.title_px, self.text_color)
        self.title_actor.GetTextProperty().SetJustificationToCentered()
        self.title_actor.GetTextProperty().SetVerticalJustificationToBottom()
        self.labels: list[vtkTextActor] = []
        self.bar_rect = (0.0, 0.0, 0.0, 0.0)
        """(x0, x1, y0, y1) display pixels of the bar itself, as last laid out."""
        renderer.AddViewProp(self.bar_actor)
        renderer.AddViewProp(self.title_actor)
        self._observer = renderer.AddObserver("StartEvent", lambda *_a: self.layout())
        self._apply_visibility()

    @property
    def title_px(self) -> int:
        return int(round(13 * self.text_scale))

    @property
    def label_px(self) -> int:
        return int(round(12 * self.text_scale))

    # -- settings ------------------------------------------------------------------------

    def set_lookup_table(self, lut) -> None:
        self.lut = lut

    def set_range(self, lo: float, hi: float, clipped_top: bool = False, clipped_bottom: bool = False) -> None:
        """The bar's ends; ``clipped_top``/``clipped_bottom``: drawn values lie beyond an end
        and take its colour (its label then reads "≥ top" / "≤ bottom")."""
        self.lo, self.hi = float(lo), float(hi)
        self.clipped_top, self.clipped_bottom = bool(clipped_top), bool(clipped_bottom)

    def set_title(self, text: str) -> None:
        self.title_actor.SetInput(text)

    @property
    def title(self) -> str:
        return self.title_actor.GetInput() or ""

    def set_visible(self, visible: bool) -> None:
        self.visible = bool(visible)
        self._apply_visibility()

    def set_box(self, left: float, width: float) -> None:
        self.left, self.width = float(left), float(width)

    def _apply_visibility(self) -> None:
        self.bar_actor.SetVisibility(self.visible)
        self.title_actor.SetVisibility(self.visible)
        for label in self.labels:
            label.SetVisibility(self.visible)

    # -- what the labels say -------------------------------------------------------------

    def label_values(self, bar_px: float) -> list[tuple[float, str, str]]:
        """[(value, text, justification)] under a bar ``bar_px`` pixels long: the low end
        (left), round interior ticks that do not touch the ends (centred), the top (right;
        with "≥" when clipped)."""
        lo, hi = self.lo, self.hi
        lo_text = (LE + " " if self.clipped_bottom else "") + format_value(lo)
        hi_text = (GE + " " if self.clipped_top else "") + format_value(hi)
        out = [(lo, lo_text, "left")]
        if hi > lo and bar_px > 0:
            px = self.label_px
            gap = 0.8 * px
            lo_end = text_width_px(lo_text, px) + gap
            hi_end = bar_px - text_width_px(hi_text, px) - gap
            chars = max(len(format_value(lo)), len(format_value(hi)), 4)
            widest = chars * CHAR_WIDTH * px + gap
            max_ticks = max(1, int(bar_px / (2.0 * widest)))
            for v in round_ticks(lo, hi, max_ticks):
                x = (v - lo) / (hi - lo) * bar_px
                half = text_width_px(format_tick(v), px) / 2.0
                if x - half >= lo_end and x + half <= hi_end:
                    out.append((v, format_tick(v), "center"))
            out.append((hi, hi_text, "right"))
        return out

    @property
    def label_texts(self) -> list[str]:
        """The labels under the bar, left to right, as last laid out."""
        return [label.GetInput() for label in self.labels]

    # -- layout --------------------------------------------------------------------------

    def layout(self) -> None:
        """Place the bar, its title and labels for the view's current size (pixels)."""
        if not self.visible:
            return
        ren_win = self.renderer.GetRenderWindow()
        if ren_win is None:
            return
        w, h = ren_win.GetSize()
        vp = self.renderer.GetViewport()
        W, H = w * (vp[2] - vp[0]), h * (vp[3] - vp[1])
        ox, oy = w * vp[0], h * vp[1]
        if W <= 0 or H <= 0:
            return
        tp, lp = self.title_px, self.label_px
        top = oy + H - max(4.0, 0.012 * H) - self.top_offset_px
        x0 = ox + self.left * W
        x1 = ox + min(self.left + self.width, 1.0 - 0.02) * W
        bar_h = max(6.0, 0.9 * lp)
        lines = max(1, self.title.count("\n") + 1)  # a two-line title pushes the bar down
        y1 = top - (1.45 + 1.2 * (lines - 1)) * tp
        y0 = y1 - bar_h
        self.bar_rect = (x0, x1, y0, y1)
        self._build_quads(x0, x1, y0, y1)
        self.title_actor.GetTextProperty().SetFontSize(tp)
        self.title_actor.SetPosition((x0 + x1) / 2.0, y1 + 0.3 * tp)
        wanted = self.label_values(x1 - x0)
        while len(self.labels) < len(wanted):
            label = _text_actor(lp, self.text_color)
            label.GetTextProperty().SetVerticalJustificationToTop()
            self.renderer.AddViewProp(label)
            self.labels.append(label)
        for label, (v, text, just) in zip(self.labels, wanted):
            label.SetInput(text)
            prop = label.GetTextProperty()
            prop.SetFontSize(lp)
            {"left": prop.SetJustificationToLeft, "right": prop.SetJustificationToRight,
             "center": prop.SetJustificationToCentered}[just]()
            x = x0 + (v - self.lo) / (self.hi - self.lo) * (x1 - x0) if self.hi > self.lo else x0
            label.SetPosition(x, y0 - 0.25 * lp)
            label.SetVisibility(True)
        for label in self.labels[len(wanted):]:
            label.SetInput("")
            label.SetVisibility(False)
        del self.labels[len(wanted):]

    def block_box(self) -> tuple[float, float, float, float]:
        """(x0, x1, y0, y1) pixels the bar with its title and labels takes (approximate)."""
        x0, x1, y0, y1 = self.bar_rect
        title_w = text_width_px(self.title, self.title_px)
        cx = (x0 + x1) / 2.0
        return (min(x0, cx - title_w / 2), max(x1, cx + title_w / 2), y0 - 1.4 * self.label_px,
                y1 + 1.6 * self.title_px)

    def _build_quads(self, x0, x1, y0, y1) -> None:
        n = self.N_STEPS
        xs = np.linspace(x0, x1, n + 1)
        pts = np.zeros((2 * (n + 1), 3))
        pts[0::2, 0] = xs
        pts[0::2, 1] = y0
        pts[1::2, 0] = xs
        pts[1::2, 1] = y1
        points = vtkPoints()
        for p in pts:
            points.InsertNextPoint(*p)
        cells = vtkCellArray()
        colors = vtkUnsignedCharArray()
        colors.SetNumberOfComponents(3)
        for i in range(n):
            cells.InsertNextCell(4)
            for pid in (2 * i, 2 * i + 2, 2 * i + 3, 2 * i + 1):
                cells.InsertCellPoint(pid)
            v = self.lo + (i + 0.5) / n * (self.hi - self.lo)
            rgb = [0.5, 0.5, 0.5]
            if self.lut is not None:
                self.lut.GetColor(v, rgb)
            colors.InsertNextTuple3(*(int(round(255 * c)) for c in rgb))
        self.poly.SetPoints(points)
        self.poly.SetPolys(cells)
        self.poly.GetCellData().SetScalars(colors)
        self.poly.Modified()

    def detach(self) -> None:
        if self._observer is not None and self.renderer is not None:
            self.renderer.RemoveObserver(self._observer)
        self._observer = None


# ---- scale bar ---------------------------------------------------------------------------

SCALE_BAR_UM = 1000.0


def scale_bar_px(parallel_scale_um: float, view_height_px: float, length_um: float = SCALE_BAR_UM) -> float:
    """Pixels that ``length_um`` spans in a parallel projection of half height
    ``parallel_scale_um`` shown ``view_height_px`` pixels high."""
    return length_um * view_height_px / (2.0 * parallel_scale_um)


class ScaleBar:
    """A 1 mm bar in the lower right corner of ``renderer``'s view, shown only while
    ``camera`` uses a parallel projection (see the module docstring)."""

    def __init__(self, renderer, camera, text_scale: float = 1.0, color=(0.92, 0.92, 0.92)):
        self.renderer, self.camera = renderer, camera
        self.text_scale = float(text_scale)
        self.poly = vtkPolyData()
        mapper = vtkPolyDataMapper2D()
        mapper.SetInputData(self.poly)
        self.bar_actor = vtkActor2D()
        self.bar_actor.SetMapper(mapper)
        self.bar_actor.GetProperty().SetColor(*color)
        self.bar_actor.PickableOff()
        self.label = _text_actor(int(round(12 * self.text_scale)), color)
        self.label.SetInput("1 mm")
        self.label.GetTextProperty().SetJustificationToCentered()
        self.label.GetTextProperty().SetVerticalJustificationToBottom()
        self.length_px = 0
        """The bar's drawn length in whole pixels (0 while hidden)."""
        self.rect = (0.0, 0.0, 0.0, 0.0)
        renderer.AddViewProp(self.bar_actor)
        renderer.AddViewProp(self.label)

    @property
    def visible(self) -> bool:
        return bool(self.bar_actor.GetVisibility())

    def layout(self) -> None:
        ren_win = self.renderer.GetRenderWindow()
        show = bool(self.camera.GetParallelProjection()) and ren_win is not None
        w, h = ren_win.GetSize() if ren_win is not None else (0, 0)
        if not show or w <= 0 or h <= 0:
            self.bar_actor.SetVisibility(False)
            self.label.SetVisibility(False)
            self.length_px = 0
            return
        length = int(round(scale_bar_px(self.camera.GetParallelScale(), h)))
        fp = int(round(12 * self.text_scale))
        thick = max(2, int(round(0.35 * fp)))
        x1 = w - max(8, int(0.03 * w))
        x0 = x1 - length
        y0 = int(round(2.4 * fp)) + 4  # above the data credit line
        y1 = y0 + thick
        pts = vtkPoints()
        for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)):
            pts.InsertNextPoint(x, y, 0.0)
        cells = vtkCellArray()
        cells.InsertNextCell(4)
        for i in range(4):
            cells.InsertCellPoint(i)
        self.poly.SetPoints(pts)
        self.poly.SetPolys(cells)
        self.poly.Modified()
        self.label.GetTextProperty().SetFontSize(fp)
        self.label.SetPosition((x0 + x1) / 2.0, y1 + 0.25 * fp)
        self.rect = (float(x0), float(x1), float(y0), float(y1))
        self.length_px = length
        self.bar_actor.SetVisibility(True)
        self.label.SetVisibility(True)


# ---- orientation words in the margins ------------------------------------------------------

WORDS = (("anterior", 0, -1), ("posterior", 0, 1), ("dorsal", 1, -1), ("ventral", 1, 1),
         ("left", 2, -1), ("right", 2, 1))
"""(word, CCF axis, sign): CCF x = AP (+ posterior), y = DV (+ ventral), z = ML (+ right)."""


def project(camera, points: np.ndarray, width: int, height: int) -> np.ndarray:
    """(n, 2) display pixels of (n, 3) world points seen by ``camera`` in a ``width`` x
    ``height`` view."""
    m = camera.GetCompositeProjectionTransformMatrix(width / max(height, 1), -1, 1)
    mat = np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])
    p = np.c_[np.asarray(points, float).reshape(-1, 3), np.ones(len(points))]
    q = p @ mat.T
    ndc = q[:, :2] / q[:, 3:4]
    return np.c_[(ndc[:, 0] + 1) * width / 2.0, (ndc[:, 1] + 1) * height / 2.0]


class MarginWords:
    """The six anatomical words, placed before every frame outside the projected brain's 2-D
    box (module docstring).  ``renderer``: a layer-1 renderer over the view; ``camera``: the
    scene's camera; :meth:`set_body` gives the points whose projection is the brain's box."""

    PAD = 0.35
    """Gap between the brain's box and a word's box, in font sizes."""

    def __init__(self, renderer, camera, text_scale: float = 1.0, color=(0.95, 0.85, 0.45),
                 background=(0.08, 0.09, 0.11), hide_cos: float = math.cos(math.radians(35.0))):
        self.renderer, self.camera = renderer, camera
        self.text_scale = float(text_scale)
        self.hide_cos = hide_cos
        self.body = np.zeros((0, 3))
        self.centre = np.zeros(3)
        self.actors: dict[str, vtkTextActor] = {}
        for word, _axis, _sign in WORDS:
            actor = _text_actor(self.font_px, color, bold=True)
            actor.SetInput(word)
            prop = actor.GetTextProperty()
            prop.SetJustificationToCentered()
            prop.SetVerticalJustificationToCentered()
            prop.SetBackgroundColor(*background)
            prop.SetBackgroundOpacity(0.72)
            prop.SetFrame(False)
            renderer.AddViewProp(actor)
            self.actors[word] = actor
        self.brain_box = (0.0, 0.0, 0.0, 0.0)
        """(x0, x1, y0, y1) display pixels of the projected brain, as last laid out."""
        self.obstacles: list[tuple[float, float, float, float]] = []
        """Boxes (x0, x1, y0, y1 pixels) the words keep out of besides each other (the
        orientation marker's corner): a word slides along its side of the brain past them."""

    @property
    def font_px(self) -> int:
        return int(round(15 * self.text_scale))

    def set_body(self, points, bounds) -> None:
        """The points whose projection is the brain (e.g. the outline's vertices, CCF µm), or
        without them the corners of ``bounds``."""
        b = np.asarray(bounds, float)
        self.centre = (b[0::2] + b[1::2]) / 2.0
        if points is None or len(points) == 0:
            self.body = np.array([[x, y, z] for x in b[0:2] for y in b[2:4] for z in b[4:6]])
        else:
            pts = np.asarray(points, float).reshape(-1, 3)
            self.body = pts[:: max(1, len(pts) // 3000)]

    def layout(self) -> None:
        ren_win = self.renderer.GetRenderWindow()
        if ren_win is None or not len(self.body):
            return
        w, h = ren_win.GetSize()
        if w <= 0 or h <= 0:
            return
        fp = self.font_px
        screen = project(self.camera, self.body, w, h)
        x0, y0 = screen.min(axis=0)
        x1, y1 = screen.max(axis=0)
        self.brain_box = (float(x0), float(x1), float(y0), float(y1))
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        dop = np.array(self.camera.GetDirectionOfProjection())
        extent = float(np.max(self.body.max(axis=0) - self.body.min(axis=0)))
        c_screen = project(self.camera, self.centre[None, :], w, h)[0]
        pad = self.PAD * fp
        placed: list[tuple[float, float, float, float]] = list(self.obstacles)
        for word, axis, sign in WORDS:
            actor = self.actors[word]
            actor.GetTextProperty().SetFontSize(fp)
            if abs(dop[axis]) >= self.hide_cos:
                actor.SetVisibility(False)
                continue
            tip = self.centre.copy()
            tip[axis] += sign * 0.25 * extent
            d = project(self.camera, tip[None, :], w, h)[0] - c_screen
            norm = float(np.hypot(*d))
            if norm < 1e-6:
                actor.SetVisibility(False)
                continue
            d /= norm
            tw, th = text_width_px(word, fp) + 0.6 * fp, 1.5 * fp
            # where the ray from the box's centre along d leaves the box
            tx = ((x1 - cx) / d[0]) if d[0] > 1e-9 else ((x0 - cx) / d[0]) if d[0] < -1e-9 else np.inf
            ty = ((y1 - cy) / d[1]) if d[1] > 1e-9 else ((y0 - cy) / d[1]) if d[1] < -1e-9 else np.inf
            if tx <= ty:  # leaves through the left or right side: the word beside it
                px = (x1 + pad + tw / 2) if d[0] > 0 else (x0 - pad - tw / 2)
                py = float(np.clip(cy + d[1] * tx, y0 + th / 2, y1 - th / 2)) if y1 - y0 > th else cy
                slide = (0.0, 1.0)
            else:  # through the top or bottom: the word above or below it
                py = (y1 + pad + th / 2) if d[1] > 0 else (y0 - pad - th / 2)
                px = float(np.clip(cx + d[0] * ty, x0 + tw / 2, x1 - tw / 2)) if x1 - x0 > tw else cx
                slide = (1.0, 0.0)
            box = [px - tw / 2, px + tw / 2, py - th / 2, py + th / 2]
            for _ in range(8):  # slide along the side until it overlaps no word placed before
                hit = next((p for p in placed if box[0] < p[1] and p[0] < box[1] and box[2] < p[3] and p[2] < box[3]),
                           None)
                if hit is None:
                    break
                if slide[1]:
                    shift = (hit[3] - box[2]) if py >= (hit[2] + hit[3]) / 2 else (hit[2] - box[3])
                    box[2] += shift
                    box[3] += shift
                else:
                    shift = (hit[1] - box[0]) if px >= (hit[0] + hit[1]) / 2 else (hit[0] - box[1])
                    box[0] += shift
                    box[1] += shift
            # never cut off: inside the view (over the brain only if it fills the view)
            dx = max(0.0, 2.0 - box[0]) - max(0.0, box[1] - (w - 2.0))
            dy = max(0.0, 2.0 - box[2]) - max(0.0, box[3] - (h - 2.0))
            box = [box[0] + dx, box[1] + dx, box[2] + dy, box[3] + dy]
            placed.append(tuple(box))
            actor.SetPosition((box[0] + box[1]) / 2.0, (box[2] + box[3]) / 2.0)
            actor.SetVisibility(True)

    def visible_words(self) -> list[str]:
        return [word for word, actor in self.actors.items() if actor.GetVisibility()]


SIDE_WORD = {"dorsal": "right", "anterior": "right", "lateral": "posterior", "oblique": "posterior"}
"""The longest word a preset puts beside the brain (left or right of it)."""


def word_margins(width: float, height: float, text_scale: float = 1.0,
                 band_px: float | None = None, view: str | None = None) -> tuple[float, float, float]:
    """(side, bottom/top, top band) fractions of the view a preset leaves around the brain:
    room for the longest orientation word beside the brain's box, for a word above and below
    it, and a band at the top for the caption and the colour bar (pixels from the font sizes
    of :class:`MarginWords` and :class:`ColourBar` at ``text_scale``; ``band_px``: the
    caption's height when it is taller than the colour bar's block; ``view``: the preset, whose
    side words may be shorter than "posterior")."""
    width, height = max(float(width), 1.0), max(float(height), 1.0)
    fp = 15 * text_scale
    side = (text_width_px(SIDE_WORD.get(view or "", "posterior"), fp) + (0.6 + MarginWords.PAD) * fp + 4) / width
    vertical = (1.5 * fp + MarginWords.PAD * fp + 4) / height
    band = ((48 * text_scale if band_px is None else max(band_px, 48 * text_scale)) + 0.012 * height + 4) / height
    return min(side, 0.3), min(vertical, 0.2), min(band, 0.3)
