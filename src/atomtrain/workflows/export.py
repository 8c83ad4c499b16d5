"""``atomtrain export``: a checkpoint's best model as a metatomic model file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..architectures.checkpoints import load_model
from ..files import remove_stale_temporaries
from .models import merge_metadata, read_metadata, save_exported
from .outputs import check_command_outputs


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
    merged = merge_metadata(model.metadata, user_metadata)
    exported = model.export(metadata=merged)
    save_exported(exported, output, extensions)
    return output
