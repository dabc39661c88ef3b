"""The ``allen-viewer`` command: a thin layer over the core.

``allen-viewer`` alone opens the viewer; subcommands search, fetch and describe
experiments without a display.  A user's mistake (unknown gene, no network, a corrupt
file) prints one line ``allen-viewer: error: ...`` and exits 1; a traceback means a bug.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from allen_viewer import __version__
from allen_viewer.errors import AllenViewerError, CorruptData
from allen_viewer.export.paths import check_output_path, claim_output
from allen_viewer.export.provenance import sidecar_path
from allen_viewer.model.screenshot import PARTS as SCREENSHOT_PARTS

PROG = "allen-viewer"


def _data():
    from allen_viewer.data import AtlasData

    return AtlasData()


def _pick(data, query: str, *, quiet: bool = False):
    """Resolve an id or symbol; say which experiment was picked when a symbol has several."""
    text = str(query).strip()
    if text.isascii() and text.isdigit():
        return data.experiment(text)
    candidates = data.gene_index.experiments_of(text)
    chosen = data.gene_index.resolve(text)
    if len(candidates) > 1 and not quiet:
        if len(candidates) <= 4:
            others = ", ".join(f"{e.plane} {e.id}" for e in candidates)
        else:
            n_cor = sum(e.plane == "coronal" for e in candidates)
            others = f"{n_cor} coronal, {len(candidates) - n_cor} sagittal; `{PROG} search {text}` lists them"
        why = "coronal covers both hemispheres" if chosen.plane == "coronal" else "no coronal experiment"
        print(f"{chosen.symbol} has {len(candidates)} experiments ({others}); using {chosen.plane} {chosen.id} "
              f"({why}; pass an id to choose another).", file=sys.stderr)
    return chosen


class _TqdmProgress:
    """Adapts the core's ``progress(done_bytes, total_bytes)`` callback to a tqdm bar."""

    def __init__(self, label: str):
        from tqdm import tqdm

        self._bar = tqdm(desc=label, unit="B", unit_scale=True, unit_divisor=1024, leave=True,
                         file=sys.stderr, disable=None)

    def __call__(self, done: int, total: int | None) -> None:
        if total and self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


# ---- subcommands ----------------------------------------------------------------------------

def cmd_search(args) -> int:
    data = _data()
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
    data = _data()
    failures = 0
    for query in args.experiments:
        try:
            exp = _pick(data, query)
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
            bar = _TqdmProgress(f"{exp.symbol} {exp.id}")
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

    data = _data()
    exp = _pick(data, args.experiment)
    try:
        grid = data.load_grid(exp)
    except NotDownloaded as exc:  # what the gene index knows, and how to get the grid
        return _print_index_info(exp, exc.how)
    cov = grid.coverage()
    rows = [
        ("experiment id", exp.id),
        ("gene", f"{exp.symbol}" + (f" (formerly {exp.alias})" if exp.alias else "")),
        ("gene name", exp.name or "-"),
        ("Entrez id", exp.entrez_id if exp.entrez_id is not None else "-"),
        ("plane", exp.plane),
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
        ("Allen page", f"https://mouse.brain-map.org/experiment/show/{exp.id}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def _print_index_info(exp, how: str) -> int:
    """``info`` of an experiment whose grid is not downloaded and cannot be now: the gene
    index's fields, and that line saying how to get the grid (exit 0)."""
    rows = [
        ("experiment id", exp.id),
        ("gene", f"{exp.symbol}" + (f" (formerly {exp.alias})" if exp.alias else "")),
        ("gene name", exp.name or "-"),
        ("Entrez id", exp.entrez_id if exp.entrez_id is not None else "-"),
        ("plane", exp.plane),
        ("grid", f"not downloaded yet: {how}"),
        ("Allen page", f"https://mouse.brain-map.org/experiment/show/{exp.id}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def cmd_refresh_index(args) -> int:
    data = _data()
    bar = _TqdmProgress("experiments")
    try:
        index = data.refresh_gene_index(progress=bar)
    finally:
        bar.close()
    print(f"Gene index refreshed: {len(index)} experiments, {len(index.symbols)} genes.")
    return 0


def cmd_download_reference(args) -> int:
    from allen_viewer.data import REFERENCE_VOLUMES

    data = _data()
    if data.has_reference(args.kind):
        print(f"The {args.kind} volume is already in the cache: {data.reference_path(args.kind)}")
        return 0
    name = REFERENCE_VOLUMES[args.kind][0]
    bar = _TqdmProgress(name)
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


def cmd_export_voxels(args) -> int:
    from allen_viewer.export.tables import export_voxels

    if _many_genes(args):  # --gene-set, --gene-set-file, --composite (gene_set_commands.py)
        return _run_many(args, "voxels")

    check_output_path(args.out, args.force)  # before the work, not after it
    data = _data()
    grid = data.load_grid(_pick(data, args.experiment))
    with claim_output(args.out, args.force) as out:  # locked and checked again: concurrent writers
        n = export_voxels(grid, data.reference_space, out,
                          structure=args.structure, include_missing=args.include_missing,
                          all_voxels=args.all_voxels)
    print(f"Wrote {n} voxels of {grid.experiment.label} to {args.out} (provenance in {sidecar_path(args.out)})")
    return 0


def _many_genes(args) -> bool:
    from allen_viewer.gene_set_commands import check_single, many_genes

    check_single(args)  # an experiment, or a set, or a composite: exactly one
    return many_genes(args)


def _run_many(args, what: str) -> int:
    from allen_viewer.gene_set_commands import run_export

    return run_export(args, what)


def _percentile(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    return value  # the range (0-100) is checked by arguments.check_arguments: one line, not usage


def _structure_list(text: str | None) -> list[str] | None:
    return [a.strip() for a in text.split(",") if a.strip()] if text else None


def cmd_export_structures(args) -> int:
    from allen_viewer.export.tables import export_structures

    if _many_genes(args):  # --gene-set, --gene-set-file, --composite (gene_set_commands.py)
        return _run_many(args, "structures")

    check_output_path(args.out, args.force)  # before the work, not after it
    data = _data()
    grid = data.load_grid(_pick(data, args.experiment))
    with claim_output(args.out, args.force) as out:
        n = export_structures(grid, data.reference_space, out,
                              depth=args.depth, acronyms=_structure_list(args.structures))
    print(f"Wrote {n} structures of {grid.experiment.label} to {args.out}")
    return 0


def cmd_export_volume(args) -> int:
    from allen_viewer.export.volume import export_volume, volume_files

    # before the work, not after it (--volume all: the channels are known once the grid is read)
    check_output_path(args.out, args.force, files=[] if args.volume == "all" else volume_files(args.out, args.volume))
    data = _data()
    grid = data.load_grid(_pick(data, args.experiment))
    with claim_output(args.out, args.force, files=volume_files(args.out, args.volume, grid.available)) as out:
        files = export_volume(grid, out, volume=args.volume)
    print(f"Wrote {', '.join(str(f) for f in files)}")
    return 0


def cmd_export_slice(args) -> int:
    from allen_viewer.export.section_figure import figure_format, parse_at
    from allen_viewer.export.slice_figure import NISSL_MISSING, export_slice_figure

    figure_format(args.out)  # before the work, not after it
    at = parse_at(args.at)
    check_output_path(args.out, args.force)
    data = _data()
    if args.background == "nissl" and not data.has_nissl():
        raise AllenViewerError(NISSL_MISSING)
    grid = data.load_grid(_pick(data, args.experiment))
    threshold, rule = None, ""
    if args.threshold is not None or args.threshold_percentile is not None:
        threshold, rule, _ = _scene_threshold(args, grid)
    nissl = data.nissl() if args.background == "nissl" else None
    with claim_output(args.out, args.force) as out:  # locked and checked again: concurrent writers
        result = export_slice_figure(grid, data.reference_space, out, args.plane, at,
                                     labels=args.labels, background=args.background,
                                     nissl=nissl, cmap=args.cmap, threshold=threshold, threshold_rule=rule)
    figure, side = result["files"]
    print(f"Wrote a {args.plane} slice of {grid.experiment.label} ({result['voxels']} voxels with data, "
          f"{result['structures']} structure outlines, {result['labels']} labels) to {figure} (provenance in {side})")
    return 0


def cmd_export_region_map(args) -> int:
    from allen_viewer.export.region_map import export_region_map
    from allen_viewer.export.section_figure import figure_format, parse_at

    figure_format(args.out)  # before the work, not after it
    at = parse_at(args.at)
    check_output_path(args.out, args.force)
    data = _data()
    grid = data.load_grid(_pick(data, args.experiment))
    with claim_output(args.out, args.force) as out:  # locked and checked again: concurrent writers
        result = export_region_map(grid, data.reference_space, out, args.plane, at,
                                   depth=args.depth, structures=_structure_list(args.structures),
                                   value=args.value, cmap=args.cmap)
    figure, side = result["files"]
    painted = sum(r["colour"] is not None for r in result["regions"])
    print(f"Wrote a {args.plane} region map of {grid.experiment.label} ({painted} regions painted, "
          f"{len(result['regions']) - painted} without data) to {figure} (provenance in {side})")
    return 0


def _scene_threshold(args, grid) -> tuple[float, str, float | None]:
    """(energy threshold, its rule in words, percentile or None) from --threshold or
    --threshold-percentile (default: the 90th percentile of the gene's in-brain energies)."""
    from allen_viewer.expression.brain import DEFAULT_THRESHOLD_PERCENTILE, percentile_threshold

    if args.threshold is not None:
        return args.threshold, f"energy {args.threshold:g} (--threshold)", None
    pct = DEFAULT_THRESHOLD_PERCENTILE if args.threshold_percentile is None else args.threshold_percentile
    return percentile_threshold(grid, pct), f"{pct:g}th percentile of the gene's in-brain energies", pct


def _scene_export(args):
    """What export image and export movie share, after their own checks: the output checked
    again, the grid, the threshold, the figure options, the session the sidecar embeds and
    the brain outline, as a namespace."""
    from types import SimpleNamespace

    from allen_viewer import signals

    with signals.deferred():  # Ctrl-C inside VTK's initialisation would abort, not end cleanly
        import pyvista  # noqa: F401
    from allen_viewer.export.image import image_session
    from allen_viewer.render.meshes import brain_outline

    data = _data()
    grid = data.load_grid(_pick(data, args.experiment))
    out = check_output_path(args.out, args.force)
    threshold, rule, pct = _scene_threshold(args, grid)
    figure = figure_options(args, data.reference_space)
    session = image_session(grid, {"threshold": threshold}, view=args.view, percentile=pct, figure=figure)
    return SimpleNamespace(grid=grid, out=out, threshold=threshold, rule=rule, figure=figure, session=session,
                           outline=brain_outline(data.reference_space))


def cmd_export_compare_image(args) -> int:
    """``export image A --compare B``: the three-panel compare figure (export/compare_image.py)."""
    from allen_viewer.export.compare_image import DEFAULT_COMPARE_SIZE, export_compare_image
    from allen_viewer.export.image import parse_size
    from allen_viewer.render.meshes import brain_outline
    from allen_viewer.state import CompareOptions

    if args.threshold is not None:
        raise AllenViewerError("A compare figure draws each gene from its own percentile; use "
                               "--threshold-percentile P, not --threshold.")
    size = parse_size(args.size) if args.size else DEFAULT_COMPARE_SIZE
    out = check_output_path(args.out, args.force)  # before the work, not after it
    data = _data()
    a = data.load_grid(_pick(data, args.experiment))
    b = data.load_grid(_pick(data, args.compare_with))
    options = CompareOptions(scale=args.compare_scale, normalise=args.normalise,
                             kind={"subtract": "difference", "log2": "ratio"}[args.difference])
    pct = 90.0 if args.threshold_percentile is None else args.threshold_percentile
    result = export_compare_image(a, b, check_output_path(out, args.force), brain_outline(data.reference_space),
                                  size, args.view, options, pct, args.transparent)
    png, side = result["files"]
    print(f"Wrote a {result['width']}x{result['height']} {args.view} compare figure of {a.experiment.label} and "
          f"{b.experiment.label} to {png} (provenance in {side})")
    return 0


def cmd_export_image(args) -> int:
    from allen_viewer.export.image import export_image, parse_size

    if getattr(args, "compare_with", None):
        if _many_genes(args):
            raise AllenViewerError("--compare draws two genes; leave out --gene-set/--composite (or --compare).")
        return cmd_export_compare_image(args)
    if args.size is None:
        args.size = "1600x1200"
    if _many_genes(args):  # --gene-set, --gene-set-file, --composite (gene_set_commands.py)
        return _run_many(args, "image")

    size = parse_size(args.size)
    check_output_path(args.out, args.force)  # before the work, not after it
    job = _scene_export(args)
    grid = job.grid
    with claim_output(args.out, args.force):
        result = export_image(grid, job.out, outline=job.outline, size=size, view=args.view,
                              transparent=args.transparent, display={"threshold": job.threshold},
                              threshold_rule=job.rule, session=job.session, figure=job.figure)
    png, side = result["files"]
    print(f"Wrote a {result['width']}x{result['height']} {args.view} image of {grid.experiment.label} to {png} "
          f"(provenance in {side})")
    return 0


def cmd_export_movie(args) -> int:
    from allen_viewer.export.movie import export_movie, parse_movie_size, plan_movie

    if _many_genes(args):  # --gene-set, --gene-set-file, --composite (gene_set_commands.py)
        return _run_many(args, "movie")

    plan = plan_movie(args.out, args.frames, args.fps, parse_movie_size(args.size))  # before the work
    check_output_path(args.out, args.force)
    job = _scene_export(args)
    grid = job.grid
    from tqdm import tqdm

    # a bar on a terminal only (disable=None): pipes, logs and CI get just the result line
    with claim_output(args.out, args.force), \
            tqdm(total=plan.frames, desc=f"{grid.experiment.symbol} turntable", unit="frame", file=sys.stderr,
                 disable=None, leave=False) as bar:
        result = export_movie(grid, job.out, outline=job.outline, size=plan.requested,
                              frames=plan.frames, fps=args.fps, view=args.view, display={"threshold": job.threshold},
                              threshold_rule=job.rule, session=job.session, scene_options={"figure": job.figure},
                              progress=lambda done, total: bar.update(done - bar.n))
    movie, side = result["files"]
    rounded = (f" (rounded from {plan.requested[0]}x{plan.requested[1]}: H.264 needs even sides)"
               if result["rounded"] else "")
    print(f"Wrote a {result['width']}x{result['height']}{rounded} {result['frames']}-frame turntable of "
          f"{grid.experiment.label}, from the {args.view} view, at {result['fps']:.3g} fps to {movie} "
          f"(provenance in {side})")
    return 0


def cmd_compare(args) -> int:
    from allen_viewer.export.tables import export_comparison

    check_output_path(args.out, args.force)  # before the work, not after it
    data = _data()
    a = data.load_grid(_pick(data, args.a))
    b = data.load_grid(_pick(data, args.b))
    with claim_output(args.out, args.force) as out:
        result = export_comparison(a, b, data.reference_space, out,
                                   depth=args.depth, acronyms=_structure_list(args.structures))
    print(f"{a.experiment.label} vs {b.experiment.label}: whole-brain r = {result['whole_brain_r']:.4f} "
          f"over the {result['whole_brain_voxels']} in-brain voxels where both have data (the root row); "
          f"{result['rows']} structures written to {args.out}")
    return 0


def cmd_gui(args) -> int:
    from allen_viewer.gui.app import run_gui

    if args.screenshot is not None:  # before the window: an existing file, a FIFO, the session read
        check_output_path(args.screenshot, args.screenshot_force, reads=[args.session], make_folder=True)
    return run_gui(gene=args.gene, screenshot=args.screenshot, offline=args.offline, compare=args.compare,
                   structure=args.structure, session=args.session, force=args.screenshot_force,
                   part=args.part or "window")


# ---- parser ---------------------------------------------------------------------------------

def _slices_um(text: str) -> tuple[float, float, float]:
    """``--slices AP,DV,ML`` in micrometres -> a 3-tuple inside the 25 µm annotation's box."""
    from allen_viewer.render.cuts import parse_point_um

    try:
        return parse_point_um(text, "6600,4000,5700")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_figure_options(parser: argparse.ArgumentParser) -> None:
    """``--clip``, ``--planes`` and ``--slices``: a cut-away and the slice planes in an
    off-screen 3-D figure (``export image``; ``export movie`` takes the same).  Read them back
    with :func:`figure_options`."""
    from allen_viewer.render.cuts import CUT_AWAYS, GRID_CENTRE_UM

    parser.add_argument("--clip", default="none", choices=tuple(CUT_AWAYS), metavar="WHAT",
                        help="cut away part of the brain, showing the cut face: left or right (that hemisphere; "
                             "left = grid ML index 0-28), anterior/posterior (of the coronal slice), "
                             "dorsal/ventral (of the horizontal slice), sagittal-left/sagittal-right (of the "
                             "sagittal slice), or none (default)")
    parser.add_argument("--planes", action="store_true",
                        help="draw the three slice planes (coronal, sagittal, horizontal), textured as the "
                             "viewer's slice panes draw them")
    parser.add_argument("--slices", type=_slices_um, default=None, metavar="AP,DV,ML",
                        help="where the slices are, in micrometres (for --planes and the slice-relative --clip; "
                             "default the grid's centre, {:g},{:g},{:g})".format(*GRID_CENTRE_UM))


def figure_options(args, space):
    """The :class:`~allen_viewer.render.cuts.FigureOptions` of :func:`add_figure_options`'s
    arguments; ``space`` is the reference space the planes are drawn from."""
    from allen_viewer.render.cuts import FigureOptions

    return FigureOptions(clip=args.clip, planes=bool(args.planes), slices_um=args.slices,
                         space=space if args.planes else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Browse and export Allen Mouse Brain Atlas ISH gene expression. "
                    "With no command, opens the viewer.",
        epilog="Environment: ALLEN_VIEWER_OFFLINE=1 (embedded data and cache only), ALLEN_VIEWER_CACHE "
               "(cache directory), ALLEN_VIEWER_SETTINGS (the viewer's settings file), ALLEN_API_URL, "
               "ALLEN_DOWNLOAD_URL (service addresses). Each command's options: COMMAND --help. "
               f"The user guide, installed with the program: `{PROG} guide` prints where it is, "
               f"`{PROG} guide --open` opens it in the web browser.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--offline", action="store_true",
                        help="never use the network (same as ALLEN_VIEWER_OFFLINE=1); without it the viewer "
                             "checks the network in the background at start-up")
    parser.add_argument("--gene", metavar="SYMBOL|ID", help="open the viewer on this gene or experiment")
    parser.add_argument("--compare", metavar="SYMBOL|ID", help="a second gene to compare with --gene")
    parser.add_argument("--structure", metavar="ACRONYM|ID",
                        help="select this structure (e.g. CP) and move the slices into it")
    parser.add_argument("--screenshot", metavar="FILE.png", type=Path,
                        help="with --gene or --session: render the window, save it to FILE.png (and the "
                             "session it shows to its sidecar FILE.png.json) and exit; an existing file is "
                             "refused unless --force")
    parser.add_argument("--part", choices=SCREENSHOT_PARTS, help="with --screenshot: save only this part of the "
                        "window: the 3-D view or one slice pane (default: the whole window)")
    parser.add_argument("--force", dest="screenshot_force", action="store_true",
                        help="with --screenshot: replace an existing FILE.png and its sidecar (a FILE.png.json "
                             "that allen_viewer did not write is never replaced)")
    parser.add_argument("--session", metavar="FILE", type=Path,
                        help="open a saved session (File > Save session), a sidecar (FILE.png.json) or an "
                             "exported image or screenshot, as it was saved: for FILE.png the PNG's own text "
                             "chunk is read, then FILE.png.json, then an older FILE.json (the first found wins)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

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

    export = sub.add_parser("export", help="write voxels, structure means, volumes or 3-D images to files")
    export = export.add_subparsers(dest="what", metavar="WHAT", required=True)

    def export_parser(name, help_text, out_help, many=False):
        e = export.add_parser(name, help=help_text)
        e.add_argument("experiment", metavar="ID|SYMBOL", nargs="?" if many else None,
                       help="an experiment id, or a gene symbol (its coronal experiment when there is one)"
                            + ("; or leave it out and give --gene-set" + (" or --composite" if many == "scene" else "")
                               if many else ""))
        e.add_argument("--out", type=Path, required=True, metavar="FILE", help=out_help)
        e.add_argument("--force", action="store_true", help="overwrite an existing file")
        return e

    from allen_viewer.gene_set_commands import add_gene_set_options

    e = export_parser("voxels", "one CSV row per grid voxel with data", "the CSV file to write (FILE.csv)", True)
    add_gene_set_options(e)
    e.add_argument("--structure", metavar="ACRONYM", help="only voxels in this structure and its descendants")
    e.add_argument("--include-missing", action="store_true", help="also the no-data (-1) voxels, with empty values")
    e.add_argument("--all-voxels", action="store_true",
                   help="also the voxels outside the brain (in_brain = 0, empty structure fields); by default "
                        "only in-brain voxels (200 um grid annotation > 0) are written")
    e.set_defaults(func=cmd_export_voxels)
    e = export_parser("structures", "one CSV row per structure with data (means pool descendants)",
                      "the CSV file to write (FILE.csv)", True)
    add_gene_set_options(e)
    e.add_argument("--depth", type=int, metavar="N", help="only structures at ontology depth <= N (root is 0)")
    e.add_argument("--structures", metavar="A,B,C", help="only these structures (acronyms)")
    e.set_defaults(func=cmd_export_structures)
    e = export_parser("volume", "the grid as an NRRD or MetaImage volume (200 um, AP/DV/ML axes)",
                      "the volume file to write: FILE.nrrd or FILE.mhd (+ FILE.raw)")
    e.add_argument("--volume", default="energy", choices=("energy", "intensity", "density", "all"),
                   help="which volume (default energy; all writes FILE_energy.nrrd, ...)")
    e.set_defaults(func=cmd_export_volume)

    def section_options(e) -> None:
        """What export slice and export region-map share: the plane, the point, the colours."""
        from allen_viewer.state import CMAPS

        e.add_argument("--plane", required=True, choices=("coronal", "sagittal", "horizontal"),
                       help="the section's plane, oriented as the viewer's slice panes")
        e.add_argument("--at", required=True, metavar="AP,DV,ML",
                       help="a point of the section in CCFv3 micrometres, e.g. 5300,4000,5700 (through CP)")
        e.add_argument("--cmap", default="viridis", choices=CMAPS, help="colour map (default viridis)")

    e = export_parser("slice", "one section through a point as a vector figure (SVG or PDF; or PNG): outlines, "
                               "labels, the expression voxels", "the figure to write: FILE.svg, FILE.pdf or FILE.png")
    section_options(e)
    e.add_argument("--labels", action="store_true", help="write the structures' acronyms (as text)")
    e.add_argument("--background", default="annotation", choices=("annotation", "nissl", "none"),
                   help="under the voxels: the atlas colours (default), the Nissl stain (after "
                        "`download-reference nissl`) or none (white)")
    limit = e.add_mutually_exclusive_group()
    limit.add_argument("--threshold", type=float, default=None, metavar="ENERGY",
                       help="draw only voxels with energy at or above this (default: every voxel with data)")
    limit.add_argument("--threshold-percentile", type=_percentile, default=None, metavar="P",
                       help="draw only voxels at or above the P-th percentile of the gene's in-brain energies")
    e.set_defaults(func=cmd_export_slice)
    e = export_parser("region-map", "each structure on a section filled with the gene's mean, per hemisphere "
                                    "(SVG, PDF or PNG)", "the figure to write: FILE.svg, FILE.pdf or FILE.png")
    section_options(e)
    which = e.add_mutually_exclusive_group()
    which.add_argument("--depth", type=int, metavar="N",
                       help="paint each pixel with its structure's ancestor at ontology depth N (itself when "
                            "shallower; root is 0)")
    which.add_argument("--structures", metavar="A,B,C",
                       help="paint only these structures (acronyms) and their descendants; the rest is outlined")
    e.add_argument("--value", default="energy", choices=("energy", "density", "intensity"),
                   help="the mean shown (default energy); the values are export structures' left/right columns")
    e.set_defaults(func=cmd_export_region_map)

    def scene_options(e, size: str, what: str, view_help: str = "") -> None:
        """The display options export image and export movie share."""
        e.add_argument("--size", default=size, metavar="WxH", help=f"{what} size in pixels (default {size})")
        e.add_argument("--view", default="oblique", choices=("dorsal", "lateral", "anterior", "oblique"),
                       help="camera preset, as the viewer's buttons (default oblique)" + view_help)
        if what == "image":
            e.add_argument("--transparent", action="store_true",
                           help="transparent background (dark text, for light pages)")
        limit = e.add_mutually_exclusive_group()
        limit.add_argument("--threshold", type=float, default=None, metavar="ENERGY",
                           help="voxels with expression energy below this are not drawn (an absolute value; with "
                                "--gene-set a score, 0-1)")
        limit.add_argument("--threshold-percentile", type=_percentile, default=None, metavar="P",
                           help="draw the voxels at or above the P-th percentile of the gene's own in-brain "
                                "energies (default 90; with --gene-set of the score's in-brain values; with "
                                "--composite the percentile rank P/100 each gene must reach)")
        add_figure_options(e)

    e = export_parser("image", "the 3-D scene rendered off screen to a PNG, at any size",
                      "the PNG file to write (FILE.png)", "scene")
    add_gene_set_options(e, composite=True)
    scene_options(e, "1600x1200", "image")
    e.set_defaults(func=cmd_export_image, size=None)
    e.add_argument("--compare", dest="compare_with", metavar="ID|SYMBOL", default=None,
                   help="draw the three-panel compare figure of this gene (B) beside the first (A): A, B and "
                        "A - B, each titled (default size 2400x1000)")
    e.add_argument("--normalise", choices=("rank", "raw", "z"), default="rank",
                   help="with --compare: colour each gene by its percentile rank among its own in-brain voxels "
                        "(default), raw energy or z-scores")
    e.add_argument("--difference", choices=("subtract", "log2"), default="subtract",
                   help="with --compare: the third panel shows A - B (default) or log2 of A over B")
    e.add_argument("--compare-scale", choices=("shared", "separate"), default="shared",
                   help="with --compare: one colour range for A and B (default) or each its own")
    e = export_parser("movie", "the 3-D scene turning once about the dorsal-ventral axis, as an MP4 or GIF "
                               "(off screen)",
                      "the movie to write: FILE.mp4 (H.264) or FILE.gif", "scene")
    add_gene_set_options(e, composite=True)
    scene_options(e, "960x720", "frame", "; the turn starts here")
    e.add_argument("--frames", type=int, default=120, metavar="N",
                   help="frames in the full turn, 2 to 3600 (default 120: 3 degrees a frame)")
    e.add_argument("--fps", type=float, default=30.0, metavar="F",
                   help="frames per second, 1 to 60 (GIF: 50, in whole hundredths of a second a frame; "
                        "default 30)")
    e.epilog = ("An MP4 (H.264, yuv420p) needs even sides: an odd width or height is rounded down to the next even "
                "number (481x361 -> 480x360) and the frames are rendered at that size, not rescaled; a GIF keeps "
                "the size asked. Largest side 4096 pixels. The sidecar FILE.mp4.json (FILE.gif.json) holds the "
                "provenance and the session (allen-viewer --session FILE.mp4 reopens the starting view). A progress "
                "bar shows on a terminal only.")
    e.set_defaults(func=cmd_export_movie)

    p = sub.add_parser("compare", help="per-structure table comparing two genes, with correlations")
    p.add_argument("a", metavar="A", help="first gene or experiment id")
    p.add_argument("b", metavar="B", help="second gene or experiment id")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.csv", help="the CSV file to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--depth", type=int, metavar="N", help="only structures at ontology depth <= N")
    p.add_argument("--structures", metavar="A,B,C", help="only these structures (acronyms)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("download-reference", help="download a 25 um reference volume into the cache "
                                                  "(nissl: 136 MB, the slice background; template: 33 MB)")
    p.add_argument("kind", choices=("nissl", "template"),
                   help="nissl: the Nissl-stained volume; template: the two-photon average template")
    p.set_defaults(func=cmd_download_reference)

    p = sub.add_parser("guide", help="print where the user guide is installed (Markdown, with its pictures)")
    p.add_argument("--open", action="store_true",
                   help="open it in the web browser (rendered to HTML in the cache's guide/ folder)")
    p.set_defaults(func=cmd_guide)

    from allen_viewer.library.commands import add_library_commands

    add_library_commands(sub)
    from allen_viewer.tissue_commands import add_tissue_commands

    add_tissue_commands(sub)
    return parser


def _robust_streams() -> None:
    """Text that the terminal's encoding cannot show (PYTHONIOENCODING=ascii and a non-ASCII
    file name) is written escaped (``\\u00e9``), never a UnicodeEncodeError after the work."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass


def _stdout_failure() -> OSError | None:
    """Flush standard output; the error when it cannot take the text (a closed pipe, a full
    disk), after which it is pointed at the null device so Python's own flush at exit stays
    quiet."""
    try:
        sys.stdout.flush()
        return None
    except OSError as exc:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass
        return exc


def _stdout_status(code: int) -> int:
    """``code``, unless standard output failed: a reader that stopped early (``| head -1``)
    ends the command quietly with 141 (as SIGPIPE would); any other failure (``> /dev/full``)
    is one line and exit 1."""
    exc = _stdout_failure()
    if exc is None:
        return code
    if isinstance(exc, BrokenPipeError):
        return 141
    print(f"{PROG}: error: cannot write to standard output ({exc.strerror or exc})", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    import signal

    from allen_viewer import signals

    _robust_streams()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signals.install()
    try:
        return _stdout_status(_main(argv))
    except BrokenPipeError:
        return _stdout_status(141)
    except OSError as exc:  # raised while printing: standard output (every file the commands write turns its
        # OSError into one line naming the file, export/paths.py), or else a bug shown as such
        if exc.errno not in (errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EDQUOT) or exc.filename is not None:
            raise
        _stdout_failure()
        print(f"{PROG}: error: cannot write to standard output ({exc.strerror or exc})", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, TypeError):
                pass


def _main(argv: list[str] | None = None) -> int:
    from allen_viewer import signals

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.screenshot and not args.gene and not args.session:
        parser.error("--screenshot needs --gene or --session")
    if args.compare and not args.gene:
        parser.error("--compare needs --gene")
    if getattr(args, "screenshot_force", False) and not args.screenshot:
        parser.error("--force (before any command) needs --screenshot")
    if getattr(args, "part", None) and not args.screenshot:
        parser.error("--part needs --screenshot")
    func = getattr(args, "func", cmd_gui)
    previous_offline = os.environ.get("ALLEN_VIEWER_OFFLINE")
    if args.offline:
        os.environ["ALLEN_VIEWER_OFFLINE"] = "1"
    try:
        from allen_viewer.arguments import check_arguments

        check_arguments(args)  # blank ids, non-ASCII digits, NaN thresholds, negative counts
        return func(args)
    except AllenViewerError as exc:
        from allen_viewer.sanitize import clean_text

        print(f"{PROG}: error: {clean_text(exc, 1000)}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, signals.Interrupted) as exc:  # one line, 130 or 143 (allen_viewer/signals.py)
        print(f"{PROG}: {signals.message(exc)}", file=sys.stderr)
        return signals.exit_status(exc)
    finally:  # --offline lasts for this command only (main() is also called in-process)
        if previous_offline is None:
            os.environ.pop("ALLEN_VIEWER_OFFLINE", None)
        else:
            os.environ["ALLEN_VIEWER_OFFLINE"] = previous_offline
