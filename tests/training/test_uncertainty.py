"""Calibration of uncertainty outputs: what is requested, how errors and sigmas are
collected (unlabelled values skipped), and the lines printed."""

from __future__ import annotations

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import ModelOutput

from atomtrain.data.info import TargetInfo
from atomtrain.training.uncertainty import (
    UncertaintyCalibration,
    calibration_lines,
    uncertainty_name,
)


def _per_structure(values: list) -> TensorMap:
    column = torch.tensor(values, dtype=torch.float64).reshape(-1, 1)
    block = TensorBlock(
        column,
        Labels(["system"], torch.arange(len(values), dtype=torch.int32).reshape(-1, 1)),
        [],
        Labels(["energy"], torch.tensor([[0]], dtype=torch.int32)),
    )
    return TensorMap(Labels(["_"], torch.tensor([[0]], dtype=torch.int32)), [block])


def test_uncertainty_names_keep_the_variant():
    assert uncertainty_name("energy") == "energy_uncertainty"
    assert uncertainty_name("energy/pbe") == "energy_uncertainty/pbe"
    assert uncertainty_name("mtt::dipole") == "mtt::dipole_uncertainty"


def test_fractions_within_one_and_two_sigma_skip_unlabelled_values():
    targets = {
        "energy/dft": TargetInfo("energy", "kcal/mol"),
        "energy": TargetInfo("energy", "eV"),
    }
    model_outputs = {
        "energy/dft": ModelOutput(unit="eV"),
        "energy_uncertainty/dft": ModelOutput(unit="eV"),
        "energy": ModelOutput(unit="eV"),
    }
    calibration = UncertaintyCalibration(model_outputs, targets)
    assert list(calibration.targets) == ["energy/dft"]
    requested = calibration.outputs()
    assert list(requested) == ["energy_uncertainty/dft"]
    assert requested["energy_uncertainty/dft"].unit == "kcal/mol"

    # errors 0.5, -1.5, 2.5, 0.1 (and an unlabelled value) with sigma 1
    predictions = {
        "energy/dft": _per_structure([1.5, -0.5, 3.5, 1.1, 7.0]),
        "energy_uncertainty/dft": _per_structure([1.0, 1.0, 1.0, 1.0, 1.0]),
    }
    labels = {"energy/dft": _per_structure([1.0, 1.0, 1.0, 1.0, float("nan")])}
    calibration.update(predictions, labels)
    # a second batch: error 3 with sigma 2 (within 2 sigma, not 1)
    calibration.update(
        {
            "energy/dft": _per_structure([4.0]),
            "energy_uncertainty/dft": _per_structure([2.0]),
        },
        {"energy/dft": _per_structure([1.0])},
    )
    coverage = calibration.coverages()["energy/dft"]
    assert coverage.count == 5
    assert coverage.one_sigma == 2 / 5
    assert coverage.two_sigma == 4 / 5
    (line,) = calibration_lines({"energy/dft": coverage})
    assert line == (
        "energy_uncertainty/dft: 40.0 % of errors within ±1 sigma (Gaussian 68.3 %), "
        "80.0 % within ±2 sigma (Gaussian 95.4 %), over 5 values"
    )


def test_no_labelled_value_gives_no_calibration():
    targets = {"energy": TargetInfo("energy", "eV")}
    outputs = {"energy": ModelOutput(), "energy_uncertainty": ModelOutput()}
    calibration = UncertaintyCalibration(outputs, targets)
    calibration.update({}, {})
    assert calibration.coverages() == {}
