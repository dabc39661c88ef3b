"""Surface meshes of the brain and of brain structures, from the 25 µm CCFv3 annotation.

Qt-free (VTK/pyvista only).  The GUI makes the 25 µm masks in a worker thread and the meshes
in its UI thread (``structure_surface(..., mask=...)``): VTK objects made or freed in a worker
thread can deadlock against rendering (see ``gui/structure_surfaces.py``).

Coordinates: mesh points are CCF micrometres in the annotation's (AP, DV, ML) order, i.e.
x = AP (+ posterior), y = DV (+ ventral), z = ML (+ right); 25 µm voxel (a, b, c) lies at
(25 a, 25 b, 25 c) µm, the same frame as :mod:`allen_viewer.atlas.reference_space`.

How a surface is made (:func:`mask_surface`):

1. The 25 µm boolean mask is cropped to its bounding box and averaged over f x f x f blocks
   (f = 4, i.e. 100 µm, for the whole-brain outline; f = 2, 50 µm, for structures; f = 1
   for structures under :data:`SMALL_STRUCTURE_VOXELS` voxels).  The block average is the
   fraction of the block inside the mask, so the 0.5 iso-surface of it (VTK flying edges)
   is already smooth, with sub-block accuracy -- at 100 µm the outline is indistinguishable
   on screen from a 25 µm one, at 1/64 of the voxels.
2. Windowed-sinc smoothing (no shrinkage), then point normals.  No decimation: on software
   OpenGL a frame of the translucent outline costs about the same with 64,000 or 128,000
   triangles (it is fill-bound), while quadric decimation would add 0.6 s to the extraction.

Meshes are cached as ``<cache>/meshes/<key>.vtp`` (written atomically), keyed by structure id
and :data:`SURFACE_VERSION`.  Each file carries its key in its field data and ends with an
XML comment holding the SHA-256 of the rest; a file whose checksum does not match, that VTK
cannot parse, that has another key or no triangles is regenerated and rewritten.  The key does not hash the
annotation: the annotation is the embedded CCFv3 2017 file, so bump :data:`SURFACE_VERSION`
when it or the meshing parameters change.

``python -m allen_viewer.render.meshes`` prints how long extraction takes.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from pathlib import Path

import numpy as np
import pyvista as pv
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkCommonCore import vtkCommand, vtkStringArray
from vtkmodules.vtkFiltersCore import (
    vtkFlyingEdges3D,
    vtkPolyDataNormals,
    vtkWindowedSincPolyDataFilter,
)
from vtkmodules.vtkIOXML import vtkXMLPolyDataReader, vtkXMLPolyDataWriter

from allen_viewer import config
from allen_viewer.atlas.ontology import ROOT_ID, Structure
from allen_viewer.atlas.reference_space import ANNOTATION_SPACING_UM, ReferenceSpace
from allen_viewer.io.atomic import atomic_write
from allen_viewer.render.vtk_output import route_vtk_output

route_vtk_output()  # VTK's messages to a logger, never to the user's stderr

log = logging.getLogger(__name__)

SURFACE_VERSION = "1"
"""Part of every cache key; bump it when the meshing changes."""

OUTLINE_BLOCK = 4
"""The outline is contoured on 4 x 4 x 4 blocks of 25 µm voxels: 100 µm."""
STRUCTURE_BLOCK = 2
"""Structures are contoured on 2 x 2 x 2 blocks: 50 µm."""
SMALL_STRUCTURE_VOXELS = 20_000
"""Structures with fewer 25 µm voxels than this (0.31 mm³) are contoured at full 25 µm."""

KEY_ARRAY = "allen_viewer_mesh_key"
CHECKSUM_TAG = "allen_viewer sha256"
_TRAILER = re.compile(rb"\n<!-- allen_viewer sha256 ([0-9a-f]{64}) -->\n\Z")


# ---- meshing ---------------------------------------------------------------------------

def _block_sum(mask: np.ndarray, f: int) -> np.ndarray:
    """Number of True voxels in each f x f x f block (uint8; f <= 6), shape ceil(shape / f).

    Strided adds, one axis at a time: about 15 ms for the whole 25 µm volume at f = 4,
    against 300 ms for a reshape-and-mean.
    """
    if not 1 <= f <= 6:
        raise ValueError(f"block size {f} out of range 1..6")
    u = mask.view(np.uint8) if mask.dtype == np.bool_ else (mask != 0).view(np.uint8)
    if f == 1:
        return u.copy()
    pad = [(0, (-n) % f) for n in u.shape]
    if any(p[1] for p in pad):
        u = np.pad(u, pad)
    for axis in range(3):
        shape = list(u.shape)
        shape[axis] //= f
        acc = np.zeros(shape, np.uint8)
        for r in range(f):
            sl = [slice(None)] * 3
            sl[axis] = slice(r, None, f)
            acc += u[tuple(sl)]
        u = acc
    return u


def _bounding_box(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(first, last) voxel index of the True voxels along (AP, DV, ML), or None when empty."""
    lo, hi = [], []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        if hit.size == 0:
            return None
        lo.append(hit[0])
        hi.append(hit[-1])
    return np.array(lo), np.array(hi)


def mask_surface(mask: np.ndarray, block: int = STRUCTURE_BLOCK, spacing_um: float = ANNOTATION_SPACING_UM,
                 smooth_iterations: int = 15) -> pv.PolyData | None:
    """The smoothed boundary surface of a boolean (AP, DV, ML) volume, in µm.

    ``mask[a, b, c]`` is the voxel centred at ``spacing_um * (a, b, c)`` µm.  ``block`` voxels
    per side are averaged before contouring the in-mask fraction at 0.5 (see the module
    docstring).  Returns None when the mask is empty.  The result has
    point normals (``Normals``) pointing out of the volume.
    """
    box = _bounding_box(mask)
    if box is None:
        return None
    lo, hi = box
    # crop to the box (plus nothing: the zero padding below closes the surface)
    crop = mask[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1]
    counts = _block_sum(crop, block)
    frac = np.zeros(tuple(n + 2 for n in counts.shape), np.float32)  # one empty block all round
    frac[1:-1, 1:-1, 1:-1] = counts
    frac *= np.float32(1.0 / block ** 3)
    # block (0, 0, 0) of ``counts`` holds voxels lo .. lo + block - 1: its centre is at
    # (lo + (block - 1) / 2) * spacing; the padding block lies one block step before it
    step = block * spacing_um
    origin = (lo + (block - 1) / 2.0) * spacing_um - step
    image = pv.ImageData(dimensions=frac.shape, spacing=(step, step, step), origin=tuple(origin))
    image.point_data["fraction"] = frac.ravel(order="F")
    image.point_data.active_scalars_name = "fraction"

    contour = vtkFlyingEdges3D()
    contour.SetInputData(image)
    contour.SetValue(0, 0.5)
    contour.ComputeNormalsOff()
    contour.ComputeGradientsOff()
    contour.ComputeScalarsOff()
    contour.Update()
    surface = contour.GetOutput()
    if surface.GetNumberOfPoints() == 0:  # a mask too thin to reach half of any block
        if block > 1:
            return mask_surface(mask, 1, spacing_um, smooth_iterations)
        return None

    if smooth_iterations > 0:
        smooth = vtkWindowedSincPolyDataFilter()
        smooth.SetInputData(surface)
        smooth.SetNumberOfIterations(smooth_iterations)
        smooth.SetPassBand(0.1)
        smooth.NormalizeCoordinatesOn()
        smooth.BoundarySmoothingOff()
        smooth.NonManifoldSmoothingOn()
        smooth.FeatureEdgeSmoothingOff()
        smooth.Update()
        surface = smooth.GetOutput()

    normals = vtkPolyDataNormals()
    normals.SetInputData(surface)
    normals.SplittingOff()
    normals.ConsistencyOn()
    normals.AutoOrientNormalsOff()  # flying edges already orients them outwards
    normals.ComputeCellNormalsOff()
    normals.Update()
    return pv.wrap(normals.GetOutput())


# ---- disk cache ------------------------------------------------------------------------

def mesh_cache_dir() -> Path:
    return config.cache_dir() / "meshes"


def mesh_key(structure_id: int) -> str:
    """Cache key of a structure's surface (``ROOT_ID`` is the brain outline)."""
    kind = "outline" if structure_id == ROOT_ID else "structure"
    return f"{kind}-{int(structure_id)}-v{SURFACE_VERSION}"


def mesh_cache_path(structure_id: int) -> Path:
    return mesh_cache_dir() / f"{mesh_key(structure_id)}.vtp"


def _write_mesh(mesh: pv.PolyData, path: Path, key: str) -> None:
    """Write ``mesh`` as a compressed binary VTP with its key, atomically."""
    out = mesh.copy(deep=False)
    keys = vtkStringArray()
    keys.SetName(KEY_ARRAY)
    keys.InsertNextValue(key)
    out.GetFieldData().AddArray(keys)
    writer = vtkXMLPolyDataWriter()
    writer.SetInputData(out)
    writer.SetDataModeToBinary()
    writer.SetCompressorTypeToZLib()
    writer.WriteToOutputStringOn()
    if not writer.Write():
        raise OSError(f"VTK could not serialise the mesh for {path}")
    data = writer.GetOutputString()
    payload = data.encode("latin-1") if isinstance(data, str) else bytes(data)
    # an XML comment after the root element (valid XML; VTK/ParaView read the file as is)
    # carries a checksum of everything before it, so any damage is caught before parsing
    trailer = f"\n<!-- {CHECKSUM_TAG} {hashlib.sha256(payload).hexdigest()} -->\n".encode("ascii")
    with atomic_write(path) as fh:
        fh.write(payload + trailer)


def _read_mesh(path: Path, key: str) -> pv.PolyData | None:
    """A cached mesh, or None when it is missing, unreadable, empty or has another key."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    # the checksum trailer first: a truncated, damaged or foreign file is rejected before
    # VTK's XML parser sees it (and prints errors)
    m = _TRAILER.search(data[-200:])
    if m is None:
        return None
    payload = data[: len(data) - len(m.group(0))]
    if hashlib.sha256(payload).hexdigest() != m.group(1).decode("ascii"):
        return None
    errors: list[str] = []
    reader = vtkXMLPolyDataReader()
    # observing ErrorEvent keeps VTK from printing the reader's own errors
    reader.AddObserver(vtkCommand.ErrorEvent, lambda obj, ev: errors.append(ev))
    reader.ReadFromInputStringOn()
    reader.SetInputString(payload.decode("latin-1"))
    try:
        reader.Update()
    except Exception:  # noqa: BLE001 - any failure means "regenerate"
        return None
    if errors or reader.GetErrorCode():
        return None
    poly = reader.GetOutput()
    arr = poly.GetFieldData().GetAbstractArray(KEY_ARRAY)
    if arr is None or arr.GetNumberOfValues() != 1 or arr.GetValue(0) != key:
        return None
    if poly.GetNumberOfPoints() == 0 or poly.GetNumberOfCells() == 0:
        return None
    mesh = pv.wrap(poly)
    mesh.field_data.remove(KEY_ARRAY)
    if not np.isfinite(vtk_to_numpy(poly.GetPoints().GetData())).all():
        return None
    return mesh


def _cached(structure_id: int, build, use_cache: bool) -> pv.PolyData | None:
    path, key = mesh_cache_path(structure_id), mesh_key(structure_id)
    if use_cache:
        mesh = _read_mesh(path, key)
        if mesh is not None:
            return mesh
        if path.exists():
            log.warning("cached mesh %s is unreadable; regenerating it", path)
    t0 = time.perf_counter()
    mesh = build()
    log.info("surface %s extracted in %.2f s (%s points)", key, time.perf_counter() - t0,
             "no" if mesh is None else mesh.n_points)
    if mesh is not None and use_cache:
        try:
            _write_mesh(mesh, path, key)
        except OSError as exc:  # a read-only or full cache must not lose the mesh itself
            log.warning("could not cache mesh %s: %s", path, exc)
    return mesh


# ---- public API ------------------------------------------------------------------------

def brain_outline(space: ReferenceSpace, use_cache: bool = True) -> pv.PolyData:
    """The whole brain's outer surface in CCF µm (x = AP, y = DV, z = ML).

    Contoured at 100 µm and smoothed: about 64,000 points, 128,000 triangles; about 0.2 s
    to extract (plus 0.1 s for the brain mask on first use), tens of ms from the cache.
    """
    mesh = _cached(ROOT_ID, lambda: mask_surface(space.brain_mask25, OUTLINE_BLOCK), use_cache)
    if mesh is None:
        raise ValueError("the annotation volume has no brain voxels")
    return mesh


def structure_surface(space: ReferenceSpace, structure: Structure | int | str,
                      use_cache: bool = True, mask: np.ndarray | None = None) -> pv.PolyData | None:
    """A structure's surface (its voxels and all its descendants') in CCF µm, or None.

    None when the structure has no voxels in the 25 µm annotation (many ontology entries
    are only drawn through their children in other annotation releases, or not at all).
    Contoured at 50 µm (25 µm for structures under :data:`SMALL_STRUCTURE_VOXELS` voxels).
    The root (997) gives the brain outline.  ``mask``: the structure's 25 µm mask
    (``space.mask25(structure)``) when the caller has made it already, e.g. in a worker thread.
    """
    s = structure if isinstance(structure, Structure) else space.ontology.get(structure)
    if s.id == ROOT_ID:
        return brain_outline(space, use_cache)

    def build() -> pv.PolyData | None:
        m = space.mask25(s) if mask is None else mask
        n = int(np.count_nonzero(m))
        if n == 0:
            return None
        return mask_surface(m, 1 if n < SMALL_STRUCTURE_VOXELS else STRUCTURE_BLOCK)

    return _cached(s.id, build, use_cache)


def _main() -> None:  # pragma: no cover - a timing report, run by hand
    from allen_viewer.atlas.ontology import Ontology

    res = config.resources_dir()
    t0 = time.perf_counter()
    ontology = Ontology.load(res / "structure_graph_1.json")
    space = ReferenceSpace.load(ontology, res / "annotation_25.nrrd", res / "P56_Mouse_gridAnnotation.zip")
    print(f"reference space loaded in {time.perf_counter() - t0:.2f} s")
    _ = space.brain_mask25
    for label, fn in (("brain outline", lambda c: brain_outline(space, use_cache=c)),
                      ("CP (672)", lambda c: structure_surface(space, 672, use_cache=c)),
                      ("Isocortex (315)", lambda c: structure_surface(space, 315, use_cache=c)),
                      ("PVH (38)", lambda c: structure_surface(space, 38, use_cache=c))):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            mesh = fn(False)
            times.append(time.perf_counter() - t)
        print(f"{label:16s} uncached {min(times):.3f} s (best of 3), {mesh.n_points} points, {mesh.n_cells} triangles")
    os.environ.setdefault("ALLEN_VIEWER_CACHE", str(config.cache_dir()))
    t = time.perf_counter()
    brain_outline(space)
    t1 = time.perf_counter()
    brain_outline(space)
    print(f"brain outline first call with cache {t1 - t:.3f} s, cached read {time.perf_counter() - t1:.3f} s")


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.WARNING)
    _main()
