"""Writing a spatial correlation map (:mod:`allen_viewer.library.spatial`) to CSV or NRRD."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from allen_viewer.errors import AllenViewerError
from allen_viewer.export.tables import write_csv
from allen_viewer.io.atomic import atomic_path
from allen_viewer.io.guard import output_errors
from allen_viewer.sanitize import clean_text

SPATIAL_COLUMNS = ["ap", "dv", "ml", "x_um", "y_um", "z_um", "r", "n"]
SPATIAL_FORMATS = (".csv", ".nrrd")


def check_spatial_path(path: Path) -> str:
    """``.csv`` or ``.nrrd`` from the file name; :class:`AllenViewerError` for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in SPATIAL_FORMATS:
        raise AllenViewerError(f"search-spatial writes FILE.csv or FILE.nrrd, not {Path(path).name!r}.")
    return suffix


def write_spatial_csv(result, path: Path) -> int:
    """One row per in-brain voxel with a result: grid index (AP, DV, ML), CCF µm (x = AP,
    y = DV, z = ML), r and n (experiments with data at both voxels); atomically."""
    ok = np.flatnonzero(~np.isnan(result.r))
    vox = result.voxels()[ok]
    order = np.lexsort((vox[:, 2], vox[:, 1], vox[:, 0]))
    ok, vox = ok[order], vox[order]
    rows = ([int(a), int(d), int(m), 200 * int(a), 200 * int(d), 200 * int(m), float(result.r[c]), int(result.n[c])]
            for (a, d, m), c in zip(vox.tolist(), ok.tolist()))
    return write_csv(path, SPATIAL_COLUMNS, rows)


def write_spatial_nrrd(result, path: Path) -> int:
    """The r map as a float32 NRRD with the grid's geometry (x = AP, y = DV, z = ML, 200 µm
    spacing, origin 0, as ``export volume``), NaN where there is no result; atomically.
    Returns the number of voxels with a result."""
    import SimpleITK as sitk

    grid = result.grid()
    image = sitk.GetImageFromArray(np.ascontiguousarray(grid.transpose(2, 1, 0)))  # x = AP fastest
    image.SetSpacing((200.0, 200.0, 200.0))
    image.SetOrigin((0.0, 0.0, 0.0))
    image.SetMetaData("allen_viewer_volume", "spatial correlation r")
    image.SetMetaData("allen_viewer_seed_voxel", " ".join(str(i) for i in result.seed_voxel))
    image.SetMetaData("allen_viewer_no_result", "nan")
    path = Path(path)
    with output_errors(path):  # no space, read-only file system, a name too long: one line
        with atomic_path(path, ".nrrd") as tmp:  # SimpleITK writes by name; renamed on success
            try:
                sitk.WriteImage(image, str(tmp), useCompression=True)
            except RuntimeError as exc:
                raise AllenViewerError(f"Cannot write {path} "
                                       f"({clean_text(str(exc).strip().splitlines()[-1], 200)}).") from None
    return int((~np.isnan(result.r)).sum())
