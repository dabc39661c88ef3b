"""The command-line layer of many genes at once (issue 23): ``--gene-set`` / ``--gene-set-file``
on ``export voxels|structures|image|movie`` and ``search-correlated``, and ``--composite`` on
``export image|movie``.

:func:`add_gene_set_options` adds the options to a parser; :func:`many_genes` says whether a
parsed command asks for them; :func:`run_export` does the export.  A few lines over the core
(:mod:`allen_viewer.expression.gene_sets`, :mod:`allen_viewer.export.gene_sets`,
:mod:`allen_viewer.export.many_genes`).  Refusals are one :class:`AllenViewerError` line,
before anything is written; notes (duplicates, unknown symbols, one-hemisphere experiments)
are one ``allen-viewer: note: ...`` line each on stderr, with the output written.
"""
from __future__ import annotations

import sys
from pathlib import Path

from allen_viewer.cli.common import PROG, atlas_data, library_of, structure_list
from allen_viewer.errors import AllenViewerError


def add_gene_set_options(parser, composite: bool = False) -> None:
    """``--gene-set A,B,C`` and ``--gene-set-file FILE`` (and, for images and movies,
    ``--composite A,B[,C]`` and ``--palette``)."""
    parser.add_argument("--gene-set", metavar="A,B,C",
                        help="instead of one experiment: a gene set (2-500 symbols or ids, comma separated); its "
                             "score at an in-brain voxel is the mean percentile rank of the set's experiments with "
                             "data there, where at least half of them (ceil(k/2)) have data")
    parser.add_argument("--gene-set-file", type=Path, metavar="FILE",
                        help="the gene set from a text file: one symbol or id a line (or comma separated), # comments")
    if composite:
        parser.add_argument("--composite", metavar="A,B[,C]",
                            help="instead of one experiment: 2 or 3 genes, one colour each (two: green, magenta; "
                                 "three: --palette); a voxel is drawn where at least one gene's percentile rank is "
                                 ">= the --threshold-percentile (default 90); brightness 0 there, full at rank 1")
        parser.add_argument("--palette", choices=("rgb", "colour-blind"), default=None,
                            help="three-gene composite colours: rgb (red, green, blue; default) or colour-blind "
                                 "(orange, sky blue, reddish purple)")


def many_genes(args) -> bool:
    """True when the command asks for a gene set or a composite."""
    return bool(getattr(args, "gene_set", None) or getattr(args, "gene_set_file", None)
                or getattr(args, "composite", None))


def gene_set_members(args) -> list[str]:
    """The members of --gene-set or --gene-set-file (refused: both, or with an experiment)."""
    from allen_viewer.expression.gene_sets import parse_gene_set, read_gene_set_file

    if args.gene_set and args.gene_set_file:
        raise AllenViewerError("Give --gene-set or --gene-set-file, not both.")
    if args.gene_set_file:
        return read_gene_set_file(args.gene_set_file)
    return parse_gene_set(args.gene_set)


class _SetBar:
    """``progress(done, total)`` over a set's experiments -> one tqdm bar on stderr (a
    terminal only: pipes and logs get just the result line)."""

    def __init__(self, total: int):
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc="gene set", unit="exp", file=sys.stderr, disable=None, leave=False)

    def __call__(self, done: int, total: int | None) -> None:
        self._bar.update(done - self._bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()


def _note(text: str) -> None:
    print(f"{PROG}: note: {text}", file=sys.stderr)


def check_single(args) -> None:
    """Refuse an export command with neither an experiment nor a set, or with both."""
    given = [name for name, v in (("an experiment", getattr(args, "experiment", None)),
                                  ("--gene-set", getattr(args, "gene_set", None)),
                                  ("--gene-set-file", getattr(args, "gene_set_file", None)),
                                  ("--composite", getattr(args, "composite", None))) if v]
    if not given:
        raise AllenViewerError("Give an experiment (an id or a gene symbol), --gene-set, --gene-set-file or "
                               "--composite.")
    if len(given) > 1 and not (given == ["--gene-set", "--gene-set-file"]):
        raise AllenViewerError(f"Give one of {' or '.join(given)}, not both.")


def resolve_set(args, data):
    from allen_viewer.expression.gene_sets import resolve_gene_set

    return resolve_gene_set(data.gene_index, gene_set_members(args))


def _composite_set(args, data):
    from allen_viewer.expression.gene_sets import parse_gene_set, resolve_gene_set

    members = parse_gene_set(args.composite)
    s = resolve_gene_set(data.gene_index, members, what="composite")
    if s.k > 3:
        raise AllenViewerError(f"A composite shows 2 or 3 genes; --composite names {s.k}.")
    return s


def _figure_refused(args) -> None:
    if getattr(args, "clip", "none") != "none" or getattr(args, "planes", False) or getattr(args, "slices", None):
        raise AllenViewerError("--clip, --planes and --slices are not drawn with --gene-set or --composite yet; "
                               "leave them out.")


def run_export(args, what: str) -> int:
    """``export voxels|structures|image|movie`` of a gene set or a composite."""
    from allen_viewer.io.guard import check_output_path

    check_single(args)
    check_output_path(args.out, args.force)  # before the work
    if what in ("image", "movie"):
        _figure_refused(args)
    data = atlas_data()
    if getattr(args, "composite", None):
        return _composite(args, data, what)
    s = resolve_set(args, data)
    for n in s.notes:
        _note(n)
    from allen_viewer.expression.gene_sets import score_map

    with _SetBar(s.k) as bar:  # one bar for the whole set, on a terminal only
        smap = score_map(data, s, library_of(data), progress=bar)
    out = check_output_path(args.out, args.force)
    where = "the local library" if smap.source == "library" else "the experiments' grid files"
    label = f"the gene set of {s.k} experiments (grids from {where})"
    if what == "voxels":
        from allen_viewer.export.gene_sets import export_score_voxels

        if args.all_voxels:
            raise AllenViewerError("--all-voxels: a gene-set score exists only at in-brain voxels; leave it out.")
        n = export_score_voxels(smap, data.reference_space, out, structure=args.structure,
                                include_missing=args.include_missing)
        print(f"Wrote {n} voxels of {label} to {out}")
        return 0
    if what == "structures":
        from allen_viewer.export.gene_sets import export_score_structures

        n = export_score_structures(smap, data.reference_space, out, depth=args.depth,
                                    acronyms=structure_list(args.structures))
        print(f"Wrote {n} structures of {label} to {out}")
        return 0
    from allen_viewer.expression.gene_sets import score_threshold
    from allen_viewer.export.many_genes import many_session, score_display

    threshold, rule, pct = score_threshold(smap.score, args.threshold, args.threshold_percentile)
    display = score_display(smap.score, threshold, rule)
    session = many_session("gene-set", s.experiments, threshold, pct, args.view)
    caption = (f"Gene-set score: {', '.join(s.symbols[:6])}" + (f" and {s.k - 6} more" if s.k > 6 else "")
               + f" ({s.k} experiments)")
    return _scene_out(args, data, what, "score", smap.score, out, s.experiments, display, session, smap.record(),
                      caption, label)


def _composite(args, data, what: str) -> int:
    from allen_viewer.expression.gene_sets import COMPOSITE_THRESHOLD, load_set_grids, palette, percentile_ranks
    from allen_viewer.export.many_genes import composite_display, many_session
    from allen_viewer.io.guard import check_output_path

    if what not in ("image", "movie"):
        raise AllenViewerError("--composite draws images and movies; for tables use --gene-set.")
    if args.threshold is not None:
        raise AllenViewerError("--threshold is an energy; a composite's threshold is a percentile rank: use "
                               "--threshold-percentile P.")
    s = _composite_set(args, data)
    for n in s.notes:
        _note(n)
    if s.k == 2 and args.palette:
        _note("--palette chooses three-gene colours; two genes are green and magenta")
    colors = palette(s.k, None if s.k == 2 else args.palette)
    with _SetBar(s.k) as bar:  # the library when it holds all of them
        grids, source = load_set_grids(data, s, library_of(data), progress=bar)
    ranks = percentile_ranks(grids)
    pct = args.threshold_percentile
    t = COMPOSITE_THRESHOLD if pct is None else pct / 100.0
    if t >= 1.0:
        raise AllenViewerError("--threshold-percentile 100 would draw only the top voxel's brightness 0; give "
                               "less than 100.")
    rule = f"percentile rank >= {t:g} in at least one gene" + (" (default 90th percentile)" if pct is None else "")
    labels = [e.symbol for e in s.experiments]
    display = composite_display(ranks, colors, labels, t, rule)
    session = many_session("composite", s.experiments, t, 100.0 * t, args.view)
    out = check_output_path(args.out, args.force)
    caption = "Composite: " + ", ".join(f"{e.symbol} ({e.plane}, {e.id})" for e in s.experiments)
    extra = {"composite": {"experiments": [e.id for e in s.experiments],
                           "palette": [name for name, _ in colors], "notes": s.notes}, "grids_from": source}
    label = "the composite of " + ", ".join(labels)
    return _scene_out(args, data, what, "composite", (ranks, colors, labels), out, s.experiments, display, session,
                      extra, caption, label)


def _scene_out(args, data, what, kind, payload, out, experiments, display, session, extra, caption, label) -> int:
    from allen_viewer.render.meshes import brain_outline

    outline = brain_outline(data.reference_space)
    if what == "image":
        from allen_viewer.export.image import parse_size
        from allen_viewer.export.many_genes import export_many_image

        result = export_many_image(kind, payload, out, experiments, display, session, extra, outline=outline,
                                   size=parse_size(args.size), view=args.view, transparent=args.transparent,
                                   caption=caption)
        png, side = result["files"]
        print(f"Wrote a {result['width']}x{result['height']} {args.view} image of {label} to {png} "
              f"(provenance in {side})")
        return 0
    from allen_viewer.export.many_genes import export_many_movie
    from allen_viewer.export.movie import parse_movie_size

    result = export_many_movie(kind, payload, out, experiments, display, session, extra, outline=outline,
                               size=parse_movie_size(args.size), frames=args.frames, fps=args.fps, view=args.view,
                               caption=caption)
    movie, side = result["files"]
    rounded = " (H.264 needs even sides: rounded down)" if result["rounded"] else ""
    print(f"Wrote a {result['width']}x{result['height']}{rounded} {result['frames']}-frame turntable of {label} to "
          f"{movie} (provenance in {side})")
    return 0


def search_members(args) -> tuple[str, ...] | None:
    """The members of ``search-correlated --gene-set``, or None for a seed search (refusing
    a seed with a set, --remote with a set, and neither)."""
    if not (args.gene_set or args.gene_set_file):
        if not args.seed:
            raise AllenViewerError("Give a seed experiment (a gene symbol or an id), --gene-set or --gene-set-file.")
        return None
    if args.seed:
        raise AllenViewerError("Give a seed or --gene-set/--gene-set-file, not both.")
    if args.remote or args.remote_only:
        raise AllenViewerError("--remote: Allen's search service has no gene-set search; the set search runs over "
                               "the local library only.")
    return tuple(gene_set_members(args))
