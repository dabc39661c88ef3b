"""CSV exports: one row per voxel, one row per structure, and the two-gene comparison.

CSVs have a single header row and no comment lines, so they open cleanly in pandas and
spreadsheets; provenance goes to a ``FILE.json`` sidecar.  Missing values are empty cells.
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
from allen_viewer.expression.compare import compare_structures, correlation
from allen_viewer.expression.grid import ExpressionGrid
from allen_viewer.expression.summary import summarize_all
from allen_viewer.export.paths import output_errors, undo_on_failure
from allen_viewer.export.provenance import provenance, write_sidecar
from allen_viewer.store.atomic import atomic_write

VOXEL_COLUMNS = ["ap", "dv", "ml", "x_um", "y_um", "z_um", "energy", "intensity", "density",
                 "structure_id", "structure_acronym", "structure_name"]
STRUCTURE_COLUMNS = ["structure_id", "acronym", "name", "parent_id", "depth", "voxels", "voxels_with_data",
                     "mean_energy", "mean_density", "mean_intensity"]
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
               include_missing: bool = False) -> Iterable[list]:
    """Rows of :data:`VOXEL_COLUMNS` in (AP, DV, ML) C order."""
    keep = np.ones(grid.energy.shape, bool) if include_missing else grid.has_data.copy()
    if structure is not None:
        keep &= space.grid_mask(structure)
    idx = np.argwhere(keep)
    um = grid_to_um(idx).tolist()
    sids = space.grid_annotation[keep].tolist()
    vols = [grid.energy, grid.intensity, grid.density]
    cols = [None if v is None else v[keep].astype(np.float64).tolist() for v in vols]
    ontology = space.ontology
    for n, (ap, dv, ml) in enumerate(idx.tolist()):
        sid = sids[n]
        s = ontology.by_id(sid) if sid else None
        values = [None if c is None else c[n] for c in cols]
        yield [ap, dv, ml, *um[n], *values,
               sid if s else None, s.acronym if s else None, s.name if s else None]


def export_voxels(grid: ExpressionGrid, space: ReferenceSpace, path: Path, structure: str | None = None,
                  include_missing: bool = False) -> int:
    """Write the voxel CSV (+ sidecar); returns the number of rows."""
    s = space.ontology.get(structure) if structure else None
    n = write_csv(Path(path), VOXEL_COLUMNS, voxel_rows(grid, space, s, include_missing))
    with undo_on_failure(path):
        write_sidecar(Path(path), provenance(grid, "voxels", columns=VOXEL_COLUMNS, rows=n,
                                         structure=s.acronym if s else None, include_missing=include_missing,
                                         units={"x_um, y_um, z_um": "CCFv3 micrometres (200 x grid index)",
                                                "energy": "Allen expression energy (intensity x density)"}))
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
             s.voxels, s.voxels_with_data, s.mean_energy, s.mean_density, s.mean_intensity]
            for s in summarize_all(grid, space)
            if s.voxels_with_data > 0 and (keep is None or s.structure.id in keep))
    n = write_csv(Path(path), STRUCTURE_COLUMNS, rows)
    with undo_on_failure(path):
        write_sidecar(Path(path), provenance(grid, "structures", columns=STRUCTURE_COLUMNS, rows=n, depth=depth,
                                         structures=acronyms,
                                         method="each structure pools its own and all descendants' 200 um grid "
                                                "voxels (Allen gridAnnotation); -1 voxels excluded"))
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
    with undo_on_failure(path):
        write_sidecar(Path(path), provenance([a, b], "compare", columns=COMPARE_COLUMNS, rows=n,
                                         gene_a=a.gene, gene_b=b.gene, whole_brain_r=whole,
                                         method="Pearson r of energy over voxels where both experiments have data; "
                                                "a = first experiment, b = second; ratio = a / b"))
    return {"rows": n, "whole_brain_r": whole}
