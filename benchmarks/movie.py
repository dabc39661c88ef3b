"""Turntable movies (``allen-viewer export movie``): time per frame and file sizes.

Writes the real Pdyn experiment (71717084) with the brain outline, at the default frame
size (960 x 720) and threshold (90th percentile), as an MP4 and as a GIF of ``--frames``
frames each (default 24), through :func:`allen_viewer.export.movie.export_movie` -- the
code the command and the viewer run -- into a temporary folder.

Figures, per format: the whole export (scene built once, frames rendered and encoded,
sidecar written), the median time between two frames (one render + one encode; the MP4's
ffmpeg encodes in its own process meanwhile), the time before the first frame (the scene
built off screen and the turn planned), the file size, and the process's peak resident
memory after both.

    python benchmarks/movie.py [--frames N] [--size WxH]     # ~1 min on 2 cores

Runs without X (EGL/OSMesa off-screen) or under ``xvfb-run``.  The last line is ``RESULT
mp4_s=... mp4_frame_ms=... mp4_kb=... gif_s=... gif_frame_ms=... gif_kb=... first_frame_s=...
peak_rss_mb=...``.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="960x720")
    args = parser.parse_args()

    import pyvista as pv

    from allen_viewer import config
    from allen_viewer.atlas.ontology import Ontology
    from allen_viewer.atlas.reference_space import ReferenceSpace
    from allen_viewer.export.movie import export_movie, parse_movie_size
    from allen_viewer.expression.brain import percentile_threshold
    from allen_viewer.expression.grid import load_grid
    from allen_viewer.render.meshes import brain_outline
    from allen_viewer.store.gene_index import GeneIndex

    pv.global_theme.anti_aliasing = None
    size = parse_movie_size(args.size)
    res = config.resources_dir()
    index = GeneIndex.load(res / "gene_index.tsv.gz")
    grid = load_grid(res / "grids" / "71717084.zip", index.by_id(71717084))
    space = ReferenceSpace.load(Ontology.load(res / "structure_graph_1.json"), res / "annotation_25.nrrd",
                                res / "P56_Mouse_gridAnnotation.zip")
    outline = brain_outline(space, use_cache=False)
    threshold = percentile_threshold(grid, 90.0)
    print(f"Pdyn 71717084, {args.frames} frames of {size[0]}x{size[1]}, threshold {threshold:.3g} (90th percentile)")

    figures: dict[str, float] = {}
    first_frame = []
    with tempfile.TemporaryDirectory() as folder:
        for fmt in ("mp4", "gif"):
            stamps: list[float] = []
            start = time.perf_counter()
            result = export_movie(grid, Path(folder) / f"turn.{fmt}", outline, size=size, frames=args.frames,
                                  display={"threshold": threshold},
                                  progress=lambda done, total: stamps.append(time.perf_counter()))
            total = time.perf_counter() - start
            gaps = [b - a for a, b in zip(stamps, stamps[1:])]
            kb = result["files"][0].stat().st_size / 1024
            first_frame.append(stamps[0] - start)
            figures[f"{fmt}_s"] = total
            figures[f"{fmt}_frame_ms"] = statistics.median(gaps) * 1000
            figures[f"{fmt}_kb"] = kb
            print(f"{fmt}: {total:.2f} s in all; {figures[f'{fmt}_frame_ms']:.0f} ms a frame (median); "
                  f"first frame after {stamps[0] - start:.2f} s; {kb:.0f} KB "
                  f"({result['width']}x{result['height']}, {result['frames']} frames at {result['fps']:.3g} fps)")
    figures["first_frame_s"] = min(first_frame)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory {figures['peak_rss_mb']:.0f} MB")
    print("RESULT " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
