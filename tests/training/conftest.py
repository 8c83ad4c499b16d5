"""Fixtures for the engine tests: the real ethanol data as a dataset, and a small
batch construction standing in for ``atomtrain.data.batching`` until it lands."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Sequence

import ase.io
import pytest
import torch
import vesin
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import NeighborListOptions, System

from atomtrain.data.dataset import Dataset, InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure, TargetData
from atomtrain.training import batches


def read_ethanol(path: Path, count: int = 100) -> InMemoryDataset:
    """Energy (kcal/mol) and forces (kcal/mol/Å) of ethanol conformers."""
    structures = []
    for frame in ase.io.read(path, index=f":{count}"):
        energy = torch.tensor([[frame.get_potential_energy()]], dtype=torch.float64)
        forces = torch.tensor(frame.get_forces(), dtype=torch.float64)
        structures.append(
            Structure(
                types=torch.tensor(frame.numbers, dtype=torch.int32),
                positions=torch.tensor(frame.positions, dtype=torch.float64),
                cell=torch.zeros((3, 3), dtype=torch.float64),
                pbc=torch.zeros(3, dtype=torch.bool),
                targets={
                    "energy": TargetData([energy], {"positions": -forces[..., None]})
                },
            )
        )
    info = DatasetInfo(
        length_unit="angstrom",
        atomic_types=[1, 6, 8],
        targets={
            "energy": TargetInfo(
                quantity="energy", unit="kcal/mol", gradients=("positions",)
            )
        },
    )
    origins = [(str(path), i) for i in range(len(structures))]
    return InMemoryDataset(structures, info, origins)


@pytest.fixture
def ethanol(resources: Path) -> InMemoryDataset:
    return read_ethanol(resources / "ethanol_reduced_100.xyz")


@dataclass
class Batch:
    systems: List[System]
    targets: Dict[str, TensorMap]
    extra_data: Dict[str, TensorMap] = field(default_factory=dict)
    indices: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    positions: List[torch.Tensor] = field(default_factory=list)
    strains: List[torch.Tensor] = field(default_factory=list)


class SimpleBatchBuilder:
    """Systems with vesin neighbour lists, autograd leaves and energy labels."""

    def __init__(self, options, targets, extra, dtype, device, cache) -> None:
        self.options: List[NeighborListOptions] = list(options)
        self.targets: Dict[str, TargetInfo] = targets
        self.dtype = dtype
        self.device = device
        self.transform = None

    def __call__(
        self, dataset: Dataset, indices: Sequence[int], gradients: Sequence[str]
    ) -> Batch:
        batch = Batch([], {}, indices=torch.tensor(list(indices)))
        structures = [dataset[i] for i in indices]
        for structure in structures:
            leaf = structure.positions.to(self.dtype).clone().requires_grad_(True)
            strain = torch.eye(3, dtype=self.dtype, requires_grad=True)
            cell = structure.cell.to(self.dtype) @ strain
            system = System(structure.types, leaf @ strain, cell, structure.pbc)
            for options in self.options:
                system.add_neighbor_list(options, _neighbors(system, options))
            batch.systems.append(system)
            batch.positions.append(leaf)
            batch.strains.append(strain)
        for name, info in self.targets.items():
            batch.targets[name] = _labels(name, info, structures, self.dtype, gradients)
        return batch


def _neighbors(system: System, options: NeighborListOptions) -> TensorBlock:
    calculator = vesin.NeighborList(cutoff=options.cutoff, full_list=options.full_list)
    i, j, shifts = calculator.compute(
        points=system.positions.detach().numpy(),
        box=system.cell.detach().numpy(),
        periodic=bool(system.pbc.any()),
        quantities="ijS",
    )
    i = torch.tensor(i, dtype=torch.long)
    j = torch.tensor(j, dtype=torch.long)
    shifts = torch.tensor(shifts, dtype=system.positions.dtype)
    vectors = system.positions[j] - system.positions[i] + shifts @ system.cell
    samples = torch.cat([i[:, None], j[:, None], shifts.to(torch.long)], dim=1)
    return TensorBlock(
        values=vectors.reshape(-1, 3, 1),
        samples=Labels(
            [
                "first_atom",
                "second_atom",
                "cell_shift_a",
                "cell_shift_b",
                "cell_shift_c",
            ],
            samples.to(torch.int32),
        ),
        components=[Labels.range("xyz", 3)],
        properties=Labels.range("distance", 1),
    )


def _labels(
    name: str,
    info: TargetInfo,
    structures: List[Structure],
    dtype: torch.dtype,
    gradients: Sequence[str],
) -> TensorMap:
    values = torch.cat([s.targets[name].blocks[0] for s in structures]).to(dtype)
    count = len(structures)
    samples = Labels(["system"], torch.arange(count, dtype=torch.int32).reshape(-1, 1))
    properties = Labels.range(info.property_name(name), values.shape[-1])
    block = TensorBlock(values, samples, [], properties)
    if "positions" in info.gradients and "positions" in gradients:
        rows = [
            torch.stack(
                [
                    torch.full((len(s),), k),
                    torch.full((len(s),), k),
                    torch.arange(len(s)),
                ],
                dim=1,
            )
            for k, s in enumerate(structures)
        ]
        gradient = TensorBlock(
            torch.cat([s.targets[name].gradients["positions"] for s in structures]).to(
                dtype
            ),
            Labels(["sample", "system", "atom"], torch.cat(rows).to(torch.int32)),
            [Labels.range("xyz", 3)],
            properties,
        )
        block.add_gradient("positions", gradient)
    return TensorMap(Labels.single(), [block])


def simple_plan_epoch(
    dataset: Dataset,
    batch_size: int,
    max_atoms_per_batch: Any = None,
    max_edges_per_batch: Any = None,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
) -> List[List[int]]:
    order = list(range(len(dataset)))
    if shuffle:
        generator = torch.Generator().manual_seed(seed * 1000 + epoch)
        order = torch.randperm(len(dataset), generator=generator).tolist()
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class NoCache:
    pass


@pytest.fixture
def simple_batching(monkeypatch: pytest.MonkeyPatch) -> None:
    """Route the engine's batches through :class:`SimpleBatchBuilder`."""
    monkeypatch.setattr(
        batches,
        "_components",
        lambda: (SimpleBatchBuilder, NoCache, simple_plan_epoch),
    )
