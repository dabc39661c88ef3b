"""The command-line layer of "back to the tissue": ``section-image`` and ``search-spatial``.

:func:`add_tissue_commands` registers them on the ``allen-viewer`` subparsers; each is a
few lines over the core (:mod:`allen_viewer.store.section_store`,
:mod:`allen_viewer.library.spatial`).  Heavy modules are imported inside the commands.
"""
from __future__ import annotations

from pathlib import Path

from allen_viewer import config
from allen_viewer.cli.common import PROG, atlas_data, library_of, pick
from allen_viewer.errors import AllenViewerError
from allen_viewer.io.guard import check_output_path, claim_output, output_errors, undo_on_failure


def parse_point(text: str) -> tuple[float, float, float]:
    """``AP,DV,ML`` in µm -> three floats; :class:`AllenViewerError` otherwise."""
    import math

    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise AllenViewerError(f"--at takes three numbers AP,DV,ML in micrometres (e.g. 5400,3000,2000), "
                               f"not {text!r}.")
    return values  # type: ignore[return-value]


def section_store(data):
    from allen_viewer.store.section_store import SectionImageStore

    return SectionImageStore(data.cache, data.client)


def cmd_section_image(args) -> int:
    import shutil

    from allen_viewer.io.atomic import atomic_write

    from allen_viewer.api.section_images import check_image_options

    ap, dv, ml = parse_point(args.at)
    check_image_options(args.downsample, None, "stained")
    out = check_output_path(args.out, args.force)  # refuses folders, devices, pipes, links
    if out.suffix.lower() not in (".jpg", ".jpeg"):
        raise AllenViewerError(f"section-image writes the JPEG as served: give FILE.jpg, not {out.name!r}.")
    data = atlas_data()
    exp = pick(data, args.experiment)
    view = "expression" if args.expression else "stained"
    sec = section_store(data).section_at(exp, ap, dv, ml, downsample=args.downsample, view=view)
    with claim_output(out, args.force):  # locked and checked again: the JPEG and its sidecar together
        with open(sec.path, "rb") as src, output_errors(out), atomic_write(out) as fh:  # ENOSPC, EIO: one line
            shutil.copyfileobj(src, fh)
        with undo_on_failure(out):  # a sidecar that cannot be written takes the JPEG with it
            side = _section_sidecar(data, exp, sec, out, ap, dv, ml, view)
    (fx, fy), (dx, dy) = sec.pixel_full, sec.pixel
    print(f"{exp.label}: section {sec.section_number} (image {sec.image_id}), point at pixel "
          f"({dx:.1f}, {dy:.1f}) of the downsample-{sec.downsample} image ({fx:.1f}, {fy:.1f} at full "
          f"resolution); wrote {out} and {side}")
    return 0


def _section_sidecar(data, exp, sec, out: Path, ap: float, dv: float, ml: float, view: str) -> Path:
    import json

    from allen_viewer.export.provenance import provenance, write_sidecar

    (fx, fy), (dx, dy) = sec.pixel_full, sec.pixel
    record = provenance([], "section-image", **{
        "experiment": {"experiment_id": exp.id, "gene": exp.symbol, "plane": exp.plane,
                       "experiment_page": config.experiment_page(exp.id)},
        "point_um": {"ap": ap, "dv": dv, "ml": ml},
        "section_image_id": sec.image_id, "section_number": sec.section_number,
        "view": view, "downsample": sec.downsample,
        "pixel_full_resolution": {"x": fx, "y": fy},
        "pixel_at_downsample": {"x": dx, "y": dy},
        "pixel_note": "x = column, y = row from the image's top-left corner; may lie outside the image",
        "source_url": config.public_url(data.client.section_image_url(sec.image_id, sec.downsample, None, view)),
    })
    record.pop("experiments", None)
    record.pop("grid", None)
    return write_sidecar(out, json.loads(json.dumps(record, default=str)))


def cmd_search_spatial(args) -> int:
    from allen_viewer.export.spatial import check_spatial_path, write_spatial_csv, write_spatial_nrrd
    from allen_viewer.library.spatial import spatial_correlation
    at = parse_point(args.at)
    suffix = check_spatial_path(args.out)
    out = check_output_path(args.out, args.force)  # refuses folders, devices, pipes, links
    data = atlas_data()
    library = library_of(data)
    if not library.exists():
        raise AllenViewerError(f"The library at {library.root} holds no experiments yet; run "
                               f"`{PROG} library sync` first.")
    result = spatial_correlation(library, at, plane=args.plane, min_overlap=args.min_overlap)
    with claim_output(out, args.force):  # locked and checked again: the map and its sidecar together
        n = write_spatial_csv(result, out) if suffix == ".csv" else write_spatial_nrrd(result, out)
        with undo_on_failure(out):  # a sidecar that cannot be written takes the CSV / NRRD with it
            side = _spatial_sidecar(result, library, at, n, out)
    print(f"Seed voxel (AP, DV, ML) = {', '.join(str(i) for i in result.seed_voxel)} at "
          f"{', '.join(str(200 * i) for i in result.seed_voxel)} um; {result.experiments} {result.plane} "
          f"experiments have data there; r for {n} in-brain voxels written to {out}")
    return 0


def _spatial_sidecar(result, library, at, n: int, out: Path) -> Path:
    from allen_viewer.export.provenance import provenance, write_sidecar

    seed_um = [200 * i for i in result.seed_voxel]
    record = provenance([], "search-spatial", **{
        "point_um": list(at), "seed_voxel": list(result.seed_voxel), "seed_um": seed_um,
        "plane": result.plane, "min_overlap": result.min_overlap, "experiments_with_data_at_seed": result.experiments,
        "library": {"root": str(library.root), "experiments": len(library)}, "voxels_with_result": n,
        "method": "per in-brain voxel (200 um gridAnnotation > 0): Pearson r across the library's experiments "
                  f"({'coronal only' if result.plane == 'coronal' else result.plane}) between the seed voxel's "
                  "energy and the voxel's, over the experiments with data at both (at least min_overlap), "
                  "float16-rounded energies; no result (empty / NaN) below that or where either side is constant",
    })
    record.pop("experiments", None)
    return write_sidecar(out, record)


def add_tissue_commands(sub) -> None:
    """Register ``section-image`` and ``search-spatial`` on an argparse subparsers object."""
    p = sub.add_parser("section-image", help="download the original ISH section image at a point, with its pixel")
    p.add_argument("experiment", metavar="ID|SYMBOL", help="an experiment id, or a gene symbol (its coronal "
                                                           "experiment when there is one)")
    p.add_argument("--at", required=True, metavar="AP,DV,ML",
                   help="the point in CCF micrometres (e.g. 5400,3000,2000; negative values: --at=-100,...)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.jpg",
                   help="the JPEG as served; its sidecar FILE.jpg.json gets the section and the point's pixel")
    p.add_argument("--downsample", type=int, default=4, metavar="N",
                   help="each side divided by 2**N (default 4: a ~12,000 px section becomes ~750 px)")
    p.add_argument("--expression", action="store_true", help="the expression mask instead of the stained image")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_section_image)

    p = sub.add_parser("search-spatial", help="voxels whose expression across the library correlates with a point's")
    p.add_argument("--at", required=True, metavar="AP,DV,ML", help="the seed point in CCF micrometres; the seed is "
                                                                   "the grid voxel nearest to it")
    p.add_argument("--plane", choices=("coronal", "all"), default="coronal",
                   help="coronal experiments only (default; they cover both hemispheres) or all")
    p.add_argument("--min-overlap", type=int, default=20, metavar="N",
                   help="fewest experiments with data at both voxels for an r (default 20)")
    p.add_argument("--out", type=Path, required=True, metavar="FILE.csv|FILE.nrrd",
                   help="CSV: one row per in-brain voxel with a result; NRRD: the r map, NaN where none")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_search_spatial)
