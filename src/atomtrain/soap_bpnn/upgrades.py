"""Upgrades of SOAP-BPNN's model checkpoints, one step per version."""

from typing import Any, Dict

from atomtrain.checkpoints import UpgradeStep


def _add_zbl_hyper(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Version 2 added the ``zbl`` hyper (off in every older model)."""
    checkpoint["model"]["hypers"].setdefault("zbl", False)
    return checkpoint


def _add_spherical_channels_hyper(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Version 3 added spherical targets and their ``spherical_channels`` hyper."""
    checkpoint["model"]["hypers"].setdefault("spherical_channels", 4)
    return checkpoint


#: One-step upgrades of the model section: ``steps[v]`` turns version v into v + 1.
MODEL_UPGRADES: Dict[int, UpgradeStep] = {
    1: _add_zbl_hyper,
    2: _add_spherical_channels_hyper,
}
