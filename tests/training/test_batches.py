"""Engine batches shared between processes: the global batches of N processes are
those of one process with an N times larger batch, split evenly within the caps."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import ase.io
import pytest
import torch

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.sampling import BatchingError
from atomtrain.data.structure import Structure, TargetData
from atomtrain.testing.dummy import DummyModel, DummyTrainer
from atomtrain.training.batches import BatchFactory, share_batch
from atomtrain.training.hypers import base_trainer_defaults


def read_qm9(path: Path) -> InMemoryDataset:
    """QM9 molecules (3 to 29 atoms) with their energy U0 (Hartree)."""
    structures = []
    for frame in ase.io.read(path, index=":"):
        energy = torch.tensor([[frame.info["U0"]]], dtype=torch.float64)
        structures.append(
            Structure(
                types=torch.tensor(frame.numbers, dtype=torch.int32),
                positions=torch.tensor(frame.positions, dtype=torch.float64),
                cell=torch.zeros((3, 3), dtype=torch.float64),
                pbc=torch.zeros(3, dtype=torch.bool),
                targets={"energy": TargetData([energy])},
            )
        )
    info = DatasetInfo(
        length_unit="angstrom",
        atomic_types=[1, 6, 7, 8, 9],
        targets={"energy": TargetInfo(quantity="energy", unit="Hartree")},
    )
    return InMemoryDataset(
        structures, info, [(str(path), i) for i in range(len(structures))]
    )


@pytest.fixture
def qm9(resources: Path) -> InMemoryDataset:
    return read_qm9(resources / "qm9_reduced_100.xyz")


def factory(dataset: InMemoryDataset, **hypers: Any) -> BatchFactory:
    merged: Dict[str, Any] = {**base_trainer_defaults(), **hypers}
    model = DummyModel(
        {"cutoff": 4.0, "num_radial": 4, "hidden": 8, "zbl": False},  # type: ignore[arg-type]
        dataset.info,
    )
    trainer = DummyTrainer(merged)
    return BatchFactory(trainer, model, trainer.settings, torch.float64, "cpu", 5)


def atoms_of(dataset: InMemoryDataset, indices: List[int]) -> int:
    return sum(len(dataset[i]) for i in indices)


def test_shares_are_the_batches_of_one_process_with_a_larger_batch(qm9):
    for epoch in (0, 3):
        one = factory(qm9, batch_size=12).plan([qm9], 5, epoch, world_size=1)
        three = factory(qm9, batch_size=4).plan([qm9], 5, epoch, world_size=3)
        assert [sorted(s.indices) for s in three] == [sorted(s.indices) for s in one]
        for step in three:
            sizes = [len(share) for share in step.shares]
            assert max(sizes) - min(sizes) <= 1
            loads = [atoms_of(qm9, share) for share in step.shares]
            # largest first to the least loaded: within one structure of each other
            assert max(loads) - min(loads) <= 29
    # a single process keeps the planned order inside a batch
    plan = factory(qm9, batch_size=12).plan([qm9], 5, 0, world_size=1)
    assert all(len(step.shares) == 1 for step in plan)


def test_shares_respect_the_caps_of_each_process(qm9):
    hypers = {"batch_size": 50, "max_atoms_per_batch": 120}
    for world in (1, 2, 4):
        plan = factory(qm9, **hypers).plan([qm9], 1, 0, world_size=world)
        seen = sorted(i for step in plan for i in step.indices)
        assert seen == list(range(100))
        for step in plan:
            assert all(atoms_of(qm9, share) <= 120 for share in step.shares)
            assert len(step.shares) == world


def test_edge_caps_balance_edges(qm9):
    builder = factory(qm9, batch_size=10, max_edges_per_batch=4000)
    edges = builder._edges_if_needed(qm9)
    assert edges is not None
    plan = builder.plan([qm9], 1, 0, world_size=2)
    for step in plan:
        assert all(sum(edges[i] for i in share) <= 4000 for share in step.shares)


def test_validation_plan_is_in_order_and_shared(qm9):
    plan = factory(qm9, batch_size=8).plan([qm9], None, 0, world_size=2)
    assert sorted(i for step in plan for i in step.indices) == list(range(100))
    assert factory(qm9, batch_size=8).plan([qm9], None, 0, world_size=2) == plan


def test_share_batch_when_nothing_fits():
    loads = [7, 7, 6]
    assert share_batch([0, 1, 2], loads, 2) == [[0, 2], [1]]

    def fits(share: List[int], index: int) -> bool:
        return sum(loads[i] for i in [*share, index]) <= 10

    assert share_batch([0, 1, 2], loads, 2, fits) is None
    assert share_batch([0, 1], loads, 3, fits) == [[0], [1], []]


def test_a_batch_that_cannot_be_shared_becomes_two_steps(qm9):
    sizes = qm9.num_atoms()
    # three structures of n atoms do not share between two processes capped at
    # ceil(3n / 2) atoms, although the global cap holds them together
    common = max(set(sizes), key=sizes.count)
    picked = [i for i, n in enumerate(sizes) if n == common][:3]
    subset = qm9.subset(picked)
    total = sum(len(subset[i]) for i in range(3))
    cap = (total + 1) // 2
    builder = factory(subset, batch_size=3, max_atoms_per_batch=cap)
    plan = builder.plan([subset], None, 0, world_size=2)
    assert sorted(i for step in plan for i in step.indices) == [0, 1, 2]
    assert len(plan) == 2
    for step in plan:
        assert all(atoms_of(subset, share) <= cap for share in step.shares)


def test_a_structure_above_the_cap_of_a_process_is_named(qm9):
    largest = max(range(100), key=lambda i: len(qm9[i]))
    cap = len(qm9[largest]) - 1
    builder = factory(qm9, batch_size=100, max_atoms_per_batch=cap)
    with pytest.raises(BatchingError, match=f"structure {largest} of .* atoms"):
        builder.plan([qm9], None, 0, world_size=2)
