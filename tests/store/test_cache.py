"""Cache: layout, validation once per process, quarantine of damaged entries, bad folders."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from allen_viewer import config
from allen_viewer.errors import AllenViewerError, CorruptData
from allen_viewer.store import cache as cache_module
from allen_viewer.store.cache import Cache

PDYN = 71717084


def _real_grid() -> Path:
    return config.resources_dir() / "grids" / f"{PDYN}.zip"


def _put_grid(cache: Cache, experiment_id: int = PDYN, content: bytes | None = None) -> Path:
    path = cache.grid_path(experiment_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_real_grid().read_bytes() if content is None else content)
    return path


def test_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLEN_VIEWER_CACHE", str(tmp_path / "c"))
    cache = Cache()
    assert cache.root == tmp_path / "c"
    assert cache.grid_path(PDYN) == tmp_path / "c" / "grids" / "71717084.zip"
    assert cache.reference_path("ara_nissl_25.nrrd") == tmp_path / "c" / "reference" / "ara_nissl_25.nrrd"
    for bad in ("../x", "a/b", "", ".."):
        with pytest.raises(ValueError):
            cache.reference_path(bad)
    assert Cache(tmp_path / "other").root == tmp_path / "other"


def test_a_missing_grid_is_none(tmp_path):
    cache = Cache(tmp_path)
    assert cache.cached_grid(PDYN) is None
    assert cache.grids() == []
    assert cache.size_bytes() == 0


def test_a_good_grid_is_validated_once(tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    path = _put_grid(cache)
    calls = []
    real_read = cache_module.read_grid_zip
    monkeypatch.setattr(cache_module, "read_grid_zip", lambda p: calls.append(p) or real_read(p))
    assert cache.cached_grid(PDYN) == path
    assert Cache(tmp_path).cached_grid(PDYN) == path  # another Cache object, same process
    assert len(calls) == 1
    # the same path with other content (new mtime and size) is checked again
    os.utime(path, ns=(1, 1))
    assert cache.cached_grid(PDYN) == path
    assert len(calls) == 2


def test_a_damaged_grid_is_quarantined(tmp_path):
    cache = Cache(tmp_path)
    good = _real_grid().read_bytes()
    path = _put_grid(cache, content=good[: len(good) // 2])
    with pytest.raises(CorruptData) as info:
        cache.cached_grid(PDYN)
    message = str(info.value)
    assert message.startswith(f"The cached grid of experiment {PDYN} was damaged")
    assert "moved aside" in message and message.endswith("will be fetched again.")
    assert not path.exists()
    moved = [p for p in cache.quarantine_dir.iterdir() if p.suffix == ".zip"]
    assert len(moved) == 1 and moved[0].name.startswith("71717084.") and str(moved[0]) in message
    assert moved[0].read_bytes() == good[: len(good) // 2]
    reason = moved[0].with_name(moved[0].name + ".reason.txt").read_text()
    assert "zip" in reason
    assert cache.cached_grid(PDYN) is None  # nothing left to read: fetch it again


def test_a_validated_grid_damaged_later_is_caught(tmp_path):
    cache = Cache(tmp_path)
    path = _put_grid(cache)
    assert cache.cached_grid(PDYN) == path
    path.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(CorruptData):
        cache.cached_grid(PDYN)


def test_quarantine_never_overwrites(tmp_path):
    cache = Cache(tmp_path)
    targets = set()
    for _ in range(3):
        f = tmp_path / "thing.bin"
        f.write_bytes(b"x")
        targets.add(cache.quarantine(f, "test"))
    assert len(targets) == 3 and all(t.parent == cache.quarantine_dir for t in targets)


def test_grids_and_size(tmp_path):
    cache = Cache(tmp_path)
    _put_grid(cache, 74272479)
    _put_grid(cache, PDYN)
    (cache.grids_dir / "notes.txt").write_text("not a grid")
    (cache.grids_dir / ".71717084.zip.abc.part").write_bytes(b"partial")
    assert cache.grids() == [PDYN, 74272479]
    expected = sum(p.stat().st_size for p in cache.grids_dir.iterdir())
    assert cache.size_bytes() == expected


def test_a_cache_root_that_is_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    cache = Cache(blocker)
    with pytest.raises(AllenViewerError, match="cache folder .* cannot be written.*ALLEN_VIEWER_CACHE"):
        cache.ensure_writable(cache.grids_dir)
    assert cache.cached_grid(PDYN) is None
    assert cache.grids() == []


def _check_read_only_cache(root: Path) -> None:
    """The read-only cache checks, run by a user whom file permissions bind."""
    cache = Cache(root / "ro")
    path = _put_grid(cache, content=b"damaged")
    os.chmod(cache.grids_dir, 0o555)
    os.chmod(cache.root, 0o555)
    try:
        with pytest.raises(AllenViewerError, match="cannot be written|could not be moved aside"):
            cache.cached_grid(PDYN)
        with pytest.raises(AllenViewerError, match="cannot be written"):
            cache.ensure_writable(cache.grids_dir)
        assert path.exists()
        assert path.read_bytes() == b"damaged"  # neither replaced nor moved
    finally:
        os.chmod(cache.root, 0o755)
        os.chmod(cache.grids_dir, 0o755)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file permissions (CI is Linux)")
def test_a_read_only_cache_is_a_clear_error(tmp_path):
    if os.geteuid() != 0:
        _check_read_only_cache(tmp_path)
        return
    # As root (CI), permissions do not bind: the same checks run in a forked child that has
    # dropped to the user nobody, in a folder that user owns (a fork, not a new interpreter:
    # the interpreter may live where nobody cannot read).  The child reports through a pipe.
    import pwd
    import tempfile
    import traceback

    nobody = pwd.getpwnam("nobody")
    work = Path(tempfile.mkdtemp(prefix="allen_viewer_ro_cache_"))
    try:
        os.chmod(work, 0o755)
        os.chown(work, nobody.pw_uid, nobody.pw_gid)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            status = 1
            try:
                os.close(read_end)
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                _check_read_only_cache(work)
                os.write(write_end, f"checked as uid {os.geteuid()}".encode())
                status = 0
            except BaseException:
                os.write(write_end, traceback.format_exc().encode())
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            report = pipe.read().decode()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, report
        assert report == f"checked as uid {nobody.pw_uid}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_a_permission_error_is_a_clear_error_even_for_root(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache_module.tempfile, "mkstemp", refuse)
    with pytest.raises(AllenViewerError) as info:
        Cache(tmp_path).ensure_writable(tmp_path / "grids")
    assert str(info.value) == (
        f"The cache folder {tmp_path / 'grids'} cannot be written (Permission denied). "
        "Set ALLEN_VIEWER_CACHE to a writable folder, or free some disk space.")


def test_a_damaged_entry_that_cannot_be_moved_is_a_clear_error(tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    _put_grid(cache, content=b"damaged")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache_module.os, "replace", refuse)
    with pytest.raises(AllenViewerError, match="could not be moved aside .Permission denied.; delete it by hand"):
        cache.cached_grid(PDYN)


def test_copying_a_cache_keeps_it_usable(tmp_path):
    cache = Cache(tmp_path / "a")
    _put_grid(cache)
    shutil.copytree(cache.root, tmp_path / "b")
    assert Cache(tmp_path / "b").cached_grid(PDYN) == tmp_path / "b" / "grids" / "71717084.zip"
