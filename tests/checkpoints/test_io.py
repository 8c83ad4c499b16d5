import errno
import io
import os
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from atomtrain.checkpoints import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    check_plain_data,
    new_checkpoint,
    read_checkpoint_file,
    write_checkpoint_file,
)
from atomtrain.data.info import DatasetInfo
from atomtrain.files import OutputError


def sample_checkpoint() -> dict:
    checkpoint = new_checkpoint("composition", 1)
    checkpoint["model"] = {
        "hypers": {"atomic_baseline": {"energy": {1: -13.6}}},
        "dataset_info": DatasetInfo(atomic_types=[1, 8]).to_dict(),
        "state_dict": OrderedDict(weights=torch.arange(6.0).reshape(3, 2)),
        "shape": (3, 2),
        "parameter": torch.nn.Parameter(torch.ones(2)),
        "nothing": None,
        "flag": True,
    }
    return checkpoint


class CreatesAFile:
    """A pickle payload that creates ``path`` when it is unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_round_trip_keeps_plain_data(tmp_path):
    path = tmp_path / "model.ckpt"
    checkpoint = sample_checkpoint()
    write_checkpoint_file(checkpoint, path)
    loaded = read_checkpoint_file(path)
    assert loaded["format"] == CHECKPOINT_FORMAT
    assert loaded["architecture_name"] == "composition"
    assert loaded["model"]["hypers"] == {"atomic_baseline": {"energy": {1: -13.6}}}
    assert loaded["model"]["shape"] == (3, 2)
    torch.testing.assert_close(
        loaded["model"]["state_dict"]["weights"], torch.arange(6.0).reshape(3, 2)
    )
    assert DatasetInfo.from_dict(loaded["model"]["dataset_info"]).atomic_types == [1, 8]
    assert [p.name for p in tmp_path.iterdir()] == ["model.ckpt"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_objects_are_refused_before_writing_with_their_dotted_key(tmp_path):
    checkpoint = sample_checkpoint()
    checkpoint["model"]["dataset_info"] = DatasetInfo()
    with pytest.raises(TypeError, match=r"'model\.dataset_info' is a .*DatasetInfo"):
        write_checkpoint_file(checkpoint, tmp_path / "model.ckpt")
    assert list(tmp_path.iterdir()) == []

    with pytest.raises(TypeError, match=r"'model\.layers\[1\]' is a .*dtype"):
        check_plain_data({"model": {"layers": [1, torch.float32]}})
    with pytest.raises(TypeError, match=r"key 1\.5 of type float"):
        check_plain_data({"model": {1.5: 1}})


def test_a_pickle_that_would_create_a_file_is_refused_and_not_run(tmp_path):
    victim = tmp_path / "pwned"
    raw = tmp_path / "raw.ckpt"
    raw.write_bytes(
        pickle.dumps({"format": CHECKPOINT_FORMAT, "x": CreatesAFile(victim)})
    )
    zipped = tmp_path / "zipped.ckpt"
    torch.save({"format": CHECKPOINT_FORMAT, "x": CreatesAFile(victim)}, zipped)
    assert not victim.exists()

    for path in (raw, zipped):
        with pytest.raises(CheckpointError, match="contains code or Python objects"):
            read_checkpoint_file(path)
        assert not victim.exists()


def test_damaged_missing_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        read_checkpoint_file(tmp_path / "nothing.ckpt")

    path = tmp_path / "model.ckpt"
    write_checkpoint_file(sample_checkpoint(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="damaged or is not a checkpoint"):
        read_checkpoint_file(path)

    foreign = tmp_path / "foreign.ckpt"
    torch.save({"model_state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not an atomtrain checkpoint"):
        read_checkpoint_file(foreign)


def test_a_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "model.ckpt"
    write_checkpoint_file(sample_checkpoint(), path)
    before = path.read_bytes()
    real_save = torch.save

    def crash_half_way(data, file):
        buffer = io.BytesIO()
        real_save(data, buffer)
        file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", crash_half_way)
    updated = sample_checkpoint()
    updated["model"]["flag"] = False
    with pytest.raises(OutputError, match="no space left on the device"):
        write_checkpoint_file(updated, path)

    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.ckpt"]
    assert read_checkpoint_file(path)["model"]["flag"] is True


def test_interrupting_a_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def interrupted(data, file):
        file.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint_file(sample_checkpoint(), tmp_path / "sub" / "model.ckpt")
    assert list((tmp_path / "sub").iterdir()) == []
