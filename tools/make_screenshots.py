"""Make the documentation's screenshots with the app itself.

Run from the repository root under a display (a virtual one is fine)::

    xvfb-run -a -s "-screen 0 1920x1080x24" python tools/make_screenshots.py [--only NAME ...]

Every picture is made by the viewer's own code in a fresh process, with an empty
temporary cache and settings (nothing of the user's is read or changed), on the embedded
data -- the real Allen grids of Pdyn and Nrp1, the CCFv3 annotation and ontology:

=========================== ================================================================
``docs/screenshot.png``     ``allen-viewer --offline --gene Pdyn --screenshot ...`` (README)
``docs/compare.png``        ``... --gene Pdyn --compare Nrp1 --screenshot ...`` (README)
``docs/images/structure.png`` ``... --gene Pdyn --structure CP --screenshot ...``
``docs/images/export-lateral.png`` ``allen-viewer export image Pdyn --view lateral --size 1200x800``
``docs/images/export-clip.png`` ``allen-viewer export image Pdyn --clip left --size 1200x800``
``docs/images/export-planes.png`` ``allen-viewer export image Pdyn --planes --slices 5000,4000,5700
                            --threshold 12 --size 1200x800``
``docs/images/first-run.png`` the window at first start with the network up: the offer of the
                            Nissl download (the "network" is the loopback fake Allen server of
                            ``tests/fake_allen``; nothing is downloaded and nothing of the fake
                            server's data is in the picture)
``docs/images/section-dock.png`` the Section dock after a click in the caudoputamen, against
                            the loopback fake Allen server: the section image in it is a
                            GENERATED test image (``tests/fake_allen/sections.py``), not Allen
                            data, and says so in its corner; the spheres are coloured by the fake
                            server's GENERATED intensity (the guide's caption says so)
``docs/images/figures.png`` offline, Pdyn: structure surfaces styled as :data:`FIGURE_STYLES`
                            (right-click menu choices), the neutral surface colour, acronyms on
                            the slice panes, the cursor at the voxel a click at the view's centre
                            picks
``docs/images/offline.png`` the window at start-up with no network (every connection refused,
                            through a proxy address nothing listens on): the offline note, and
                            the gene search listing the experiments of "Calb" with where each
                            would come from
=========================== ================================================================

Size: a picture over :data:`MAX_LOSSLESS_BYTES` is reduced to 256 colours (median cut),
which keeps each under 600 KB and all of them under 3 MB; the rest stay as the app wrote
them.  The script prints each file, its size and whether it was reduced.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
IMAGES = DOCS / "images"
MAX_LOSSLESS_BYTES = 560_000
"""A screenshot bigger than this as written by the app is reduced to 256 colours."""
LIMIT_BYTES = 600_000
WINDOW_SIZE = (1600, 1000)

CLI_SHOTS = {
    "screenshot": (DOCS / "screenshot.png", ["--offline", "--gene", "Pdyn", "--screenshot"]),
    "compare": (DOCS / "compare.png", ["--offline", "--gene", "Pdyn", "--compare", "Nrp1", "--screenshot"]),
    "structure": (IMAGES / "structure.png", ["--offline", "--gene", "Pdyn", "--structure", "CP", "--screenshot"]),
}
EXPORT_SHOTS = {
    "export-lateral": (IMAGES / "export-lateral.png",
                       ["--offline", "export", "image", "Pdyn", "--view", "lateral", "--size", "1200x800"]),
    "export-clip": (IMAGES / "export-clip.png",
                    ["--offline", "export", "image", "Pdyn", "--clip", "left", "--size", "1200x800"]),
    "export-planes": (IMAGES / "export-planes.png",
                      ["--offline", "export", "image", "Pdyn", "--planes", "--slices", "5000,4000,5700",
                       "--threshold", "12", "--size", "1200x800"]),
    "composite": (IMAGES / "composite.png",
                  ["--offline", "export", "image", "--composite", "Pdyn,Nrp1", "--size", "1200x800"]),
    "gene-set": (IMAGES / "gene-set.png",
                 ["--offline", "export", "image", "--gene-set", "Pdyn,Nrp1", "--size", "1200x800"]),
}
WINDOW_SHOTS = {"first-run": IMAGES / "first-run.png", "offline": IMAGES / "offline.png",
                "section": IMAGES / "section-dock.png", "figures": IMAGES / "figures.png"}
FIGURE_STYLES = (("CP", (255, 140, 0), 0.5), ("TH", None, 0.2), ("HIP", None, None))
"""The figures shot (offline): CP in orange at 50 %, TH neutral at 20 %, HIP neutral at the
default opacity; structure labels on; the cursor where a click at the centre of the view picks."""
SECTION_POINT_UM = (5000.0, 4000.0, 3750.0)
"""Where the section shot clicks: the left caudoputamen."""


def _env(tmp: Path, **extra) -> dict:
    env = dict(os.environ)
    for key in ("ALLEN_VIEWER_OFFLINE", "ALLEN_API_URL", "ALLEN_DOWNLOAD_URL"):
        env.pop(key, None)
    env.update(ALLEN_VIEWER_CACHE=str(tmp / "cache"), ALLEN_VIEWER_SETTINGS=str(tmp / "settings.ini"),
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    env.update(extra)
    return env


def _run(args: list[str], env: dict) -> None:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{result.stdout}{result.stderr}")


def fit(path: Path) -> str:
    """Keep ``path`` as written when it is small enough, else reduce it to 256 colours."""
    from PIL import Image

    size = path.stat().st_size
    if size <= MAX_LOSSLESS_BYTES:
        return f"{size / 1e3:.0f} KB"
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    buf = io.BytesIO()
    rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(buf, "PNG", optimize=True)
    path.write_bytes(buf.getvalue())
    note = f"{path.stat().st_size / 1e3:.0f} KB (256 colours; {size / 1e3:.0f} KB as written)"
    if path.stat().st_size > LIMIT_BYTES:
        sys.exit(f"{path} is still {note}")
    return note


# ---- pictures made inside a window of this process (run in a child process) --------------------

def window_shot(name: str, out: Path) -> None:
    """Make one of :data:`WINDOW_SHOTS` (runs in a fresh child process; see :func:`main`)."""
    import pyvista as pv
    from PySide6.QtCore import Qt

    from allen_viewer.data import AtlasData
    from allen_viewer.gui.app import ensure_app, wait_until
    from allen_viewer.gui.main_window import MainWindow
    from allen_viewer.gui.settings import ViewerSettings

    pv.global_theme.anti_aliasing = None
    app = ensure_app()
    server = None
    if name in ("first-run", "section"):
        from tests.fake_allen.data import FakeAllenData
        from tests.fake_allen.server import FakeAllen

        os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
        server = FakeAllen(FakeAllenData.shared()).start()
        os.environ["ALLEN_API_URL"] = server.api_url
        os.environ["ALLEN_DOWNLOAD_URL"] = server.download_url
    window = MainWindow(AtlasData(), ViewerSettings(read_only=True), restore_layout=False)
    try:
        window.resize(*WINDOW_SIZE)
        window.show()
        window.request_gene("Pdyn")

        def ready() -> bool:
            return (window.grid is not None and window.atlas_loaded and window.outline_mesh is not None
                    and not window.is_busy() and window.network != "unknown")

        if not wait_until(app, ready, 120):
            sys.exit(f"{name}: the window did not load")
        if name == "first-run" and not window.nissl_offer.isVisible():
            sys.exit("first-run: the Nissl offer did not show")
        if name == "offline":
            if not window.offline_note.isVisible():
                sys.exit(f"offline: no offline note (the probe said: {window.first_run.probe_result})")
            window.search_panel.search_box.setText("Calb")
        if name == "section":
            window.section_dock.show()
            window.resizeDocks([window.section_dock], [520], Qt.Orientation.Horizontal)
            window.set_cursor_um(SECTION_POINT_UM)
            window.section_dock.show_point(SECTION_POINT_UM)
            panel = window.section_dock.panel
            if not wait_until(app, lambda: panel.current is not None and not panel.channel.busy, 60):
                sys.exit(f"section: no section image showed ({panel.status.text()})")
        if name == "figures":
            styles = window.structure_styles
            for acronym, color, opacity in FIGURE_STYLES:
                sid = window.ontology.get(acronym).id
                if color is not None:
                    styles.set_color(sid, color)
                if opacity is not None:
                    styles.set_opacity(sid, opacity)
                window.tree_panel.set_visible(sid, True)
            window.state.structure_labels = True
            if not wait_until(app, lambda: len(window.scene.structure_ids) == len(FIGURE_STYLES)
                              and not window.is_busy(), 60):
                sys.exit("figures: the structure surfaces did not show")
            width, height = window.scene.plotter.render_window.GetSize()
            picked = window.scene.pick_display(width / 2, height / 2)
            if picked is None:
                sys.exit("figures: a click at the centre of the view picked nothing")
            window.set_cursor_um(picked, select=False)
        wait_until(app, lambda: False, 0.5)  # layouts settle, panes paint
        if not window.save_screenshot(out):
            sys.exit(f"could not write {out}")
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
        if server is not None:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    names = [*CLI_SHOTS, *EXPORT_SHOTS, *WINDOW_SHOTS]
    parser.add_argument("--only", nargs="+", choices=names, help="make only these pictures")
    parser.add_argument("--window-shot", nargs=2, metavar=("NAME", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.window_shot:
        window_shot(args.window_shot[0], Path(args.window_shot[1]))
        return
    wanted = args.only or names
    IMAGES.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    for name in wanted:
        with tempfile.TemporaryDirectory(prefix="allen_viewer_shots_") as tmp_name:
            tmp = Path(tmp_name)
            if name in CLI_SHOTS:
                out, cli = CLI_SHOTS[name]
                # --force: the picture and its own sidecar (FILE.png.json) replace the previous ones
                _run(["-m", "allen_viewer", *cli, str(out), "--force"], _env(tmp))
            elif name in EXPORT_SHOTS:
                out, cli = EXPORT_SHOTS[name]
                _run(["-m", "allen_viewer", *cli, "--out", str(tmp / out.name)], _env(tmp, ALLEN_VIEWER_OFFLINE="1"))
                shutil.copyfile(tmp / out.name, out)  # not the provenance sidecar (it is in the PNG's text too)
            else:
                out = WINDOW_SHOTS[name]
                extra = {}
                if name == "figures":
                    extra = {"ALLEN_VIEWER_OFFLINE": "1"}
                if name == "offline":  # no network: every request goes to a proxy nothing listens on
                    extra = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
                             "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
                             "NO_PROXY": "", "no_proxy": ""}
                _run([str(Path(__file__).resolve()), "--window-shot", name, str(out)], _env(tmp, **extra))
        print(f"{out.relative_to(ROOT)}: {fit(out)}")
        made.append(out)
    total = sum(p.stat().st_size for p in made)
    print(f"{len(made)} pictures, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
