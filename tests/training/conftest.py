"""Fixtures for the engine tests: the real ethanol data as a dataset."""

from __future__ import annotations

from pathlib import Path

import ase.io
import pytest
import torch

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure, TargetData


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
