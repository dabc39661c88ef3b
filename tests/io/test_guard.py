"""The output guard's shared pieces (allen_viewer/io/guard.py): the one test of "a special
file is in the way", the refusal built on it, and the one line for a file-system error --
the same line for an export and for the transport's downloads.  (Every export's use of the
guard is tested in tests/export/test_sidecars.py and tests/faults/test_*outputs.py.)"""
from __future__ import annotations

import errno
import os
import re
import socket

import pytest

from allen_viewer.errors import AllenViewerError
from allen_viewer.io.atomic import replace_file
from allen_viewer.io.guard import OutputRefused, refuse_special, special_kind, write_error


@pytest.fixture
def things(tmp_path):
    """One of each kind of directory entry (generated test files)."""
    regular = tmp_path / "regular.csv"
    regular.write_text("a,b\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    link = tmp_path / "link.csv"
    link.symlink_to(regular)  # to a regular file: still refused (never written through)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    yield {"missing": tmp_path / "missing.csv", "regular": regular, "folder": folder, "link": link,
           "fifo": fifo, "socket": sock_path, "device": "/dev/null"}
    sock.close()


KINDS = {"missing": None, "regular": None, "folder": "a folder", "link": "a symbolic link",
         "fifo": "a FIFO (named pipe)", "socket": "a socket", "device": "a device"}


@pytest.mark.parametrize("name", list(KINDS))
def test_special_kind_names_what_is_in_the_way(things, name):
    assert special_kind(things[name]) == KINDS[name]


@pytest.mark.parametrize("name", list(KINDS))
def test_refuse_special_and_the_atomic_rename_agree(things, tmp_path, name):
    """The output guard (before any work) and the one rename (at the end) refuse exactly the
    same entries: they ask the same function."""
    path = things[name]
    if KINDS[name] is None:
        refuse_special(path)
    else:
        with pytest.raises(OutputRefused, match=re.escape(f"is {KINDS[name]}, not a regular file; it is never replaced")):
            refuse_special(path)
    if name == "device":
        return  # no temporary file can be made beside /dev/null
    tmp = tmp_path / ".new.part"
    tmp.write_bytes(b"new")
    if KINDS[name] is None:
        replace_file(tmp, path)
        assert open(path, "rb").read() == b"new"
    else:
        with pytest.raises(OSError) as err:
            replace_file(tmp, path)
        assert err.value.errno == errno.EEXIST and tmp.exists()


def test_refuse_special_names_the_link_target_hint(things):
    with pytest.raises(OutputRefused, match="Give the path of its target instead"):
        refuse_special(things["link"])


@pytest.mark.parametrize("code, hint", [
    (errno.ENOSPC, "free some space or choose another folder"),
    (errno.EROFS, "the folder is on a read-only file system"),
    (errno.ENAMETOOLONG, "choose a shorter name"),
    (errno.EACCES, "check the folder and its permissions"),
])
def test_write_error_is_one_line_with_a_hint(code, hint):
    err = write_error("/data/out.csv", OSError(code, os.strerror(code)))
    assert isinstance(err, AllenViewerError)
    assert str(err) == f"Cannot write /data/out.csv ({os.strerror(code)}); {hint}. Nothing was written."
    assert "\n" not in str(err)


def test_a_folder_where_a_file_is_needed_reads_as_such():
    err = write_error("/data/x/out.csv", OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)))
    assert str(err) == ("Cannot write /data/x/out.csv (a file stands where a folder is needed); "
                        "choose another folder. Nothing was written.")


def test_the_transport_and_the_client_report_write_errors_with_the_guards_line():
    """One definition: api/ raises io/guard.py's line, not a copy of its own."""
    import allen_viewer.api.client as client
    import allen_viewer.api.transport as transport

    assert transport.write_error is write_error and client.write_error is write_error
