"""Moving a slice in the slice panes: time of one 25 µm step, per plane.

A step re-renders the section (atlas colours, the expression heat map and the highlighted
structure's outline) and paints it (``repaint()`` is synchronous).  Pdyn is loaded, CP is
highlighted.  The reference, measured in the same run, is the least any slice viewer must do
for a step: take the 25 µm label section out of the volume (``np.take``) and map it through
the colour table.  Aim: a step under 20 ms (it used to be a timed test; timings belong here).

    xvfb-run -a python benchmarks/slices.py     (or QT_QPA_PLATFORM=offscreen: no OpenGL here)

Ends with ``RESULT step_ms_coronal=... step_ms_sagittal=... step_ms_horizontal=... ratio=...``
(ratio: the slowest plane's step over the reference).
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("ALLEN_VIEWER_CACHE", tempfile.mkdtemp(prefix="allen_viewer_bench_"))
os.environ["ALLEN_VIEWER_OFFLINE"] = "1"

import numpy as np  # noqa: E402

CP = 672
PDYN = 71717084
STEPS = 20


def main() -> None:
    from PySide6.QtWidgets import QApplication

    from allen_viewer.data import AtlasData
    from allen_viewer.gui.slice_view import SlicePanes, label_colors

    app = QApplication.instance() or QApplication([])
    data = AtlasData()
    space = data.reference_space
    grid = data.load_grid(data.experiment(PDYN))
    panes = SlicePanes()
    panes.set_reference_space(space)
    panes.resize(1300, 420)
    panes.show()
    app.processEvents()
    panes.fit_pane_widths()
    panes.set_grid(grid)
    panes.set_highlight(CP)

    medians = {}
    for name, pane in panes.panes.items():
        start = pane.slice_index
        pane.slider.setValue(start + 1)
        pane.canvas.repaint()  # warm up
        times = []
        for step in range(2, 2 + STEPS):
            t0 = time.perf_counter()
            pane.slider.setValue(start + step)
            pane.canvas.repaint()
            times.append(time.perf_counter() - t0)
        medians[name] = statistics.median(times)
        print(f"{name:>10}: step median {medians[name] * 1000:6.1f} ms, worst {max(times) * 1000:6.1f} ms")

    rgb = label_colors(space)
    ref = []
    for step in range(STEPS):
        t0 = time.perf_counter()
        section = np.take(space.labels25, 200 + step, axis=0)
        rgb[section]  # labels25 holds compact labels: indices into the colour table
        ref.append(time.perf_counter() - t0)
    ref_median = statistics.median(ref)
    print(f" reference: take + colour table {ref_median * 1000:6.1f} ms")
    ratio = max(medians.values()) / ref_median
    print("RESULT " + " ".join(f"step_ms_{k}={v * 1000:.1f}" for k, v in medians.items()) + f" ratio={ratio:.1f}")
    panes.close()


if __name__ == "__main__":
    main()
