"""The memory guard: the cost of a step measured from the tensors autograd keeps, a
structure too large for the memory refused with its size, batches split to fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Tuple

import pytest
import torch
from ase.build import bulk
from ase.calculators.emt import EMT

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.sampling import BatchingError
from atomtrain.data.structure import Structure, TargetData
from atomtrain.testing.dummy import DummyModel, DummyTrainer
from atomtrain.training.batches import BatchFactory
from atomtrain.training.hypers import base_trainer_defaults
from atomtrain.training.losses import LossFunction, resolve_loss
from atomtrain.training.memory import (
    FACTOR,
    MemoryBudget,
    MemoryModel,
    available_bytes,
    format_bytes,
    guard_memory,
    kept_bytes,
    measure_cost,
    memory_budget,
)
from atomtrain.training.step import GradientStep

MODEL_HYPERS = {"cutoff": 4.0, "num_radial": 6, "hidden": 16, "zbl": False}
CPU = torch.device("cpu")


def test_kept_bytes_counts_each_storage_once() -> None:
    values = torch.randn(1000, dtype=torch.float64, requires_grad=True)
    # sin and cos both keep their input; exp keeps its output
    assert kept_bytes(lambda: (values.sin() + values.cos()).sum()) == 8000
    assert kept_bytes(lambda: values.sin().sum(), exclude=[values]) == 0
    assert kept_bytes(lambda: values.exp().sum(), exclude=[values]) == 8000
    with torch.no_grad():
        assert kept_bytes(lambda: values.exp().sum()) == 0


def test_measure_cost_changes_no_random_generator() -> None:
    weights = torch.nn.Parameter(torch.randn(100))
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)

    def step() -> torch.Tensor:
        return torch.nn.functional.dropout(weights.exp(), 0.5).sum()

    cost = measure_cost(step, [weights], atoms=10, edges=40, device=CPU)
    torch.testing.assert_close(torch.rand(3), expected)
    # exp keeps its output and dropout its mask (400 bytes each); the parameter is
    # part of the model's fixed cost: its gradient and two moments
    assert cost == MemoryModel(bytes_per_item=800 / 50, fixed_bytes=3 * 400)
    assert cost.estimate(atoms=100, edges=900) == int(FACTOR * 16 * 1000 + 1200)


def test_budget_and_message_sizes() -> None:
    budget = memory_budget(MemoryModel(100.0, 0), CPU, available=10**6)
    assert budget == MemoryBudget(MemoryModel(100.0, 0), 900_000, "cpu")
    assert budget.fits(atoms=100, edges=3500) and not budget.fits(100, 3600)
    assert [format_bytes(n) for n in (2_500, 3_200_000, 14_000_000_000)] == [
        "2 kB",
        "3 MB",
        "14.0 GB",
    ]


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="needs /proc")
def test_available_memory_of_the_cpu() -> None:
    available = available_bytes(CPU)
    assert available is not None and available > 0
    assert available <= 1024 * int(
        next(
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        )
    )


def _copper(repeats: int) -> InMemoryDataset:
    """A real bulk copper supercell (4 atoms per cubic cell), periodic, rattled, with
    its energy and forces from ASE's EMT calculator."""
    atoms = bulk("Cu", cubic=True) * (repeats, repeats, repeats)
    atoms.rattle(0.05, seed=1)
    atoms.calc = EMT()
    energy = torch.tensor([[atoms.get_potential_energy()]])
    forces = torch.tensor(atoms.get_forces())
    structure = Structure(
        types=torch.tensor(atoms.numbers, dtype=torch.int32),
        positions=torch.tensor(atoms.positions),
        cell=torch.tensor(atoms.cell.array),
        pbc=torch.ones(3, dtype=torch.bool),
        targets={"energy": TargetData([energy], {"positions": -forces[..., None]})},
    )
    energy_info = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))
    info = DatasetInfo(
        length_unit="angstrom", atomic_types=[29], targets={"energy": energy_info}
    )
    return InMemoryDataset([structure], info, [("copper.xyz", 0)])


def _engine(
    dataset: InMemoryDataset, **hypers: Any
) -> Tuple[BatchFactory, GradientStep, DummyModel]:
    merged: Dict[str, Any] = {**base_trainer_defaults(), **hypers}
    model = DummyModel(dict(MODEL_HYPERS), dataset.info)  # type: ignore[arg-type]
    model.to(torch.float64)
    trainer = DummyTrainer(merged)
    batches = BatchFactory(trainer, model, trainer.settings, torch.float64, CPU, 5)
    targets = dict(dataset.info.targets)
    loss = LossFunction(resolve_loss(merged["loss"], targets), ["energy"])
    step = GradientStep(trainer, model, loss, batches, targets, CPU)
    return batches, step, model


def test_a_bulk_supercell_too_large_for_the_memory(ethanol) -> None:
    batches, step, model = _engine(ethanol, batch_size=10)
    copper = _copper(8)
    parameters = list(model.parameters())
    budget = guard_memory(batches, step.step_graph, parameters, [ethanol], [], CPU)
    assert budget is not None and batches.memory is budget
    edges = batches.edges_per_structure(copper)[0]
    # 2048 atoms, 18 neighbours each within the cutoff of 4 Å (both directions)
    assert edges == 2048 * 18
    estimate = budget.model.estimate(2048, edges)
    available = int(estimate / 0.9 * 0.5)  # half of what the supercell needs
    batches.memory = None
    with pytest.raises(BatchingError) as error:
        guard_memory(
            batches, step.step_graph, parameters, [ethanol], [copper], CPU, available
        )
    assert str(error.value) == (
        f"structure 0 of 'copper.xyz' (2048 atoms, {edges} neighbour pairs) needs "
        f"about {format_bytes(estimate)} of memory for one training step of this "
        f"model, more than the {format_bytes(int(0.9 * available))} a step may use "
        "on cpu (90% of the memory available when training started); batches of "
        "several structures are split to fit, as max_atoms_per_batch would split "
        "them, but one structure cannot be: leave it out (indices of its dataset "
        "section), or train with more memory, a smaller cutoff or a smaller model"
    )
    assert batches.memory is None


def _cost_per_item(repeats: int) -> float:
    copper = _copper(repeats)
    batches, step, model = _engine(copper, batch_size=1)
    atoms, edges = batches.structure_size(copper, 0)
    batch = batches.build(copper, [0], train=True)
    cost = measure_cost(
        lambda: step.step_graph(batch), list(model.parameters()), atoms, edges, CPU
    )
    return cost.bytes_per_item


def test_the_measured_cost_follows_the_structure_size() -> None:
    # the dummy model keeps the same few tensors per atom and per neighbour pair
    assert _cost_per_item(3) == pytest.approx(_cost_per_item(2), rel=0.05)


def test_batches_are_split_to_fit_the_memory(ethanol) -> None:
    batches, step, model = _engine(ethanol, batch_size=10)
    parameters = list(model.parameters())
    whole = batches.plan([ethanol], 5, 0, world_size=1)
    assert all(len(s.indices) == 10 for s in whole)
    budget = guard_memory(batches, step.step_graph, parameters, [ethanol], [], CPU)
    assert budget is not None
    edges = batches.edges_per_structure(ethanol)
    # room for about three structures per step
    three = budget.model.estimate(27, sum(edges[:3]))
    guard_memory(
        batches, step.step_graph, parameters, [ethanol], [], CPU, int(three / 0.9)
    )
    assert batches.memory is not None
    split = batches.plan([ethanol], 5, 0, world_size=1)
    assert sorted(i for s in split for i in s.indices) == list(range(100))
    assert len(split) > len(whole)
    for step_ in split:
        atoms = 9 * len(step_.indices)
        assert batches.memory.fits(atoms, sum(edges[i] for i in step_.indices))
