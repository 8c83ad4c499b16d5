"""The targets PET learns, and the head it builds for each: a
:class:`~atomtrain.pet.heads.TargetHead` for scalars (and for Cartesian tensors of
independent components), a :class:`~atomtrain.pet.spherical.CartesianHead` for
Cartesian tensors learned as their spherical parts, and a
:class:`~atomtrain.pet.spherical.SphericalHead` for spherical targets."""

from typing import Any, Dict, List, Mapping

import torch

from atomtrain.data.info import TargetInfo
from atomtrain.errors import UserError

from .heads import TargetHead
from .spherical import CartesianHead, SphericalHead, unsupported_irreps


class UnsupportedTargetError(UserError):
    """A target PET cannot learn, or a change of a trained model it cannot make."""


def check_targets(targets: Dict[str, TargetInfo]) -> None:
    """Refuse the irreps of spherical targets PET's spherical heads cannot give
    (degree above 2, pseudoscalars), naming all of them."""
    refused: List[str] = []
    for name, info in targets.items():
        if info.kind != "spherical":
            continue
        bad = unsupported_irreps([(int(lam), int(sig)) for lam, sig in info.irreps])
        if bad:
            listed = "; ".join(f"o3_lambda={lam}, o3_sigma={sig}" for lam, sig in bad)
            refused.append(f"'{name}' (irreps {listed})")
    if refused:
        raise UnsupportedTargetError(
            "the pet architecture learns spherical targets of o3_lambda up to 2, "
            f"except pseudoscalars (o3_lambda=0, o3_sigma=-1); it cannot learn "
            f"{', '.join(refused)}"
        )


def build_head(
    info: TargetInfo, hypers: Mapping[str, Any], num_layers: int
) -> torch.nn.Module:
    """The head of a target with ``info``, sized by the model ``hypers``."""
    d_node, d_pet, d_head = (int(hypers[k]) for k in ("d_node", "d_pet", "d_head"))
    channels = int(hypers["spherical_channels"])
    count = info.num_subtargets
    if info.kind == "spherical":
        irreps = [(int(lam), int(sigma)) for lam, sigma in info.irreps]
        return SphericalHead(num_layers, d_node, d_pet, d_head, irreps, count, channels)
    if info.kind == "cartesian" and hypers["cartesian_heads"] == "spherical":
        return CartesianHead(
            num_layers, d_node, d_pet, d_head, info.rank, count, channels
        )
    outputs = 3**info.rank * count if info.kind == "cartesian" else count
    return TargetHead(num_layers, d_node, d_pet, d_head, outputs)
