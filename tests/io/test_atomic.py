"""The one atomic writer (allen_viewer/io/atomic.py) through its entry points other than
``atomic_write``'s special-file refusal (tests/faults/test_hostile_outputs.py has that):
the object form the transport's downloads use, the path form SimpleITK writers use, the
rename itself, and the temporary-name rule ``library sync`` cleans up by."""
from __future__ import annotations

import errno
import os
import stat

import pytest

from allen_viewer.io import atomic
from allen_viewer.io.atomic import AtomicFile, atomic_path, atomic_write, is_temporary, replace_file


def _names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_an_atomic_file_can_be_checked_by_path_before_it_replaces_the_target(tmp_path):
    target = tmp_path / "79913171.zip"
    target.write_bytes(b"old")
    with AtomicFile(target) as tmp:
        tmp.file.write(b"new bytes")
        tmp.sync()
        assert is_temporary(os.path.basename(tmp.name)) and os.path.dirname(tmp.name) == str(tmp_path)
        with open(tmp.name, "rb") as fh:  # what a validator reads: the whole, flushed body
            assert fh.read() == b"new bytes"
        assert target.read_bytes() == b"old"
        assert tmp.commit() == target
    assert target.read_bytes() == b"new bytes"
    assert _names(tmp_path) == ["79913171.zip"]
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~atomic._UMASK  # not mkstemp's 0600


def test_an_atomic_file_not_committed_leaves_nothing(tmp_path):
    target = tmp_path / "entry.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with AtomicFile(target) as tmp:
            tmp.file.write(b"half")
            raise RuntimeError("refused by the check")
    with AtomicFile(target) as tmp:  # closed without commit: discarded too
        tmp.file.write(b"half")
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["entry.bin"]


def test_a_full_disk_at_the_final_flush_keeps_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "index.tsv.gz"
    target.write_bytes(b"previous index")

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", no_space)
    with pytest.raises(OSError) as err:
        with atomic_write(target) as fh:
            fh.write(b"new index")
    assert err.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"previous index" and _names(tmp_path) == ["index.tsv.gz"]


def test_atomic_path_gives_a_writer_a_name_and_renames_it_on_success(tmp_path):
    target = tmp_path / "r.nrrd"
    with atomic_path(target, ".nrrd") as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".nrrd" and tmp.name.startswith(".r.nrrd.")
        assert tmp.read_bytes() == b""
        tmp.write_bytes(b"NRRD0004\n")  # as a library writing by file name would
    assert target.read_bytes() == b"NRRD0004\n" and _names(tmp_path) == ["r.nrrd"]
    with pytest.raises(RuntimeError):
        with atomic_path(target, ".nrrd") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"NRRD0004\n" and _names(tmp_path) == ["r.nrrd"]


def test_atomic_path_never_renames_over_a_link(tmp_path):
    (tmp_path / "real.nrrd").write_bytes(b"precious")
    link = tmp_path / "link.nrrd"
    link.symlink_to(tmp_path / "real.nrrd")
    with pytest.raises(OSError, match="not a regular file") as err:
        with atomic_path(link, ".nrrd") as tmp:
            tmp.write_bytes(b"new")
    assert err.value.errno == errno.EEXIST
    assert os.path.islink(link) and (tmp_path / "real.nrrd").read_bytes() == b"precious"
    assert _names(tmp_path) == ["link.nrrd", "real.nrrd"]


def test_replace_file_refuses_a_folder_and_leaves_the_source_to_its_caller(tmp_path):
    part = tmp_path / "ara_nissl_25.nrrd.part"  # a resumable download's own .part
    part.write_bytes(b"complete")
    (tmp_path / "ara_nissl_25.nrrd").mkdir()
    with pytest.raises(OSError, match="not a regular file"):
        replace_file(part, tmp_path / "ara_nissl_25.nrrd")
    assert part.read_bytes() == b"complete"
    replace_file(part, tmp_path / "done.nrrd")
    assert (tmp_path / "done.nrrd").read_bytes() == b"complete" and not part.exists()


def test_temporary_names_are_told_from_entries(tmp_path):
    with AtomicFile(tmp_path / "71717084.zip") as tmp:
        assert is_temporary(os.path.basename(tmp.name))
    for entry in ("71717084.zip", "gene_index.tsv.gz", "ara_nissl_25.nrrd.part", "manifest.json"):
        assert not is_temporary(entry)
    long_name = "x" * 246 + ".csv"  # 250 bytes: its temporary name must be cut to fit in 255
    with atomic_write(tmp_path / long_name) as fh:
        fh.write(b"ok")
    assert (tmp_path / long_name).read_bytes() == b"ok" and _names(tmp_path) == [long_name]
