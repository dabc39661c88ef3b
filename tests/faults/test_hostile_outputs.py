"""Round two, categories 1 and 2: writing outputs and odd arguments (docs/reliability.md).

Special files are made under a temporary folder (FIFOs, symbolic links, a null-like
character device where the system allows ``mknod``), never with ``/dev/null`` itself.
Every CLI case runs with ``--offline`` on the embedded experiment 71717084 (real data).
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from pathlib import Path
from unittest import mock

import pytest

import allen_viewer.io.atomic as atomic_module
from allen_viewer.data import AtlasData
from allen_viewer.errors import AllenViewerError, UnknownGene
from allen_viewer.export import image as image_module
from allen_viewer.export.provenance import write_sidecar
from allen_viewer.io.guard import check_output_path
from allen_viewer.library.sync import read_gene_list, select_experiments
from tests.faults.hostile import EMBEDDED, assert_one_line_error, cli_run, no_space_for, snapshot
from tests.fake_allen.fixtures import allen_env, fake_allen, fake_allen_data  # noqa: F401

EXPORTS = [
    ("export", "voxels", EMBEDDED, "--out"),
    ("export", "structures", EMBEDDED, "--out"),
    ("compare", EMBEDDED, "74272479", "--out"),
]


def _special(tmp_path: Path, kind: str, name: str = "out.csv") -> Path:
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        target = tmp_path / "target.csv"
        target.write_text("precious\n")
        path.symlink_to(target)
    elif kind == "dangling-symlink":
        path.symlink_to(tmp_path / "nowhere.csv")
    elif kind == "folder":
        path.mkdir()
        (path / "inside.txt").write_text("precious\n")
    elif kind == "device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # a null-like device, in tmp
        except (PermissionError, OSError) as exc:
            # only without CAP_MKNOD (an ordinary user); CI runs as root, where this case runs
            pytest.skip(f"cannot make a device node here ({exc})")
    return path


# ---- 1. writing outputs ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fifo", "symlink", "dangling-symlink", "folder", "device"])
@pytest.mark.parametrize("argv", EXPORTS, ids=["voxels", "structures", "compare"])
def test_force_never_replaces_a_special_file(tmp_path, kind, argv):
    out = _special(tmp_path, kind)
    before = snapshot(tmp_path)
    r = cli_run("--offline", *argv, out, "--force")
    assert_one_line_error(r, str(out))
    assert "not a regular file" in r.err
    assert snapshot(tmp_path) == before  # the special file, its target, nothing new


@pytest.mark.parametrize("kind", ["fifo", "symlink", "folder"])
def test_a_special_sidecar_or_raw_file_is_refused_before_the_work(tmp_path, kind):
    out = tmp_path / "v.mhd"
    _special(tmp_path, kind, "v.raw")
    before = snapshot(tmp_path)
    r = cli_run("--offline", "export", "volume", EMBEDDED, "--out", out, "--force")
    assert_one_line_error(r, "v.raw")
    assert snapshot(tmp_path) == before
    _special(tmp_path, kind, "s.csv.json")
    before = snapshot(tmp_path)
    r = cli_run("--offline", "export", "structures", EMBEDDED, "--out", tmp_path / "s.csv")
    assert_one_line_error(r, "s.csv.json")
    assert snapshot(tmp_path) == before


def test_image_export_to_a_fifo_is_refused_before_rendering(tmp_path):
    out = _special(tmp_path, "fifo", "i.png")
    with mock.patch.object(image_module, "render_scene", side_effect=AssertionError("rendered")):
        r = cli_run("--offline", "export", "image", EMBEDDED, "--out", out, "--force", "--size", "64x64")
    assert_one_line_error(r, "FIFO")
    assert stat.S_ISFIFO(os.lstat(out).st_mode)


def test_existing_file_without_force_is_refused_before_any_loading(tmp_path):
    out = tmp_path / "v.csv"
    out.write_text("precious\n")
    with mock.patch.object(AtlasData, "load_grid", side_effect=AssertionError("loaded a grid")):
        for argv in (("export", "voxels", EMBEDDED), ("export", "volume", EMBEDDED),
                     ("compare", EMBEDDED, "74272479")):
            o = out if argv[1] != "volume" else out.with_suffix(".nrrd")
            o.write_text("precious\n")
            r = cli_run("--offline", *argv, "--out", o)
            assert_one_line_error(r, "already exists", "--force")
            assert o.read_text() == "precious\n"


def test_library_outputs_are_guarded_too(tmp_path):
    out = _special(tmp_path, "fifo", "m.csv")
    r = cli_run("--offline", "matrix", "--depth", "2", "--out", out, "--force")
    assert_one_line_error(r, "FIFO")
    r = cli_run("--offline", "search-differential", "--target", "CP", "--contrast", "Isocortex",
                "--out", out, "--force")
    assert_one_line_error(r, "FIFO")
    assert stat.S_ISFIFO(os.lstat(out).st_mode)


def test_a_name_too_long_is_one_line(tmp_path):
    r = cli_run("--offline", "export", "voxels", EMBEDDED, "--out", tmp_path / ("x" * 300 + ".csv"))
    assert_one_line_error(r, "file name", "bytes")
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_file_system_is_refused_before_the_work(tmp_path):
    class ReadOnly:
        f_flag = os.ST_RDONLY

    with mock.patch("os.statvfs", return_value=ReadOnly()), \
            mock.patch.object(AtlasData, "load_grid", side_effect=AssertionError("loaded a grid")):
        r = cli_run("--offline", "export", "voxels", EMBEDDED, "--out", tmp_path / "v.csv")
    assert_one_line_error(r, "read-only")


def _writes_fail(code: int):
    """atomic_write's file fails with ``code``: at create for EROFS, else at the buffered
    flush on close (as on a full disk)."""
    real_mkstemp = atomic_module.tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if code == errno.EROFS:
            raise OSError(code, os.strerror(code))
        return real_mkstemp(*args, **kwargs)

    class FailingFile:  # writes are buffered fine; the flush at close fails, as on a full disk
        def __init__(self, fh):
            self._fh = fh

        def write(self, data):
            return len(data)

        def flush(self):
            raise OSError(code, os.strerror(code))

        def close(self):
            self._fh.close()

        def fileno(self):
            return self._fh.fileno()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

    real_fdopen = os.fdopen
    stack = contextlib.ExitStack()
    stack.enter_context(mock.patch.object(atomic_module.tempfile, "mkstemp", mkstemp))
    stack.enter_context(mock.patch.object(atomic_module.os, "fdopen",
                                          lambda fd, mode="r", *a, **k: FailingFile(real_fdopen(fd, mode, *a, **k))))
    return stack


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.ENAMETOOLONG, errno.EIO])
def test_file_system_errors_while_writing_are_one_line_and_leave_nothing(tmp_path, code):
    with _writes_fail(code):
        r = cli_run("--offline", "export", "structures", EMBEDDED, "--out", tmp_path / "s.csv")
    line = assert_one_line_error(r, "Cannot write", os.strerror(code))
    assert "Nothing was written" in line
    assert list(tmp_path.iterdir()) == []  # no CSV, no sidecar, no temporary file


def test_a_sidecar_that_cannot_be_written_takes_its_data_file_with_it(tmp_path):
    with _sidecar_fails():
        r = cli_run("--offline", "export", "voxels", EMBEDDED, "--out", tmp_path / "v.csv")
    assert_one_line_error(r, "No space left")
    assert list(tmp_path.iterdir()) == []


def _sidecar_fails():
    return no_space_for(".json")


SECTION = ("section-image", "71717084", "--at", "5230,4010,2000", "--downsample", "5")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_section_image_write_errors_are_one_line_and_leave_nothing(allen_env, tmp_path, code):
    out = tmp_path / "out"
    out.mkdir()
    assert cli_run(*SECTION, "--out", tmp_path / "first.jpg").code == 0  # the image is now cached
    with _writes_fail(code):
        r = cli_run("--offline", *SECTION, "--out", out / "s.jpg")
    assert_one_line_error(r, "Cannot write", os.strerror(code), "Nothing was written")
    assert list(out.iterdir()) == []  # no JPEG, no sidecar, no temporary file


def test_a_section_image_whose_sidecar_fails_is_removed_too(allen_env, tmp_path):
    with _sidecar_fails():
        r = cli_run(*SECTION, "--out", tmp_path / "s.jpg")
    assert_one_line_error(r, "No space left")
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []


def test_check_output_path_allows_a_regular_file_with_force(tmp_path):
    out = tmp_path / "v.csv"
    out.write_text("old\n")
    assert check_output_path(out, True) == out
    with pytest.raises(AllenViewerError, match="already exists"):
        check_output_path(out, False)


def test_atomic_write_never_renames_over_a_special_file(tmp_path):
    fifo = _special(tmp_path, "fifo", "f")
    link = _special(tmp_path, "symlink", "l")
    for target in (fifo, link):
        with pytest.raises(OSError, match="not a regular file"):
            with atomic_module.atomic_write(target) as fh:
                fh.write(b"data")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.path.islink(link)
    assert (tmp_path / "target.csv").read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "l", "target.csv"]


def test_sidecars_are_strict_json_without_nan(tmp_path):
    side = write_sidecar(tmp_path / "x.csv", {"r": float("nan"), "nested": [float("inf"), 1.5]})

    def refuse(name):
        raise AssertionError(f"{name} in the sidecar")

    data = json.loads(side.read_text(), parse_constant=refuse)
    assert data == {"format": "allen_viewer.sidecar", "version": 1, "r": None, "nested": [None, 1.5]}


# ---- 2. arguments --------------------------------------------------------------------------

BLANKS = ["", " ", "\t", "\u00a0 "]


@pytest.mark.parametrize("blank", BLANKS, ids=["empty", "space", "tab", "nbsp"])
@pytest.mark.parametrize("argv", [("info", "{}"), ("fetch", "{}"), ("search", "{}"), ("library", "sync", "{}"),
                                  ("export", "voxels", "{}", "--out", "x.csv"), ("compare", "{}", "Pdyn", "--out",
                                                                                    "x.csv"),
                                  ("search-correlated", "{}"), ("--gene", "{}")],
                         ids=["info", "fetch", "search", "library-sync", "export", "compare", "correlated", "gui"])
def test_a_blank_gene_or_id_is_an_error(tmp_path, blank, argv):
    argv = [a.replace("{}", blank) if isinstance(a, str) else a for a in argv]
    argv = [str(tmp_path / a) if a == "x.csv" else a for a in argv]
    r = cli_run("--offline", *argv)
    assert_one_line_error(r, "blank")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["²", "7171708٤", "７１７１７０８４", "1²3"])
def test_non_ascii_digits_are_refused(text):
    r = cli_run("--offline", "info", text)
    assert_one_line_error(r, "non-ASCII digits")


@pytest.mark.parametrize("digits", [13, 5000])
def test_ids_of_thousands_of_digits_are_refused(digits):
    r = cli_run("--offline", "info", "9" * digits)
    line = assert_one_line_error(r, "digits")
    assert len(line) < 300


def test_control_characters_and_huge_queries_are_refused():
    assert_one_line_error(cli_run("--offline", "info", "Pdyn\x1b[2J"), "control characters")
    assert_one_line_error(cli_run("--offline", "info", "P" * 1000), "characters long")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_thresholds_are_refused(tmp_path, value):
    r = cli_run("--offline", "export", "image", EMBEDDED, "--out", tmp_path / "i.png", f"--threshold={value}")
    assert_one_line_error(r, "--threshold", "finite")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option, value, words", [
    ("--threshold", "-1", "at least 0"),
    ("--threshold", "-0.001", "at least 0"),
    ("--threshold-percentile", "-5", "between 0 and 100"),
    ("--threshold-percentile", "101", "between 0 and 100"),
    ("--threshold-percentile", "nan", "finite"),
])
def test_negative_thresholds_and_percentiles_outside_0_100_are_refused(tmp_path, option, value, words):
    """A session holds threshold >= 0 and a percentile in 0-100 (ViewerState.from_dict), so an
    image exported with anything else would have a sidecar that cannot be reopened."""
    with mock.patch.object(AtlasData, "load_grid", side_effect=AssertionError("loaded a grid")):
        r = cli_run("--offline", "export", "image", EMBEDDED, "--out", tmp_path / "i.png", f"{option}={value}")
    assert_one_line_error(r, option, words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv,flag", [
    (("search", "Pdyn", "--limit", "-5"), "--limit"),
    (("search", "Pdyn", "--limit", "0"), "--limit"),
    (("export", "structures", EMBEDDED, "--out", "x.csv", "--depth", "-1"), "--depth"),
    (("compare", EMBEDDED, "74272479", "--out", "x.csv", "--depth", "-3"), "--depth"),
    (("matrix", "--depth", "-1", "--out", "x.csv"), "--depth"),
    (("search-correlated", "Pdyn", "--top", "-1"), "--top"),
    (("search-correlated", "Pdyn", "--min-voxels", "0"), "--min-voxels"),
    (("library", "status", "--list", "-1"), "--list"),
    (("library", "sync", "Pdyn", "--workers", "0"), "--workers"),
    (("search", "Pdyn", "--limit", "99999999999"), "--limit"),
], ids=["limit-negative", "limit-zero", "depth-structures", "depth-compare", "depth-matrix", "top", "min-voxels",
        "list", "workers", "limit-huge"])
def test_negative_or_absurd_counts_are_refused(tmp_path, argv, flag):
    argv = [str(tmp_path / a) if a == "x.csv" else a for a in argv]
    assert_one_line_error(cli_run("--offline", *argv), flag)
    assert list(tmp_path.iterdir()) == []


def test_an_image_needing_more_memory_than_the_machine_has_is_refused(tmp_path):
    with mock.patch.object(image_module, "physical_memory_bytes", return_value=16 * 2**30), \
            mock.patch.object(image_module, "render_scene", side_effect=AssertionError("rendered")):
        r = cli_run("--offline", "export", "image", EMBEDDED, "--out", tmp_path / "i.png", "--size", "16384x16384")
        line = assert_one_line_error(r, "memory", "megapixels")
        assert "16384x16384" in line
        # the same size passes the check on a machine with room for it (the check is not a fixed cap)
        with mock.patch.object(image_module, "physical_memory_bytes", return_value=64 * 2**30):
            assert image_module.check_size((16384, 16384)) == (16384, 16384)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content,why", [
    (b"Pdyn\x00\x01\x02\x89PNG", "NUL"),
    (bytes(range(128, 256)) * 4, "UTF-8"),
], ids=["binary", "latin1"])
def test_a_gene_file_that_is_not_text_is_one_line(tmp_path, content, why):
    genes = tmp_path / "genes.bin"
    genes.write_bytes(content)
    for argv in (("library", "sync", "--genes", genes), ("matrix", "--genes", genes, "--out", tmp_path / "m.csv")):
        assert_one_line_error(cli_run("--offline", *argv), why)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genes.bin"]


def test_a_gene_file_that_is_a_folder_or_missing_is_one_line(tmp_path):
    assert_one_line_error(cli_run("--offline", "library", "sync", "--genes", tmp_path), "folder")
    assert_one_line_error(cli_run("--offline", "library", "sync", "--genes", tmp_path / "none.txt"), "not a file")
    with pytest.raises(AllenViewerError, match="not a file"):
        read_gene_list(tmp_path / "none.txt")


def test_blank_queries_select_nothing_in_the_core(gene_index):
    for blank in ("", " ", "\t"):
        assert gene_index.exact_symbol(blank) == []
        with pytest.raises(UnknownGene):
            gene_index.resolve(blank)
        chosen, _ = select_experiments(gene_index, queries=[blank])
        assert chosen == []
    with pytest.raises(AllenViewerError):
        gene_index.resolve("²")
    with pytest.raises(AllenViewerError):
        gene_index.resolve("9" * 5000)
    assert gene_index.search("²") == [] or all(e.symbol for e in gene_index.search("²"))

