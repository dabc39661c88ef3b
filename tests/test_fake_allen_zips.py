"""The fake Allen server's grid zips are the same bytes whenever they are built: every member
is stamped ``ZIP_DATE_TIME``, not the current second (two downloads that straddled a second
used to differ, and tests/api/test_client.py compares two downloads)."""
from __future__ import annotations

import io
import time
import zipfile

from tests.fake_allen.data import ZIP_DATE_TIME
from tests.fake_allen.fixtures import fake_allen_data  # noqa: F401

NRP1_SAGITTAL = 79913171  # not embedded: its zip is GENERATED
PDYN_CORONAL = 71717084  # embedded: its zip with include= is built (real energy, GENERATED rest)


def test_zips_built_at_different_times_are_identical(fake_allen_data, monkeypatch):
    builds = []
    for clock in (1_000_000_000.0, 1_700_000_003.5):  # 2001 and 2023: far apart seconds
        monkeypatch.setattr(time, "time", lambda clock=clock: clock)
        builds.append([fake_allen_data.grid_zip(NRP1_SAGITTAL),
                       fake_allen_data.grid_zip(PDYN_CORONAL, ["energy", "intensity", "density"]),
                       fake_allen_data.grid_zip(NRP1_SAGITTAL, extra_members={"notes.txt": b"x"})])
    assert builds[0] == builds[1]
    for content in builds[0]:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            infos = zf.infolist()
        assert infos and all(i.date_time == ZIP_DATE_TIME for i in infos)
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
