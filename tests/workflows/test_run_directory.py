import datetime
import os
import time

import pytest

from atomtrain.errors import UserError
from atomtrain.workflows.run_directory import (
    create_run_directory,
    newest_checkpoint,
    write_options,
)


def test_run_directory_layout_and_collision(tmp_path):
    now = datetime.datetime(2026, 11, 29, 13, 5, 7)
    first = create_run_directory(tmp_path / "outputs", now)
    second = create_run_directory(tmp_path / "outputs", now)
    assert first == tmp_path / "outputs" / "2026-11-29" / "13-05-07"
    assert second.name == "13-05-07-1" and second.is_dir()


def test_written_options_read_back(tmp_path):
    import yaml

    options = {"architecture": {"name": "composition"}, "seed": 3}
    path = write_options(tmp_path, options)
    assert yaml.safe_load(path.read_text()) == options


def test_newest_checkpoint_of_newest_run(tmp_path):
    old = tmp_path / "2026-11-28" / "23-59-59"
    new = tmp_path / "2026-11-29" / "00-00-01"
    for run in (old, new):
        run.mkdir(parents=True)
    (old / "model_9.ckpt").write_bytes(b"")
    (new / "model_0.ckpt").write_bytes(b"")
    time.sleep(0.01)
    (new / "model_1.ckpt").write_bytes(b"")
    os.utime(old / "model_9.ckpt")
    assert newest_checkpoint(tmp_path) == new / "model_1.ckpt"


def test_newest_checkpoint_without_any(tmp_path):
    (tmp_path / "2026-11-29" / "00-00-01").mkdir(parents=True)
    with pytest.raises(UserError, match="found no checkpoint"):
        newest_checkpoint(tmp_path)
