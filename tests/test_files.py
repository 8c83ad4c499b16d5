"""Atomic outputs onto regular files only, inputs never overwritten, stale
temporaries of dead processes only."""

from __future__ import annotations

import builtins
import contextlib
import errno
import os
import subprocess
import sys

import pytest

from atomtrain.files import (
    FileState,
    OutputError,
    atomic_output,
    check_outputs,
    copy_file,
    remove_stale_temporaries,
    require_free_space,
    write_binary,
    write_text,
)


def test_atomic_output_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "out.txt"
    write_text(path, "first")
    with pytest.raises(ValueError), atomic_output(path) as temporary:
        temporary.write_text("half")
        raise ValueError("the writer failed")
    assert path.read_text() == "first"
    assert os.listdir(tmp_path) == ["out.txt"]
    with atomic_output(path) as temporary:
        assert temporary.parent == tmp_path and temporary.name.endswith(".out.txt")
        temporary.write_text("second")
    assert path.read_text() == "second"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_a_full_disk_is_an_output_error_naming_the_file(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    with pytest.raises(OutputError) as caught, atomic_output(path, "-o") as temporary:
        raise OSError(errno.ENOSPC, "No space left on device", str(temporary))
    assert str(caught.value) == (
        f"could not write -o '{path}': no space left on the device; the file that "
        "was there (if any) is unchanged"
    )
    assert list((tmp_path / "sub").iterdir()) == []


def test_other_os_errors_stay_what_they_are(tmp_path):
    with pytest.raises(IsADirectoryError), atomic_output(tmp_path / "x"):
        raise IsADirectoryError(errno.EISDIR, "a bug")


def test_only_regular_files_are_replaced(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OutputError, match=r"'.*pipe' is not a regular file"):
        write_text(tmp_path / "pipe", "x", "-o")
    with pytest.raises(OutputError, match="is a directory"):
        write_text(tmp_path, "x", "-o")
    os.symlink(tmp_path / "target.txt", tmp_path / "link.txt")
    with pytest.raises(OutputError, match="not a regular file"):
        write_text(tmp_path / "link.txt", "x", "-o")


def test_inputs_and_duplicates_are_refused(tmp_path):
    data = tmp_path / "data.xyz"
    data.write_text("frames")
    os.link(data, tmp_path / "alias.xyz")
    with pytest.raises(OutputError, match=r"-o '.*alias.xyz' is an input"):
        check_outputs([("-o", tmp_path / "alias.xyz")], [data])
    with pytest.raises(OutputError, match="-o and -p would both write"):
        check_outputs([("-p", tmp_path / "a.png"), ("-o", tmp_path / "a.png")])
    check_outputs([("-o", tmp_path / "new" / "deeper" / "out.xyz")], [data])


def test_a_file_in_place_of_the_directory_is_refused(tmp_path):
    check_outputs([("-o", tmp_path / "data.xyz" / "out.xyz")], [])
    (tmp_path / "data.xyz").write_text("")
    with pytest.raises(OutputError, match=r"'.*data.xyz' is not a directory"):
        check_outputs([("-o", tmp_path / "data.xyz" / "out.xyz")], [])


def test_copies_keep_the_mode_of_the_file_they_replace(tmp_path):
    source, target = tmp_path / "a", tmp_path / "b"
    source.write_text("new")
    target.write_text("old")
    target.chmod(0o600)
    copy_file(source, target)
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o600


def test_stale_temporaries_of_dead_processes_only(tmp_path):
    with subprocess.Popen([sys.executable, "-c", "pass"]) as dead:
        dead.wait()
    stale_file = tmp_path / f".{dead.pid}-0123456789abcdef.model.ckpt"
    stale_dir = tmp_path / f".{dead.pid}-0123456789abcdef.extensions"
    alive = tmp_path / f".{os.getppid()}-0123456789abcdef.model.ckpt"
    user = [tmp_path / ".model.ckpt.tmp", tmp_path / f".{dead.pid}-short.model.pt"]
    for path in [stale_file, alive, *user]:
        path.write_text("x")
    stale_dir.mkdir()
    (stale_dir / "lib.so").write_text("x")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([stale_file, stale_dir])
    assert sorted(tmp_path.iterdir()) == sorted([alive, *user])
    assert remove_stale_temporaries(tmp_path / "missing") == []


def test_file_state_tells_a_rewritten_file(tmp_path):
    path = tmp_path / "model.pt"
    absent = FileState.of(path)
    assert absent == FileState(None, None, None)
    write_text(path, "one")
    first = FileState.of(path)
    assert first != absent and FileState.of(path) == first
    write_text(path, "two")
    assert FileState.of(path) != first


def test_write_binary_raises_the_file_system_error_the_writer_hid(
    tmp_path, monkeypatch
):
    class FullDisk:
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def writer(file):
        try:
            file.write(b"data")
        except OSError:
            raise RuntimeError("unexpected pos 4 vs 0") from None

    def buggy(file):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        write_binary(tmp_path / "y", buggy)
    monkeypatch.setattr(
        builtins, "open", lambda *args, **kwargs: contextlib.nullcontext(FullDisk())
    )
    with pytest.raises(OSError) as error:
        write_binary(tmp_path / "x", writer)
    assert error.value.errno == errno.ENOSPC


def test_free_space_is_required_before_writers_that_abort(tmp_path):
    require_free_space(tmp_path / "new", 1, "the model")
    with pytest.raises(OutputError, match="not enough free space to write the model"):
        require_free_space(tmp_path, 1 << 62, "the model")
