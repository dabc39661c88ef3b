"""Search results as tables: the columns and rows that the CLI and the GUI panel write
(through :func:`allen_viewer.export.library_tables.write_results_csv`).

One mapping from hits to rows, so a CSV saved from the GUI is the CSV the command writes.
"""
from __future__ import annotations

from typing import Sequence

DIFF_COLUMNS = ["rank", "experiment_id", "gene", "plane", "fold_change", "target_mean", "contrast_mean",
                "target_voxels", "contrast_voxels", "target_sum", "contrast_sum", "source"]
CORR_COLUMNS = ["rank", "experiment_id", "gene", "plane", "r", "voxels", "source"]
DIFF_METHOD = ("fold change = mean energy over target voxels / mean energy over contrast voxels, per experiment; "
               "structures include descendants (200 um gridAnnotation); -1 voxels excluded; ranked descending; "
               "source=allen rows come from service::mouse_differential (sums, not means)")
CORR_METHOD = ("Pearson r of energy between the seed and each experiment over the domain voxels (structures with "
               "descendants) where both have data, at float16 precision; pairs with fewer than {min_voxels} such "
               "voxels are left out; the seed itself is left out; source=allen rows come from "
               "service::mouse_correlation")


def differential_rows(hits: Sequence) -> list[list]:
    """Rows of :data:`DIFF_COLUMNS` for differential hits (local or Allen's)."""
    return [[h.rank, h.experiment_id, h.symbol, h.plane, h.fold_change, h.target_mean, h.contrast_mean,
             h.target_voxels, h.contrast_voxels, h.target_sum, h.contrast_sum, h.source] for h in hits]


def correlation_rows(hits: Sequence) -> list[list]:
    """Rows of :data:`CORR_COLUMNS` for correlation hits (local or Allen's)."""
    return [[h.rank, h.experiment_id, h.symbol, h.plane, h.r, h.voxels, h.source] for h in hits]


def library_record(library) -> dict:
    """What the provenance sidecar says about the library searched."""
    if not library.exists():
        return {"root": str(library.root), "experiments": 0}
    return {"root": str(library.root), "experiments": len(library), "precision": library.manifest["precision"]}

