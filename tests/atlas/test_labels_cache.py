"""The 25 µm labels: streamed from the NRRD, cached uncompressed, memory-mapped on later loads."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from allen_viewer import config
from allen_viewer.atlas import reference_space as rs
from allen_viewer.data import AtlasData
from allen_viewer.errors import CorruptData
from allen_viewer.store.cache import Cache

RES = config.resources_dir()
ANNOTATION = RES / "annotation_25.nrrd"
GRID = RES / "P56_Mouse_gridAnnotation.zip"


@pytest.fixture(scope="module")
def label_ids(ontology):
    return np.array(sorted({0} | {s.id for s in ontology}), dtype=np.uint32)


def _is_mapped(arr: np.ndarray) -> bool:
    base = arr
    while base is not None and not isinstance(base, np.memmap):
        base = getattr(base, "base", None)
    return isinstance(base, np.memmap)


def test_streamed_labels_equal_the_simpleitk_reading(reference_space, label_ids):
    """The streaming reader (no SimpleITK, 8 MB at a time) gives exactly the whole-volume result."""
    raw = rs.read_nrrd_volume(ANNOTATION, rs.ANNOTATION_SHAPE)  # SimpleITK, uint32 Allen ids
    assert reference_space.labels25.flags.c_contiguous and reference_space.labels25.dtype == np.uint16
    assert np.array_equal(label_ids[reference_space.labels25], raw)


def test_first_load_saves_the_labels_and_later_loads_map_them(tmp_path, label_ids, reference_space, monkeypatch):
    first = rs.cached_labels25(ANNOTATION, label_ids, tmp_path)
    files = list(tmp_path.glob("labels25-*.npy"))
    assert len(files) == 1 and files[0].stat().st_size > 154_000_000
    assert _is_mapped(first) and not first.flags.writeable
    assert np.array_equal(first, reference_space.labels25)

    def no_decoding(*_a, **_k):
        raise AssertionError("decoded again although the cached labels are there")

    monkeypatch.setattr(rs, "read_annotation_labels", no_decoding)
    again = rs.cached_labels25(ANNOTATION, label_ids, tmp_path)
    assert _is_mapped(again) and np.array_equal(again[::7, ::5, ::3], reference_space.labels25[::7, ::5, ::3])


def test_a_damaged_cached_copy_is_rebuilt(tmp_path, label_ids, reference_space, caplog):
    path = rs.labels_cache_path(ANNOTATION, label_ids, tmp_path)
    rs.cached_labels25(ANNOTATION, label_ids, tmp_path)
    with open(path, "r+b") as fh:  # cut in half, as a full disk or a killed copy would leave it
        fh.truncate(path.stat().st_size // 2)
    with caplog.at_level(logging.WARNING, logger=rs.__name__):
        labels = rs.cached_labels25(ANNOTATION, label_ids, tmp_path)
    assert "rebuilding" in caplog.text
    assert np.array_equal(labels, reference_space.labels25)
    assert path.stat().st_size > 154_000_000


def test_another_ontology_gets_its_own_copy_and_the_old_one_goes(tmp_path, label_ids):
    rs.cached_labels25(ANNOTATION, label_ids, tmp_path)
    more = np.array(sorted(set(label_ids.tolist()) | {4_000_000_000}), dtype=np.uint32)
    assert rs.labels_cache_path(ANNOTATION, more, tmp_path) != rs.labels_cache_path(ANNOTATION, label_ids, tmp_path)
    rs.cached_labels25(ANNOTATION, more, tmp_path)
    assert [p.name for p in tmp_path.glob("labels25-*.npy")] == [rs.labels_cache_path(ANNOTATION, more, tmp_path).name]


def test_an_unwritable_cache_keeps_the_labels_in_memory(tmp_path, label_ids, reference_space):
    blocked = tmp_path / "atlas"
    blocked.write_text("a file where the folder should be")
    labels = rs.cached_labels25(ANNOTATION, label_ids, blocked)
    assert not _is_mapped(labels)
    assert np.array_equal(labels, reference_space.labels25)


def test_a_truncated_annotation_is_corrupt_data(tmp_path, label_ids):
    cut = tmp_path / "annotation_25.nrrd"
    cut.write_bytes(ANNOTATION.read_bytes()[: ANNOTATION.stat().st_size // 2])
    with pytest.raises(CorruptData, match="annotation_25.nrrd"):
        rs.read_annotation_labels(cut, label_ids)


def test_an_annotation_of_another_size_is_corrupt_data(tmp_path, label_ids):
    text = ANNOTATION.read_bytes()
    odd = tmp_path / "odd.nrrd"
    odd.write_bytes(text.replace(b"sizes: 528 320 456", b"sizes: 528 320 455", 1))
    with pytest.raises(CorruptData, match="sizes"):
        rs.read_annotation_labels(odd, label_ids)


def test_atlas_data_maps_the_labels_from_the_cache(tmp_path, ontology):
    data = AtlasData(cache=Cache(tmp_path / "cache"))
    data.__dict__["ontology"] = ontology
    space = data.reference_space
    assert data.atlas_cache_dir == tmp_path / "cache" / "atlas"
    assert len(list(data.atlas_cache_dir.glob("labels25-*.npy"))) == 1
    assert _is_mapped(space.labels25)
    assert "brain_mask25" not in space.__dict__  # the mask is made on first use only
    assert space.structure_id_at_um([5000, 4000, 3750]) == 672  # caudoputamen, read through the map
