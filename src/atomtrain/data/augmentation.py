"""Augmentations applied to structures when batches are built.

Architectures choose whether and how to augment; this module provides the ready-made
random rotation. A rotation keeps fractional coordinates, so cached neighbour
topologies stay valid.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Dict, Optional

import torch

from .info import TargetInfo
from .structure import Structure, TargetData


def random_rotation(
    structure: Structure,
    generator: torch.Generator,
    targets_info: Dict[str, TargetInfo],
    extra_data_info: Optional[Dict[str, TargetInfo]] = None,
) -> Structure:
    """A copy of ``structure`` rotated by a uniformly random rotation ``R`` drawn from
    ``generator``, together with its labels.

    Positions and cell vectors become ``R r``; position gradients (minus forces) and
    rank-1 Cartesian targets rotate as vectors; strain gradients and rank-2 Cartesian
    targets as ``R T Rᵀ``; scalars are unchanged; spherical targets are multiplied by
    the Wigner-D matrices of ``R`` (``metatomic.torch.o3``). Entries absent from the
    ``*_info`` dictionaries are copied unchanged.
    """
    from metatomic.torch.o3 import random_transformations

    infos = {**targets_info, **(extra_data_info or {})}
    max_lambda = max(
        (lam for info in infos.values() for lam, _ in info.irreps), default=0
    )
    transformation = random_transformations(
        1,
        max_lambda,
        device=torch.device("cpu"),
        dtype=torch.float64,
        generator=generator,
    )
    rotation = transformation.matrices[0]

    def rotate_entries(entries: Dict[str, TargetData]) -> Dict[str, TargetData]:
        rotated = {}
        for name, data in entries.items():
            info = infos.get(name)
            rotated[name] = (
                data
                if info is None
                else _rotate_data(data, info, rotation, transformation)
            )
        return rotated

    return replace(
        structure,
        positions=structure.positions @ rotation.T,
        cell=structure.cell @ rotation.T,
        targets=rotate_entries(structure.targets),
        extra_data=rotate_entries(structure.extra_data),
    )


def _rotate_data(
    data: TargetData,
    info: TargetInfo,
    rotation: torch.Tensor,
    transformation: torch.nn.Module,
) -> TargetData:
    if info.kind == "scalar":
        blocks = list(data.blocks)
    elif info.kind == "cartesian":
        blocks = [
            _rotate_cartesian(values, info.rank, rotation) for values in data.blocks
        ]
    else:
        blocks = [
            transformation.transform_spherical(  # type: ignore[operator]
                values.transpose(-1, -2), lam, sigma
            ).transpose(-1, -2)
            for values, (lam, sigma) in zip(data.blocks, info.irreps)
        ]
    gradients = {}
    for name, values in data.gradients.items():
        if name == "positions":
            gradients[name] = torch.einsum("ij,njp->nip", rotation, values)
        else:
            gradients[name] = torch.einsum("ij,jkp,lk->ilp", rotation, values, rotation)
    return TargetData(blocks=blocks, gradients=gradients)


def _rotate_cartesian(
    values: torch.Tensor, rank: int, rotation: torch.Tensor
) -> torch.Tensor:
    """Rotate ``[n, 3, ..., 3, P]`` (``rank`` Cartesian axes) by ``rotation``."""
    for axis in range(1, rank + 1):
        values = torch.movedim(
            torch.tensordot(values, rotation, dims=([axis], [1])), -1, axis
        )
    return values
