"""Full disks, read-only paths, kills during writes and concurrent runs: earlier
checkpoints and ``-o`` files stay readable, and each fault is a user error.

Full and read-only file systems are real ones (a small tmpfs) where the tests may
mount one (as root); the full-disk case is also injected at the writer, so that it
runs everywhere."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fault_helpers import Snapshot, environment_without_threads, write_options

from atomtrain.checkpoints import read_checkpoint_file, write_checkpoint_file
from atomtrain.files import OutputError, remove_stale_temporaries


def _mount_tmpfs(path: Path, size: str, *flags: str) -> bool:
    """Mount a tmpfs of ``size`` at ``path``; whether it could be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    options = ",".join([f"size={size}", *flags])
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
        capture_output=True,
    )
    return result.returncode == 0


@pytest.fixture
def small_disk(workdir: Path):
    """A 6 MB file system under the working directory (skipped where none can be
    mounted; the injected full-disk tests cover that case)."""
    path = workdir / "small"
    if not _mount_tmpfs(path, "6m"):
        pytest.skip("no tmpfs can be mounted here")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.fixture
def read_only_directory(workdir: Path):
    """An empty directory that cannot be written: a read-only tmpfs as root, else
    a directory without write permission."""
    path = workdir / "read-only"
    if not _mount_tmpfs(path, "1m", "ro"):
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    yield path
    subprocess.run(["umount", "-l", str(path)], check=True)


def _fill(directory: Path) -> None:
    """Write a filler file until the file system is full."""
    with open(directory / "filler", "wb") as file:
        try:
            while True:
                file.write(b"\0" * 65536)
                file.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC


def test_a_full_disk_at_the_copy_keeps_the_previous_model(
    trained, small_disk, atomtrain
):
    """The bug: ``shutil.copyfile`` onto the previous ``-o`` checkpoint left it
    truncated. Now the copy goes through a temporary file and fails whole."""
    (small_disk / "model.ckpt").write_bytes((trained / "model.ckpt").read_bytes())
    (small_disk / "model.pt").write_bytes((trained / "model.pt").read_bytes())
    _fill(small_disk)
    before = Snapshot(small_disk)
    outcome = atomtrain("train", "options.yaml", "-o", "small/model.pt")
    outcome.assert_user_error("small/model.", "no space left on the device")
    before.assert_unchanged()
    assert sorted(p.name for p in small_disk.iterdir()) == [
        "filler",
        "model.ckpt",
        "model.pt",
    ]
    read_checkpoint_file(small_disk / "model.ckpt")
    runs = sorted(trained.glob("outputs/*/*"))
    assert len(runs) == 2
    read_checkpoint_file(runs[-1] / "model.ckpt")


def test_a_full_disk_at_export_keeps_the_previous_model(trained, small_disk, atomtrain):
    (small_disk / "model.pt").write_bytes((trained / "model.pt").read_bytes())
    _fill(small_disk)
    before = Snapshot(small_disk)
    outcome = atomtrain("export", "model.ckpt", "-o", "small/model.pt")
    outcome.assert_user_error(
        "not enough free space to write the exported model into 'small'"
    )
    before.assert_unchanged()
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "model.pt"]


def test_a_checkpoint_onto_a_full_disk_keeps_the_previous_one(small_disk):
    """A real full file system: torch reports it as a position mismatch, atomtrain
    as the disk being full."""
    path = small_disk / "model.ckpt"
    write_checkpoint_file(
        {"format": "atomtrain-checkpoint", "value": torch.zeros(10)}, path
    )
    before = path.read_bytes()
    with pytest.raises(OutputError, match="no space left on the device"):
        write_checkpoint_file(
            {"format": "atomtrain-checkpoint", "value": torch.zeros(2_000_000)}, path
        )
    assert path.read_bytes() == before
    assert [p.name for p in small_disk.iterdir()] == ["model.ckpt"]


def test_a_full_disk_during_training_keeps_every_earlier_checkpoint(
    workdir, atomtrain, monkeypatch
):
    """``ENOSPC`` injected at the third checkpoint write of a run that saves one
    every epoch."""
    write_options(
        workdir / "options.yaml", epochs=5, training={"checkpoint_interval": 1}
    )
    real_save = torch.save
    calls = []

    def full_disk_at_the_third_write(data, file, *args, **kwargs):
        calls.append(file)
        if len(calls) == 3:
            file.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(data, file, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk_at_the_third_write)
    outcome = atomtrain("train", "options.yaml")
    outcome.assert_user_error("could not write checkpoint", "no space left")
    [run] = workdir.glob("outputs/*/*")
    checkpoints = sorted(run.glob("*.ckpt"))
    assert len(checkpoints) == 2
    for path in checkpoints:
        read_checkpoint_file(path)
    assert not [p for p in run.iterdir() if p.name.startswith(".")]
    assert not (workdir / "model.ckpt").exists()


def test_a_read_only_output_directory_is_refused_before_training(
    trained, read_only_directory, atomtrain
):
    before = Snapshot(trained)
    outcome = atomtrain("train", "options.yaml", "-o", "read-only/model.pt")
    outcome.assert_user_error("cannot write -o 'read-only/model.pt'")
    outcome = atomtrain("train", "options.yaml", "--outputs", "read-only/runs")
    outcome.assert_user_error("the outputs root 'read-only/runs'")
    outcome = atomtrain("export", "model.ckpt", "-o", "read-only/x.pt")
    outcome.assert_user_error("cannot write -o 'read-only/x.pt'")
    before.assert_unchanged()


_WRITE_FOREVER = """
import sys, torch
from atomtrain.checkpoints import new_checkpoint, write_checkpoint_file
checkpoint = new_checkpoint("composition", 1)
checkpoint["model"] = {"weights": torch.zeros(4_000_000, dtype=torch.float64)}
write_checkpoint_file(checkpoint, sys.argv[1])
print("first", flush=True)
while True:
    write_checkpoint_file(checkpoint, sys.argv[1])
"""


def test_sigkill_during_a_checkpoint_write(tmp_path):
    """A process killed while writing leaves the complete earlier checkpoint and a
    temporary file, which the next start removes (and nothing else)."""
    path = tmp_path / "model.ckpt"
    (tmp_path / ".user-notes").write_text("not atomtrain's")
    with subprocess.Popen(
        [sys.executable, "-c", _WRITE_FOREVER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=environment_without_threads(),
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "first"
        deadline = time.monotonic() + 30
        temporaries: list[Path] = []
        while not temporaries and time.monotonic() < deadline:
            temporaries = [
                p for p in tmp_path.iterdir() if p.name.endswith(".model.ckpt")
            ]
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert read_checkpoint_file(path)["model"]["weights"].shape == (4_000_000,)
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".model.ckpt")]
    assert left, "the kill was meant to land during a write"
    assert remove_stale_temporaries(tmp_path) == left
    assert sorted(p.name for p in tmp_path.iterdir()) == [".user-notes", "model.ckpt"]


def test_a_running_writer_keeps_its_temporary_file(tmp_path):
    mine = tmp_path / f".{os.getpid()}-0123456789abcdef.model.ckpt"
    mine.write_bytes(b"being written")
    assert remove_stale_temporaries(tmp_path) == []
    assert mine.exists()


def test_training_removes_what_a_killed_run_left(trained, atomtrain):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    [run] = trained.glob("outputs/*/*")
    left = [
        run / f".{dead.pid}-0123456789abcdef.model_3.ckpt",
        trained / f".{dead.pid}-fedcba9876543210.model.pt",
    ]
    for path in left:
        path.write_bytes(b"half")
    assert atomtrain("train", "options.yaml").code == 0
    assert not any(path.exists() for path in left)


_CLAIM = """
import datetime, sys
from pathlib import Path
from atomtrain.workflows.run_directory import create_run_directory
now = datetime.datetime(2026, 1, 2, 3, 4, 5)
for _ in range(20):
    print(create_run_directory(Path(sys.argv[1]), now))
"""


def test_concurrent_runs_get_distinct_run_directories(tmp_path):
    """Eight processes claiming 20 run directories each, all at the same second."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIM, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment_without_threads(),
        )
        for _ in range(8)
    ]
    claimed = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        claimed.extend(out.split())
    assert len(claimed) == len(set(claimed)) == 160
    assert len(list((tmp_path / "2026-01-02").iterdir())) == 160


def test_a_checkpoint_saved_over_a_read_only_file_is_replaced_atomically(tmp_path):
    """Replacing works through the directory, as for any editor: the previous file's
    permissions are kept."""
    path = tmp_path / "model.ckpt"
    write_checkpoint_file({"format": "atomtrain-checkpoint", "value": 1}, path)
    path.chmod(0o444)
    write_checkpoint_file({"format": "atomtrain-checkpoint", "value": 2}, path)
    assert read_checkpoint_file(path)["value"] == 2
    assert path.stat().st_mode & 0o777 == 0o444
