"""SIGTERM during training: a checkpoint is written, the process exits cleanly, and a
restart from that checkpoint runs to the end."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from atomtrain.checkpoints import read_checkpoint_file
from atomtrain.testing.dummy import DummyModel, DummyTrainer
from atomtrain.training.signals import StopRequest

SCRIPT = textwrap.dedent(
    """
    import sys, torch
    sys.path.insert(0, {tests!r})
    from conftest import read_ethanol
    from atomtrain.testing.dummy import DummyModel, DummyTrainer
    from atomtrain.training.hypers import base_trainer_defaults

    data = read_ethanol({data!r}, 40)
    hypers = {{**base_trainer_defaults(), "num_epochs": 30, "batch_size": 4}}
    torch.manual_seed(0)
    hypers_of_model = {{"cutoff": 4.0, "num_radial": 4, "hidden": 8, "zbl": False}}
    model = DummyModel(hypers_of_model, data.info)
    try:
        DummyTrainer(hypers).train(
            model, torch.float64, [torch.device("cpu")],
            [data.subset(range(30))], [data.subset(range(30, 40))], {run!r},
        )
    except Exception as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    """
)


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_and_restart_finishes(resources, ethanol, tmp_path):
    run = tmp_path / "run"
    script = SCRIPT.format(
        tests=str(Path(__file__).parent),
        data=str(resources / "ethanol_reduced_100.xyz"),
        run=str(run),
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not (run / "train.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    assert "training interrupted by SIGTERM" in stderr
    assert f"checkpoint written to {run / 'model_interrupted.ckpt'}" in stderr
    assert "continue with --restart auto" in stderr

    checkpoint = read_checkpoint_file(run / "model_interrupted.ckpt")
    stopped_at = checkpoint["trainer"]["state"]["epoch"]
    assert stopped_at < 30
    model = DummyModel.load_checkpoint(checkpoint, context="restart")
    hypers = checkpoint["trainer"]["hypers"]
    trainer = DummyTrainer.load_checkpoint(checkpoint, hypers, context="restart")
    data = ethanol.subset(range(40))
    trainer.train(
        model,
        torch.float64,
        [torch.device("cpu")],
        [data.subset(range(30))],
        [data.subset(range(30, 40))],
        tmp_path / "restart",
    )
    rows = (tmp_path / "restart" / "train.csv").read_text().splitlines()[2:]
    assert rows[0].split(",")[0] == str(stopped_at)
    assert rows[-1].split(",")[0] == "29"


def test_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    with StopRequest() as stop:
        assert signal.getsignal(signal.SIGTERM) != before
        signal.raise_signal(signal.SIGTERM)
        assert stop.requested == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) == before
