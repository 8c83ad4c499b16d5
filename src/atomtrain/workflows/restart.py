"""Restarting a run: the checkpoint's model continues, with its own hypers.

A restart (``atomtrain train options.yaml --restart model.ckpt``) rebuilds the model
from the checkpoint, so model hypers changed in the options would be ignored while
``options_restart.yaml`` recorded the new values. They are refused instead, each with
its value in the checkpoint and in the options. Training hypers may change (more
epochs, another learning rate): that is how a run is extended. Training a new model
from the weights of a checkpoint is fine-tuning (``training.finetune.read_from``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Tuple

from ..errors import UserError

#: Where the model hypers sit in the options file.
MODEL_PATH = "architecture.model"

_ABSENT: Any = object()


def changed_hypers(
    stored: Dict[str, Any], given: Dict[str, Any], path: str = MODEL_PATH
) -> List[Tuple[str, Any, Any]]:
    """``(dotted key, stored value, given value)`` for every hyper that differs
    between ``stored`` and ``given``, nested mappings compared key by key; a key
    missing on one side has the value ``_ABSENT`` there."""
    changes = []
    for key in list(stored) + [k for k in given if k not in stored]:
        old, new = stored.get(key, _ABSENT), given.get(key, _ABSENT)
        where = f"{path}.{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            changes += changed_hypers(old, new, where)
        elif old != new:
            changes.append((where, old, new))
    return changes


def check_restart_hypers(
    checkpoint: Dict[str, Any], model_hypers: Dict[str, Any], path: Path
) -> None:
    """Refuse a restart from the checkpoint at ``path`` whose model hypers differ
    from the validated ``model_hypers`` of the options: a :class:`UserError` naming
    each changed key, and how to fine-tune instead. A checkpoint that keeps no
    ``model.hypers`` mapping (the layout of
    :func:`~atomtrain.utils.model_io.checkpoint_of`) is not checked."""
    stored = (checkpoint.get("model") or {}).get("hypers")
    if not isinstance(stored, dict):
        return
    changes = changed_hypers(stored, model_hypers)
    if not changes:
        return
    lines = [
        f"  - {key}: {_shown(old)} in the checkpoint, {_shown(new)} in the options"
        for key, old, new in changes
    ]
    raise UserError(
        f"cannot restart from '{path}' with other model hyperparameters: a restart "
        "continues the checkpoint's model as it is\n"
        + "\n".join(lines)
        + "\nSet them back to continue that run, or train a new model from its "
        "weights by fine-tuning: architecture.training.finetune.read_from: "
        f"{path} (without --restart)"
    )


def _shown(value: Any) -> str:
    return "absent" if value is _ABSENT else repr(value)
