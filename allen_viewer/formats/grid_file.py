"""Reading and checking the zip that ``grid_data/download/<id>`` returns.

The zip holds ``energy.mhd`` + ``energy.raw`` and, when asked for, ``intensity`` and
``density`` pairs, plus (without ``include``) ``data_set.xml``.  Each ``.raw`` is
67 x 41 x 58 = 159,326 little-endian float32 values, x (AP) fastest; this module returns
them as (AP, DV, ML) arrays.  Anything else is rejected with :class:`CorruptData` naming
what is wrong, so a damaged download never reaches the cache.
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import defusedxml.ElementTree as SafeET
import numpy as np
from defusedxml import DefusedXmlException

from allen_viewer.errors import CorruptData
from allen_viewer.sanitize import clean_text

GRID_SHAPE = (67, 41, 58)
"""(AP, DV, ML) voxels of the 200 µm expression grid."""
GRID_SPACING_UM = 200.0
REFERENCE_SPACE_OF_PLANE = {"coronal": 9, "sagittal": 10}
"""Allen's P56 reference spaces by plane of section (the SectionDataSet ``reference_space_id``,
also in a grid zip's ``data_set.xml``); here, at the bottom, so that ``api/`` (section
images) and ``expression/`` (grids) share one definition."""
GRID_VALUES = GRID_SHAPE[0] * GRID_SHAPE[1] * GRID_SHAPE[2]  # 159,326
VOLUME_NAMES = ("energy", "intensity", "density")
MAX_MEMBER_BYTES = 64 * 1024 * 1024  # far above any real member; guards against zip bombs
MAX_ZIP_MEMBERS = 16
"""A real grid zip has 2 to 7 members (.mhd/.raw pairs, data_set.xml)."""
MAX_ZIP_TOTAL_BYTES = 16 * 1024 * 1024
"""All members together, uncompressed; a real grid zip inflates to 0.6 MB per volume."""


@dataclass
class GridFile:
    """The content of one grid zip: float32 (AP, DV, ML) volumes by name, and the XML record."""

    volumes: dict[str, np.ndarray]
    data_set: dict[str, str] = field(default_factory=dict)


def parse_mhd(text: str) -> dict[str, str]:
    """Parse a MetaImage header into ``{key: value}``."""
    header = {}
    for line in text.splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            header[key.strip()] = value.strip()
    return header


def raw_to_volume(raw: bytes, dtype: str = "<f4") -> np.ndarray:
    """Allen x-fastest raw bytes -> (AP, DV, ML) array of ``GRID_SHAPE``."""
    n = len(raw) // np.dtype(dtype).itemsize
    if n != GRID_VALUES or len(raw) % np.dtype(dtype).itemsize:
        raise CorruptData(f"grid has {len(raw)} bytes, expected {GRID_VALUES} values of {np.dtype(dtype).itemsize} bytes")
    return np.frombuffer(raw, dtype).reshape(GRID_SHAPE[::-1]).transpose(2, 1, 0)


def _check_header(name: str, header: dict[str, str], dtype_name: str) -> None:
    dims = header.get("DimSize", "").split()
    if dims != [str(d) for d in GRID_SHAPE]:
        raise CorruptData(f"{name}.mhd has DimSize {header.get('DimSize')!r}, expected '67 41 58'")
    if header.get("ElementType") != dtype_name:
        raise CorruptData(f"{name}.mhd has ElementType {header.get('ElementType')!r}, expected {dtype_name}")
    if header.get("BinaryDataByteOrderMSB", "False").lower() == "true":
        raise CorruptData(f"{name}.mhd is big-endian, which Allen grids never are")


MAX_GRID_VALUE = 1.0e6
"""Largest plausible grid value: energy = intensity (8-bit, <= 255) x density (<= 1), and
real grids stay below a few hundred; a value above this (3e38, say) is a broken file, whose
sums would overflow into inf."""


def _check_values(name: str, volume: np.ndarray) -> None:
    """Allen grids hold finite values >= 0 (at most :data:`MAX_GRID_VALUE`), and -1 where
    there is no data."""
    if not np.isfinite(volume).all():
        raise CorruptData(f"{name}.raw has NaN or infinite values")
    if volume.size and float(volume.max()) > MAX_GRID_VALUE:
        raise CorruptData(f"{name}.raw has absurd values (max {float(volume.max()):.3g}, above "
                          f"{MAX_GRID_VALUE:.0e}, which no Allen grid reaches)")
    if np.any((volume < 0) & (volume != -1)):
        raise CorruptData(
            f"{name}.raw has negative values other than -1, the no-data mark (min {float(volume.min()):g})")


def parse_data_set_xml(data: bytes) -> dict[str, str]:
    """Top-level scalar fields of the RMA XML ``<section-data-set>`` record (hyphens kept)."""
    try:
        root = SafeET.fromstring(data)
    except DefusedXmlException as exc:  # its str() is a repr: name the attack instead
        raise CorruptData("data_set.xml declares XML entities or external references "
                          "(an entity-expansion 'XML bomb'), which a grid record never has; it was refused") from exc
    except Exception as exc:  # ParseError and the like: their text says where the XML breaks
        raise CorruptData(f"data_set.xml is not valid XML ({exc})") from exc
    out = {}
    for child in root:
        if len(child) == 0 and child.attrib.get("nil") != "true":
            out[child.tag] = (child.text or "").strip()
    return out


def read_grid_zip(source: Path | str | bytes, dtype_name: str = "MET_FLOAT") -> GridFile:
    """Read and validate a grid zip (path or bytes).

    Checks: the zip opens and its CRCs match; no member escapes the archive (``..`` or an
    absolute path); ``energy`` is present; every ``.mhd`` describes a 67x41x58 grid of
    ``dtype_name`` and its ``.raw`` holds exactly 159,326 values, all finite and either
    >= 0 or -1 (no data).
    """
    what = f"{source}" if not isinstance(source, bytes) else "downloaded grid"
    try:
        zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CorruptData(f"{what} is not a readable zip file ({exc})") from exc
    with zf:
        names = {}
        members = zf.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise CorruptData(f"{what} has {len(members):,} members; a grid zip has at most {MAX_ZIP_MEMBERS}")
        for info in members:
            p = PurePosixPath(info.filename.replace("\\", "/"))
            if p.is_absolute() or ".." in p.parts:
                raise CorruptData(f"{what} has a member outside the archive: {clean_text(info.filename, 80)!r}")
            if info.file_size > MAX_MEMBER_BYTES:
                raise CorruptData(f"{what}: member {clean_text(info.filename, 80)!r} claims {info.file_size} bytes, far too large for a grid")
            names[p.name] = info
        total = sum(max(0, info.file_size) for info in members)
        if total > MAX_ZIP_TOTAL_BYTES:
            raise CorruptData(f"{what}: members claim {total:,} bytes in all, far more than a grid zip "
                              f"({MAX_ZIP_TOTAL_BYTES:,} at most)")
        try:
            bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise CorruptData(f"{what} is truncated or damaged ({exc})") from exc
        if bad is not None:
            raise CorruptData(f"{what} is damaged: member {clean_text(bad, 80)!r} fails its checksum")
        if "energy.raw" not in names or "energy.mhd" not in names:
            raise CorruptData(f"{what} has no energy.mhd/energy.raw (members: {clean_text(', '.join(sorted(names)), 200)})")
        volumes = {}
        for vol in VOLUME_NAMES:
            if f"{vol}.raw" not in names:
                continue
            if f"{vol}.mhd" not in names:
                raise CorruptData(f"{what} has {vol}.raw but no {vol}.mhd")
            header = parse_mhd(zf.read(names[f"{vol}.mhd"]).decode("ascii", "replace"))
            try:
                _check_header(vol, header, dtype_name)
                volumes[vol] = raw_to_volume(zf.read(names[f"{vol}.raw"]))
                _check_values(vol, volumes[vol])
            except CorruptData as exc:
                raise CorruptData(f"{what}: {exc}") from None
        data_set = parse_data_set_xml(zf.read(names["data_set.xml"])) if "data_set.xml" in names else {}
    return GridFile(volumes=volumes, data_set=data_set)


def write_grid_zip(path: Path, volumes: dict[str, np.ndarray], data_set_xml: bytes | None = None) -> None:
    """Write (AP, DV, ML) float32 volumes in the Allen zip layout (used by tests and the fake server)."""
    from allen_viewer.io.atomic import atomic_write

    with atomic_write(path) as fh:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, vol in volumes.items():
                if vol.shape != GRID_SHAPE:
                    raise ValueError(f"{name} has shape {vol.shape}, expected {GRID_SHAPE}")
                zf.writestr(f"{name}.mhd", mhd_header(f"{name}.raw"))
                zf.writestr(f"{name}.raw", np.ascontiguousarray(vol.astype("<f4").transpose(2, 1, 0)).tobytes())
            if data_set_xml is not None:
                zf.writestr("data_set.xml", data_set_xml)


def mhd_header(data_file: str, element_type: str = "MET_FLOAT") -> str:
    """The MetaImage header Allen writes for a 200 µm grid."""
    return (
        "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
        "TransformMatrix = 1 0 0 0 1 0 0 0 1\nOffset = 0 0 0\nCenterOfRotation = 0 0 0\n"
        "AnatomicalOrientation = RAI\nElementSpacing = 200 200 200\nDimSize = 67 41 58\n"
        f"ElementType = {element_type}\nElementDataFile = {data_file}\n"
    )
