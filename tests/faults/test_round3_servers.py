"""Round three (issue 18, item 6), the ``servers`` cases: movies (signals, a full disk, an
ffmpeg that fails or hangs), section images, a hostile server and cache (docs/reliability.md,
"Round three: movies, section images, hostile servers").

Movies are turntables of the real embedded Pdyn grid (71717084).  The ffmpeg programs that
fail, hang or meet a full disk are GENERATED shell scripts put in place through
``IMAGEIO_FFMPEG_EXE`` (imageio-ffmpeg honours it, and so does :func:`ffmpeg_program`).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from allen_viewer.export import movie
from tests.faults.hostile import assert_one_line_error, cli_run

PDYN = 71717084
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("no_anti_aliasing")  # tests/conftest.py


# ---- movies: fake ffmpeg programs --------------------------------------------------------

def fake_ffmpeg(folder: Path, body: str) -> Path:
    """A GENERATED ffmpeg: answers ``-version`` like ffmpeg, otherwise runs ``body`` (sh), with
    its own pid written to ``started`` (beside it) first."""
    exe = folder / "ffmpeg"
    exe.write_text("#!/bin/sh\n"
                   'for a in "$@"; do [ "$a" = "-version" ] && { echo "ffmpeg version 6.0-generated"; exit 0; }; done\n'
                   f'echo $$ > "{folder}/started"\n' + body + "\n")
    exe.chmod(0o755)
    return exe


def movie_args(out: Path) -> list[str]:
    return ["--offline", "export", "movie", str(PDYN), "--out", str(out), "--frames", "4", "--size", "200x150"]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture()
def ffmpeg_dir(tmp_path, monkeypatch):
    d = tmp_path / "bin"
    d.mkdir()
    return d


def test_an_ffmpeg_that_exits_1_is_an_encoder_failure_not_a_folder_problem(tmp_path, ffmpeg_dir, monkeypatch):
    exe = fake_ffmpeg(ffmpeg_dir, 'cat > /dev/null\necho "Unknown encoder libx264 (generated)" >&2\nexit 1')
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(exe))
    out = tmp_path / "out"
    out.mkdir()
    r = cli_run(*movie_args(out / "t.mp4"))
    line = assert_one_line_error(r, "ffmpeg", "status 1", "Unknown encoder libx264", "Nothing was written")
    assert "permission" not in line.lower() and "folder" not in line.lower()
    assert leftovers(out) == []


def test_an_ffmpeg_that_exits_at_once_is_reported_with_its_status(tmp_path, ffmpeg_dir, monkeypatch):
    # it never reads a frame: the pipe breaks on the first one
    exe = fake_ffmpeg(ffmpeg_dir, 'echo "Conversion failed! (generated)" >&2\nexit 1')
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(exe))
    out = tmp_path / "out"
    out.mkdir()
    line = assert_one_line_error(cli_run(*movie_args(out / "t.mp4")), "ffmpeg", "status 1", "Conversion failed")
    assert "permission" not in line.lower()
    assert leftovers(out) == []


def test_an_ffmpeg_that_writes_nothing_and_exits_0_is_not_a_movie(tmp_path, ffmpeg_dir, monkeypatch):
    exe = fake_ffmpeg(ffmpeg_dir, "cat > /dev/null\nexit 0")
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(exe))
    out = tmp_path / "out"
    out.mkdir()
    assert_one_line_error(cli_run(*movie_args(out / "t.mp4")), "ffmpeg", "empty")
    assert leftovers(out) == []


def test_an_mp4_onto_a_full_disk_says_so_in_one_line(tmp_path, ffmpeg_dir, monkeypatch):
    # ffmpeg's own words on ENOSPC (what it prints when the trailer cannot be written)
    exe = fake_ffmpeg(ffmpeg_dir, 'cat > /dev/null\n'
                      'echo "[out#0/mp4 @ 0x5] Error writing trailer: No space left on device" >&2\n'
                      'echo "[out#0/mp4 @ 0x5] Error closing file: No space left on device" >&2\nexit 1')
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(exe))
    out = tmp_path / "out"
    out.mkdir()
    line = assert_one_line_error(cli_run(*movie_args(out / "t.mp4")), "No space left on device", "t.mp4",
                                 "free some space")
    assert "permission" not in line.lower() and "[out#0" not in line
    assert leftovers(out) == []


@pytest.mark.parametrize("body,what", [("exec sleep 100000", "took no frame"),
                                       ("cat > /dev/null\nsleep 100000", "did not finish the file")])
def test_an_ffmpeg_that_hangs_is_killed_after_the_deadline(tmp_path, ffmpeg_dir, monkeypatch, body, what):
    exe = fake_ffmpeg(ffmpeg_dir, body)
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(exe))
    monkeypatch.setattr(movie, "ENCODER_STALL_S", 2.0)
    out = tmp_path / "out"
    out.mkdir()
    assert_one_line_error(cli_run(*movie_args(out / "t.mp4")), "ffmpeg", what, "stopped", "nothing was written")
    assert leftovers(out) == []
    pid = int((ffmpeg_dir / "started").read_text())
    assert not alive(pid)  # killed with its process group, and reaped


def _full_tmpfs(tmp_path) -> Path:
    """A 64 KiB tmpfs (needs root and mount); skipped where it cannot be made."""
    d = tmp_path / "full"
    d.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)],
                                           capture_output=True).returncode != 0:
        pytest.skip("a small tmpfs needs root and mount (the fake-ffmpeg case above covers the message)")
    return d


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_a_movie_onto_a_really_full_disk(tmp_path, suffix):
    d = _full_tmpfs(tmp_path)
    try:
        r = cli_run("--offline", "export", "movie", str(PDYN), "--out", str(d / f"t{suffix}"), "--frames", "12",
                    "--size", "480x360")
        assert_one_line_error(r, "No space left on device", f"t{suffix}")
        assert leftovers(d) == []
    finally:
        subprocess.run(["umount", str(d)], check=False)


def test_a_gif_onto_a_full_disk_has_no_second_traceback(tmp_path, monkeypatch, capfd):
    # the GIF written by Pillow into a file whose every write fails with ENOSPC (GENERATED fault)
    import builtins
    import errno

    real_open = builtins.open

    class Full:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def full_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return Full(f) if str(file).endswith(".gif") and "w" in mode else f

    monkeypatch.setattr(builtins, "open", full_open)
    out = tmp_path / "out"
    out.mkdir()
    r = cli_run("--offline", "export", "movie", str(PDYN), "--out", str(out / "t.gif"), "--frames", "3",
                "--size", "120x90")
    monkeypatch.setattr(builtins, "open", real_open)
    import gc

    gc.collect()  # an object whose __del__ retries the save would print its traceback now
    assert_one_line_error(r, "No space left on device", "t.gif")
    assert "Traceback" not in capfd.readouterr().err
    assert leftovers(out) == []


# ---- movies: signals ---------------------------------------------------------------------------

def _export_in_child(tmp_path, ffmpeg_dir, sig) -> tuple[subprocess.CompletedProcess, Path, int]:
    """``export movie`` in a child process whose (GENERATED) ffmpeg takes no frame; ``sig`` is
    sent to the child once ffmpeg has started (the early moment of the export)."""
    exe = fake_ffmpeg(ffmpeg_dir, "exec sleep 100000")
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "IMAGEIO_FFMPEG_EXE": str(exe), "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-m", "allen_viewer", *movie_args(out / "t.mp4")], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    started = ffmpeg_dir / "started"
    deadline = time.monotonic() + 120
    while not (started.exists() and started.read_text().strip()) and child.poll() is None:
        assert time.monotonic() < deadline, "ffmpeg never started"
        time.sleep(0.05)
    os.killpg(child.pid, sig)  # as a terminal sends Ctrl-C: to the whole foreground group
    stdout, stderr = child.communicate(timeout=120)
    return subprocess.CompletedProcess(child.args, child.returncode, stdout, stderr), out, int(started.read_text())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_early_in_an_mp4_export_ends_it_cleanly(tmp_path, ffmpeg_dir, sig):
    done, out, ffmpeg_pid = _export_in_child(tmp_path, ffmpeg_dir, sig)
    assert done.returncode in (130, 143), (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("allen-viewer:"), done.stderr
    assert "Traceback" not in done.stderr and "ImportError" not in done.stderr
    assert leftovers(out) == []  # no temporary .mp4, no sidecar
    deadline = time.monotonic() + 10
    while alive(ffmpeg_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(ffmpeg_pid)
