"""The NaN guard of the evaluation: which systems of a batch have non-finite
predictions, in their values or their gradients."""

from __future__ import annotations

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from atomtrain.workflows.evaluate import nonfinite_systems


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
