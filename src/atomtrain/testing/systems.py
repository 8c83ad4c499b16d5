"""Geometries for the conformance suite, and metatomic systems made from them.

Structures are generated from a seeded :class:`torch.Generator` so that every check is
reproducible: small non-periodic clusters and small triclinic periodic cells, with atoms
at least :data:`MIN_DISTANCE` apart. :func:`to_systems` turns them into
:class:`metatomic.torch.System` objects carrying the neighbour lists a model requests,
built from the framework's cached-topology pipeline (vesin topology, differentiable pair
vectors), and optionally differentiable with respect to positions and strain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence

import torch
from metatomic.torch import NeighborListOptions, System

from ..data.neighbors import compute_topology, neighbor_block, neighbor_vectors
from ..data.structure import Structure
from ..data.system_inputs import attach_inputs, requested_inputs

#: Smallest distance between two generated atoms, in Å.
MIN_DISTANCE = 1.1


def random_positions(
    num_atoms: int, box: torch.Tensor, generator: torch.Generator, periodic: bool
) -> torch.Tensor:
    """``[num_atoms, 3]`` positions drawn uniformly in the cell ``box`` (rows are cell
    vectors), at least :data:`MIN_DISTANCE` apart (periodic images included when
    ``periodic``)."""
    accepted: List[torch.Tensor] = []
    inverse = torch.linalg.inv(box)
    for _ in range(1000 * num_atoms):
        candidate = torch.rand(3, generator=generator, dtype=torch.float64) @ box
        if accepted:
            delta = torch.stack(accepted) - candidate
            if periodic:
                fractional = delta @ inverse
                delta = (fractional - torch.round(fractional)) @ box
            if torch.linalg.vector_norm(delta, dim=1).min() < MIN_DISTANCE:
                continue
        accepted.append(candidate)
        if len(accepted) == num_atoms:
            return torch.stack(accepted)
    raise RuntimeError(f"could not place {num_atoms} atoms in the box {box.tolist()}")


def random_types(
    atomic_types: Sequence[int], num_atoms: int, generator: torch.Generator
) -> torch.Tensor:
    """``[num_atoms]`` types (int32) containing every one of ``atomic_types`` when
    there are enough atoms."""
    types = torch.tensor(list(atomic_types), dtype=torch.int32)
    picks = torch.randint(len(types), (num_atoms,), generator=generator)
    picks[: min(num_atoms, len(types))] = torch.arange(min(num_atoms, len(types)))
    return types[picks]


def cluster(
    atomic_types: Sequence[int], num_atoms: int, seed: int, size: float = 3.5
) -> Structure:
    """A non-periodic cluster of ``num_atoms`` atoms in a cube of side ``size`` Å."""
    generator = torch.Generator().manual_seed(seed)
    box = torch.eye(3, dtype=torch.float64) * size
    return Structure(
        types=random_types(atomic_types, num_atoms, generator),
        positions=random_positions(num_atoms, box, generator, periodic=False),
        cell=torch.zeros((3, 3), dtype=torch.float64),
        pbc=torch.zeros(3, dtype=torch.bool),
    )


def crystal(
    atomic_types: Sequence[int], num_atoms: int, seed: int, size: float = 4.0
) -> Structure:
    """A periodic sheared cell holding ``num_atoms`` atoms, edges from 0.9 to 1.1
    times ``size`` Å (3.6 to 4.4 Å by default)."""
    generator = torch.Generator().manual_seed(seed)
    lengths = 0.9 * size + 0.2 * size * torch.rand(
        3, generator=generator, dtype=torch.float64
    )
    random_shear = torch.rand((3, 3), generator=generator, dtype=torch.float64)
    shear = 0.15 * size * (random_shear - 0.5)
    cell = torch.diag(lengths) + torch.triu(shear, diagonal=1)
    return Structure(
        types=random_types(atomic_types, num_atoms, generator),
        positions=random_positions(num_atoms, cell, generator, periodic=True),
        cell=cell,
        pbc=torch.ones(3, dtype=torch.bool),
    )


@dataclass
class Leaves:
    """The autograd leaves of one system: positions ``[n, 3]`` and strain ``[3, 3]``
    (the identity); the system's positions are ``positions @ strain`` and its cell
    ``cell @ strain``, so ``dE/dstrain`` is minus the virial."""

    positions: torch.Tensor
    strain: torch.Tensor


def to_system(
    structure: Structure,
    options: Sequence[NeighborListOptions],
    dtype: torch.dtype = torch.float64,
    leaves: Optional[Leaves] = None,
) -> System:
    """``structure`` as a System in ``dtype`` with every list of ``options`` attached.

    With ``leaves``, positions and cell are computed from them, so that the model's
    output is differentiable with respect to ``leaves.positions`` and ``leaves.strain``;
    the pair topology always comes from the undeformed ``structure``.
    """
    positions = structure.positions.to(dtype)
    cell = structure.cell.to(dtype)
    if leaves is not None:
        positions = leaves.positions @ leaves.strain
        cell = cell @ leaves.strain
    system = System(
        types=structure.types,
        positions=positions,
        cell=cell,
        pbc=structure.pbc,
    )
    for option in options:
        topology = compute_topology(structure, option.cutoff, option.full_list)
        vectors = neighbor_vectors(positions, cell, topology)
        system.add_neighbor_list(option, neighbor_block(vectors, topology))
    return system


def make_leaves(structure: Structure, dtype: torch.dtype) -> Leaves:
    """Fresh autograd leaves at the positions of ``structure``."""
    return Leaves(
        positions=structure.positions.to(dtype).detach().requires_grad_(True),
        strain=torch.eye(3, dtype=dtype).requires_grad_(True),
    )


def to_systems(
    structures: Sequence[Structure],
    options: Sequence[NeighborListOptions],
    dtype: torch.dtype = torch.float64,
) -> List[System]:
    """:func:`to_system` for each structure, without autograd leaves."""
    return [to_system(s, options, dtype) for s in structures]


def exported_systems(
    structures: Sequence[Structure], exported: Any, dtype: torch.dtype = torch.float64
) -> List[System]:
    """The systems an ``exported`` metatomic model needs for ``structures``: its
    neighbour lists, and its requested per-structure inputs at metatomic's defaults
    (neutral singlets), as a simulation engine gives them."""
    systems = to_systems(structures, list(exported.requested_neighbor_lists()), dtype)
    attach_inputs(systems, sorted(requested_inputs(exported)), {})
    return systems


def translated(structure: Structure, shift: torch.Tensor) -> Structure:
    """A copy of ``structure`` with every atom moved by ``shift`` ``[3]``."""
    return Structure(
        types=structure.types.clone(),
        positions=structure.positions + shift,
        cell=structure.cell.clone(),
        pbc=structure.pbc.clone(),
    )


def supercell(structure: Structure, repeats: Sequence[int]) -> Structure:
    """The periodic ``structure`` repeated ``repeats[k]`` times along its k-th cell
    vector."""
    ranges = [torch.arange(n, dtype=torch.float64) for n in repeats]
    translations = torch.cartesian_prod(*ranges).reshape(-1, 3) @ structure.cell
    positions = structure.positions[None, :, :] + translations[:, None, :]
    factors = torch.tensor(list(repeats), dtype=torch.float64)
    return Structure(
        types=structure.types.repeat(len(translations)),
        positions=positions.reshape(-1, 3),
        cell=structure.cell * factors[:, None],
        pbc=structure.pbc.clone(),
    )


def joined(first: Structure, second: Structure) -> Structure:
    """The atoms of two non-periodic structures as one structure."""
    return Structure(
        types=torch.cat([first.types, second.types]),
        positions=torch.cat([first.positions, second.positions]),
        cell=torch.zeros((3, 3), dtype=torch.float64),
        pbc=torch.zeros(3, dtype=torch.bool),
    )


def permuted(structure: Structure, order: torch.Tensor) -> Structure:
    """``structure`` with its atoms listed in ``order``."""
    return Structure(
        types=structure.types[order],
        positions=structure.positions[order],
        cell=structure.cell.clone(),
        pbc=structure.pbc.clone(),
    )


def transformed(structure: Structure, matrix: torch.Tensor) -> Structure:
    """``structure`` with positions and cell vectors mapped by ``matrix`` (``r → M r``,
    a rotation or an improper rotation)."""
    return Structure(
        types=structure.types.clone(),
        positions=structure.positions @ matrix.T,
        cell=structure.cell @ matrix.T,
        pbc=structure.pbc.clone(),
    )
