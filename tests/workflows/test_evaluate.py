"""Evaluating an exported model on datasets: what it refuses before predicting, and
the NaN guard (which systems of a batch have non-finite predictions, in their values
or their gradients)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from atomtrain.composition.model import CompositionModel
from atomtrain.data.loading import load_datasets
from atomtrain.errors import DataError
from atomtrain.options import validate_options
from atomtrain.workflows.evaluate import evaluate, nonfinite_systems


def _dataset(resources: Path, tmp_path: Path, file: str, key: str):
    options = validate_options(
        {
            "architecture": {"name": "composition"},
            "training_set": {
                "systems": str(resources / file),
                "targets": {"energy": {"key": key, "unit": "eV", "forces": False}},
            },
            "validation_set": 0.0,
            "test_set": 0.0,
        },
        None,
        tmp_path,
    )
    return load_datasets(options).training[0]


def test_elements_the_model_does_not_know(resources: Path, tmp_path: Path) -> None:
    ethanol = _dataset(resources, tmp_path, "ethanol_reduced_100.xyz", "energy")
    model = CompositionModel({}, ethanol.info).to(torch.float64).export()
    qm9 = _dataset(resources, tmp_path, "qm9_reduced_100.xyz", "U0")
    with pytest.raises(DataError) as error:
        evaluate(model, qm9)
    message = str(error.value)
    assert "qm9_reduced_100.xyz': structures 1, 4, 9, 11, 18 (and 31 more)" in message
    assert "element N (atomic number 7) is not among the model's atomic types: " in (
        message
    )
    assert "H, C, O (1, 6, 8)" in message
    assert evaluate(model, qm9.subset([0, 2, 3])).metrics


def _energies_with_forces(values, forces) -> TensorMap:
    systems = len(values)
    block = TensorBlock(
        values=torch.tensor(values, dtype=torch.float64).reshape(-1, 1),
        samples=Labels.range("system", systems),
        components=[],
        properties=Labels.range("energy", 1),
    )
    atoms = len(forces) // systems
    sample = torch.arange(systems).repeat_interleave(atoms)
    atom = torch.arange(atoms).repeat(systems)
    block.add_gradient(
        "positions",
        TensorBlock(
            values=torch.tensor(forces, dtype=torch.float64).reshape(-1, 3, 1),
            samples=Labels(
                ["sample", "system", "atom"],
                torch.stack([sample, sample, atom], dim=1).to(torch.int32),
            ),
            components=[Labels.range("xyz", 3)],
            properties=Labels.range("energy", 1),
        ),
    )
    return TensorMap(Labels.single(), [block])


def test_values_and_gradients_are_both_checked():
    forces = [[0.0, 0.0, 0.0]] * 8
    forces[5] = [0.0, float("inf"), 0.0]  # system 2, atom 1
    tensor = _energies_with_forces([1.0, float("nan"), 2.0, 3.0], forces)
    assert nonfinite_systems(tensor).tolist() == [1, 2]


def test_finite_predictions_have_no_system():
    tensor = _energies_with_forces([1.0, 2.0], [[0.0, 1.0, 2.0]] * 4)
    assert nonfinite_systems(tensor).tolist() == []
