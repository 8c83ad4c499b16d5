"""RMSE and MAE accumulation: absent labels are skipped, NaN predictions are not."""

from __future__ import annotations

import math

import pytest
import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from atomtrain.data.info import TargetInfo
from atomtrain.errors import OptionsError
from atomtrain.training.metrics import (
    MetricAccumulator,
    require_run_metric,
    run_metric_names,
)


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


def test_the_metrics_of_a_run_follow_the_gradients_of_its_data():
    with_forces = TargetInfo("energy", "eV", gradients=("positions",))
    assert run_metric_names({"energy": with_forces}) == [
        "loss",
        "rmse_prod",
        "mae_prod",
        "energy.rmse",
        "energy.mae",
        "energy.forces.rmse",
        "energy.forces.mae",
    ]
    require_run_metric("energy.forces.mae", {"energy": with_forces})
    without = {"energy": TargetInfo("energy", "eV")}
    with pytest.raises(OptionsError, match=r"best_model_metric: not a metric"):
        require_run_metric("energy.forces.mae", without)
    with pytest.raises(OptionsError, match=r"did you mean 'energy\.rmse'"):
        require_run_metric("energy.rmsd", without)


def _spherical_map(values: list) -> TensorMap:
    keys = Labels(["o3_lambda", "o3_sigma"], torch.tensor([[0, 1], [2, 1]]))
    blocks = []
    for lam, numbers in zip((0, 2), values):
        blocks.append(
            TensorBlock(
                torch.tensor(numbers, dtype=torch.float64).reshape(1, 2 * lam + 1, 1),
                Labels(["system"], torch.tensor([[0]])),
                [Labels(["o3_mu"], torch.arange(-lam, lam + 1).reshape(-1, 1))],
                Labels(["properties"], torch.tensor([[0]])),
            )
        )
    return TensorMap(keys, blocks)


def test_each_irrep_of_a_spherical_target_has_its_own_errors():
    info = TargetInfo("", "", kind="spherical", irreps=((0, 1), (2, 1)))
    names = run_metric_names({"alpha": info})
    assert "alpha.irrep_0_1.mae" in names and "alpha.irrep_2_1.rmse" in names
    accumulator = MetricAccumulator({"alpha": info}, [], "angstrom")
    predicted = _spherical_map([[1.0], [0.0, 0.0, 0.0, 0.0, 2.0]])
    labels = _spherical_map([[4.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    accumulator.update(
        {"alpha": predicted}, {"alpha": labels}, torch.tensor([3]), torch.zeros(1)
    )
    metrics = accumulator.compute()
    assert metrics["alpha.irrep_0_1.mae"] == 3.0
    assert metrics["alpha.irrep_2_1.mae"] == pytest.approx(2.0 / 5)
    assert metrics["alpha.mae"] == pytest.approx(5.0 / 6)
    assert accumulator.units()["alpha.irrep_2_1.mae"] == ""
