"""Reading and validating the grid zips served by grid_data/download."""
import io
import zipfile

import numpy as np
import pytest

from allen_viewer import config
from allen_viewer.errors import CorruptData
from allen_viewer.formats import grid_file as gf

PDYN_ZIP = config.resources_dir() / "grids" / "71717084.zip"


def _independent_read(path, member="energy.raw"):
    """Read a raw straight from the zip, as the Allen docs describe (x fastest)."""
    with zipfile.ZipFile(path) as zf:
        return np.frombuffer(zf.read(member), "<f4").reshape(58, 41, 67).transpose(2, 1, 0)


def test_real_pdyn_zip_reads_as_ap_dv_ml():
    g = gf.read_grid_zip(PDYN_ZIP)
    assert set(g.volumes) == {"energy"}  # the real zip carries energy only
    e = g.volumes["energy"]
    assert e.shape == (67, 41, 58) and e.dtype == np.float32
    assert np.array_equal(e, _independent_read(PDYN_ZIP))
    assert (e == -1).sum() == 60307 and e[e != -1].min() >= 0
    assert g.data_set["id"] == "71717084" and g.data_set["reference-space-id"] == "9"


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


GOOD_RAW = np.zeros(gf.GRID_VALUES, "<f4").tobytes()


@pytest.mark.parametrize("members, message", [
    ({"energy.mhd": gf.mhd_header("energy.raw")}, "no energy"),
    ({"energy.mhd": gf.mhd_header("energy.raw"), "energy.raw": GOOD_RAW[:-4]}, "bytes"),
    ({"energy.mhd": gf.mhd_header("energy.raw").replace("67 41 58", "67 41 57"), "energy.raw": GOOD_RAW}, "DimSize"),
    ({"energy.mhd": gf.mhd_header("energy.raw", "MET_DOUBLE"), "energy.raw": GOOD_RAW}, "ElementType"),
    ({"energy.mhd": gf.mhd_header("energy.raw"), "energy.raw": GOOD_RAW, "../evil": b"x"}, "outside"),
    ({"energy.mhd": gf.mhd_header("energy.raw"), "energy.raw": GOOD_RAW, "intensity.raw": GOOD_RAW}, "no intensity.mhd"),
])
def test_bad_zips_are_rejected_with_a_reason(members, message):
    with pytest.raises(CorruptData, match=message):
        gf.read_grid_zip(_zip_bytes(members))


def test_truncated_and_non_zip_bytes():
    data = PDYN_ZIP.read_bytes()
    with pytest.raises(CorruptData):
        gf.read_grid_zip(data[: len(data) // 2])
    with pytest.raises(CorruptData):
        gf.read_grid_zip(b"<html><body>Service unavailable</body></html>")


def test_xml_entity_expansion_is_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            b"<section-data-set><id>&b;</id></section-data-set>")
    with pytest.raises(CorruptData, match="XML"):
        gf.parse_data_set_xml(bomb)


def test_write_then_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)  # generated test data
    vols = {n: rng.random(gf.GRID_SHAPE, dtype=np.float32) for n in gf.VOLUME_NAMES}
    path = tmp_path / "g.zip"
    gf.write_grid_zip(path, vols)
    back = gf.read_grid_zip(path)
    for n in gf.VOLUME_NAMES:
        assert np.array_equal(back.volumes[n], vols[n])
