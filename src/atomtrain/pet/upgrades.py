"""Upgrades of PET's model checkpoints, one step per version."""

from typing import Any, Dict

import torch

from atomtrain.checkpoints import UpgradeStep, upgrade_weights
from atomtrain.checkpoints.weights import Weights
from atomtrain.data.info import DatasetInfo
from atomtrain.modules.composition_upgrades import add_tensor_baselines
from atomtrain.modules.long_range_hypers import add_long_range_section
from atomtrain.modules.scaling import scale_count


def add_output_scales(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Model checkpoint version 1 → 2: the output scaler. Version 1 had none, so
    every target gets the scale 1, marked as fitted: restarting or fine-tuning keeps
    the function the stored weights compute. Added to the live, best and EMA
    weights (the EMA averages floating-point entries only)."""
    info = DatasetInfo.from_dict(checkpoint["model"]["dataset_info"])
    state = (checkpoint.get("trainer") or {}).get("state") or {}
    weights = [checkpoint["model"]["state_dict"], state.get("best_model_state_dict")]
    for entries in [w for w in weights if w is not None]:
        for name, target in info.targets.items():
            prefix = f"output_scaler.scales.{name}"
            ones = torch.ones(target.num_subtargets, dtype=torch.float64)
            entries[f"{prefix}.values"] = ones
            entries[f"{prefix}.fitted"] = torch.tensor(True)
    if state.get("ema") is not None:
        for name, target in info.targets.items():
            ones = torch.ones(target.num_subtargets, dtype=torch.float64)
            state["ema"][f"output_scaler.scales.{name}.values"] = ones
    return checkpoint


def add_zbl_hyper(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Model checkpoint version 2 → 3: the ``zbl`` hyper, off in every older
    model."""
    checkpoint["model"]["hypers"].setdefault("zbl", False)
    return checkpoint


def add_spherical_channels_hyper(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Model checkpoint version 3 → 4: spherical targets and their
    ``spherical_channels`` hyper."""
    checkpoint["model"]["hypers"].setdefault("spherical_channels", 4)
    return checkpoint


def add_tensor_baselines_and_irrep_scales(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Model checkpoint version 4 → 5: the composition baseline of tensor targets'
    invariant parts (0 for older models), and output scales per irrep for spherical
    targets of several irreps (the one scale of each property, repeated)."""
    checkpoint = add_tensor_baselines(checkpoint)
    info = DatasetInfo.from_dict(checkpoint["model"]["dataset_info"])

    def repeat_scales(weights: Weights) -> Weights:
        for name, target in info.targets.items():
            key = f"output_scaler.scales.{name}.values"
            if target.kind == "spherical" and key in weights:
                count = scale_count(target) // target.num_subtargets
                if weights[key].numel() == target.num_subtargets:
                    weights[key] = weights[key].repeat(count)
        return weights

    return upgrade_weights(checkpoint, repeat_scales)


def add_cartesian_heads_hyper(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Model checkpoint version 5 → 6: the ``cartesian_heads`` hyper; older models
    learned Cartesian targets as independent ``components``."""
    checkpoint["model"]["hypers"].setdefault("cartesian_heads", "components")
    return checkpoint


def add_system_conditioning_hypers(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Model checkpoint version 6 → 7: charge and spin conditioning, off in every
    older model (its empty embeddings added to the stored weights)."""
    hypers = checkpoint["model"]["hypers"]
    hypers.setdefault("system_conditioning", False)
    hypers.setdefault("max_charge", 10)
    hypers.setdefault("max_spin_multiplicity", 10)

    def add_empty_embeddings(weights: Weights) -> Weights:
        for name in ("charge", "spin"):
            weights.setdefault(f"conditioning.{name}.weight", torch.zeros((0, 0)))
        return weights

    return upgrade_weights(checkpoint, add_empty_embeddings)


def add_featurizer_type_hyper(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Model checkpoint version 7 → 8: the ``featurizer_type`` hyper; older models
    have the ``residual`` one."""
    checkpoint["model"]["hypers"].setdefault("featurizer_type", "residual")
    return checkpoint


def add_adaptive_cutoff_hypers(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Model checkpoint version 8 → 9: the adaptive cutoff's hypers, off in every
    older model."""
    hypers = checkpoint["model"]["hypers"]
    hypers.setdefault("num_neighbors_adaptive", None)
    hypers.setdefault("adaptive_cutoff_method", "solver")
    hypers.setdefault("cutoff_width_adaptive", 1.0)
    return checkpoint


#: One-step upgrades of the model section: ``MODEL_UPGRADES[v]`` turns v into v + 1.
MODEL_UPGRADES: Dict[int, UpgradeStep] = {
    1: add_output_scales,
    2: add_zbl_hyper,
    3: add_spherical_channels_hyper,
    4: add_tensor_baselines_and_irrep_scales,
    5: add_cartesian_heads_hyper,
    6: add_system_conditioning_hypers,
    7: add_featurizer_type_hyper,
    8: add_adaptive_cutoff_hypers,
    9: add_long_range_section,
}
