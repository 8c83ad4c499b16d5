"""One structure with its labels, as read from a file: the unit a dataset holds.

Labels are kept as plain tensors in float64 and in the units the user declared; batches
turn them into metatensor TensorMaps (see :mod:`atomtrain.data.batching`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
from metatomic.torch import System


@dataclass
class TargetData:
    """The labels of one target for one structure.

    ``blocks`` has one tensor per key of the target's layout, each of shape
    ``[n_samples, *components, n_properties]`` where ``n_samples`` is 1 for
    per-structure targets and the number of atoms for per-atom ones. ``gradients`` maps
    ``"positions"`` to a ``[n_atoms, 3, n_properties]`` tensor (dE/dr, i.e. minus the
    forces) and ``"strain"`` to ``[3, 3, n_properties]`` (dE/dε, i.e. minus the virial);
    a NaN strain gradient marks a structure without stress label.
    """

    blocks: List[torch.Tensor]
    gradients: Dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class Structure:
    """Atomic types ``[n]`` (int32), positions ``[n, 3]``, cell ``[3, 3]`` (rows are
    the cell vectors, zero for non-periodic directions), pbc ``[3]`` (bool) and labels
    of each target and extra-data entry, all in float64 and declared units."""

    types: torch.Tensor
    positions: torch.Tensor
    cell: torch.Tensor
    pbc: torch.Tensor
    targets: Dict[str, TargetData] = field(default_factory=dict)
    extra_data: Dict[str, TargetData] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.types.shape[0])

    def to_system(self) -> System:
        """A metatomic System in float64, without neighbour lists."""
        return System(
            types=self.types,
            positions=self.positions,
            cell=self.cell,
            pbc=self.pbc,
        )


def cell_problem(cell: torch.Tensor, pbc: torch.Tensor) -> Optional[str]:
    """Why a structure's ``cell`` ``[3, 3]`` (rows are the cell vectors) cannot go
    with its ``pbc`` ``[3]``, or ``None``: every periodic direction needs a cell
    vector, and these vectors must span as many dimensions as there are periodic
    directions (neighbour lists cannot be built otherwise)."""
    periodic = pbc.to(torch.bool)
    count = int(periodic.sum())
    if count == 0:
        return None
    vectors = cell.to(torch.float64)[periodic]
    if bool((vectors == 0).all()):
        return (
            f"the structure is periodic (pbc {periodic.tolist()}) but has no cell "
            '(all its cell vectors are zero): give its cell (Lattice="..." in '
            'extxyz) or make it non-periodic (pbc="F F F")'
        )
    if int(torch.linalg.matrix_rank(vectors)) < count:
        return (
            f"the structure is periodic (pbc {periodic.tolist()}) but its cell "
            f"vectors along the periodic directions are zero or linearly dependent "
            f"(cell {cell.tolist()}): give a cell of non-zero volume or make those "
            "directions non-periodic"
        )
    return None
