"""The checkpoint upgrade shared by the architectures whose composition baseline
gained the invariant parts of tensor targets (see
:mod:`atomtrain.modules.composition`)."""

from typing import Any, Dict

import torch

from ..checkpoints import upgrade_weights
from ..data.info import DatasetInfo
from .composition import CompositionBaseline, is_supported


def add_tensor_baselines(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """The baseline weights of the invariant parts of tensor targets, 0 for a model
    trained without them (its predictions are unchanged): added after the scalar
    targets' weights, which keep their places, to the live, best and EMA weights."""
    info = DatasetInfo.from_dict(checkpoint["model"]["dataset_info"])
    baseline = CompositionBaseline(info.atomic_types, info.targets)
    added = {
        f"composition_baseline.heads.{i}.weights": baseline.target_weights(name)
        for i, name in enumerate(baseline.target_names)
        if not is_supported(info.targets[name])
    }

    def add_zeros(weights: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        for key, zeros in added.items():
            weights.setdefault(key, torch.zeros_like(zeros))
        return weights

    return upgrade_weights(checkpoint, add_zeros)
