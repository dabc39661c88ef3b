"""``export region-map``: every painted region's fill is the colour map at the value
``export structures`` writes for that structure and hemisphere (same options), checked on the
real Pdyn grid (resources/grids/71717084.zip), two structures also by plain numpy; a
sagittal experiment's uncovered hemisphere is hatched (a GENERATED grid of the fake server:
tests/fake_allen/data.py, Nrp1 sagittal 79913171; no sagittal grid is embedded)."""
import csv
import json
import re
import zipfile

import matplotlib
import numpy as np
import pytest
from defusedxml import ElementTree
from matplotlib.colors import to_hex

from allen_viewer import config
from allen_viewer.errors import AllenViewerError
from allen_viewer.export import tables
from allen_viewer.export.region_map import export_region_map

SVG = "{http://www.w3.org/2000/svg}"
AT = (5200.0, 4200.0, 3800.0)  # coronal through CP: 25 um voxel 208, grid voxel 26
CP_ID, STRD_ID, ISOCORTEX_ID = 672, 485, 315  # CP is at depth 6, STRd (its parent) and Isocortex at 5
SAGITTAL_ID = 79913171


def groups(root):
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if g.get("id")}


def fill_of(group) -> str:
    style = next(p for p in group.iter(f"{SVG}path")).get("style")
    return re.search(r"fill: ([^;]+)", style).group(1).strip()


def painted(root) -> dict[tuple[int, str], str]:
    out = {}
    for gid, g in groups(root).items():
        m = re.fullmatch(r"s(\d+)_(left|right)", gid)
        if m:
            out[(int(m.group(1)), m.group(2))] = fill_of(g)
    return out


def structures_csv(grid, space, tmp_path, **options) -> dict[tuple[int, str], float]:
    out = tmp_path / "structures.csv"
    tables.export_structures(grid, space, out, **options)
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {(int(r["structure_id"]), side): float(r[f"mean_energy_{side}"])
            for r in rows for side in ("left", "right") if r[f"mean_energy_{side}"] != ""}


def check_fills(fills: dict, values: dict) -> None:
    """Each fill is viridis at value / (largest painted value)."""
    assert fills and set(fills) <= set(values)
    vmax = max(values[k] for k in fills)
    cmap = matplotlib.colormaps["viridis"]
    for key, fill in fills.items():
        assert fill == to_hex(cmap(values[key] / vmax)), key


def plain_mean(structure_id, side, space):
    """Mean energy over a structure's in-brain grid voxels with data in one hemisphere, by plain numpy."""
    with zipfile.ZipFile(config.resources_dir() / "grids" / "71717084.zip") as zf:
        raw = np.frombuffer(zf.read("energy.raw"), "<f4").reshape(58, 41, 67).transpose(2, 1, 0)
    with zipfile.ZipFile(config.resources_dir() / "P56_Mouse_gridAnnotation.zip") as zf:
        ann = np.frombuffer(zf.read("gridAnnotation.raw"), "<u4").reshape(58, 41, 67).transpose(2, 1, 0)
    ids = list(space.ontology.descendant_ids(structure_id))
    half = np.zeros(ann.shape, bool)
    half[:, :, :29] = side == "left"
    half[:, :, 29:] = side == "right"
    keep = np.isin(ann, ids) & (ann > 0) & (raw != -1) & half
    return float(raw[keep].astype(np.float64).mean())


@pytest.fixture(scope="module")
def depth5(tmp_path_factory, pdyn, reference_space):
    out = tmp_path_factory.mktemp("rm") / "pdyn.svg"
    result = export_region_map(pdyn, reference_space, out, "coronal", AT, depth=5)
    return ElementTree.parse(out).getroot(), result, json.loads(result["files"][1].read_text())


def test_depth5_fills_equal_export_structures(depth5, pdyn, reference_space, tmp_path):
    root, result, side = depth5
    values = structures_csv(pdyn, reference_space, tmp_path, depth=5)
    fills = painted(root)
    check_fills(fills, values)
    # which regions: the depth-5 ancestor (or itself) of every structure on the section, both halves
    ont = reference_space.ontology
    ids = reference_space.label_ids[reference_space.labels25[208]]  # (DV, ML) Allen ids at 25 um
    right = np.rint(np.arange(ids.shape[1]) * 25 / 200) >= 29  # the grid ML index covering each column
    pairs = {(int(i), "right" if r else "left") for i, r in
             np.unique(np.stack([ids, np.broadcast_to(right, ids.shape)]).reshape(2, -1).T, axis=0).tolist() if i}

    def at_depth(sid):
        s = ont.by_id(sid)
        while s.depth > 5:
            s = s.parent
        return s.id

    expected = {(at_depth(sid), h) for sid, h in pairs}
    nodata = {(int(m.group(1)), m.group(2)) for gid in groups(root)
              if (m := re.fullmatch(r"nodata_s(\d+)_(left|right)", gid))}
    assert set(fills) | nodata == expected and not set(fills) & nodata
    assert all(k not in values for k in nodata)  # hatched exactly where export structures has no value
    # CP's pixels paint STRd's value (its depth-5 ancestor); cross-checked by plain numpy on both halves
    for h in ("left", "right"):
        assert (STRD_ID, h) in fills and (CP_ID, h) not in fills
        assert values[(STRD_ID, h)] == pytest.approx(plain_mean(STRD_ID, h, reference_space), rel=1e-9)
    # the sidecar lists every painted value with its colour
    listed = {(r["structure_id"], r["hemisphere"]): r for r in side["painted"]}
    assert set(listed) == expected
    for key, fill in fills.items():
        assert listed[key]["value"] == pytest.approx(values[key], rel=1e-12) and listed[key]["colour"] == fill


def test_structures_paint_only_those_and_descendants(pdyn, reference_space, tmp_path):
    out = tmp_path / "sel.svg"
    export_region_map(pdyn, reference_space, out, "coronal", AT, structures=["CP", "Isocortex"])
    root = ElementTree.parse(out).getroot()
    fills = painted(root)
    assert set(fills) == {(CP_ID, "left"), (CP_ID, "right"), (ISOCORTEX_ID, "left"), (ISOCORTEX_ID, "right")}
    check_fills(fills, structures_csv(pdyn, reference_space, tmp_path, acronyms=["CP", "Isocortex"]))
    isocortex_left = plain_mean(ISOCORTEX_ID, "left", reference_space)
    assert structures_csv(pdyn, reference_space, tmp_path)[(ISOCORTEX_ID, "left")] == pytest.approx(isocortex_left)
    assert structures_csv(pdyn, reference_space, tmp_path)[(CP_ID, "right")] == pytest.approx(
        plain_mean(CP_ID, "right", reference_space))
    # the rest is outlined: every other structure on the section has an outline path and no fill
    g = groups(root)
    chosen = set(reference_space.ontology.descendant_ids(CP_ID)) | set(reference_space.ontology.descendant_ids(
        ISOCORTEX_ID))
    rest = set(reference_space.label_ids[np.unique(reference_space.labels25[208])].tolist()) - chosen - {0}
    assert len(rest) > 20
    assert all(f"b{i}" in g and not {f"s{i}_left", f"s{i}_right", f"nodata_s{i}_left"} & set(g) for i in rest)


@pytest.fixture(scope="module")
def sagittal_grid(gene_index):
    """GENERATED (tests/fake_allen): Nrp1 sagittal, data on the left hemisphere only."""
    from allen_viewer.expression.grid import load_grid
    from tests.fake_allen.data import FakeAllenData

    data = FakeAllenData.shared().grid_zip(SAGITTAL_ID, include=["energy", "intensity", "density"])
    return load_grid(data, gene_index.by_id(SAGITTAL_ID))


def test_sagittal_uncovered_hemisphere_is_hatched(sagittal_grid, reference_space, tmp_path):
    # horizontal section: both halves on it; the right one has no data at all
    out = tmp_path / "h.svg"
    result = export_region_map(sagittal_grid, reference_space, out, "horizontal", AT, depth=5, value="density")
    root = ElementTree.parse(out).getroot()
    fills = painted(root)
    assert fills and {h for _, h in fills} == {"left"}
    hatched = [g for gid, g in groups(root).items() if re.fullmatch(r"nodata_s\d+_right", gid)]
    assert hatched and all(fill_of(g).startswith("url(#") for g in hatched)  # a hatch pattern
    assert all(r["colour"] is None for r in result["regions"] if r["hemisphere"] == "right")
    # density: the fills follow export structures' density columns
    csv_out = tmp_path / "d.csv"
    tables.export_structures(sagittal_grid, reference_space, csv_out, depth=5)
    with open(csv_out, newline="") as fh:
        values = {(int(r["structure_id"]), "left"): float(r["mean_density_left"]) for r in csv.DictReader(fh)
                  if r["mean_density_left"]}
    check_fills(fills, values)
    texts = {"".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")}
    assert "no voxel with data" in texts and any("expression density" in t for t in texts)
    # a sagittal section through the uncovered right hemisphere: all hatched, nothing painted
    out2 = tmp_path / "s.svg"
    export_region_map(sagittal_grid, reference_space, out2, "sagittal", (5200.0, 4200.0, 8000.0), depth=5)
    root2 = ElementTree.parse(out2).getroot()
    assert not painted(root2) and any(k.startswith("nodata_s") for k in groups(root2))


def test_pdf_one_page_and_refusals(pdyn, reference_space, tmp_path):
    out = tmp_path / "m.pdf"
    export_region_map(pdyn, reference_space, out, "coronal", AT, depth=4)
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == 1
    with pytest.raises(AllenViewerError, match="energy only"):
        export_region_map(pdyn, reference_space, tmp_path / "d.svg", "coronal", AT, value="density")
    with pytest.raises(AllenViewerError, match="not both"):
        export_region_map(pdyn, reference_space, tmp_path / "d.svg", "coronal", AT, depth=3, structures=["CP"])
    with pytest.raises(AllenViewerError):
        export_region_map(pdyn, reference_space, tmp_path / "d.svg", "coronal", AT, structures=["NOPE"])
    assert not (tmp_path / "d.svg").exists()


def test_cli_export_region_map(tmp_path, capsys):
    from allen_viewer.cli import main

    out = tmp_path / "r.png"
    assert main(["--offline", "export", "region-map", "71717084", "--plane", "coronal", "--at", "5200,4200,3800",
                 "--depth", "5", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    from allen_viewer.io.sidecars import sidecar_path

    side = json.loads(sidecar_path(out).read_text())
    assert side["export"] == "region map" and side["figure"]["depth"] == 5
    assert all((r["value"] is not None) == (r["colour"] is not None) for r in side["painted"])  # NaN -> null
    assert "region map of Pdyn" in capsys.readouterr().out
