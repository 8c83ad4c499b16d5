"""The shared loop, through the dummy architecture trained on real ethanol data."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch

from atomtrain.checkpoints import read_checkpoint_file
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.testing.dummy import DummyModel, DummyTrainer
from atomtrain.training.hypers import base_trainer_defaults
from atomtrain.training.step import TrainingDiverged

MODEL_HYPERS = {"cutoff": 4.0, "num_radial": 8, "hidden": 32, "zbl": False}


def train(
    ethanol: InMemoryDataset,
    run_dir: Path,
    trainer: DummyTrainer | None = None,
    model: DummyModel | None = None,
    **overrides: Any,
) -> List[Dict[str, str]]:
    hypers: Dict[str, Any] = base_trainer_defaults()
    hypers.update(num_epochs=4, batch_size=10, learning_rate=5e-2, warmup_fraction=0.0)
    hypers.update(overrides)
    torch.manual_seed(0)
    if model is None:
        model = DummyModel(dict(MODEL_HYPERS), ethanol.info)  # type: ignore[arg-type]
    trainer = trainer or DummyTrainer(hypers)  # type: ignore[arg-type]
    train_set = ethanol.subset(range(80))
    val_set = ethanol.subset(range(80, 100))
    trainer.train(
        model, torch.float64, [torch.device("cpu")], [train_set], [val_set], run_dir
    )
    with (run_dir / "train.csv").open() as file:
        rows = list(csv.DictReader(file))
    return rows[1:]


def test_loss_decreases(ethanol, tmp_path):
    rows = train(ethanol, tmp_path, num_epochs=10)
    losses = [float(r["train.loss"]) for r in rows]
    assert losses[-1] < 0.25 * losses[0]
    assert float(rows[-1]["val.loss"]) < 0.5 * float(rows[0]["val.loss"])
    # the training loss is an epoch mean of the same terms: same order of magnitude
    assert 0.3 < losses[-1] / float(rows[-1]["val.loss"]) < 3.0


def test_csv_and_log(ethanol, tmp_path):
    train(ethanol, tmp_path, num_epochs=2)
    lines = (tmp_path / "train.csv").read_text().splitlines()
    header, units = lines[0].split(","), lines[1].split(",")
    assert header[:4] == ["epoch", "learning_rate", "train.loss", "val.loss"]
    assert units[header.index("val.energy.rmse")] == "kcal/mol/atom"
    assert units[header.index("val.energy.forces.mae")] == "kcal/mol/angstrom"
    assert [line.split(",")[0] for line in lines[2:]] == ["0", "1"]
    log = (tmp_path / "train.log").read_text()
    assert "epoch    1 |" in log and "energy.forces RMSE" in log
    assert "epoch 0 is the best so far by val.loss (first epoch)" in log


def test_restart_reproduces_the_run(ethanol, tmp_path):
    full = train(ethanol, tmp_path / "full", checkpoint_interval=1)
    checkpoint = read_checkpoint_file(tmp_path / "full" / "model_1.ckpt")
    model = DummyModel.load_checkpoint(checkpoint, context="restart")
    trainer = DummyTrainer.load_checkpoint(
        checkpoint, checkpoint["trainer"]["hypers"], context="restart"
    )
    resumed = train(ethanol, tmp_path / "resumed", trainer=trainer, model=model)
    assert [r["epoch"] for r in resumed] == ["2", "3"]
    for before, after in zip(full[2:], resumed):
        for key in ("train.loss", "val.loss", "val.energy.forces.rmse"):
            assert float(after[key]) == pytest.approx(float(before[key]), rel=1e-6)


def test_best_model_and_early_stopping(ethanol, tmp_path):
    # a learning rate this large makes the validation error go up after a while
    rows = train(
        ethanol,
        tmp_path,
        num_epochs=30,
        learning_rate=0.3,
        scheduler="constant",
        early_stopping_patience=2,
        best_model_metric="energy.forces.rmse",
    )
    log = (tmp_path / "train.log").read_text()
    assert "early stopping at epoch" in log
    assert len(rows) < 30
    errors = [float(r["val.energy.forces.rmse"]) for r in rows]
    best = min(range(len(errors)), key=errors.__getitem__)
    assert f"epoch {best} is the best so far by val.energy.forces.rmse" in log
    assert len(rows) == best + 3


def test_product_of_the_errors_selects_the_best_model(ethanol, tmp_path):
    rows = train(ethanol, tmp_path, num_epochs=3, best_model_metric="mae_prod")
    log = (tmp_path / "train.log").read_text()
    products = [
        float(r["val.energy.mae"]) * float(r["val.energy.forces.mae"]) for r in rows
    ]
    best = min(range(len(products)), key=products.__getitem__)
    assert f"epoch {best} is the best so far by val.mae_prod" in log
    assert log.count("is the best so far") == 1 + sum(
        products[i] < min(products[:i]) for i in range(1, len(products))
    )


def test_ema_weights_are_the_final_model(ethanol, tmp_path):
    hypers = {**base_trainer_defaults(), "num_epochs": 2, "ema_decay": 0.9}
    model = DummyModel(dict(MODEL_HYPERS), ethanol.info)  # type: ignore[arg-type]
    trainer = DummyTrainer(hypers)  # type: ignore[arg-type]
    train(ethanol, tmp_path, trainer=trainer, model=model)
    assert trainer.state is not None and trainer.state.ema is not None
    best = trainer.state.best_model_state_dict
    assert best is not None
    for name, value in model.state_dict().items():
        assert torch.equal(value, best[name].to(value))
    # the final model holds the averaged weights of its best epoch, not the live ones
    live = trainer.state.optimizer["state"][0]["exp_avg"]
    assert live.shape == model.network[0].weight.shape
    assert trainer.state.best_epoch in (0, 1)


def test_nan_loss_names_the_structures(ethanol, tmp_path):
    broken = ethanol.structures[3].targets["energy"]
    broken.gradients["positions"] = broken.gradients["positions"] * float("inf")
    with pytest.raises(TrainingDiverged) as error:
        train(ethanol, tmp_path, batch_size=100, num_epochs=1)
    message = str(error.value)
    assert "epoch 0, batch 0" in message
    assert "structure 3 of '" in message and "ethanol_reduced_100.xyz'" in message
    assert "no checkpoint was written yet" in message


def test_batches_built_by_workers_give_the_same_run(ethanol, tmp_path):
    here = train(ethanol, tmp_path / "here", num_epochs=2)
    workers = train(ethanol, tmp_path / "workers", num_epochs=2, num_workers=2)
    assert workers == here
