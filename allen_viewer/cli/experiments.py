"""Commands about experiments and the reference data: ``search``, ``fetch``, ``info``,
``refresh-index``, ``download-reference`` and ``guide``."""
from __future__ import annotations

import sys

from allen_viewer.cli.common import PROG, TqdmProgress, atlas_data, pick
from allen_viewer.config import experiment_page
from allen_viewer.errors import AllenViewerError, CorruptData


def cmd_search(args) -> int:
    data = atlas_data()
    results = data.gene_index.search(" ".join(args.text), limit=args.limit, plane=args.plane,
                                     available=data.available_ids())  # ranked as the window ranks them
    if not results:
        suggestions = data.gene_index.suggest(" ".join(args.text))
        hint = f" Close symbols: {', '.join(suggestions)}." if suggestions else ""
        print(f"No experiment matches {' '.join(args.text)!r}.{hint}", file=sys.stderr)
        return 1
    print(f"{'id':>10}  {'gene':<16} {'plane':<9} {'source':<9} name")
    for e in results:
        print(f"{e.id:>10}  {e.symbol:<16} {e.plane:<9} {data.locate(e.id):<9} {e.name}")
    return 0


def cmd_fetch(args) -> int:
    data = atlas_data()
    failures = 0
    for query in args.experiments:
        try:
            exp = pick(data, query)
            where = data.locate(exp.id)
            if where == "embedded":
                print(f"{exp.label}: already embedded")
                continue
            if where == "cached":
                try:
                    if data.cache.cached_grid(exp.id) is not None:  # validates the entry
                        print(f"{exp.label}: already cached")
                        continue
                except CorruptData as exc:  # damaged: moved to quarantine, fetch it again
                    print(f"{exp.label}: {exc}", file=sys.stderr)
            bar = TqdmProgress(f"{exp.symbol} {exp.id}")
            try:
                data.grid_store.zip_path(exp.id, progress=bar)
            finally:
                bar.close()
            print(f"{exp.label}: fetched into {data.cache.grid_path(exp.id)}")
        except AllenViewerError as exc:
            failures += 1
            print(f"{PROG}: error: {query}: {exc}", file=sys.stderr)
    return 1 if failures else 0


def cmd_info(args) -> int:
    from allen_viewer.errors import NotDownloaded

    data = atlas_data()
    exp = pick(data, args.experiment)
    try:
        grid = data.load_grid(exp)
    except NotDownloaded as exc:  # what the gene index knows, and how to get the grid
        return _print_index_info(exp, exc.how)
    cov = grid.coverage()
    return _print_rows(_index_rows(exp) + [
        ("reference space", grid.reference_space_id if grid.reference_space_id is not None else "-"),
        ("data from", data.locate(exp.id)),
        ("volumes", ", ".join(cov["volumes"]) + ("" if len(cov["volumes"]) == 3 else
                                                  "  (energy only: intensity/density not in this download)")),
        ("grid", "67 x 41 x 58 voxels (AP, DV, ML), 200 um"),
        ("voxels with data", f"{cov['voxels_with_data']} in the brain (of its {cov['voxels_in_brain']} voxels); "
                             f"{cov['voxels_with_data_outside_brain']} outside it, not counted elsewhere"),
        ("hemispheres", f"{cov['hemispheres']} (left {cov['voxels_left']}, right {cov['voxels_right']} in-brain "
                        "voxels with data; left = ML 0-28, right = ML 29-57)"),
        ("energy", f"in the brain: min {cov['energy_min']:.3g}, mean {cov['energy_mean']:.3g}, "
                   f"max {cov['energy_max']:.3g}"),
        ("Allen page", experiment_page(exp.id)),
    ])


def _index_rows(exp) -> list[tuple[str, object]]:
    """The rows of ``info`` that the gene index knows."""
    return [
        ("experiment id", exp.id),
        ("gene", f"{exp.symbol}" + (f" (formerly {exp.alias})" if exp.alias else "")),
        ("gene name", exp.name or "-"),
        ("Entrez id", exp.entrez_id if exp.entrez_id is not None else "-"),
        ("plane", exp.plane),
    ]


def _print_rows(rows: list[tuple[str, object]]) -> int:
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _print_index_info(exp, how: str) -> int:
    """``info`` of an experiment whose grid is not downloaded and cannot be now: the gene
    index's fields, and that line saying how to get the grid (exit 0)."""
    return _print_rows(_index_rows(exp) + [("grid", f"not downloaded yet: {how}"),
                                           ("Allen page", experiment_page(exp.id))])


def cmd_refresh_index(args) -> int:
    data = atlas_data()
    bar = TqdmProgress("experiments")
    try:
        index = data.refresh_gene_index(progress=bar)
    finally:
        bar.close()
    print(f"Gene index refreshed: {len(index)} experiments, {len(index.symbols)} genes.")
    return 0


def cmd_download_reference(args) -> int:
    from allen_viewer.data import REFERENCE_VOLUMES

    data = atlas_data()
    if data.has_reference(args.kind):
        print(f"The {args.kind} volume is already in the cache: {data.reference_path(args.kind)}")
        return 0
    name = REFERENCE_VOLUMES[args.kind][0]
    bar = TqdmProgress(name)
    try:
        path = data.download_reference(args.kind, progress=bar)
    finally:
        bar.close()
    print(f"{REFERENCE_VOLUMES[args.kind][2]} saved to {path}")
    return 0


def cmd_guide(args) -> int:
    from allen_viewer.guide import guide_path, open_guide

    if args.open:
        page = open_guide()
        print(f"Opened the user guide in the web browser: {page} (rendered from {guide_path()})")
    else:
        print(guide_path())
    return 0


def add_experiment_commands(sub) -> None:
    """Register ``search``, ``fetch``, ``info`` and ``refresh-index``."""
    p = sub.add_parser("search", help="find experiments by symbol, name words, Entrez id or experiment id")
    p.add_argument("text", nargs="+", help="e.g. Pdy, prodynorphin, 18610 or 71717084")
    p.add_argument("--plane", choices=("coronal", "sagittal"), help="only experiments cut in this plane")
    p.add_argument("--limit", type=int, default=25, help="most rows to print (default 25)")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("fetch", help="download experiments' grids into the cache (progress bar)")
    p.add_argument("experiments", nargs="+", metavar="ID|SYMBOL",
                   help="a symbol means its coronal experiment when there is one, else its first sagittal one")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("info", help="print an experiment's metadata and data coverage")
    p.add_argument("experiment", metavar="ID|SYMBOL", help="an experiment id, or a gene symbol (its coronal "
                                                           "experiment when there is one)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("refresh-index", help="download the list of all ISH experiments from the Allen API")
    p.set_defaults(func=cmd_refresh_index)


def add_reference_commands(sub) -> None:
    """Register ``download-reference`` and ``guide``."""
    p = sub.add_parser("download-reference", help="download a 25 um reference volume into the cache "
                                                  "(nissl: 136 MB, the slice background; template: 33 MB)")
    p.add_argument("kind", choices=("nissl", "template"),
                   help="nissl: the Nissl-stained volume; template: the two-photon average template")
    p.set_defaults(func=cmd_download_reference)

    p = sub.add_parser("guide", help="print where the user guide is installed (Markdown, with its pictures)")
    p.add_argument("--open", action="store_true",
                   help="open it in the web browser (rendered to HTML in the cache's guide/ folder)")
    p.set_defaults(func=cmd_guide)
