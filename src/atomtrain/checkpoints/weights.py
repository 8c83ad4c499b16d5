"""Which weights of a checkpoint a model loads."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

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


def stored_model_weights(checkpoint: Dict[str, Any]) -> List[Tuple[str, Any, bool]]:
    """Every copy of the model's weights ``checkpoint`` holds, as ``(dotted entry,
    weights, partial)``: the live ones, and those of the trainer's state (best model;
    EMA average, ``partial`` as it averages some tensors only) when present."""
    copies: List[Tuple[str, Any, bool]] = [
        ("model.state_dict", checkpoint["model"]["state_dict"], False)
    ]
    state = (checkpoint.get("trainer") or {}).get("state") or {}
    for key, partial in (("best_model_state_dict", False), ("ema", True)):
        if state.get(key) is not None:
            copies.append((f"trainer.state.{key}", state[key], partial))
    return copies
