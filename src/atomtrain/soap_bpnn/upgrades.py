"""Upgrades of SOAP-BPNN's model checkpoints, one step per version."""

from typing import Any, Dict

import torch

from atomtrain.checkpoints import UpgradeStep
from atomtrain.data.info import DatasetInfo
from atomtrain.modules.composition_upgrades import add_tensor_baselines
from atomtrain.modules.long_range_hypers import add_long_range_section
from atomtrain.modules.scaling import scale_count


def _add_zbl_hyper(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Version 2 added the ``zbl`` hyper (off in every older model)."""
    checkpoint["model"]["hypers"].setdefault("zbl", False)
    return checkpoint


def _add_spherical_channels_hyper(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Version 3 added spherical targets and their ``spherical_channels`` hyper."""
    checkpoint["model"]["hypers"].setdefault("spherical_channels", 4)
    return checkpoint


def _add_tensor_baselines_and_scales(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Version 4 added the baseline of tensor targets' invariant parts (0 for older
    models) and the output scales of tensor targets (1, marked as fitted, so that
    restarting or fine-tuning keeps the function the stored weights compute), in
    the live, best and EMA weights (the EMA averages floating-point entries only)."""
    checkpoint = add_tensor_baselines(checkpoint)
    info = DatasetInfo.from_dict(checkpoint["model"]["dataset_info"])
    state = (checkpoint.get("trainer") or {}).get("state") or {}
    weights = [checkpoint["model"]["state_dict"], state.get("best_model_state_dict")]
    for name, target in info.targets.items():
        if target.kind not in ("spherical", "cartesian"):
            continue
        prefix = f"output_scaler.scales.{name}"
        ones = torch.ones(scale_count(target), dtype=torch.float64)
        for entries in [w for w in weights if w is not None]:
            entries.setdefault(f"{prefix}.values", ones.clone())
            entries.setdefault(f"{prefix}.fitted", torch.tensor(True))
        if state.get("ema") is not None:
            state["ema"].setdefault(f"{prefix}.values", ones.clone())
    return checkpoint


#: One-step upgrades of the model section: ``steps[v]`` turns version v into v + 1.
MODEL_UPGRADES: Dict[int, UpgradeStep] = {
    1: _add_zbl_hyper,
    2: _add_spherical_channels_hyper,
    3: _add_tensor_baselines_and_scales,
    4: add_long_range_section,
}
