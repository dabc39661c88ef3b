"""CSV exports: one row per voxel, one row per structure, and the two-gene comparison.

CSVs have a single header row and no comment lines, so they open cleanly in pandas and
spreadsheets; provenance goes to a ``FILE.csv.json`` sidecar.  Missing values are empty cells.
Every file is written atomically: a failed export leaves no half-written file.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Iterable

import numpy as np

from allen_viewer.atlas.ontology import Structure
from allen_viewer.atlas.reference_space import ReferenceSpace, grid_to_um
from allen_viewer.expression.compare import both_have_data, compare_structures, correlation
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.expression.summary import summarize_all
from allen_viewer.io.guard import output_errors, undo_on_failure
from allen_viewer.export.provenance import provenance, write_sidecar
from allen_viewer.io.atomic import atomic_write

VOXEL_COLUMNS = ["ap", "dv", "ml", "x_um", "y_um", "z_um", "energy", "intensity", "density",
                 "structure_id", "structure_acronym", "structure_name", "hemisphere", "in_brain"]
STRUCTURE_COLUMNS = ["structure_id", "acronym", "name", "parent_id", "depth", "voxels", "voxels_with_data",
                     "mean_energy", "mean_density", "mean_intensity",
                     *(f"{col}_{side}" for side in ("left", "right")
                       for col in ("voxels_with_data", "mean_energy", "mean_density", "mean_intensity"))]
COORDINATES_NOTE = ("x_um, y_um, z_um = 200 x (ap, dv, ml): CCFv3 micrometres of the voxel CENTRE (as the grid's "
                    "MetaImage header places it: Offset 0, spacing 200, so voxel i covers 200 i - 100 to 200 i + 100 um)")
HEMISPHERE_NOTE = "left = ML index 0-28, right = ML index 29-57 (CCFv3 +z, increasing ML, is the animal's right)"
IN_BRAIN_NOTE = "1 when the 200 um grid annotation labels the voxel as brain (id > 0), else 0 (outside the brain)"
COMPARE_COLUMNS = ["structure_id", "acronym", "name", "depth", "voxels_both", "mean_energy_a", "mean_energy_b",
                   "difference", "ratio", "r"]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def write_csv(path: Path, columns: list[str], rows: Iterable[list]) -> int:
    """Write a header row and ``rows`` atomically (missing and NaN values as empty cells); returns the row count."""
    n = 0
    with output_errors(path), atomic_write(path, "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(v) for v in row])
            n += 1
    return n


def voxel_rows(grid: ExpressionGrid, space: ReferenceSpace, structure: Structure | None = None,
               include_missing: bool = False, all_voxels: bool = False) -> Iterable[list]:
    """Rows of :data:`VOXEL_COLUMNS` in (AP, DV, ML) C order.

    By default the in-brain voxels with data; ``include_missing`` adds the no-data (-1)
    voxels, ``all_voxels`` the voxels outside the brain (empty structure fields,
    ``in_brain`` 0); both together give every voxel of the grid.
    """
    from allen_viewer.expression.brain import LEFT_ML_END

    region = np.ones(grid.energy.shape, bool) if all_voxels else grid.in_brain.copy()
    keep = region if include_missing else (region & grid.has_data_anywhere)
    if structure is not None:
        keep &= space.grid_mask(structure)
    idx = np.argwhere(keep)
    um = grid_to_um(idx).tolist()
    sids = space.grid_annotation[keep].tolist()
    inside = grid.in_brain[keep].tolist()
    has = grid.has_data_anywhere[keep].tolist()
    vols = [grid.energy, grid.intensity, grid.density]
    cols = [None if v is None else v[keep].astype(np.float64).tolist() for v in vols]
    ontology = space.ontology
    for n, (ap, dv, ml) in enumerate(idx.tolist()):
        sid = sids[n]
        s = ontology.by_id(sid) if (sid and inside[n]) else None
        values = [None if (c is None or not has[n]) else c[n] for c in cols]
        yield [ap, dv, ml, *um[n], *values,
               sid if s else None, s.acronym if s else None, s.name if s else None,
               "left" if ml < LEFT_ML_END else "right", 1 if inside[n] else 0]


def export_voxels(grid: ExpressionGrid, space: ReferenceSpace, path: Path, structure: str | None = None,
                  include_missing: bool = False, all_voxels: bool = False) -> int:
    """Write the voxel CSV (+ sidecar); returns the number of rows (see :func:`voxel_rows`)."""
    s = space.ontology.get(structure) if structure else None
    n = write_csv(Path(path), VOXEL_COLUMNS, voxel_rows(grid, space, s, include_missing, all_voxels))
    with undo_on_failure(path):
        write_sidecar(Path(path), provenance(grid, "voxels", columns=VOXEL_COLUMNS, rows=n,
                                         structure=s.acronym if s else None, include_missing=include_missing,
                                         all_voxels=all_voxels,
                                         voxels="in-brain voxels with data" + (
                                             ", and those outside the brain" if all_voxels else "") + (
                                             ", and the no-data (-1) voxels with empty values"
                                             if include_missing else ""),
                                         coordinates=COORDINATES_NOTE,
                                         units={"x_um, y_um, z_um": "CCFv3 micrometres (200 x grid index), "
                                                                    "voxel centres",
                                                "energy": "Allen expression energy (intensity x density)",
                                                "intensity": "Allen expression intensity (empty when not in "
                                                             "the download)",
                                                "density": "Allen expression density, 0-1 (empty when not in "
                                                           "the download)",
                                                "hemisphere": HEMISPHERE_NOTE,
                                                "in_brain": IN_BRAIN_NOTE},
                                         channels=grid.available))
    return n


def select_structures(space: ReferenceSpace, depth: int | None = None, acronyms: list[str] | None = None) -> set[int] | None:
    """Structure ids to keep: by depth (<= ``depth``) and/or by acronym list; None means all."""
    keep: set[int] | None = None
    if acronyms:
        keep = {space.ontology.get(a).id for a in acronyms}
    if depth is not None:
        by_depth = {s.id for s in space.ontology if s.depth <= depth}
        keep = by_depth if keep is None else keep & by_depth
    return keep


def export_structures(grid: ExpressionGrid, space: ReferenceSpace, path: Path, depth: int | None = None,
                      acronyms: list[str] | None = None) -> int:
    """Write the structure CSV: each structure pooling its descendants, -1 voxels excluded."""
    keep = select_structures(space, depth, acronyms)
    rows = ([s.structure.id, s.structure.acronym, s.structure.name, s.structure.parent_id, s.structure.depth,
             s.voxels, s.voxels_with_data, s.mean_energy, s.mean_density, s.mean_intensity,
             *(v for side in ("left", "right") for v in (
                 s.hemispheres[side].voxels_with_data, s.hemispheres[side].mean_energy,
                 s.hemispheres[side].mean_density, s.hemispheres[side].mean_intensity))]
            for s in summarize_all(grid, space)
            if s.voxels_with_data > 0 and (keep is None or s.structure.id in keep))
    n = write_csv(Path(path), STRUCTURE_COLUMNS, rows)
    with undo_on_failure(path):
        write_sidecar(Path(path), provenance(grid, "structures", columns=STRUCTURE_COLUMNS, rows=n, depth=depth,
                                         structures=acronyms,
                                         method="each structure pools its own and all descendants' 200 um grid "
                                                "voxels (Allen gridAnnotation); -1 voxels excluded",
                                         hemispheres=HEMISPHERE_NOTE + "; a hemisphere without data has a count "
                                                     "of 0 and empty means (a sagittal experiment covers one)",
                                         channels=grid.available))
    return n


def export_comparison(a: ExpressionGrid, b: ExpressionGrid, space: ReferenceSpace, path: Path,
                      depth: int | None = None, acronyms: list[str] | None = None) -> dict:
    """Write the per-structure comparison CSV; the sidecar holds the whole-brain r."""
    keep = select_structures(space, depth, acronyms)
    rows = ([c.structure.id, c.structure.acronym, c.structure.name, c.structure.depth, c.voxels_both,
             c.mean_energy_a, c.mean_energy_b, c.difference, c.ratio, c.r]
            for c in compare_structures(a, b, space)
            if c.voxels_both > 0 and (keep is None or c.structure.id in keep))
    n = write_csv(Path(path), COMPARE_COLUMNS, rows)
    whole = correlation(a, b)
    voxels = int(both_have_data(a, b).sum())
    with undo_on_failure(path):
        write_sidecar(Path(path), provenance([a, b], "compare", columns=COMPARE_COLUMNS, rows=n,
                                         gene_a=a.gene, gene_b=b.gene, whole_brain_r=whole,
                                         whole_brain_voxels=voxels,
                                         method="Pearson r of energy over the in-brain voxels (200 um grid "
                                                "annotation > 0) where both experiments have data, the same "
                                                "voxels as the root row; a = first experiment, b = second; "
                                                "ratio = a / b"))
    return {"rows": n, "whole_brain_r": whole, "whole_brain_voxels": voxels}
