"""GENERATED section images for the fake Allen server (not Allen data).

Every experiment of the fake has a made-up series of sections with a fixed geometry, so a
test can say where a point must land:

* coronal (reference space 9): section k (k = 1..65) cut at AP = 200 k - 50 µm; the image's
  column is ML / 2 + 100 and its row DV / 2 + 50 (2 µm per full-resolution pixel), the
  full image 5,900 x 4,200 pixels;
* sagittal (space 10): section k (k = 1..29) cut at ML = 200 k - 50 µm (left hemisphere);
  column AP / 2 + 100, row DV / 2 + 50, 6,900 x 4,200 pixels;
* sections whose number is a multiple of 11 are missing (real series have gaps), so the
  nearest section and previous/next skip them.

Section image ids are ``experiment id * 1000 + k``.  ``reference_to_image`` answers as the
real service does, and for experiments with an even id sends the ids and section number as
strings (seen in the field); ``x``/``y`` are floats.  The JPEGs are drawn with Pillow: a
light "tissue" ellipse, a dark line every 1,000 µm, a dot at every 1,000 µm crossing, and
the words "GENERATED test image"; ``view=expression`` gives white blobs on black instead.
"""
from __future__ import annotations

import io

RESOLUTION_UM = 2.0
OFFSET_PX = (100.0, 50.0)
PLANE_GEOMETRY = {
    # plane: (sections, axis cut (0 AP, 2 ML), axis of columns, full width px, full height px)
    "coronal": (65, 0, 2, 5900, 4200),
    "sagittal": (29, 2, 0, 6900, 4200),
}
MISSING_EVERY = 11


def section_numbers(plane: str) -> list[int]:
    n = PLANE_GEOMETRY[plane][0]
    return [k for k in range(1, n + 1) if k % MISSING_EVERY]


def image_id(experiment_id: int, section_number: int) -> int:
    return int(experiment_id) * 1000 + int(section_number)


def split_image_id(image: int) -> tuple[int, int]:
    return divmod(int(image), 1000)


def section_rows(experiment_id: int, plane: str) -> list[dict]:
    """The ``SectionImage`` rows of an experiment (as the real service names the fields)."""
    _n, _cut, _col, width, height = PLANE_GEOMETRY[plane]
    return [{"id": image_id(experiment_id, k), "data_set_id": int(experiment_id), "section_number": k,
             "width": width, "height": height, "image_width": width, "image_height": height,
             "x": 0, "y": 0, "resolution": RESOLUTION_UM, "tier_count": 6, "annotated": False,
             "failed": False, "path": f"/generated/{experiment_id}/{k}.aff"}
            for k in section_numbers(plane)]


def nearest_section(plane: str, cut_um: float) -> int:
    numbers = section_numbers(plane)
    return min(numbers, key=lambda k: (abs(200 * k - 50 - cut_um), k))


def sync(experiment_id: int, plane: str, x: float, y: float, z: float) -> dict:
    """The ``image_sync`` entry for point (x = AP, y = DV, z = ML µm)."""
    _n, cut, col, _w, _h = PLANE_GEOMETRY[plane]
    point = (x, y, z)
    k = nearest_section(plane, point[cut])
    entry = {"section_data_set_id": int(experiment_id), "section_image_id": image_id(experiment_id, k),
             "section_number": k, "x": point[col] / RESOLUTION_UM + OFFSET_PX[0],
             "y": y / RESOLUTION_UM + OFFSET_PX[1]}
    if experiment_id % 2 == 0:
        entry = dict(entry, section_data_set_id=str(entry["section_data_set_id"]),
                     section_image_id=str(entry["section_image_id"]), section_number=str(k))
    return {"image_sync": entry}


def expected_pixel(plane: str, ap_um: float, dv_um: float, ml_um: float) -> tuple[int, float, float]:
    """(section number, column, row) at full resolution where the fake puts a point."""
    _n, cut, col, _w, _h = PLANE_GEOMETRY[plane]
    point = (ap_um, dv_um, ml_um)
    return (nearest_section(plane, point[cut]), point[col] / RESOLUTION_UM + OFFSET_PX[0],
            dv_um / RESOLUTION_UM + OFFSET_PX[1])


def jpeg(experiment_id: int, plane: str, section_number: int, downsample: int, view: str,
         quality: int | None) -> bytes:
    """A GENERATED JPEG of one section at ``downsample`` (each side / 2**n)."""
    from PIL import Image, ImageDraw

    _n, _cut, _col, width, height = PLANE_GEOMETRY[plane]
    scale = 2 ** int(downsample)
    w, h = max(1, -(-width // scale)), max(1, -(-height // scale))
    px_per_mm = 1000.0 / RESOLUTION_UM / scale
    ox, oy = OFFSET_PX[0] / scale, OFFSET_PX[1] / scale
    expression = view == "expression"
    img = Image.new("RGB", (w, h), (0, 0, 0) if expression else (236, 236, 232))
    draw = ImageDraw.Draw(img)
    draw.ellipse([ox, oy, w - ox, h - oy], fill=(0, 0, 0) if expression else (214, 196, 170))
    dot = max(1.0, 60.0 / scale)
    for i in range(0, 15):
        gx = ox + i * px_per_mm
        if not expression:
            draw.line([(gx, 0), (gx, h)], fill=(90, 60, 40), width=max(1, int(8 / scale)))
        for j in range(0, 10):
            gy = oy + j * px_per_mm
            if i == 0 and not expression:
                draw.line([(0, gy), (w, gy)], fill=(90, 60, 40), width=max(1, int(8 / scale)))
            if expression and (i * 7 + j * 3 + section_number) % 4:
                continue
            draw.ellipse([gx - dot, gy - dot, gx + dot, gy + dot],
                         fill=(255, 255, 255) if expression else (60, 30, 120))
    draw.text((4, 4), f"GENERATED test image: experiment {experiment_id} section {section_number}"
              + (" (expression)" if expression else ""), fill=(255, 0, 0))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=75 if quality is None else int(quality))
    return out.getvalue()
