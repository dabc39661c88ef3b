"""The library's results as files: search result tables (the CLI's ``--out`` and the GUI
panel's Save) and the region x gene matrix, each a CSV written atomically with its
provenance sidecar.  :mod:`allen_viewer.library` computes the rows; this module writes them
(library/ never imports export/, docs/design.md)."""
from __future__ import annotations

import csv
import math
from pathlib import Path

from allen_viewer.io.guard import output_errors, undo_on_failure
from allen_viewer.export.provenance import provenance, write_sidecar
from allen_viewer.export.tables import write_csv
from allen_viewer.io.atomic import atomic_write


def write_results_csv(path: Path, columns: list[str], rows: list[list], what: str, **record) -> None:
    """Write result rows as CSV (atomically) with a provenance sidecar describing the search."""
    write_csv(path, columns, rows)
    with undo_on_failure(path):
        write_sidecar(path, provenance([], what, columns=columns, rows=len(rows), **record))


MATRIX_COLUMNS = ["structure_id", "acronym", "name", "depth", "voxels"]


def write_matrix_csv(matrix, path: Path) -> int:
    """Write a :class:`~allen_viewer.library.matrix.RegionGeneMatrix` as CSV (one header row;
    structures as rows, genes as columns; empty cells where there is no data), atomically.
    Returns the number of structure rows."""
    with output_errors(path), atomic_write(Path(path), "w") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MATRIX_COLUMNS + list(matrix.genes))
        for i, s in enumerate(matrix.structures):
            cells = ["" if math.isnan(v) else repr(float(v)) for v in matrix.values[i]]
            writer.writerow([s.id, s.acronym, s.name, s.depth, int(matrix.voxels[i])] + cells)
    return len(matrix.structures)
