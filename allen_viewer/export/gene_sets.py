"""CSV exports of a gene set's score map (``export voxels|structures --gene-set ...``).

The voxel CSV has the usual columns with ``score`` and ``n_genes`` in place of the three
channels; the structure CSV has ``voxels_with_score`` and ``mean_score``, and the same per
hemisphere.  Both are the single-gene tables' code (:func:`voxel_rows`,
:func:`summarize_all`) run over the score drawn as a gene is
(:meth:`~allen_viewer.expression.gene_sets.ScoreMap.as_grid`), so a structure's mean score
pools its descendants exactly as a structure's mean energy does.  The sidecar lists every
experiment of the set and where the grids came from.  Written atomically; a failed sidecar
removes the CSV.
"""
from __future__ import annotations

from pathlib import Path

from allen_viewer import config
from allen_viewer.atlas.reference_space import ReferenceSpace
from allen_viewer.expression.gene_sets import DEFINITION, ScoreMap
from allen_viewer.expression.summary import summarize_all
from allen_viewer.io.guard import undo_on_failure
from allen_viewer.export.provenance import provenance, write_sidecar
from allen_viewer.export.tables import (
    COORDINATES_NOTE,
    HEMISPHERE_NOTE,
    IN_BRAIN_NOTE,
    select_structures,
    voxel_rows,
    write_csv,
)

SCORE_VOXEL_COLUMNS = ["ap", "dv", "ml", "x_um", "y_um", "z_um", "score", "n_genes",
                       "structure_id", "structure_acronym", "structure_name", "hemisphere", "in_brain"]
SCORE_STRUCTURE_COLUMNS = ["structure_id", "acronym", "name", "parent_id", "depth", "voxels", "voxels_with_score",
                           "mean_score", "voxels_with_score_left", "mean_score_left", "voxels_with_score_right",
                           "mean_score_right"]


def _provenance(m: ScoreMap, what: str, **extra) -> dict:
    record = provenance([], what, **extra)
    record["experiments"] = [{"experiment_id": e.id, "gene": e.symbol, "plane": e.plane,
                              "experiment_page": config.experiment_page(e.id)}
                             for e in m.gene_set.experiments]
    record.update(m.record())
    return record


def score_voxel_rows(m: ScoreMap, space: ReferenceSpace, structure=None, include_missing: bool = False):
    """Rows of :data:`SCORE_VOXEL_COLUMNS`: the in-brain voxels with a score (and, with
    ``include_missing``, those without one: empty score, their ``n_genes``)."""
    flat_n = m.n_genes.ravel()
    shape = m.n_genes.shape
    for row in voxel_rows(m.as_grid(), space, structure, include_missing=include_missing):
        ap, dv, ml = row[0], row[1], row[2]
        yield [*row[:6], row[6], int(flat_n[(ap * shape[1] + dv) * shape[2] + ml]), *row[9:]]


def export_score_voxels(m: ScoreMap, space: ReferenceSpace, path: Path, structure: str | None = None,
                        include_missing: bool = False) -> int:
    """Write the score's voxel CSV (+ sidecar); returns the number of rows."""
    s = space.ontology.get(structure) if structure else None
    n = write_csv(Path(path), SCORE_VOXEL_COLUMNS, score_voxel_rows(m, space, s, include_missing))
    with undo_on_failure(path):
        write_sidecar(Path(path), _provenance(
            m, "voxels", columns=SCORE_VOXEL_COLUMNS, rows=n, structure=s.acronym if s else None,
            include_missing=include_missing,
            voxels="in-brain voxels with a score" + (", and those without one (empty score)" if include_missing
                                                     else ""),
            coordinates=COORDINATES_NOTE,
            units={"x_um, y_um, z_um": "CCFv3 micrometres (200 x grid index), voxel centres",
                   "score": "gene-set score: " + DEFINITION, "n_genes": "experiments of the set with data at the voxel",
                   "hemisphere": HEMISPHERE_NOTE, "in_brain": IN_BRAIN_NOTE}))
    return n


def export_score_structures(m: ScoreMap, space: ReferenceSpace, path: Path, depth: int | None = None,
                            acronyms: list[str] | None = None) -> int:
    """Write the score's structure CSV: each structure pooling its descendants' voxels with a score."""
    keep = select_structures(space, depth, acronyms)
    rows = ([s.structure.id, s.structure.acronym, s.structure.name, s.structure.parent_id, s.structure.depth,
             s.voxels, s.voxels_with_data, s.mean_energy,
             *(v for side in ("left", "right") for v in (s.hemispheres[side].voxels_with_data,
                                                         s.hemispheres[side].mean_energy))]
            for s in summarize_all(m.as_grid(), space)
            if s.voxels_with_data > 0 and (keep is None or s.structure.id in keep))
    n = write_csv(Path(path), SCORE_STRUCTURE_COLUMNS, rows)
    with undo_on_failure(path):
        write_sidecar(Path(path), _provenance(
            m, "structures", columns=SCORE_STRUCTURE_COLUMNS, rows=n, depth=depth, structures=acronyms,
            method="each structure pools its own and all descendants' 200 um grid voxels (Allen gridAnnotation); "
                   "mean_score over the voxels with a score",
            hemispheres=HEMISPHERE_NOTE + "; a hemisphere without a score has a count of 0 and an empty mean"))
    return n
