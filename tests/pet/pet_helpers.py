"""Helpers of the PET tests: small hypers, real datasets, and systems with neighbour
lists computed by vesin."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence

import ase.io
import numpy as np
import torch
from metatomic.torch import NeighborListOptions, System

from atomtrain.architectures.hypers import get_defaults
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.neighbors import compute_topology, neighbor_block, neighbor_vectors
from atomtrain.data.structure import Structure, TargetData

ENERGY = TargetInfo(quantity="energy", unit="kcal/mol", gradients=("positions",))


def tiny_hypers(**changes: Any) -> Dict[str, Any]:
    """PET's defaults, shrunk so that tests run in a fraction of a second."""
    hypers = get_defaults("pet")["model"]
    hypers.update(
        d_pet=16,
        d_head=16,
        d_node=24,
        d_feedforward=32,
        num_heads=2,
        num_radial=6,
        cutoff=4.0,
    )
    hypers.update(changes)
    return hypers


def frame_structure(atoms: ase.Atoms, labels: Dict[str, TargetData]) -> Structure:
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
        structures.append(frame_structure(atoms, labels))
    info = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": ENERGY})
    return InMemoryDataset(
        structures, info, [(str(path), i) for i in range(len(structures))]
    )


def systems_of(
    structures: Sequence[Structure],
    options: NeighborListOptions,
    dtype: torch.dtype = torch.float64,
    requires_grad: bool = False,
) -> List[System]:
    """metatomic systems with the full neighbour list ``options`` attached (vesin
    topology, vectors differentiable with respect to the positions)."""
    systems = []
    for structure in structures:
        positions = structure.positions.to(dtype).clone().requires_grad_(requires_grad)
        cell = structure.cell.to(dtype)
        topology = compute_topology(structure, options.cutoff, options.full_list)
        system = System(
            types=structure.types,
            positions=positions,
            cell=cell,
            pbc=structure.pbc,
        )
        vectors = neighbor_vectors(positions, cell, topology)
        system.add_neighbor_list(options, neighbor_block(vectors, topology))
        systems.append(system)
    return systems
