"""``export slice``: the vector figure checked against plain numpy readings of the real
Pdyn grid (resources/grids/71717084.zip) and the grid annotation."""
import json
import re
import zipfile

import numpy as np
import pytest
from defusedxml import ElementTree

from allen_viewer import config
from allen_viewer.errors import AllenViewerError
from allen_viewer.export.section_figure import section_at
from allen_viewer.export.slice_figure import export_slice_figure

SVG = "{http://www.w3.org/2000/svg}"
AT = (5200.0, 4200.0, 3800.0)
"""Through the left caudoputamen; 5200 um is exactly 25 um voxel 208 and grid voxel 26."""
CP_ID = 672


def raw_energy():
    with zipfile.ZipFile(config.resources_dir() / "grids" / "71717084.zip") as zf:
        return np.frombuffer(zf.read("energy.raw"), "<f4").reshape(58, 41, 67).transpose(2, 1, 0)


def raw_brain():
    with zipfile.ZipFile(config.resources_dir() / "P56_Mouse_gridAnnotation.zip") as zf:
        return np.frombuffer(zf.read("gridAnnotation.raw"), "<u4").reshape(58, 41, 67).transpose(2, 1, 0) > 0


def groups(root) -> dict[str, object]:
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}


def fill_of(group) -> str:
    style = next(p for p in group.iter(f"{SVG}path")).get("style")
    return re.search(r"fill: (#[0-9a-f]{6})", style).group(1)


@pytest.fixture(scope="module")
def coronal_svg(tmp_path_factory, pdyn, reference_space):
    out = tmp_path_factory.mktemp("slice") / "cp.svg"
    result = export_slice_figure(pdyn, reference_space, out, "coronal", AT, labels=True)
    root = ElementTree.parse(out).getroot()
    return out, result, root, json.loads(result["files"][1].read_text())


def test_voxel_rectangles_are_exactly_the_voxels_with_data_on_the_section(coronal_svg):
    _, result, root, side = coronal_svg
    raw, brain = raw_energy(), raw_brain()
    ap = 26  # 5200 um / 200 um
    expected = {f"v{ap}_{dv}_{ml}" for dv, ml in np.argwhere((raw[ap] != -1) & brain[ap]).tolist()}
    drawn = {gid for gid in groups(root) if re.fullmatch(r"v\d+_\d+_\d+", gid)}
    assert drawn == expected and result["voxels"] == len(expected) > 500
    # colours: viridis from 0 to the 99th percentile of the in-brain energies, saturating
    import matplotlib
    from matplotlib.colors import to_hex

    vmax = float(np.percentile(raw[(raw != -1) & brain], 99))
    g = groups(root)
    for gid in sorted(expected)[::25]:
        _, dv, ml = (int(v) for v in gid[1:].split("_"))
        want = to_hex(matplotlib.colormaps["viridis"](min(float(raw[ap, dv, ml]) / vmax, 1.0)))
        assert fill_of(g[gid]) == want, gid
    # the sidecar has the exact value of every voxel drawn
    values = {(v["ap"], v["dv"], v["ml"]): v["energy"] for v in side["voxels"]}
    assert len(values) == len(expected)
    assert all(np.float32(e) == raw[k] for k, e in values.items())
    assert side["display"]["colour_scale"] == [0.0, pytest.approx(vmax)]


def test_outlines_are_vector_paths_one_per_structure_on_the_section(coronal_svg, reference_space):
    _, result, root, _ = coronal_svg
    labels = reference_space.labels25[208]  # coronal: (DV, ML)
    ids = set(reference_space.label_ids[np.unique(labels)].tolist()) - {0}
    outlined = {int(gid[1:]) for gid in groups(root) if re.fullmatch(r"b\d+", gid)}
    assert outlined == ids and result["structures"] == len(ids)
    for gid in (f"b{CP_ID}", "brain_outline"):
        paths = list(groups(root)[gid].iter(f"{SVG}path"))
        assert len(paths) == 1 and paths[0].get("d").count("L") > 20  # a traced outline, not a box


def test_labels_orientation_scale_and_colour_bar_are_text(coronal_svg):
    _, result, root, side = coronal_svg
    texts = {"".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")}
    g = groups(root)
    assert "".join(next(g[f"label_{CP_ID}"].iter(f"{SVG}text")).itertext()) == "CP"
    assert result["labels"] == len(side["figure"]["labels"]) >= 20
    assert {"dorsal", "ventral", "left", "right", "1 mm"} <= texts
    assert any("expression energy" in t for t in texts)
    assert len(root.findall(f".//{SVG}image")) == 1  # the annotation background, the only raster


def test_orientation_words_and_scale_bar_lie_outside_the_brain(coronal_svg):
    _, _, root, _ = coronal_svg
    g = groups(root)
    d = next(g["brain_outline"].iter(f"{SVG}path")).get("d")
    xy = np.array(re.findall(r"(-?[\d.]+) (-?[\d.]+)", d), dtype=float)
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)

    def at(gid):
        t = next(g[gid].iter(f"{SVG}text"))
        if t.get("x") is None:  # rotated text: transform="translate(x y) rotate(-90)"
            return tuple(float(v) for v in re.search(r"translate\(([-\d.]+) ([-\d.]+)\)", t.get("transform")).groups())
        return float(t.get("x")), float(t.get("y"))

    assert at("orientation_top")[1] < y0 and at("orientation_bottom")[1] > y1
    assert at("orientation_left")[0] < x0 and at("orientation_right")[0] > x1
    assert at("scale_bar_label")[1] > y1


def test_pdf_has_one_page_and_the_session(tmp_path, pdyn, reference_space):
    out = tmp_path / "cp.pdf"
    files = export_slice_figure(pdyn, reference_space, out, "coronal", AT, background="none")["files"]
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == 1
    side = json.loads(files[1].read_text())
    assert side["session"]["cursor_um"] == list(AT)
    assert side["experiments"][0]["experiment_id"] == 71717084
    assert side["figure"]["background"] == "none"


def test_png_and_threshold(tmp_path, pdyn, reference_space):
    out = tmp_path / "cp.png"
    result = export_slice_figure(pdyn, reference_space, out, "sagittal", AT, threshold=10.0)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    raw, brain = raw_energy(), raw_brain()
    ml = int(np.rint(np.rint(AT[2] / 25) * 25 / 200))
    assert result["voxels"] == int(((raw[:, :, ml] != -1) & brain[:, :, ml] & (raw[:, :, ml] >= 10.0)).sum())


def test_nissl_background_is_a_raster_under_the_vectors(tmp_path, pdyn, reference_space):
    nissl = (reference_space.labels25[200:216] % 97).astype(np.float32)  # GENERATED stand-in, 16 slices
    volume = np.zeros(reference_space.labels25.shape, np.float32)
    volume[200:216] = nissl
    out = tmp_path / "n.svg"
    export_slice_figure(pdyn, reference_space, out, "coronal", AT, background="nissl", nissl=volume)
    assert ElementTree.parse(out).getroot().findall(f".//{SVG}image")


def test_refusals_are_one_line(tmp_path, pdyn, reference_space):
    with pytest.raises(AllenViewerError, match="Nissl volume is not downloaded"):
        export_slice_figure(pdyn, reference_space, tmp_path / "a.svg", "coronal", AT, background="nissl")
    with pytest.raises(AllenViewerError, match="FILE.svg, FILE.pdf or FILE.png"):
        export_slice_figure(pdyn, reference_space, tmp_path / "a.jpg", "coronal", AT)
    assert not list(tmp_path.iterdir())


def test_section_follows_the_panes(reference_space):
    s = section_at(reference_space, "horizontal", AT)
    assert s.labels.shape == (528, 456) and s.index25 == 168 and s.grid_index == 21


def test_cli_export_slice(tmp_path, capsys):
    from allen_viewer.cli import main

    out = tmp_path / "s.svg"
    args = ["--offline", "export", "slice", "71717084", "--plane", "coronal", "--at", "5200,4200,3800",
            "--labels", "--out", str(out)]
    assert main(args) == 0 and out.is_file()
    assert main(args) == 1  # exists: refused, kept
    err = capsys.readouterr().err
    assert "already exists" in err and "Traceback" not in err
    bad_at = ["--offline", "export", "slice", "71717084", "--plane", "coronal", "--at", "1,2", "--out",
              str(tmp_path / "u.svg")]
    assert main(bad_at) == 1 and "three numbers AP,DV,ML" in capsys.readouterr().err
    assert main(["--offline", "export", "slice", "71717084", "--plane", "coronal", "--at", "5200,4200,3800",
                 "--background", "nissl", "--out", str(tmp_path / "n.svg")]) == 1
    assert "download-reference nissl" in capsys.readouterr().err
    assert not (tmp_path / "n.svg").exists()
