"""Out-of-memory splitting of a training step, and the loss counts it relies on,
through the dummy architecture on real ethanol data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import pytest
import torch

from atomtrain.data.batching import BatchBuilder
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.testing.dummy import DummyModel, DummyTrainer
from atomtrain.training.hypers import base_trainer_defaults
from atomtrain.training.losses import LossFunction, resolve_loss
from atomtrain.training.predict import predict
from atomtrain.training.step import (
    OutOfMemoryWarning,
    StructureTooLarge,
    split_in_halves,
)

MODEL_HYPERS = {"cutoff": 4.0, "num_radial": 6, "hidden": 16, "zbl": False}


class OutOfMemoryAbove(DummyTrainer):
    """Runs out of (simulated) CUDA memory on batches of more than ``limit``
    structures, the first ``times`` times it meets one."""

    limit = 3
    times = 10**9

    def predict(self, model: Any, batch: Any, targets: Any) -> Any:
        if len(batch) > self.limit and self.times > 0:
            type(self).times -= 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return super().predict(model, batch, targets)


def trained_weights(
    ethanol: InMemoryDataset, run_dir: Path, trainer_class: type
) -> Dict[str, torch.Tensor]:
    hypers: Dict[str, Any] = base_trainer_defaults()
    hypers.update(num_epochs=2, batch_size=8, learning_rate=2e-2, warmup_fraction=0.0)
    torch.manual_seed(0)
    model = DummyModel(dict(MODEL_HYPERS), ethanol.info)  # type: ignore[arg-type]
    trainer_class(hypers).train(
        model,
        torch.float64,
        [torch.device("cpu")],
        [ethanol.subset(range(20))],
        [ethanol.subset(range(20, 25))],
        run_dir,
    )
    return model.state_dict()


def test_split_in_halves():
    assert split_in_halves([[1, 2, 3, 4, 5], [6], [7, 8]]) == [
        [1, 2],
        [3, 4, 5],
        [6],
        [7],
        [8],
    ]


def test_out_of_memory_split_gives_the_same_weights(ethanol, tmp_path):
    expected = trained_weights(ethanol, tmp_path / "whole", DummyTrainer)
    OutOfMemoryAbove.limit, OutOfMemoryAbove.times = 3, 10**9
    with pytest.warns(OutOfMemoryWarning) as caught:
        split = trained_weights(ethanol, tmp_path / "split", OutOfMemoryAbove)
    messages = [str(w.message) for w in caught]
    # 20 structures in batches of 8, 6, 6 (or so): each split twice, down to <= 3
    assert any("retrying in 2 pieces" in m for m in messages)
    assert any("retrying in 4 pieces" in m for m in messages)
    # every structure of the training set is named in some warning
    for index in range(20):
        assert any(ethanol.describe(index) in m for m in messages)
    for name, value in expected.items():
        torch.testing.assert_close(split[name], value, rtol=1e-10, atol=1e-12)


def test_out_of_memory_once_then_whole_batches_again(ethanol, tmp_path):
    expected = trained_weights(ethanol, tmp_path / "whole", DummyTrainer)
    OutOfMemoryAbove.limit, OutOfMemoryAbove.times = 3, 1
    with pytest.warns(OutOfMemoryWarning, match="retrying in 2 pieces") as caught:
        split = trained_weights(ethanol, tmp_path / "split", OutOfMemoryAbove)
    assert len(caught) == 1
    for name, value in expected.items():
        torch.testing.assert_close(split[name], value, rtol=1e-10, atol=1e-12)


def test_a_structure_that_does_not_fit_alone_is_reported_with_its_size(
    ethanol, tmp_path
):
    OutOfMemoryAbove.limit, OutOfMemoryAbove.times = 0, 10**9
    with (
        pytest.warns(OutOfMemoryWarning),
        pytest.raises(StructureTooLarge) as error,
    ):
        trained_weights(ethanol, tmp_path, OutOfMemoryAbove)
    message = str(error.value)
    assert "(9 atoms, " in message and "neighbour pairs) does not fit" in message
    assert "ethanol_reduced_100.xyz" in message


def test_counts_from_labels_equal_the_loss_elements(ethanol):
    model = DummyModel(dict(MODEL_HYPERS), ethanol.info)  # type: ignore[arg-type]
    model.to(torch.float64)
    targets = dict(ethanol.info.targets)
    builder = BatchBuilder(model.requested_neighbor_lists(), targets)
    batch = builder(ethanol, list(range(6)), ["positions"])
    loss = LossFunction(resolve_loss("mse", targets), ["energy"])
    atoms = torch.tensor([len(s) for s in batch.systems])
    predictions = predict(model, batch, targets, training=True)
    _, parts = loss(predictions, batch.targets, batch.extra_data, atoms)
    counts = loss.counts(batch.targets, batch.extra_data)
    assert counts == {name: count for name, (_, count) in parts.items()}
    assert counts == {"energy": 6, "energy.forces": 6 * 9 * 3}
    # with the counts of a batch twice as large, the loss of this one halves
    whole, _ = loss(predictions, batch.targets, batch.extra_data, atoms)
    doubled = {name: 2 * count for name, count in counts.items()}
    half, _ = loss(predictions, batch.targets, batch.extra_data, atoms, doubled)
    torch.testing.assert_close(half, whole / 2)
