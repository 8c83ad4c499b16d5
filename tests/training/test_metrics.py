"""RMSE and MAE accumulation: absent labels are skipped, NaN predictions are not."""

from __future__ import annotations

import math

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from atomtrain.data.info import TargetInfo
from atomtrain.training.metrics import MetricAccumulator


def _energies(values) -> TensorMap:
    values = torch.tensor(values, dtype=torch.float64).reshape(-1, 1)
    block = TensorBlock(
        values=values,
        samples=Labels.range("system", len(values)),
        components=[],
        properties=Labels.range("energy", 1),
    )
    return TensorMap(Labels.single(), [block])


def _metrics(predictions, labels):
    accumulator = MetricAccumulator({"energy": TargetInfo("energy", "eV")}, [], "")
    accumulator.update(
        {"energy": _energies(predictions)},
        {"energy": _energies(labels)},
        torch.tensor([3] * len(labels)),
        torch.zeros(len(labels)),
    )
    return accumulator.compute()


def test_an_absent_label_is_skipped():
    metrics = _metrics([1.0, 2.0, 5.0], [0.0, float("nan"), 1.0])
    assert metrics["energy.rmse"] == math.sqrt((1.0 + 16.0) / 2)
    assert metrics["energy.mae"] == 2.5


def test_a_nan_prediction_is_not_dropped_from_the_errors():
    metrics = _metrics([1.0, float("nan"), 5.0], [0.0, 2.0, 1.0])
    assert math.isnan(metrics["energy.rmse"])
    assert math.isnan(metrics["energy.mae"])
