"""Tests of the whole-genome library, and helpers shared by them.

The helpers build small libraries from the two real embedded grids (Pdyn 71717084 and
Nrp1 74272479) and GENERATED column vectors with known answers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from allen_viewer import config
from allen_viewer.atlas.reference_space import read_grid_annotation
from allen_viewer.expression.grid import load_grid
from allen_viewer.library.store import Layout, Library, pack_rows

PDYN, NRP1 = 71717084, 74272479


def grid_annotation() -> np.ndarray:
    return read_grid_annotation(config.resources_dir() / "P56_Mouse_gridAnnotation.zip")


def make_layout(ontology) -> Layout:
    return Layout.build(grid_annotation(), ontology)


def real_grid(gene_index, experiment_id: int):
    """The embedded ExpressionGrid of 71717084 or 74272479."""
    return load_grid(config.resources_dir() / "grids" / f"{experiment_id}.zip", gene_index.by_id(experiment_id))


def real_and_generated_rows(layout: Layout, gene_index, generated: int, seed: int, first_id: int = 900000) -> list:
    """``build_library`` rows: the real Pdyn and Nrp1 energies (NaN where a grid has no data
    in the brain), then ``generated`` GENERATED rows ``first_id``, ``first_id + 1``, ... named
    ``Gen0``, ``Gen1``, ... (coronal; gamma(2, 3) energies from ``numpy.random.default_rng(seed)``)."""
    rows = []
    for exp_id in (PDYN, NRP1):
        g = real_grid(gene_index, exp_id)
        rows.append((exp_id, g.experiment.symbol, g.experiment.plane,
                     layout.columns(np.where(g.has_data, g.energy, np.nan))))
    rng = np.random.default_rng(seed)
    for k in range(generated):
        rows.append((first_id + k, f"Gen{k}", "coronal", rng.gamma(2.0, 3.0, layout.n_voxels).astype(np.float32)))
    return rows


def build_library(root: Path, layout: Layout, rows: list[tuple], chunk: int = 7) -> Library:
    """A library in ``root`` from ``(id, symbol, plane, energy columns[, density columns])``
    tuples, appended a few rows at a time (so several commits take part)."""
    library = Library(root)
    with library.writer(layout) as writer:
        for k in range(0, len(rows), chunk):
            part = rows[k:k + chunk]
            energy = np.stack([r[3] for r in part]).astype(np.float32)
            dens = [r[4] if len(r) > 4 else None for r in part]
            flags = [d is not None for d in dens]
            density = (np.stack([d if d is not None else np.full(layout.n_voxels, np.nan, np.float32) for d in dens])
                       if any(flags) else None)
            writer.append(pack_rows(layout, [r[0] for r in part], [r[1] for r in part], [r[2] for r in part],
                                    energy, density, flags))
    return library.refresh()


def atlas_data(ontology, gene_index, cache: Path, client=None):
    """An AtlasData over ``cache`` holding the session's ontology and gene index (so no test
    loads them again); ``client``: e.g. the fake server's."""
    from allen_viewer.data import AtlasData
    from allen_viewer.store.cache import Cache

    data = AtlasData(cache=Cache(cache), client=client)
    data.__dict__["ontology"] = ontology
    data.__dict__["gene_index"] = gene_index
    return data


def f16(values: np.ndarray) -> np.ndarray:
    """Values at the library's precision (NaN kept)."""
    return np.asarray(values, np.float32).astype(np.float16).astype(np.float32)
