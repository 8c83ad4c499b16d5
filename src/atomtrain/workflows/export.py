"""``atomtrain export``: a checkpoint's best model as a metatomic model file.

A model with NaN or infinite weights is refused (:func:`require_finite_weights`): it
would predict NaN everywhere, in every engine, without a word at export time.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import torch

from ..architectures.checkpoints import load_model
from ..errors import UserError
from ..files import remove_stale_temporaries
from .models import merge_metadata, read_metadata, save_exported
from .outputs import check_command_outputs

#: How many non-finite parameters or buffers an error names.
MAX_NAMED = 5


def require_finite_weights(model: torch.nn.Module, checkpoint: Path) -> None:
    """Refuse to export ``model`` (from ``checkpoint``) when a parameter or buffer
    holds NaN or infinite values: a :class:`UserError` naming them."""
    bad: List[str] = []
    for kind, named in (
        ("parameter", model.named_parameters()),
        ("buffer", model.named_buffers()),
    ):
        for name, tensor in named:
            if not tensor.is_floating_point():
                continue
            count = int((~torch.isfinite(tensor.detach())).sum())
            if count:
                bad.append(f"{kind} '{name}' ({count} of {tensor.numel()} values)")
    if bad:
        more = f"; and {len(bad) - MAX_NAMED} more" if len(bad) > MAX_NAMED else ""
        raise UserError(
            f"cannot export the model of '{checkpoint}': NaN or infinite values in "
            + "; ".join(bad[:MAX_NAMED])
            + more
            + ". The training that wrote it diverged: export an earlier checkpoint "
            "(model_<epoch>.ckpt in its run directory), or train again (with a lower "
            "learning_rate, or grad_clip_norm)"
        )


def export_checkpoint(
    checkpoint: Path,
    output: Path,
    metadata: Optional[Path] = None,
    extensions: Optional[Path] = None,
) -> Path:
    """Export the best weights (EMA weights when training used them) of
    ``checkpoint`` to ``output``, with the user's metadata merged over the
    architecture's defaults. Returns ``output``.

    Refused before any work: an ``output`` that is the checkpoint or the metadata
    file, or that cannot be written, and an ``extensions`` directory that is not
    atomtrain's to write into (:mod:`atomtrain.workflows.outputs`)."""
    inputs = [checkpoint] + ([metadata] if metadata is not None else [])
    check_command_outputs(
        [("-o", output)],
        inputs,
        extensions,
        protected=[("the working directory", Path.cwd())],
    )
    remove_stale_temporaries(output.parent)
    user_metadata = read_metadata(metadata)
    model = load_model(checkpoint, context="export")
    require_finite_weights(model, checkpoint)
    merged = merge_metadata(model.metadata, user_metadata)
    exported = model.export(metadata=merged)
    save_exported(exported, output, extensions)
    return output
