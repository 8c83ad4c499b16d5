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
    infos = {**targets_info, **(extra_data_info or {})}
    max_lambda = max(
        (lam for info in infos.values() for lam, _ in info.irreps), default=0
    )
    transformation: Optional[torch.nn.Module] = None
    if max_lambda > 0:
        from metatomic.torch.o3 import random_transformations

        transformation = random_transformations(
            1,
            max_lambda,
            device=torch.device("cpu"),
            dtype=torch.float64,
            generator=generator,
        )
        rotation = transformation.matrices[0]  # type: ignore[index]
    else:
        # no Wigner-D matrices needed: the rotation alone, drawn the same way
        rotation = uniform_rotation(generator)

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


def uniform_rotation(generator: torch.Generator) -> torch.Tensor:
    """A ``[3, 3]`` float64 rotation matrix drawn uniformly (Haar measure on SO(3))
    from ``generator``: the matrix of a normalised four-dimensional Gaussian
    quaternion ``(w, x, y, z)``."""
    w, x, y, z = torch.nn.functional.normalize(
        torch.randn(1, 4, dtype=torch.float64, generator=generator), dim=1
    )[0].tolist()
    return torch.tensor(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ],
        dtype=torch.float64,
    )


def _rotate_data(
    data: TargetData,
    info: TargetInfo,
    rotation: torch.Tensor,
    transformation: Optional[torch.nn.Module],
) -> TargetData:
    if info.kind == "scalar":
        blocks = list(data.blocks)
    elif info.kind == "cartesian":
        blocks = [
            _rotate_cartesian(values, info.rank, rotation) for values in data.blocks
        ]
    else:
        assert transformation is not None, "spherical targets need Wigner matrices"
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
