"""Checkpoints of any architecture: read safely, upgraded by the architecture named in
them, their model hypers validated, and the model they hold.

Checkpoints are plain data read with ``weights_only=True``; the architecture named in
the checkpoint is found by discovery and upgrades the checkpoint to its current
version.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Tuple

from ..checkpoints import CheckpointContentError, in_checkpoint, read_checkpoint_file
from ..errors import UserError
from ..utils.abc import ModelCheckpointContext, ModelInterface
from .discovery import import_architecture
from .hypers import validate_hypers


def read_checkpoint(path: Path) -> Tuple[Dict[str, Any], Any]:
    """Load ``path`` safely and upgrade it: ``(checkpoint, architecture module)``.
    A damaged content (an invalid version, model hypers the architecture refuses)
    is a :class:`CheckpointContentError` naming the file."""
    checkpoint = read_checkpoint_file(path)
    name = checkpoint.get("architecture_name")
    if not isinstance(name, str):
        raise UserError(
            f"'{path}' is not an atomtrain checkpoint (no architecture name)"
        )
    architecture = import_architecture(name)
    with in_checkpoint(path):
        checkpoint = architecture.__model__.upgrade_checkpoint(checkpoint)
        if "trainer" in checkpoint:
            checkpoint = architecture.__trainer__.upgrade_checkpoint(checkpoint)
        _check_model_hypers(name, checkpoint)
    return checkpoint, architecture


def _check_model_hypers(name: str, checkpoint: Dict[str, Any]) -> None:
    """The stored model hypers go through the validation of the options file's."""
    hypers = (checkpoint.get("model") or {}).get("hypers")
    if not isinstance(hypers, dict):
        return
    _, problems = validate_hypers(name, {"model": hypers}, path_prefix="")
    if problems:
        # the options' "model.cutoff" is the checkpoint's "model.hypers.cutoff"
        located = [
            replace(p, path=p.path.replace("model", "model.hypers", 1))
            for p in problems
        ]
        listed = "\n".join(f"  - {problem}" for problem in located)
        raise CheckpointContentError(
            f"its model hypers are invalid for '{name}' (the file is damaged or was "
            f"edited):\n{listed}"
        )


def load_model(path: Path, context: ModelCheckpointContext) -> ModelInterface[Any]:
    """The model stored in the checkpoint at ``path``."""
    checkpoint, architecture = read_checkpoint(path)
    with in_checkpoint(path):
        return architecture.__model__.load_checkpoint(checkpoint, context=context)
