"""Volume exports read back with SimpleITK."""
from pathlib import Path
import json

import numpy as np
import pytest
import SimpleITK as sitk

from allen_viewer import config
from allen_viewer.errors import AllenViewerError
from allen_viewer.formats import grid_file as gf
from allen_viewer.expression.grid import load_grid
from allen_viewer.export.volume import export_volume
from allen_viewer.records import Experiment

PDYN = Experiment(71717084, "Pdyn", "prodynorphin", 18610, "coronal")


@pytest.mark.parametrize("name", ["p.nrrd", "p.mhd"])
def test_round_trip(tmp_path, name):
    g = load_grid(config.resources_dir() / "grids" / "71717084.zip", PDYN)
    [path] = export_volume(g, tmp_path / name)
    image = sitk.ReadImage(str(path))
    assert image.GetSize() == (67, 41, 58)  # x = AP, y = DV, z = ML
    assert image.GetSpacing() == (200.0, 200.0, 200.0) and image.GetOrigin() == (0.0, 0.0, 0.0)
    arr = sitk.GetArrayFromImage(image).transpose(2, 1, 0)
    # the grid as served: outside-brain values are kept
    assert np.array_equal(arr[g.has_data_anywhere], g.energy[g.has_data_anywhere])
    assert (arr[~g.has_data_anywhere] == -1).all() and g.outside_brain.any()
    side = json.loads(Path(f"{tmp_path / name}.json").read_text())
    assert side["no_data_value"] == -1 and side["experiments"][0]["gene"] == "Pdyn"


def test_all_volumes_and_missing_volume(tmp_path):
    rng = np.random.default_rng(1)  # generated grid, not Allen data
    vols = {n: rng.random(gf.GRID_SHAPE, dtype=np.float32) for n in gf.VOLUME_NAMES}
    gf.write_grid_zip(tmp_path / "g.zip", vols)
    g = load_grid(tmp_path / "g.zip", Experiment(1, "Gen", "generated", None, "coronal"))
    paths = export_volume(g, tmp_path / "out" / "x.nrrd", volume="all")
    assert [p.name for p in paths] == ["x_energy.nrrd", "x_intensity.nrrd", "x_density.nrrd"]
    density = sitk.GetArrayFromImage(sitk.ReadImage(str(paths[2]))).transpose(2, 1, 0)
    assert np.allclose(density, vols["density"])
    pdyn = load_grid(config.resources_dir() / "grids" / "71717084.zip", PDYN)
    with pytest.raises(AllenViewerError, match="no density"):
        export_volume(pdyn, tmp_path / "d.nrrd", volume="density")
    with pytest.raises(AllenViewerError, match="nrrd or .mhd"):
        export_volume(pdyn, tmp_path / "d.tif")
    assert not (tmp_path / "d.nrrd").exists()
