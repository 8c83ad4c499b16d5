"""Restarting a run: the checkpoint's model continues, with its own hypers.

A restart (``atomtrain train options.yaml --restart model.ckpt``) rebuilds the model
from the checkpoint, so model hypers changed in the options would be ignored while
``options_restart.yaml`` recorded the new values. They are refused instead, each with
its value in the checkpoint and in the options. Training hypers may change (more
epochs, another learning rate): that is how a run is extended. Training a new model
from the weights of a checkpoint is fine-tuning (``training.finetune.read_from``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..architectures.checkpoints import read_checkpoint
from ..errors import UserError
from .run_directory import newest_checkpoint

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


def restart_checkpoint(restart: Optional[str], outputs: Path) -> Optional[Path]:
    """The checkpoint ``--restart`` names (``auto``: the newest under ``outputs``)."""
    if restart is None:
        return None
    if restart == "auto":
        return newest_checkpoint(outputs)
    return Path(restart)


def read_restart_checkpoint(
    path: Path, options: Dict[str, Any], architecture: Any
) -> Dict[str, Any]:
    """The checkpoint to restart from, which must be of the options' architecture."""
    checkpoint, stored = read_checkpoint(path)
    if stored.__model__ is not architecture.__model__:
        name = options["architecture"]["name"]
        raise UserError(
            f"--restart: checkpoint '{path}' holds a "
            f"'{checkpoint['architecture_name']}' model, but the options train "
            f"architecture.name '{name}'; restart with the options of the run that "
            f"wrote the checkpoint, or train a new '{name}' model without --restart"
        )
    return checkpoint


def split_indices_of(restart: Optional[Path]) -> Optional[Path]:
    """The split indices of the run that wrote the restart checkpoint (beside it in
    its run directory), or None to draw the split again from the seed (a copy of the
    checkpoint outside its run directory, such as the ``-o`` one)."""
    if restart is None:
        return None
    indices = restart.parent / "indices"
    if indices.is_dir():
        return indices
    warnings.warn(
        f"'{restart}' has no split indices beside it (it is not in a run "
        "directory): the split is drawn again from the seed, which gives the "
        "original split only for the same seed and data",
        SplitRedrawnWarning,
        stacklevel=2,
    )
    return None


class SplitRedrawnWarning(UserWarning):
    """A restart whose split is drawn again rather than read from its run."""
