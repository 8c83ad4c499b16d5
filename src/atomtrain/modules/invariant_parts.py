"""The invariant part of tensor targets, the one part a composition baseline can
predict: the block ``(o3_lambda = 0, o3_sigma = 1)`` of a spherical target, and the
isotropic part ``w δ_ab`` of a Cartesian rank-2 target (a third of its trace).

The baseline predicts invariant values ``[n, n_properties]``; architectures add them
to their output with :func:`add_invariant_baseline` (TorchScript functions).
"""

from typing import List

import torch
from metatensor.torch import TensorBlock, TensorMap

from ..data.info import TargetInfo


def invariant_block(info: TargetInfo) -> int:
    """The index of the label block that holds the invariant part of a target (0 for
    scalars and Cartesian tensors, that of ``(0, 1)`` for spherical ones), or -1 when
    the target has none that the baseline models."""
    if info.sample_kind not in ("system", "atom"):
        return -1
    if info.kind == "scalar" or (info.kind == "cartesian" and info.rank == 2):
        return 0
    if info.kind == "spherical" and (0, 1) in info.irreps:
        return list(info.irreps).index((0, 1))
    return -1


def invariant_values(info: TargetInfo, block: torch.Tensor) -> torch.Tensor:
    """The invariant part ``[n_samples, n_properties]`` of a label ``block`` of the
    shape of :func:`invariant_block`'s: the block itself for scalars and ``(0, 1)``
    blocks, a third of the trace for Cartesian rank-2 tensors."""
    if info.kind == "cartesian":
        return torch.diagonal(block, dim1=1, dim2=2).mean(dim=-1)
    return block.reshape(block.shape[0], -1)


def invariant_shape(info: TargetInfo, values: torch.Tensor) -> torch.Tensor:
    """Invariant ``values`` ``[n_samples, n_properties]`` in the shape of the label
    block of :func:`invariant_block`: ``[n, 1, P]`` for a ``(0, 1)`` block, the
    isotropic tensor ``[n, 3, 3, P]`` for a Cartesian rank-2 target."""
    if info.kind == "spherical":
        return values.unsqueeze(1)
    if info.kind == "cartesian":
        return isotropic(values)
    return values


def isotropic(values: torch.Tensor) -> torch.Tensor:
    """The isotropic rank-2 tensors ``values δ_ab`` ``[n, 3, 3, P]`` of ``values``
    ``[n, P]``."""
    eye = torch.eye(3, dtype=values.dtype, device=values.device)
    return eye.reshape(1, 3, 3, 1) * values.unsqueeze(1).unsqueeze(1)


def add_invariant_baseline(prediction: TensorMap, baseline: TensorMap) -> TensorMap:
    """``prediction`` of a tensor target with the ``baseline`` values ``[n, P]`` of
    its invariant part added (see :func:`invariant_shape`): onto the block
    ``(o3_lambda, o3_sigma) = (0, 1)`` of a spherical target, as ``w δ_ab`` onto a
    Cartesian rank-2 one. Samples are those of the prediction, in the same order."""
    extra = baseline.block().values
    keys = prediction.keys
    spherical = "o3_lambda" in keys.names
    blocks: List[TensorBlock] = []
    for i in range(len(keys)):
        block = prediction.block(i)
        values = block.values
        if spherical:
            lam = int(keys.column("o3_lambda")[i])
            sigma = int(keys.column("o3_sigma")[i])
            if lam == 0 and sigma == 1:
                values = values + extra.unsqueeze(1)
        elif len(block.components) == 2:
            values = values + isotropic(extra)
        blocks.append(
            TensorBlock(values, block.samples, block.components, block.properties)
        )
    return TensorMap(keys, blocks)
