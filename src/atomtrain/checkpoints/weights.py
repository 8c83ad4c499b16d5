"""Which weights of a checkpoint a model loads."""

from __future__ import annotations

from typing import Any, Dict

import torch


def model_weights(
    checkpoint: Dict[str, Any], context: str, key: str = "state_dict"
) -> Dict[str, torch.Tensor]:
    """The weights a model should load from ``checkpoint`` in ``context``: the live
    weights to restart, the best ones (EMA if used) to fine-tune or export, when the
    trainer section of an engine checkpoint has them."""
    trainer = checkpoint.get("trainer") or {}
    best = (trainer.get("state") or {}).get("best_model_state_dict")
    if context != "restart" and best is not None:
        return best
    return checkpoint["model"][key]
