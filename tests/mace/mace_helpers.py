"""Helpers of the MACE tests: tiny hypers and the real ethanol data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import ase.io
import numpy as np
import torch

from atomtrain.architectures.hypers import get_defaults
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure, TargetData

#: The ethanol energies of ``tests/resources/ethanol_reduced_100.xyz``.
ENERGY = TargetInfo(quantity="energy", unit="kcal/mol", gradients=("positions",))


def tiny_hypers(**changes: Any) -> Dict[str, Any]:
    """MACE's defaults, shrunk so that a model builds and runs in a second."""
    hypers = get_defaults("mace")["model"]
    hypers.update(
        r_max=4.0,
        num_radial_basis=4,
        max_ell=2,
        correlation=2,
        hidden_irreps="4x0e + 4x1o",
        MLP_irreps="4x0e",
        radial_MLP=[8],
    )
    hypers.update(changes)
    return hypers


def structure_of(atoms: ase.Atoms, labels: Dict[str, TargetData]) -> Structure:
    return Structure(
        types=torch.tensor(atoms.numbers, dtype=torch.int32),
        positions=torch.tensor(atoms.positions, dtype=torch.float64),
        cell=torch.tensor(np.asarray(atoms.cell), dtype=torch.float64),
        pbc=torch.tensor(atoms.pbc),
        targets=labels,
    )


def read_ethanol(path: Path, count: int = 100) -> InMemoryDataset:
    """Energies (kcal/mol) and forces of the ethanol conformers."""
    structures = []
    for atoms in ase.io.read(path, index=f":{count}"):
        energy = torch.tensor([[atoms.get_potential_energy()]], dtype=torch.float64)
        forces = torch.tensor(atoms.get_forces(), dtype=torch.float64)
        labels = {"energy": TargetData([energy], {"positions": -forces[..., None]})}
        structures.append(structure_of(atoms, labels))
    info = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": ENERGY})
    return InMemoryDataset(
        structures, info, [(str(path), i) for i in range(len(structures))]
    )
