"""The ``export`` commands (voxels, structures, volume, slice, region-map, image, movie)
and ``compare``: each checks its output, loads the grid, calls :mod:`allen_viewer.export`
and prints one line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from allen_viewer.cli.common import atlas_data, percentile, pick, structure_list
from allen_viewer.errors import AllenViewerError
from allen_viewer.io.guard import check_output_path, claim_output
from allen_viewer.io.sidecars import sidecar_path


def cmd_export_voxels(args) -> int:
    from allen_viewer.export.tables import export_voxels

    if _many_genes(args):  # --gene-set, --gene-set-file, --composite (cli/gene_sets.py)
        return _run_many(args, "voxels")

    check_output_path(args.out, args.force)  # before the work, not after it
    data = atlas_data()
    grid = data.load_grid(pick(data, args.experiment))
    with claim_output(args.out, args.force) as out:  # locked and checked again: concurrent writers
        n = export_voxels(grid, data.reference_space, out,
                          structure=args.structure, include_missing=args.include_missing,
                          all_voxels=args.all_voxels)
    print(f"Wrote {n} voxels of {grid.experiment.label} to {args.out} (provenance in {sidecar_path(args.out)})")
    return 0


def _many_genes(args) -> bool:
    from allen_viewer.cli.gene_sets import check_single, many_genes

    check_single(args)  # an experiment, or a set, or a composite: exactly one
    return many_genes(args)


def _run_many(args, what: str) -> int:
    from allen_viewer.cli.gene_sets import run_export

    return run_export(args, what)


def cmd_export_structures(args) -> int:
    from allen_viewer.export.tables import export_structures

    if _many_genes(args):  # --gene-set, --gene-set-file, --composite (cli/gene_sets.py)
        return _run_many(args, "structures")

    check_output_path(args.out, args.force)  # before the work, not after it
    data = atlas_data()
    grid = data.load_grid(pick(data, args.experiment))
    with claim_output(args.out, args.force) as out:
        n = export_structures(grid, data.reference_space, out,
                              depth=args.depth, acronyms=structure_list(args.structures))
    print(f"Wrote {n} structures of {grid.experiment.label} to {args.out}")
    return 0


def cmd_export_volume(args) -> int:
    from allen_viewer.export.volume import export_volume, volume_files

    # before the work, not after it (--volume all: the channels are known once the grid is read)
    check_output_path(args.out, args.force, files=[] if args.volume == "all" else volume_files(args.out, args.volume))
    data = atlas_data()
    grid = data.load_grid(pick(data, args.experiment))
    with claim_output(args.out, args.force, files=volume_files(args.out, args.volume, grid.available)) as out:
        files = export_volume(grid, out, volume=args.volume)
    print(f"Wrote {', '.join(str(f) for f in files)}")
    return 0


def _section_figure_start(args):
    """``export slice`` / ``export region-map``: the output's format and the point ``--at``
    checked and the output refused before the work; returns (point in µm, AtlasData)."""
    from allen_viewer.export.section_figure import figure_format, parse_at

    figure_format(args.out)  # before the work, not after it
    at = parse_at(args.at)
    check_output_path(args.out, args.force)
    return at, atlas_data()


def cmd_export_slice(args) -> int:
    from allen_viewer.export.slice_figure import NISSL_MISSING, export_slice_figure

    at, data = _section_figure_start(args)
    if args.background == "nissl" and not data.has_nissl():
        raise AllenViewerError(NISSL_MISSING)
    grid = data.load_grid(pick(data, args.experiment))
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

    at, data = _section_figure_start(args)
    grid = data.load_grid(pick(data, args.experiment))
    with claim_output(args.out, args.force) as out:  # locked and checked again: concurrent writers
        result = export_region_map(grid, data.reference_space, out, args.plane, at,
                                   depth=args.depth, structures=structure_list(args.structures),
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

    data = atlas_data()
    grid = data.load_grid(pick(data, args.experiment))
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
    data = atlas_data()
    a = data.load_grid(pick(data, args.experiment))
    b = data.load_grid(pick(data, args.compare_with))
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

    if args.from_session is not None:
        return _export_from_session(args, "image")
    args.view = args.view or "oblique"
    if getattr(args, "compare_with", None):
        if _many_genes(args):
            raise AllenViewerError("--compare draws two genes; leave out --gene-set/--composite (or --compare).")
        return cmd_export_compare_image(args)
    if args.size is None:
        args.size = "1600x1200"
    if _many_genes(args):  # --gene-set, --gene-set-file, --composite (cli/gene_sets.py)
        return _run_many(args, "image")

    size = parse_size(args.size)
    check_output_path(args.out, args.force)  # before the work, not after it
    job = _scene_export(args)
    grid = job.grid
    with claim_output(args.out, args.force):
        result = export_image(grid, job.out, outline=job.outline, size=size, view=args.view,
                              transparent=args.transparent, display={"threshold": job.threshold},
                              threshold_rule=job.rule, session=job.session, figure=job.figure,
                              caption=not args.no_caption)
    png, side = result["files"]
    print(f"Wrote a {result['width']}x{result['height']} {args.view} image of {grid.experiment.label} to {png} "
          f"(provenance in {side})")
    return 0


def cmd_export_movie(args) -> int:
    from allen_viewer.export.movie import export_movie, parse_movie_size, plan_movie

    if args.from_session is not None:
        return _export_from_session(args, "movie")
    args.view, args.size = args.view or "oblique", args.size or "960x720"
    if _many_genes(args):  # --gene-set, --gene-set-file, --composite (cli/gene_sets.py)
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
                              threshold_rule=job.rule, session=job.session,
                              scene_options={"figure": job.figure, **({"caption": "", "credit": False}
                                                                      if args.no_caption else {})},
                              progress=lambda done, total: bar.update(done - bar.n))
    movie, side = result["files"]
    rounded = (f" (rounded from {plan.requested[0]}x{plan.requested[1]}: H.264 needs even sides)"
               if result["rounded"] else "")
    print(f"Wrote a {result['width']}x{result['height']}{rounded} {result['frames']}-frame turntable of "
          f"{grid.experiment.label}, from the {args.view} view, at {result['fps']:.3g} fps to {movie} "
          f"(provenance in {side})")
    return 0


def _export_from_session(args, what: str) -> int:
    """``export image|movie --session FILE``: the figure redrawn from its session (a session
    file, a sidecar, or an image with its sidecar); --size, --threshold(-percentile) and
    --view given beside it override the session's (export/session_render.py)."""
    from allen_viewer.export.provenance import read_session_record, recorded_text_reference_px
    from allen_viewer.export.session_render import override_session

    given = [name for name, v in (("an experiment", args.experiment), ("--gene-set", getattr(args, "gene_set", None)),
                                  ("--gene-set-file", getattr(args, "gene_set_file", None)),
                                  ("--composite", getattr(args, "composite", None)),
                                  ("--compare", getattr(args, "compare_with", None))) if v]
    if given:
        raise AllenViewerError(f"Give either --session or {given[0]}, not both: the session names the genes.")
    if args.clip != "none" or args.planes or args.slices is not None:
        raise AllenViewerError("--session draws the session's own cut-away and slice planes; leave out "
                               "--clip, --planes and --slices.")
    check_output_path(args.out, args.force, reads=[args.from_session])  # before the work, not after it
    session, record = read_session_record(args.from_session)
    data = atlas_data()
    grid = None
    if args.threshold_percentile is not None and session.experiment is not None:
        grid = data.load_grid(int(session.experiment.id))
    session = override_session(session, grid, threshold=args.threshold, percentile=args.threshold_percentile,
                               view=args.view)
    if what == "image":
        from allen_viewer.export.image import DEFAULT_IMAGE_SIZE, parse_size, session_image, text_scale_for

        size = parse_size(args.size) if args.size else None
        reference = recorded_text_reference_px(record)  # a window's screenshot: its own text sizes at its size
        scale = None if reference is None else text_scale_for(size or DEFAULT_IMAGE_SIZE, reference)
        result = session_image(session, args.out, size=size, caption=not args.no_caption, force=args.force,
                               data=data, transparent=args.transparent, text_scale=scale)
        grids = " and ".join(g.experiment.label for g in result["grids"])
        png, side = result["files"]
        print(f"Wrote a {result['width']}x{result['height']} image of {grids} from the session "
              f"{args.from_session} to {png} (provenance in {side})")
        return 0
    from tqdm import tqdm

    from allen_viewer.export.movie import parse_movie_size, session_movie

    # a bar on a terminal only (disable=None), as export movie ID's
    with tqdm(total=args.frames, desc="turntable", unit="frame", file=sys.stderr, disable=None, leave=False) as bar:
        result = session_movie(session, args.out, size=parse_movie_size(args.size) if args.size else None,
                               frames=args.frames, fps=args.fps, caption=not args.no_caption, force=args.force,
                               data=data, progress=lambda done, total: bar.update(done - bar.n))
    movie, side = result["files"]
    print(f"Wrote a {result['width']}x{result['height']} {result['frames']}-frame turntable of "
          f"{result['grid'].experiment.label} from the session {args.from_session} at {result['fps']:.3g} fps "
          f"to {movie} (provenance in {side})")
    return 0


def cmd_compare(args) -> int:
    from allen_viewer.export.tables import export_comparison

    check_output_path(args.out, args.force)  # before the work, not after it
    data = atlas_data()
    a = data.load_grid(pick(data, args.a))
    b = data.load_grid(pick(data, args.b))
    with claim_output(args.out, args.force) as out:
        result = export_comparison(a, b, data.reference_space, out,
                                   depth=args.depth, acronyms=structure_list(args.structures))
    print(f"{a.experiment.label} vs {b.experiment.label}: whole-brain r = {result['whole_brain_r']:.4f} "
          f"over the {result['whole_brain_voxels']} in-brain voxels where both have data (the root row); "
          f"{result['rows']} structures written to {args.out}")
    return 0


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



def add_export_commands(sub) -> None:
    """Register ``export WHAT`` and ``compare``."""
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

    from allen_viewer.cli.gene_sets import add_gene_set_options

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
    limit.add_argument("--threshold-percentile", type=percentile, default=None, metavar="P",
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
        e.add_argument("--size", default=None, metavar="WxH", help=f"{what} size in pixels (default {size})")
        e.add_argument("--view", default=None, choices=("dorsal", "lateral", "anterior", "oblique"),
                       help="camera preset, as the viewer's buttons (default oblique)" + view_help)
        e.add_argument("--session", dest="from_session", metavar="FILE", type=Path, default=None,
                       help="instead of ID|SYMBOL: redraw the figure a session shows (a session file, a sidecar "
                            "FILE.png.json, or an image with its sidecar): its genes, camera, display, cut-away, "
                            "slice planes, structures, cursor and compare options; --size, --threshold, "
                            "--threshold-percentile and --view given beside it override the session's")
        e.add_argument("--no-caption", action="store_true",
                       help="leave out the title and the credit line (the viewer's window draws neither)")
        if what == "image":
            e.add_argument("--transparent", action="store_true",
                           help="transparent background (dark text, for light pages)")
        limit = e.add_mutually_exclusive_group()
        limit.add_argument("--threshold", type=float, default=None, metavar="ENERGY",
                           help="voxels with expression energy below this are not drawn (an absolute value; with "
                                "--gene-set a score, 0-1)")
        limit.add_argument("--threshold-percentile", type=percentile, default=None, metavar="P",
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
