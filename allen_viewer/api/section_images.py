"""Section images (the original ISH sections) as the Allen API serves them: pure helpers.

No network here: the URLs, the parsing of ``SectionImage`` rows and ``reference_to_image``
answers (liberal: ids may arrive as strings, ``x``/``y`` as floats, negative or not), the
one function that maps a CCF point in micrometres to the coordinates the synchronisation
service takes, and the checks a downloaded JPEG must pass.  :class:`AllenClient` uses them
(``section_images``, ``image_sync``, ``download_section_image``); see
``docs/allen-api.md`` ("Section images and image synchronisation").
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

from allen_viewer.errors import AllenViewerError, CorruptDownload
from allen_viewer.sanitize import clean_text

VIEWS = ("stained", "expression")
"""``stained``: the ISH image as cut; ``expression``: the pipeline's expression mask (``view=expression``)."""
MAX_DOWNSAMPLE = 8
JPEG_MAGIC = b"\xff\xd8\xff"
JPEG_END = b"\xff\xd9"
MAX_IMAGE_BYTES_FULL = 256 * 1024 * 1024
"""Size cap of a full-resolution section JPEG (downsample 0; real ones are tens of MB)."""
MIN_IMAGE_CAP = 4 * 1024 * 1024
MAX_ID = 2 ** 53 - 1
"""Largest id accepted from the service: ids are whole numbers from 1 to 2**53 - 1 (beyond
it a JSON number no longer holds a whole number exactly); -7 or 10**40 is a bad answer."""
MAX_SECTION_NUMBER = 100_000
MAX_FULL_SIDE = 65_536
"""Largest side (pixels) of a full-resolution section image (real ones are about 10,000 to
20,000); at downsample n a JPEG may declare at most ceil(MAX_FULL_SIDE / 2**n) + 1 per side."""
MAX_PIXEL_OFFSET = 1_000_000
"""A synchronised point's pixel may lie outside its image, even negative, but not farther
from it than this (full-resolution pixels)."""
MIN_BYTES_PER_PIXEL = 1 / 4000
"""A JPEG needs a few bits per 8x8 block even for a blank page; one declaring more pixels than
4000 per byte of its file is a decompression bomb, refused before any decoding."""


class NoSectionImage(AllenViewerError):
    """An experiment has no section image (at a point, or at all)."""


class UnknownSectionImage(AllenViewerError):
    """A section image id the service does not know (HTTP 404)."""

    def __init__(self, image_id: int):
        self.image_id = image_id
        super().__init__(f"The Allen API has no section image {image_id}.")


def image_size_cap(downsample: int) -> int:
    """Most bytes accepted for one JPEG at ``downsample`` n (each side divided by 2**n): the
    full-resolution cap divided by 4**n, but never under 4 MiB."""
    return max(MIN_IMAGE_CAP, MAX_IMAGE_BYTES_FULL >> (2 * int(downsample)))


def check_image_options(downsample: int, quality: int | None, view: str) -> tuple[int, int | None, str]:
    """Validated (downsample, quality, view); raises :class:`AllenViewerError` for bad ones."""
    try:
        downsample = int(downsample)
    except (TypeError, ValueError):
        raise AllenViewerError(f"The downsample must be a whole number from 0 to {MAX_DOWNSAMPLE}.") from None
    if not 0 <= downsample <= MAX_DOWNSAMPLE:
        raise AllenViewerError(f"The downsample must be from 0 to {MAX_DOWNSAMPLE} (each side divided by 2**n), "
                               f"not {downsample}.")
    if quality is not None:
        try:
            quality = int(quality)
        except (TypeError, ValueError):
            raise AllenViewerError("The JPEG quality must be a whole number from 1 to 100.") from None
        if not 1 <= quality <= 100:
            raise AllenViewerError(f"The JPEG quality must be from 1 to 100, not {quality}.")
    if view not in VIEWS:
        raise AllenViewerError(f"The image view must be one of {', '.join(VIEWS)}, not {view!r}.")
    return downsample, quality, view


def image_query(downsample: int, quality: int | None, view: str) -> str:
    """The query string of ``/api/v2/image_download/<id>`` (``downsample=n[&quality=q][&view=expression]``)."""
    parts = [f"downsample={int(downsample)}"]
    if quality is not None:
        parts.append(f"quality={int(quality)}")
    if view == "expression":
        parts.append("view=expression")
    return "&".join(parts)


def sync_coordinates(reference_space_id: int, ap_um: float, dv_um: float, ml_um: float) -> tuple[float, float, float]:
    """The ``x, y, z`` that ``reference_to_image/<space>`` takes for a CCF point (µm, PIR:
    AP posterior, DV ventral, ML right).

    Both P56 spaces (9 coronal, 10 sagittal) take x = AP, y = DV, z = ML in µm, the grid's
    own frame (voxel (i, j, k) at (200 i, 200 j, 200 k) µm).  Allen's documentation mentions
    a z-axis flip for space 10; it is unconfirmed, and this is the one place to change if the
    live service disagrees (docs/allen-api.md).
    """
    int(reference_space_id)  # any id is passed through unchanged; the mapping is the same for 9 and 10
    return float(ap_um), float(dv_um), float(ml_um)


def _as_id(value) -> int | None:
    """An id that may arrive as an int, a float with no fraction or a string of digits."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = str(value).strip()
    try:
        f = float(text)
    except ValueError:
        return None
    return int(f) if math.isfinite(f) and f.is_integer() else None


def valid_id(value) -> bool:
    """Whether ``value`` is an id the service can mean: a whole number, 1 to :data:`MAX_ID`."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _as_float(value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


@dataclass(frozen=True)
class SectionImage:
    """One ``SectionImage`` row: ``id``, ``section_number``, full-resolution ``image_width`` x
    ``image_height`` pixels (0 when not given), ``resolution`` µm per full-resolution pixel
    (None when not given), ``failed``."""

    id: int
    data_set_id: int
    section_number: int
    image_width: int = 0
    image_height: int = 0
    resolution: float | None = None
    failed: bool = False

    def to_json(self) -> dict:
        return {"id": self.id, "data_set_id": self.data_set_id, "section_number": self.section_number,
                "image_width": self.image_width, "image_height": self.image_height,
                "resolution": self.resolution, "failed": self.failed}


def parse_section_images(rows, data_set_id: int) -> list[SectionImage]:
    """``SectionImage`` rows -> :class:`SectionImage` sorted by section number (then id).

    Rows without a usable id or section number, of another data set, or marked failed are
    left out; unknown keys are ignored.
    """
    out: dict[int, SectionImage] = {}
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        image_id, number = _as_id(row.get("id")), _as_id(row.get("section_number"))
        ds = _as_id(row.get("data_set_id"))
        failed = str(row.get("failed", "false")).strip().lower() in ("true", "1")
        if image_id is None or number is None or failed or (ds is not None and ds != int(data_set_id)):
            continue
        if not valid_id(image_id) or not 0 <= number <= MAX_SECTION_NUMBER:
            continue  # an impossible id or section number is never kept (docs/reliability.md)
        width = _as_id(row.get("image_width")) or _as_id(row.get("width")) or 0
        height = _as_id(row.get("image_height")) or _as_id(row.get("height")) or 0
        width, height = (v if 0 <= v <= MAX_FULL_SIDE else 0 for v in (width, height))
        out[image_id] = SectionImage(image_id, int(data_set_id), number, max(0, width), max(0, height),
                                     _as_float(row.get("resolution")))
    return sorted(out.values(), key=lambda s: (s.section_number, s.id))


@dataclass(frozen=True)
class ImageSync:
    """Where a CCF point falls in an experiment's sections: the nearest section image, its
    section number, and the point's pixel ``x`` (column), ``y`` (row) in the
    full-resolution image (floats; may lie outside the image, even negative)."""

    section_data_set_id: int
    section_image_id: int
    section_number: int
    x: float
    y: float

    def pixel_at(self, downsample: int) -> tuple[float, float]:
        """The pixel (column, row) in the image at ``downsample`` n (full resolution / 2**n)."""
        scale = 2.0 ** int(downsample)
        return self.x / scale, self.y / scale

    def problem(self) -> str:
        """Why these values cannot be a true answer of the service ("" when they can): the ids
        are checked by :func:`valid_id`, the section number is -1 (not given) or 0 to
        :data:`MAX_SECTION_NUMBER`, and the pixel is finite and within :data:`MAX_PIXEL_OFFSET`."""
        for name in ("section_data_set_id", "section_image_id"):
            if not valid_id(getattr(self, name)):
                return f"its {name.replace('_', ' ')} {clean_text(getattr(self, name), 40)} is not an id"
        n = self.section_number
        if not isinstance(n, int) or isinstance(n, bool) or not -1 <= n <= MAX_SECTION_NUMBER:
            return f"its section number {clean_text(n, 40)} is out of range"
        for name in ("x", "y"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or abs(v) > MAX_PIXEL_OFFSET:
                return f"its pixel {name} {clean_text(v, 40)} is out of range"
        return ""

    def to_json(self) -> dict:
        return {"section_data_set_id": self.section_data_set_id, "section_image_id": self.section_image_id,
                "section_number": self.section_number, "x": self.x, "y": self.y}


def parse_image_sync(msg, data_set_id: int) -> ImageSync | None:
    """The entry of ``data_set_id`` in a ``reference_to_image`` answer's ``msg``, or None when
    it is left out (that data set has no images).  Entries may be wrapped in ``image_sync``
    or not; ids may be strings; an entry without a usable image id or pixel is ignored."""
    entries = msg if isinstance(msg, list) else [msg] if isinstance(msg, dict) else []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        sync = entry.get("image_sync", entry)
        if not isinstance(sync, dict):
            continue
        ds = _as_id(sync.get("section_data_set_id"))
        if ds is not None and ds != int(data_set_id):
            continue
        image_id, number = _as_id(sync.get("section_image_id")), _as_id(sync.get("section_number"))
        x, y = _as_float(sync.get("x")), _as_float(sync.get("y"))
        if image_id is None or x is None or y is None:
            continue
        found = ImageSync(int(data_set_id), image_id, number if number is not None else -1, x, y)
        problem = found.problem()
        if problem:  # a bad answer is refused before anything caches it
            raise CorruptDownload(f"The Allen API's reference_to_image answer for experiment {int(data_set_id)} "
                                  f"cannot be right ({problem}); it was not kept. Try again later.")
        return found
    return None


def jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) a JPEG declares in its frame header (SOFn), read from the markers
    without decoding anything; None when no frame header is found."""
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2:i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 9 > n:
                return None
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return width, height
        if marker == 0xDA or length < 2:  # the scan starts before any frame header: not a JPEG we know
            return None
        i += 2 + length
    return None


def max_side(downsample: int | None) -> int:
    """Most pixels a side of a section JPEG may declare at ``downsample`` n (None: full resolution)."""
    return -(-MAX_FULL_SIDE // 2 ** int(downsample or 0)) + 1


def check_jpeg(data: bytes, what: str, downsample: int | None = None) -> tuple[int, int]:
    """(width, height) of a complete JPEG; :class:`CorruptDownload` for anything else
    (no JPEG magic, e.g. an HTML page; no end marker, i.e. cut short; an unreadable header;
    declared dimensions over :func:`max_side` at ``downsample``, or more pixels than the
    file's bytes can hold (:data:`MIN_BYTES_PER_PIXEL`): checked from the header before any
    decoding, so a decompression bomb never reaches Pillow)."""
    if not data.startswith(JPEG_MAGIC):
        kind = "an HTML page" if data.lstrip()[:1] == b"<" else "not a JPEG image"
        raise CorruptDownload(f"{what} is {kind}; nothing was saved.")
    if not data.rstrip(b"\x00\r\n ").endswith(JPEG_END):
        raise CorruptDownload(f"{what} is cut short (no JPEG end marker); nothing was saved.")
    declared = jpeg_dimensions(data)
    if declared is None or min(declared) < 1:
        raise CorruptDownload(f"{what} is a damaged JPEG (no usable frame header); nothing was saved.")
    w, h = declared
    most = max_side(downsample)
    if max(w, h) > most:
        raise CorruptDownload(f"{what} declares {w}x{h} pixels, more than {most} a side that a section image "
                              f"at downsample {int(downsample or 0)} can have; it was refused before decoding "
                              f"and nothing was saved.")
    if w * h * MIN_BYTES_PER_PIXEL > len(data):
        raise CorruptDownload(f"{what} declares {w}x{h} pixels in only {len(data):,} bytes, which no real image "
                              f"can be (a decompression bomb); it was refused before decoding and nothing was saved.")
    try:
        import warnings

        from PIL import Image

        with warnings.catch_warnings():
            # the size rules above come first; Pillow's own bomb warning is no message for the user
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.format != "JPEG":
                    raise ValueError(img.format)
                return int(img.size[0]), int(img.size[1])
    except Exception as exc:  # Pillow raises many kinds for a damaged header
        if type(exc).__name__ == "DecompressionBombError":
            return w, h  # within this module's caps (checked above), only over Pillow's default
        raise CorruptDownload(f"{what} is a damaged JPEG ({type(exc).__name__}); nothing was saved.") from None
