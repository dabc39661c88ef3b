"""`export image --clip/--planes/--slices`: cut-aways and slice planes in the off-screen figure.

Off-screen pyvista plotters, anti-aliasing off; the Pdyn grid and the CCFv3 annotation are the
real embedded data.
"""
from __future__ import annotations

from pathlib import Path

import json

import numpy as np
import pytest

from allen_viewer import cli
from allen_viewer.export.image import read_png_provenance, render_scene
from allen_viewer.render.cuts import FigureOptions
from allen_viewer.state import read_session

PDYN = 71717084
SIZE = (480, 360)


pytestmark = pytest.mark.usefixtures("no_anti_aliasing")  # tests/conftest.py


def _coloured(rgb: np.ndarray) -> np.ndarray:
    """Pixels with a clear hue (the viridis spheres, the atlas colours), not the greys of the
    background, the outline and the text."""
    rgb = rgb[:, :, :3].astype(int)
    return (rgb.max(axis=2) - rgb.min(axis=2)) > 40


def _render(pdyn, outline, view="dorsal", threshold=1.0, **figure):
    return render_scene(pdyn, outline, SIZE, view, display={"threshold": threshold}, caption="", orientation=False,
                        figure=FigureOptions(**figure) if figure else None)


def test_clip_left_empties_the_left_half_of_a_dorsal_view(pdyn, outline):
    """Dorsal view: the animal's left is on the screen's left.  The colour bar (top right)
    is left out of the count."""
    whole = _coloured(_render(pdyn, outline))[SIZE[1] // 5:]
    left_cut = _coloured(_render(pdyn, outline, clip="left"))[SIZE[1] // 5:]
    right_cut = _coloured(_render(pdyn, outline, clip="right"))[SIZE[1] // 5:]
    mid = SIZE[0] // 2
    margin = 8  # the half-sphere radius at the midline, in pixels, and the fit's rounding
    assert whole[:, :mid - margin].sum() > 1000 and whole[:, mid + margin:].sum() > 1000
    assert left_cut[:, :mid - margin].sum() == 0
    assert left_cut[:, mid + margin:].sum() > 0.8 * whole[:, mid + margin:].sum()
    assert right_cut[:, mid + margin:].sum() == 0 and right_cut[:, :mid - margin].sum() > 1000


def test_clip_left_shows_the_cut_face(outline):
    """From the left (lateral view) with the left hemisphere gone, the midline cut face is
    drawn: more of the brain's area is lighter than with the plain translucent outline."""
    plain = render_scene(None, outline, SIZE, "lateral", caption="", orientation=False)
    cut = render_scene(None, outline, SIZE, "lateral", caption="", orientation=False,
                       figure=FigureOptions(clip="left"))
    inside = plain.astype(int).sum(axis=2) > 0  # everything (the background is not black)
    assert (cut.astype(int).sum(axis=2) - plain.astype(int).sum(axis=2))[inside].mean() > 5


def test_planes_add_the_slice_pixels(pdyn, outline, reference_space):
    """The planes bring the atlas colours (and the heat map) into the picture; a plane moved
    with --slices changes where they are."""
    plain = _render(pdyn, outline, "oblique", 15.0)  # few spheres: the planes show
    planes = _render(pdyn, outline, "oblique", 15.0, planes=True, space=reference_space)
    moved = _render(pdyn, outline, "oblique", 15.0, planes=True, space=reference_space,
                    slices_um=(9000.0, 4000.0, 5700.0))

    def changed(a, b):
        return (np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 30).mean()

    assert changed(plain, planes) > 0.10  # a tenth of the picture is plane pixels
    assert changed(planes, moved) > 0.02
    with pytest.raises(Exception, match="reference space"):
        _render(pdyn, outline, planes=True)


def test_cli_clip_and_planes(tmp_path, capsys):
    out = tmp_path / "fig.png"
    rc = cli.main(["--offline", "export", "image", "Pdyn", "--out", str(out), "--size", "320x240",
                   "--clip", "left", "--planes", "--slices", "5000,4000,5700"])
    assert rc == 0, capsys.readouterr().err
    record = read_png_provenance(out)
    assert record["figure"] == {"cut_away": "left", "cut_away_hides": "the left hemisphere", "slice_planes": True,
                                "slices_um": [5000.0, 4000.0, 5700.0]}
    assert json.loads(Path(f"{out}.json").read_text())["figure"]["cut_away"] == "left"
    session = read_session(Path(f"{out}.json"))  # reopens as drawn: the cut, the planes at the slices
    assert (session.cut_away, session.slice_planes, session.cursor_um) == ("left", True, (5000.0, 4000.0, 5700.0))
    for bad in (["--clip", "middle"], ["--slices", "1,2"], ["--slices", "0,0,99999"], ["--slices", "nan,1,1"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(["--offline", "export", "image", "Pdyn", "--out", str(tmp_path / "x.png"), *bad])
        assert exc.value.code == 2
        assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
