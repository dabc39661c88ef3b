"""The Python API for scripts and notebooks: the viewer's model without the window.

Use it from the package top level (``import allen_viewer as av``; these names are loaded
on first use, so ``import allen_viewer`` stays cheap and loads no Qt or VTK)::

    grid = av.load_grid("Pdyn")                     # an ExpressionGrid
    av.export_structures("Pdyn", "pdyn.csv")        # the CSV and its provenance sidecar
    av.sync_library(["Pdyn", "Nrp1"], plane="coronal")  # the local library (embedded: no download)
    hits = av.correlated_genes("Pdyn")              # CorrelationHit rows, best r first
    s = av.session("Pdyn", view="lateral")          # a ViewerState
    av.render_image(s, "pdyn.png")                  # the PNG and its sidecar

Conventions (as everywhere in allen_viewer, README "Numbers"):

* a grid is 67 x 41 x 58 voxels of 200 µm in (AP, DV, ML) order: ``grid.energy[ap, dv, ml]``
  (also ``grid.intensity``, ``grid.density`` when the download has them); Allen's "no
  data" (-1 in its files, never 0) is NaN there, and ``grid.has_data`` is True in the brain
  (the 200 µm annotation > 0, :func:`in_brain`) where there is data: the voxels statistics
  count; left hemisphere = ML index 0-28, right = 29-57;
* positions (a session's ``cursor_um``, camera) are CCFv3 micrometres in (AP, DV, ML) order
  (x = AP, posterior; y = DV, ventral; z = ML, right);
* energies are Allen's expression energy (arbitrary units);
* a gene is a symbol (``"Pdyn"``: its coronal experiment when there is one, as the viewer
  and the command line choose) or an experiment id (``71717084``);
* data come from the embedded resources, then the cache (``ALLEN_VIEWER_CACHE``), then the
  Allen API (never with ``ALLEN_VIEWER_OFFLINE=1``);
* files are written as the command line writes them: atomically, with a provenance sidecar
  ``FILE.EXT.json``, an existing file refused unless ``force=True``; every function returns
  the files it wrote.  A user's mistake raises :class:`~allen_viewer.errors.AllenViewerError`
  with one line that says what is wrong.

Rendering (:func:`render_image`, :func:`render_movie`) imports VTK (off screen) but never Qt;
:func:`open_viewer` opens the window in a process of its own, so nothing here imports Qt.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from allen_viewer import config
from allen_viewer.errors import AllenViewerError

__all__ = ["find", "experiment", "load_grid", "in_brain", "export_structures", "export_voxels", "session",
           "read_session", "save_session", "render_image", "render_movie", "sync_library", "correlated_genes",
           "differential_genes", "open_viewer", "atlas_data"]

_ATLAS: dict = {}


def atlas_data():
    """The :class:`~allen_viewer.data.AtlasData` behind these functions (gene index, ontology,
    reference space, grids): one per cache folder, its heavy parts built on first use."""
    from allen_viewer.data import AtlasData

    root = str(config.cache_dir())
    if root not in _ATLAS:
        _ATLAS[root] = AtlasData()
    return _ATLAS[root]


# ---- genes and grids ------------------------------------------------------------------------

def find(text: str, *, plane: str | None = None, limit: int = 25) -> list:
    """Experiments matching ``text`` (symbol prefix, exact symbol, Entrez id, experiment id or
    name words), ranked as ``allen-viewer search`` ranks them; :class:`Experiment` records
    (``id``, ``symbol``, ``plane``, ``name``)."""
    data = atlas_data()
    return data.gene_index.search(str(text), limit=int(limit), plane=plane, available=data.available_ids())


def experiment(gene):
    """The experiment a gene symbol or experiment id means (a symbol: its coronal experiment
    when there is one, else its first sagittal one)."""
    from allen_viewer.arguments import check_query

    return atlas_data().experiment(check_query(gene))


def load_grid(gene):
    """The :class:`~allen_viewer.expression.grid.ExpressionGrid` of a gene symbol, an
    experiment id or an :class:`Experiment`: embedded, cached, else downloaded into the cache
    (unless offline).  ``grid.energy`` is a float32 array of shape (67, 41, 58) = (AP, DV, ML),
    200 µm voxels, NaN where there is no data; ``grid.has_data``: in-brain voxels with data."""
    from allen_viewer.records import Experiment

    return atlas_data().load_grid(gene if isinstance(gene, Experiment) else experiment(gene))


def in_brain():
    """bool (AP, DV, ML) 67 x 41 x 58, read-only: True in the brain (the 200 µm grid
    annotation > 0), the voxels every statistic counts."""
    from allen_viewer.expression.brain import brain_mask

    return brain_mask()


# ---- tables ---------------------------------------------------------------------------------

def export_structures(gene, path, *, depth: int | None = None, structures: Sequence[str] | None = None,
                      force: bool = False) -> list[Path]:
    """``allen-viewer export structures``: one CSV row per structure with data (each pooling
    its descendants' in-brain voxels; -1 excluded; left/right columns), and its sidecar.
    ``depth``: only structures at ontology depth <= depth (root is 0); ``structures``:
    only these acronyms.  Returns [the CSV, its sidecar]."""
    from allen_viewer.io.guard import check_output_path, claim_output
    from allen_viewer.io.sidecars import sidecar_path
    from allen_viewer.export.tables import export_structures as write_structures

    path = check_output_path(Path(path), force)
    data = atlas_data()
    grid = load_grid(gene)
    with claim_output(path, force) as out:
        write_structures(grid, data.reference_space, out, depth=depth,
                         acronyms=list(structures) if structures else None)
    return [path, sidecar_path(path)]


def export_voxels(gene, path, *, structure: str | None = None, include_missing: bool = False,
                  all_voxels: bool = False, force: bool = False) -> list[Path]:
    """``allen-viewer export voxels``: one CSV row per in-brain voxel with data (grid index,
    CCF µm of the voxel centre, energy, intensity, density, structure, hemisphere), and its
    sidecar.  ``structure``: only that structure and its descendants; ``include_missing``:
    also the -1 voxels; ``all_voxels``: also the voxels outside the brain.  Returns [the
    CSV, its sidecar]."""
    from allen_viewer.io.guard import check_output_path, claim_output
    from allen_viewer.io.sidecars import sidecar_path
    from allen_viewer.export.tables import export_voxels as write_voxels

    path = check_output_path(Path(path), force)
    data = atlas_data()
    grid = load_grid(gene)
    with claim_output(path, force) as out:
        write_voxels(grid, data.reference_space, out, structure=structure, include_missing=include_missing,
                     all_voxels=all_voxels)
    return [path, sidecar_path(path)]


# ---- sessions -------------------------------------------------------------------------------

def session(gene, *, percentile: float | None = None, threshold: float | None = None, view: str = "oblique",
            cmap: str | None = None, structures: Iterable[str] = (), cursor_um=None, cut_away: str = "none",
            slice_planes: bool = False):
    """A :class:`~allen_viewer.state.ViewerState` showing ``gene`` as ``export image`` would:
    the voxels at or above ``threshold`` (an energy) or, by default, the ``percentile``
    (default 90) of the gene's own in-brain energies; the camera at preset ``view``
    (dorsal, lateral, anterior, oblique); colour map ``cmap``; the surfaces of the
    ``structures`` (acronyms); ``cursor_um`` (AP, DV, ML µm: where the slice planes and the
    slice-relative cut-aways are); ``cut_away`` (none, left, right, anterior, posterior,
    dorsal, ventral, sagittal-left, sagittal-right) and ``slice_planes``.  Checked as a
    session file is (one :class:`AllenViewerError` line naming the bad value)."""
    from allen_viewer.export.image import image_session
    from allen_viewer.expression.brain import DEFAULT_THRESHOLD_PERCENTILE, percentile_threshold
    from allen_viewer.state import ViewerState

    if threshold is not None and percentile is not None:
        raise AllenViewerError("Give a threshold (an energy) or a percentile, not both.")
    grid = load_grid(gene)
    if threshold is None:
        percentile = DEFAULT_THRESHOLD_PERCENTILE if percentile is None else float(percentile)
        display = {"threshold": percentile_threshold(grid, percentile)}
    else:
        display = {"threshold": float(threshold)}
    if cmap is not None:
        display["cmap"] = cmap
    state = image_session(grid, display, view=view, percentile=percentile)
    ontology = atlas_data().ontology
    state.visible_structures = tuple(sorted({ontology.get(a).id for a in structures}))
    if cursor_um is not None:
        state.cursor_um = tuple(float(v) for v in cursor_um)
    state.cut_away, state.slice_planes = cut_away, bool(slice_planes)
    return ViewerState.from_dict(state.to_dict(), "session")  # the session file's checks, one line each


def read_session(path):
    """The :class:`~allen_viewer.state.ViewerState` in a session file, an export's sidecar
    (``FILE.png.json``) or an exported image with its sidecar."""
    from allen_viewer.export.provenance import read_session_source

    return read_session_source(Path(path))


def save_session(state, path, *, force: bool = False) -> list[Path]:
    """Write ``state`` as a session file (``allen-viewer --session FILE`` and *File > Open
    session…* reopen it), atomically; an existing file is refused unless ``force``."""
    from allen_viewer.io.guard import check_output_path, claim_output
    from allen_viewer.state import write_session

    path = check_output_path(Path(path), force)
    with claim_output(path, force) as out:
        write_session(out, state)
    return [path]


# ---- figures --------------------------------------------------------------------------------

def render_image(state, path, *, size: tuple[int, int] | None = None, caption: bool = True,
                 force: bool = False) -> list[Path]:
    """Render ``state`` (a ViewerState: one gene, or a comparison) off screen to a PNG as
    ``export image --session`` does: ``size`` (width, height) in pixels; ``caption``: the
    title and credit line.  Returns [the PNG, its sidecar] (the sidecar embeds the session)."""
    from allen_viewer.export.image import export_session_image

    return export_session_image(state, Path(path), size=size, caption=caption, force=force)


def render_movie(state, path, *, size: tuple[int, int] | None = None, frames: int | None = None,
                 fps: float | None = None, caption: bool = True, force: bool = False) -> list[Path]:
    """Render ``state`` turning once about the dorsal-ventral axis to an MP4 or GIF, as
    ``export movie --session`` does.  Returns [the movie, its sidecar]."""
    from allen_viewer.export.movie import export_session_movie

    return export_session_movie(state, Path(path), size=size, frames=frames, fps=fps, caption=caption, force=force)


# ---- the library and its searches -----------------------------------------------------------

def _library():
    from allen_viewer.library.store import Library

    return Library(atlas_data().cache.root / "library")


def sync_library(genes: Iterable = (), *, plane: str | None = None, everything: bool = False,
                 workers: int | None = None, density: bool = False):
    """``allen-viewer library sync``: put experiments into the local library (``genes``:
    symbols, meaning all their experiments, or experiment ids; ``plane``: only that plane, or
    alone every experiment of it; ``everything``: the whole gene index, ~26,000).  Embedded
    and cached grids are packed without a download.  Returns the
    :class:`~allen_viewer.library.sync.SyncReport`; failures are in ``report.failed``."""
    from allen_viewer.library.defaults import DEFAULT_WORKERS
    from allen_viewer.library.sync import select_experiments, sync

    data = atlas_data()
    queries = [str(g) for g in genes]
    chosen, unknown = select_experiments(data.gene_index, everything=everything, plane=plane, queries=queries)
    if unknown:
        raise AllenViewerError(f"Not in the gene index: {', '.join(unknown[:20])}.")
    if not chosen:
        raise AllenViewerError("No experiment to sync: give genes, plane= or everything=True.")
    return sync(chosen, library=_library(), cache=data.cache, client=data.client, ontology=data.ontology,
                workers=DEFAULT_WORKERS if workers is None else int(workers), density=density)


def _search(kind: str, *, plane: str | None, top: int, **values) -> list:
    from allen_viewer.library.searches import run_local, spec_of

    request = spec_of(kind).request(plane=plane, top=top, **values)
    return list(run_local(atlas_data(), _library(), request, how_to_fill="call sync_library() first").hits)


def correlated_genes(seed, *, domain: str | Sequence[str] | None = None, plane: str | None = None,
                     top: int = 50, min_overlap: int | None = None) -> list:
    """``allen-viewer search-correlated`` over the local library: the experiments whose energy
    correlates best with ``seed``'s (Pearson r over the ``domain`` structures' in-brain voxels
    where both have data, at least ``min_overlap`` of them; default the whole brain), best
    first, the seed left out.  :class:`~allen_viewer.library.search.CorrelationHit` rows
    (``rank``, ``experiment_id``, ``symbol``, ``plane``, ``r``, ``voxels``)."""
    from allen_viewer.library.defaults import MIN_OVERLAP

    if not isinstance(domain, (str, type(None))):
        domain = ",".join(domain)
    return _search("correlation", plane=plane, top=top, seed=str(seed), domain=domain,
                   min_overlap=MIN_OVERLAP if min_overlap is None else int(min_overlap))


def differential_genes(target: str | Sequence[str], contrast: str | Sequence[str], *, plane: str | None = None,
                       top: int = 50) -> list:
    """``allen-viewer search-differential`` over the local library: experiments ranked by
    fold change (mean energy over the ``target`` structures' voxels with data / over the
    ``contrast`` structures'), highest first.
    :class:`~allen_viewer.library.search.DifferentialHit` rows."""
    join = (lambda v: v if isinstance(v, str) else ",".join(v))
    return _search("differential", plane=plane, top=top, target=join(target), contrast=join(contrast))


# ---- the window -----------------------------------------------------------------------------

def open_viewer(state=None, *, wait: bool = True):
    """Open the viewer in a process of its own, as ``allen-viewer --session FILE`` does: on
    ``state`` (a ViewerState, or a session file's path), or as ``allen-viewer`` alone opens
    it.  ``wait``: block until the window is closed and return its exit status; else return
    the :class:`subprocess.Popen` at once (a notebook's kernel goes on).  Qt is never
    imported here: the window lives in the child process."""
    import subprocess
    import sys
    import tempfile

    from allen_viewer.state import ViewerState, write_session

    args = [sys.executable, "-m", "allen_viewer"]
    if isinstance(state, ViewerState):
        # the child reads it at start-up; a folder of its own, left to the system's temporary-file cleanup
        state = write_session(Path(tempfile.mkdtemp(prefix="allen_viewer_session_")) / "session.json", state)
    if state is not None:
        args += ["--session", str(Path(state))]
    process = subprocess.Popen(args)
    return process.wait() if wait else process
