"""Section images: the client's SectionImage / reference_to_image / image_download calls and
the cache store, against the fake Allen server's GENERATED section images."""
from __future__ import annotations

import pytest

from allen_viewer.api.section_images import (
    ImageSync,
    NoSectionImage,
    UnknownSectionImage,
    check_jpeg,
    image_size_cap,
    parse_image_sync,
    parse_section_images,
    sync_coordinates,
)
from allen_viewer.errors import AllenViewerError, CorruptDownload, Offline
from allen_viewer.records import Experiment
from allen_viewer.store.cache import Cache
from allen_viewer.store.section_store import SectionImageStore
from tests.fake_allen import sections as fake_sections
from tests.fake_allen.fixtures import allen_client, allen_env, fake_allen, fake_allen_data  # noqa: F401

PDYN = Experiment(71717084, "Pdyn", "prodynorphin", 18610, "coronal")  # even id: the fake sends string ids


def test_parse_sync_liberal():
    msg = [{"image_sync": {"section_data_set_id": "479", "section_image_id": "1000", "section_number": 7.0,
                           "x": "-12.5", "y": 3.25}},
           {"image_sync": {"section_data_set_id": 5, "section_image_id": 9, "section_number": 1, "x": 1, "y": 2}}]
    assert parse_image_sync(msg, 479) == ImageSync(479, 1000, 7, -12.5, 3.25)
    assert parse_image_sync(msg, 5).section_image_id == 9
    assert parse_image_sync(msg, 6) is None
    assert parse_image_sync([], 479) is None
    assert parse_image_sync([{"image_sync": {"section_image_id": "x1", "x": 1, "y": 1}}], 479) is None
    assert ImageSync(1, 2, 3, 160.0, -32.0).pixel_at(4) == (10.0, -2.0)


def test_parse_section_rows_sorted_and_filtered():
    rows = [{"id": "30", "data_set_id": 1, "section_number": 3, "image_width": 100, "resolution": 1.05},
            {"id": 10, "data_set_id": 1, "section_number": "1", "extra": "ignored"},
            {"id": 20, "data_set_id": 1, "section_number": 2, "failed": True},
            {"id": 40, "data_set_id": 2, "section_number": 0},
            {"id": None, "section_number": 5}, "junk"]
    got = parse_section_images(rows, 1)
    assert [(s.id, s.section_number) for s in got] == [(10, 1), (30, 3)]
    assert got[1].image_width == 100 and got[1].resolution == 1.05


def test_sync_coordinates_are_ap_dv_ml():
    assert sync_coordinates(9, 100, 200, 300) == (100.0, 200.0, 300.0)
    assert sync_coordinates(10, 100, 200, 300) == (100.0, 200.0, 300.0)


def test_check_jpeg_rejects_html_and_truncation():
    body = fake_sections.jpeg(1, "coronal", 1, 5, "stained", None)
    assert check_jpeg(body, "x") == (185, 132)
    with pytest.raises(CorruptDownload, match="HTML"):
        check_jpeg(b"<html>404</html>", "x")
    with pytest.raises(CorruptDownload, match="cut short"):
        check_jpeg(body[: len(body) // 2], "x")
    assert image_size_cap(0) == 256 * 1024 * 1024 and image_size_cap(4) == 4 * 1024 * 1024


def test_client_lists_syncs_and_downloads(allen_client, fake_allen, tmp_path):
    rows = allen_client.section_images(PDYN.id)
    assert [s.section_number for s in rows] == fake_sections.section_numbers("coronal")
    ap, dv, ml = 5230.0, 4010.0, 2000.0
    sync = allen_client.image_sync(9, ap, dv, ml, PDYN.id)
    number, col, row = fake_sections.expected_pixel("coronal", ap, dv, ml)
    assert (sync.section_number, sync.x, sync.y) == (number, col, row)
    assert sync.section_image_id == fake_sections.image_id(PDYN.id, number)
    req = fake_allen.requests_to("/api/v2/reference_to_image/9.json")[-1]
    assert req.query["section_data_set_ids"] == [str(PDYN.id)] and float(req.query["x"][0]) == ap
    dest = allen_client.download_section_image(sync.section_image_id, tmp_path / "a.jpg", downsample=4,
                                               view="expression", quality=50)
    assert dest.read_bytes() == fake_sections.jpeg(PDYN.id, "coronal", number, 4, "expression", 50)
    req = fake_allen.requests_to("/api/v2/image_download/")[-1]
    assert req.query == {"downsample": ["4"], "quality": ["50"], "view": ["expression"]}


def test_unknown_image_is_typed_404(allen_client, tmp_path):
    with pytest.raises(UnknownSectionImage, match="no section image 123"):
        allen_client.download_section_image(123, tmp_path / "x.jpg")
    assert not (tmp_path / "x.jpg").exists() and list(tmp_path.iterdir()) == []


def test_html_page_and_truncated_image_never_saved(allen_client, fake_allen, tmp_path):
    image = fake_sections.image_id(PDYN.id, 5)
    fake_allen.inject("/api/v2/image_download/", "html", times=3)
    with pytest.raises(AllenViewerError, match="HTML"):
        allen_client.download_section_image(image, tmp_path / "x.jpg")
    fake_allen.inject("/api/v2/image_download/", "truncate", times=1, fraction=0.5)
    with pytest.raises(CorruptDownload, match="cut short"):
        allen_client.download_section_image(image, tmp_path / "x.jpg")
    fake_allen.inject("/api/v2/image_download/", "truncate", times=1, content_length=10**12)
    with pytest.raises(AllenViewerError, match="more than"):
        allen_client.download_section_image(image, tmp_path / "x.jpg", downsample=4)
    assert list(tmp_path.iterdir()) == []


def test_store_caches_and_works_offline(allen_client, fake_allen, monkeypatch, tmp_path):
    store = SectionImageStore(Cache(tmp_path / "cache"), allen_client)
    sag = Experiment(13, "Ndufv3", "NADH dehydrogenase", 78330, "sagittal")  # odd id: numeric ids
    view = store.section_at(sag, 6000.0, 3000.0, 1900.0, downsample=3)
    number, col, row = fake_sections.expected_pixel("sagittal", 6000.0, 3000.0, 1900.0)
    assert view.section_number == number and view.pixel_full == (col, row)
    assert view.pixel == (col / 8, row / 8)
    assert view.path == tmp_path / "cache" / "images" / f"{view.image_id}_ds3_stained_qdefault.jpg"
    n = len(fake_allen.requests)
    monkeypatch.setenv("ALLEN_VIEWER_OFFLINE", "1")
    again = store.section_at(sag, 6000.0, 3000.0, 1900.0, downsample=3)
    assert again == view and len(fake_allen.requests) == n
    with pytest.raises(Offline):
        store.section_at(sag, 6000.0, 3000.0, 1900.0, downsample=3, view="expression")
    monkeypatch.delenv("ALLEN_VIEWER_OFFLINE")
    nxt = store.neighbour(sag, number, +1, downsample=3)
    assert nxt.section_number == fake_sections.section_numbers("sagittal")[
        fake_sections.section_numbers("sagittal").index(number) + 1] and nxt.pixel is None
    # a damaged cache entry is quarantined and fetched again
    view.path.write_bytes(view.path.read_bytes()[:100])
    fresh = store.section_at(sag, 6000.0, 3000.0, 1900.0, downsample=3)
    assert fresh.path.read_bytes() == fake_sections.jpeg(sag.id, "sagittal", number, 3, "stained", None)
    assert any((tmp_path / "cache" / "quarantine").iterdir())


def test_neighbour_skips_missing_sections_and_stops_at_ends(allen_client, tmp_path):
    store = SectionImageStore(Cache(tmp_path / "cache"), allen_client)
    assert store.neighbour(PDYN, 10, +1, downsample=6).section_number == 12  # 11 is missing
    assert store.neighbour(PDYN, 12, -1, downsample=6).section_number == 10
    with pytest.raises(NoSectionImage):
        store.neighbour(PDYN, 1, -1, downsample=6)


def test_no_images_is_a_clear_message(allen_client, fake_allen, tmp_path):
    fake_allen.no_section_images.add(PDYN.id)
    store = SectionImageStore(Cache(tmp_path / "cache"), allen_client)
    with pytest.raises(NoSectionImage, match="no section image"):
        store.section_at(PDYN, 5000.0, 4000.0, 2000.0)
    with pytest.raises(NoSectionImage):
        store.neighbour(PDYN, 5, +1)
