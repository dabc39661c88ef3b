"""Drive the real viewer window through issue 25's scenarios and save a screenshot per step.

Run from the repository root under a display (a virtual one is fine)::

    xvfb-run -a -s "-screen 0 1920x1080x24" python tools/walkthrough.py OUT_FOLDER

The window runs offline on the embedded data (the real Allen grids of Pdyn and Nrp1, the
CCFv3 annotation and ontology), with an empty temporary cache and settings (nothing of the
user's is read or changed).  Mouse and keys are Qt's test events (``QTest``: presses, moves,
releases and key clicks at widget coordinates, through the real event loop), as a person's
would be.  Each step writes ``NN-name.png`` into OUT_FOLDER (made if missing; existing files
of the same names are replaced, nothing else is touched) and prints one line saying what to
look for; the last line is ``RESULT steps=N folder=...``.

Steps: the window at 1600x1000; "pd" typed in the gene search; the threshold slider dragged
40 px; the mouse resting on a slice pane while Up is pressed (the hover text); CP ticked and AON selected (the ticked surface stays visible); an off-screen export of
the 3-D view (it draws both surfaces and the cursor); the Section dock opened at 1600x1000;
compare mode with Nrp1 (the display controls stay, beside the compare options), the log2
ratio view; the comparison closed (the status bar); the window at 1000x650 and 800x500;
the About box.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="folder for the screenshots (made if missing)")
    args = parser.parse_args()
    out = args.out
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"walkthrough: cannot make the folder {out} ({exc.strerror or exc})", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="allen_viewer_walkthrough_") as tmp:
        os.environ.update(ALLEN_VIEWER_CACHE=str(Path(tmp) / "cache"), ALLEN_VIEWER_SETTINGS=str(Path(tmp) / "s.ini"),
                          ALLEN_VIEWER_OFFLINE="1")
        sys.path.insert(0, str(ROOT))
        return run(out)


def run(out: Path) -> int:
    import numpy as np
    import pyvista as pv
    from PIL import Image
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    from allen_viewer.data import AtlasData
    from allen_viewer.gui.app import ensure_app, wait_until
    from allen_viewer.gui.main_window import MainWindow
    from allen_viewer.gui.settings import ViewerSettings

    pv.global_theme.anti_aliasing = None
    app = ensure_app()
    steps = []

    def settle(seconds: float = 0.4) -> None:
        wait_until(app, lambda: False, seconds)

    def shot(name: str, note: str, widget=None) -> None:
        settle()
        path = out / f"{len(steps) + 1:02d}-{name}.png"
        pixmap = window.grab_window() if widget is None else widget.grab()
        if not pixmap.save(str(path)):
            raise SystemExit(f"walkthrough: could not write {path}")
        steps.append(path)
        print(f"{path}: {note}", flush=True)

    def handle(slider) -> QPoint:
        opt = QStyleOptionSlider()
        slider.initStyleOption(opt)
        return slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                             QStyle.SubControl.SC_SliderHandle, slider).center()

    def drag(widget, start: QPoint, dx: int) -> None:
        QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        for i in range(1, 5):
            QTest.mouseMove(widget, QPoint(start.x() + dx * i // 4, start.y()))
        QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                           QPoint(start.x() + dx, start.y()))

    window = MainWindow(AtlasData(), ViewerSettings(), restore_layout=False, notices=False)
    try:
        window.resize(1600, 1000)
        window.show()
        window.request_gene("Pdyn")
        if not wait_until(app, lambda: window.grid is not None and window.atlas_loaded
                          and window.outline_mesh is not None and not window.is_busy(), 180):
            raise SystemExit("walkthrough: the window did not load Pdyn")
        shot("start-1600x1000", "Pdyn at 1600x1000: Display dock on the right, docks on the left")

        box = window.search_panel.search_box
        QTest.mouseClick(box, Qt.MouseButton.LeftButton)
        QTest.keyClicks(box, "pd")
        settle()
        first = [window.search_panel.model.experiment(r).symbol for r in range(min(5, window.search_panel.model.rowCount()))]
        shot("search-pd", f"'pd' typed: first rows {first} (embedded Pdyn first)")
        box.clear()

        slider = window.controls.threshold.slider
        before = window.controls.threshold.value()
        drag(slider, handle(slider), 40)
        shot("threshold-drag-40px", f"threshold dragged 40 px: {before:.2f} -> {window.controls.threshold.value():.2f}")

        pane = window.slices.panes["sagittal"]
        QTest.mouseMove(pane.canvas, pane.canvas.image_rect().center().toPoint())
        pane.canvas.setFocus()
        for _ in range(10):
            QTest.keyClick(pane.canvas, Qt.Key.Key_Up)
        shot("hover-after-keys", f"mouse resting on the sagittal pane, 10 x Up: pane at '{pane.position.text()}', "
             f"status bar '{window.hover_label.text()[:90]}'")

        cp, aon = window.ontology.get("CP").id, window.ontology.get("AON").id
        window.tree_panel.set_visible(cp, True)
        window.surfaces.go_to_structure("AON")
        if not wait_until(app, lambda: {cp, aon} <= set(window.scene.structure_ids) and not window.is_busy(), 120):
            raise SystemExit("walkthrough: the surfaces of CP and AON did not show")
        shot("ticked-cp-selected-aon", f"CP ticked (opacity {window.scene.structure_opacity(cp):.2f}), AON selected "
             f"(opacity {window.scene.structure_opacity(aon):.2f})")

        pixels = window.exports.render_scene_pixels((1200, 800), None, False)
        path = out / f"{len(steps) + 1:02d}-export-with-surfaces.png"
        Image.fromarray(np.ascontiguousarray(pixels)).save(path)
        steps.append(path)
        print(f"{path}: File > Export > Image of the 3-D view (camera as on screen): spheres, outline, CP and AON "
              "surfaces, the cursor", flush=True)

        window.section_dock.toggleViewAction().trigger()
        settle(0.8)
        shot("section-dock-1600x1000", f"Section dock open: window {window.width()}x{window.height()}, dock "
             f"{window.section_dock.width()} px, Display dock {window.display_dock.width()} px")
        window.section_dock.toggleViewAction().trigger()

        window.compare.compare_with("Nrp1")
        if not wait_until(app, lambda: window.compare.is_comparing and not window.is_busy(), 120):
            raise SystemExit("walkthrough: compare mode did not open")
        shot("compare-with-controls", "compare mode: the Display dock stays beside the compare view and its options")
        window.compare_view.set_kind("ratio")
        shot("compare-log2-ratio", "the log2 ratio view: its colour-bar title on two lines")
        window.compare_view.set_kind("difference")
        QTest.mouseClick(window.compare_view.close_button, Qt.MouseButton.LeftButton)
        shot("compare-closed", f"comparison closed: status '{window.status_text[:80]}'")

        for size in ((1000, 650), (800, 500)):
            window.resize(*size)
            settle(0.6)
            shot(f"window-{size[0]}x{size[1]}", f"window at {window.width()}x{window.height()}")
        window.resize(1600, 1000)
        window.about_action.trigger()
        settle(0.6)
        about = window.dialogs.about_box
        shot("about", f"About box {about.width()}x{about.height()} (screen {about.screen().availableGeometry().height()} "
             "px high)", widget=about)
        about.close()
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
    print(f"RESULT steps={len(steps)} folder={out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
