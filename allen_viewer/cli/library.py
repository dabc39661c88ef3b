"""The command-line layer of the library: ``library sync``, ``library status``,
``search-differential``, ``search-correlated`` and ``matrix``.

:func:`add_library_commands` registers them on the ``allen-viewer`` subparsers; each
command is a few lines over :mod:`allen_viewer.library`.  User errors raise
:class:`AllenViewerError` (the CLI prints one line and exits 1).  Until the main CLI
registers them, ``python -m allen_viewer.library.commands ...`` runs them the same way.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

from allen_viewer.cli.common import PROG, atlas_data, library_of
from allen_viewer.errors import AllenViewerError
from allen_viewer.io.guard import check_output_path
from allen_viewer.sanitize import clean_text

# Heavy modules (numpy, requests, the library's working modules, allen_viewer.library.results)
# are imported inside the command functions: registering the commands must stay cheap.


def _check_out(path: Path | None, force: bool, reads=()) -> Path | None:
    return None if path is None else check_output_path(path, force, reads=reads)


def _mb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _warn(text: str) -> None:
    print(f"{PROG}: {text}", file=sys.stderr)


# ---- library sync / status ---------------------------------------------------------------------

class _SyncBar:
    """``progress(done, total, failures)`` -> a tqdm bar (count, rate, ETA) on stderr."""

    def __init__(self):
        from tqdm import tqdm

        self._bar = tqdm(desc="library sync", unit="exp", file=sys.stderr, disable=None, smoothing=0.1)

    def __call__(self, done: int, total: int, failures: int) -> None:
        if self._bar.total != total:
            self._bar.total = total
        if failures:
            self._bar.set_postfix(failed=failures, refresh=False)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def cmd_library_sync(args) -> int:
    from allen_viewer.library.sync import read_gene_list, select_experiments, sync

    if not (args.all or args.plane or args.genes or args.experiments):
        raise AllenViewerError("Say what to sync: --all, --plane coronal|sagittal, --genes FILE or experiment "
                               "ids / gene symbols.")
    data = atlas_data()
    genes = read_gene_list(args.genes) if args.genes else None
    chosen, unknown = select_experiments(data.gene_index, everything=args.all, plane=args.plane, genes=genes,
                                         queries=args.experiments)
    if unknown:
        _warn(f"not in the gene index, skipped: {', '.join(unknown[:20])}" + (" ..." if len(unknown) > 20 else ""))
    if not chosen:
        raise AllenViewerError("No experiment to sync.")
    library = library_of(data)
    bar = _SyncBar()
    try:
        report = sync(chosen, library=library, cache=data.cache, client=data.client, ontology=data.ontology,
                      workers=args.workers, density=args.density, progress=bar)
    finally:
        bar.close()
    print(f"{report.requested} requested: {report.already} already in the library, {report.packed} added "
          f"({report.downloaded} downloaded), {len(report.failed)} failed, in {report.elapsed_s:.1f} s.")
    print(f"Library: {len(library)} experiments, {_mb(library.size_bytes())} in {library.root}")
    for exp_id, message in list(report.failed.items())[:10]:
        _warn(f"error: experiment {exp_id}: {message}")
    if len(report.failed) > 10:
        _warn(f"... and {len(report.failed) - 10} more failures (`{PROG} library status` lists them)")
    if report.stopped:
        _warn(f"stopped early: {report.stopped}")
    if report.failed or report.stopped:
        _warn("run the same command again to fetch what is missing.")
        return 1
    return 0


def cmd_library_status(args) -> int:
    from allen_viewer.library.sync import library_status

    data = atlas_data()
    st = library_status(library_of(data), data.gene_index, data.cache)
    if st.get("damage"):  # named, with what to delete; nothing else it says could be trusted
        raise AllenViewerError(st["damage"])
    print(f"Library: {st['root']}" + ("" if st["exists"] else " (not created yet)"))
    if st["exists"]:
        m = st["manifest"]
        print(f"  store: {m['rows']} experiments x {m['n_voxels']} in-brain voxels (200 um, both hemispheres), "
              f"float16 energy; {st['with_density']} with density; last update {clean_text(m.get('updated_utc'), 40)}")
        print(f"  precision: {m['precision']}")
        if st["clipped_values"]:
            print(f"  {st['clipped_values']} values above 65504 were clipped")
    print(f"Experiments: {st['library_experiments']} of {st['index_experiments']} in the gene index "
          f"({st['missing']} missing); genes: {st['library_genes']} of {st['index_genes']}")
    for plane, c in st["planes"].items():
        print(f"  {plane:<9} {c['library']:>6} of {c['index']}")
    if st["cached_not_packed"]:
        print(f"Grids in the cache but not in the library: {len(st['cached_not_packed'])} "
              f"(`{PROG} library sync` with their ids packs them without downloading)")
    last = st.get("last_sync")
    if last:
        print(f"Last sync ({last['finished_utc']}): {last['requested']} requested, {len(last['missing'])} still "
              f"missing, {len(last['failed'])} failed" + (f"; stopped: {last['stopped']}" if last["stopped"] else ""))
        if last["missing"]:
            shown = last["missing"][:args.list]
            print("  missing: " + " ".join(str(i) for i in shown) + (" ..." if len(last["missing"]) > len(shown) else ""))
    print(f"Space: library {_mb(st['library_bytes'])}, grid cache {_mb(st['grid_cache_bytes'])}")
    if st.get("last_sync_damage"):
        _warn(f"error: {st['last_sync_damage']}")
        return 1
    return 0


# ---- searches ----------------------------------------------------------------------------------

def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isinf(v):
            return "inf"
        return f"{v:.{digits}g}"
    return str(v)


def _print_table(columns: list[tuple[str, int]], rows: list[list]) -> None:
    print("  ".join(f"{name:>{w}}" if i != 2 else f"{name:<{w}}" for i, (name, w) in enumerate(columns)))
    for row in rows:
        print("  ".join(f"{_fmt(v):>{w}}" if i != 2 else f"{_fmt(v):<{w}}" for i, ((_, w), v) in enumerate(zip(columns, row))))


def _remote(args, what: str, call):
    """Run a remote search for --remote/--remote-only; None (with a warning) when it fails."""
    try:
        return call()
    except AllenViewerError as exc:
        if args.remote_only:
            raise
        _warn(f"Allen's {what} service could not be used ({exc}); showing the local results only.")
        return None


def _seed_warning(seed) -> None:
    """Say which experiment a gene symbol with several experiments was taken to mean."""
    if seed.candidates > 1:
        exp = seed.experiment
        _warn(f"{exp.symbol} has {seed.candidates} experiments; using {exp.plane} {exp.id} as the seed "
              f"({'in the library' if seed.in_library else 'not in the library, loaded'}; pass an id to choose "
              "another).")


def _search(args, kind: str, **values) -> int:
    """Run one search of ``kind`` (its spec, :mod:`allen_viewer.library.searches`) with the
    form ``values``, --plane and --top: the library unless --remote-only, Allen's service with
    --remote/--remote-only; print the table and write --out."""
    from allen_viewer.export.library_tables import write_results_csv
    from allen_viewer.library.results import library_record
    from allen_viewer.library.searches import run_local, run_remote, spec_of

    spec = spec_of(kind) if isinstance(kind, str) else kind  # a spec outside the panel's (gene sets)
    request = spec.request(plane=args.plane, top=args.top, **values)
    out = _check_out(args.out, args.force)
    data = atlas_data()
    library = library_of(data)
    spec.check(data.ontology, request)  # an unknown acronym fails here, with suggestions
    hits, seed = [], None
    if not args.remote_only:
        local = run_local(data, library, request, how_to_fill=f"run `{PROG} library sync` first (or pass "
                          "--remote-only to ask Allen's service)", on_seed=_seed_warning)
        hits, seed = list(local.hits), local.seed
        for line in getattr(seed, "notes", ()):  # a gene set's duplicates, unknown symbols, sagittal members
            _warn(f"note: {line}")
    if args.remote or args.remote_only:
        found = _remote(args, spec.service, lambda: run_remote(data, lambda: library, request, seed=seed))
        if found is not None:
            hits += found.hits
            seed = seed or found.seed
    rows = spec.csv_rows(hits)
    print(spec.heading(request, seed))
    _print_table(spec.print_columns, [spec.print_row(r) for r in rows])
    if out is not None:
        from allen_viewer.io.guard import claim_output

        with claim_output(out, args.force):  # locked and checked again: the CSV and its sidecar together
            write_results_csv(out, spec.csv_columns, rows, spec.export,
                              **spec.record(request, seed, bool(args.remote or args.remote_only),
                                            library_record(library)))
        print(f"Wrote {len(rows)} rows to {out}")
    return 0


def cmd_search_differential(args) -> int:
    return _search(args, "differential", target=args.target, contrast=args.contrast)


def cmd_search_correlated(args) -> int:
    from allen_viewer.cli.gene_sets import search_members

    genes = search_members(args)  # --gene-set / --gene-set-file, or None for a seed
    if genes is not None:
        from allen_viewer.library.gene_set_search import GENE_SET_CORRELATION

        return _search(args, GENE_SET_CORRELATION, domain=args.domain, genes=genes, min_overlap=args.min_voxels)
    return _search(args, "correlation", seed=args.seed, domain=args.domain, min_overlap=args.min_voxels)


# ---- matrix --------------------------------------------------------------------------------------

def _read_structures(path: Path) -> list[str]:
    from allen_viewer.arguments import read_text_list

    text = read_text_list(path, "structure list")
    items = [t.strip() for line in text.splitlines() for t in line.split("#", 1)[0].replace("\t", ",").split(",")]
    items = [t for t in items if t and t.lower() not in ("acronym", "structure", "structure_id")]
    if not items:
        raise AllenViewerError(f"The structure list {path} names no structures.")
    return items


def cmd_matrix(args) -> int:
    from allen_viewer.io.guard import undo_on_failure
    from allen_viewer.export.provenance import provenance, write_sidecar
    from allen_viewer.export.library_tables import write_matrix_csv
    from allen_viewer.library.matrix import region_gene_matrix
    from allen_viewer.library.results import library_record
    from allen_viewer.library.sync import read_gene_list

    out = _check_out(args.out, args.force, reads=[args.structures, args.genes])  # never onto a list it reads
    data = atlas_data()
    library = library_of(data)
    structures = _read_structures(args.structures) if args.structures else None
    genes = read_gene_list(args.genes) if args.genes else None
    matrix, missing = region_gene_matrix(library, data.ontology, structures=structures, depth=args.depth,
                                         genes=genes, value=args.value, combine=args.combine)
    if missing:
        _warn(f"not in the library, left out: {', '.join(missing[:20])}" + (" ..." if len(missing) > 20 else ""))
    from allen_viewer.io.guard import claim_output

    with claim_output(out, args.force, reads=[args.structures, args.genes]):  # locked, checked again
        n = write_matrix_csv(matrix, out)
        with undo_on_failure(out):
            write_sidecar(out, provenance([], "matrix", rows=n, genes=len(matrix.genes), value=f"mean {args.value}",
                                      combine=args.combine, depth=args.depth, structures=structures,
                                      library=library_record(library), experiments=matrix.experiments,
                                      method="rows: structures, each pooling its own and all descendants' 200 um grid "
                                             "voxels (Allen gridAnnotation); columns: genes; mean over voxels with "
                                             "data (-1 excluded), as `export structures`; a gene's experiments "
                                             f"combined by rule {args.combine!r}"))
    print(f"Wrote {n} structures x {len(matrix.genes)} genes (mean {args.value}, {args.combine}) to {out}")
    return 0


# ---- registration --------------------------------------------------------------------------------

def add_library_commands(sub) -> None:
    """Register ``library sync|status``, ``search-differential``, ``search-correlated`` and
    ``matrix`` on an argparse subparsers object (each sets ``func``)."""
    from allen_viewer.library.defaults import COMBINE_RULES, DEFAULT_WORKERS, MIN_OVERLAP

    lib = sub.add_parser("library", help="the local whole-genome library: bulk download and status").add_subparsers(
        dest="library_command", metavar="ACTION", required=True)
    p = lib.add_parser("sync", help="download experiments into the library (parallel, resumable)")
    p.add_argument("experiments", nargs="*", metavar="ID|SYMBOL",
                   help="experiment ids, or gene symbols (all of their experiments)")
    p.add_argument("--all", action="store_true", help="every experiment of the gene index (~26,000; ~10 GB of "
                                                      "grids plus a ~3.9 GB library)")
    p.add_argument("--plane", choices=("coronal", "sagittal"),
                   help="every experiment of this plane (with --genes or ids: only those of this plane)")
    p.add_argument("--genes", type=Path, metavar="FILE", help="a file of gene symbols (one per line or CSV)")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                   help=f"parallel downloads (default {DEFAULT_WORKERS})")
    p.add_argument("--density", action="store_true",
                   help="also download density, for `matrix --value density` (twice the download)")
    p.set_defaults(func=cmd_library_sync)
    p = lib.add_parser("status", help="what the library holds, what is missing, the space used")
    p.add_argument("--list", type=int, default=20, metavar="N", help="list up to N missing ids (default 20)")
    p.set_defaults(func=cmd_library_status)

    def search_options(p):
        p.add_argument("--plane", choices=("coronal", "sagittal"), help="only experiments cut in this plane")
        p.add_argument("--top", type=int, default=50, metavar="N", help="rows to show (default 50)")
        p.add_argument("--out", type=Path, metavar="FILE.csv", help="also write the rows to a CSV (+ its FILE.csv.json sidecar)")
        p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
        g = p.add_mutually_exclusive_group()
        g.add_argument("--remote", action="store_true", help="also ask Allen's own search service (online)")
        g.add_argument("--remote-only", action="store_true", help="ask Allen's search service instead of the library")

    p = sub.add_parser("search-differential", help="genes enriched in target structures over contrast structures")
    p.add_argument("--target", required=True, metavar="ACR[,ACR]", help="target structures (with descendants)")
    p.add_argument("--contrast", required=True, metavar="ACR[,ACR]", help="contrast structures (with descendants)")
    search_options(p)
    p.set_defaults(func=cmd_search_differential)

    p = sub.add_parser("search-correlated", help="experiments whose grid correlates with a seed experiment")
    p.add_argument("seed", metavar="ID|SYMBOL", nargs="?", help="the seed experiment (a symbol: its library "
                                                                 "experiment, coronal first); or --gene-set")
    from allen_viewer.cli.gene_sets import add_gene_set_options

    add_gene_set_options(p)
    p.add_argument("--domain", metavar="ACR[,ACR]", help="structures to correlate over (default: the whole brain)")
    p.add_argument("--min-voxels", type=int, default=MIN_OVERLAP, metavar="N",
                   help=f"fewest voxels with data in both (default {MIN_OVERLAP})")
    search_options(p)
    p.set_defaults(func=cmd_search_correlated)

    p = sub.add_parser("matrix", help="region x gene table of mean energy (or density) from the library")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--depth", type=int, metavar="N", help="structures at ontology depth <= N (root is 0)")
    g.add_argument("--structures", type=Path, metavar="FILE", help="a file of structure acronyms")
    p.add_argument("--genes", type=Path, metavar="FILE", help="a file of gene symbols (default: all in the library)")
    p.add_argument("--value", choices=("energy", "density"), default="energy", help="mean of what (default energy)")
    p.add_argument("--combine", choices=COMBINE_RULES, default="prefer-coronal",
                   help="several experiments of a gene: prefer-coronal (its default experiment, as the viewer "
                        "shows it) or mean (of the experiments' structure means)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.csv",
                   help="the region x gene table (rows structures, columns genes; + FILE.csv.json provenance)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_matrix)
