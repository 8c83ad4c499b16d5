"""Predictions with autograd gradients, checked against finite differences, and the
dummy model's export through TorchScript."""

from __future__ import annotations

import pytest
import torch

from atomtrain.data.batching import BatchBuilder
from atomtrain.testing.dummy import DummyModel
from atomtrain.training.predict import predict

HYPERS = {"cutoff": 4.0, "num_radial": 6, "hidden": 8, "zbl": False}


def build(model, dataset, indices):
    builder = BatchBuilder(
        model.requested_neighbor_lists(), dict(dataset.info.targets), {}, torch.float64
    )
    return builder(dataset, indices, ["positions"])


def test_forces_match_finite_differences(ethanol):
    torch.manual_seed(0)
    model = DummyModel(dict(HYPERS), ethanol.info).to(torch.float64)
    batch = build(model, ethanol, [0, 1])
    gradient = predict(model, batch, ethanol.info.targets, training=False)
    block = gradient["energy"].block().gradient("positions")
    assert block.samples.names == ["sample", "system", "atom"]
    assert block.values.shape == (18, 3, 1)
    structure = ethanol[1]
    step = 1e-5
    for atom, axis in [(0, 0), (4, 2), (8, 1)]:
        energies = []
        for sign in (1.0, -1.0):
            structure.positions[atom, axis] += sign * step
            shifted = build(model, ethanol, [1])
            energies.append(
                model(
                    shifted.systems,
                    {"energy": ethanol.info.targets["energy"].model_output()},
                )["energy"]
                .block()
                .values.item()
            )
            structure.positions[atom, axis] -= sign * step
        numeric = (energies[0] - energies[1]) / (2 * step)
        assert block.values[9 + atom, axis, 0].item() == pytest.approx(
            numeric, rel=1e-6, abs=1e-8
        )


def test_no_gradient_across_structures(ethanol):
    torch.manual_seed(0)
    model = DummyModel(dict(HYPERS), ethanol.info).to(torch.float64)
    alone = predict(model, build(model, ethanol, [5]), ethanol.info.targets, False)
    together = predict(
        model, build(model, ethanol, [4, 5]), ethanol.info.targets, False
    )
    forces_alone = alone["energy"].block().gradient("positions").values
    forces_together = together["energy"].block().gradient("positions").values[9:]
    assert torch.allclose(forces_alone, forces_together, atol=1e-12)


def test_dummy_model_exports_and_scripts(ethanol, tmp_path):
    model = DummyModel(dict(HYPERS), ethanol.info).to(torch.float32)
    exported = model.export()
    exported.save(str(tmp_path / "model.pt"))
    assert (tmp_path / "model.pt").stat().st_size > 0
    assert exported.capabilities().dtype == "float32"
    assert exported.capabilities().interaction_range == 4.0
