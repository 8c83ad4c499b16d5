"""``atomtrain export``: a checkpoint's best model as a metatomic model file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .models import merge_metadata, model_from_checkpoint, read_metadata, save_exported


def export_checkpoint(
    checkpoint: Path,
    output: Path,
    metadata: Optional[Path] = None,
    extensions: Optional[Path] = None,
) -> Path:
    """Export the best weights (EMA weights when training used them) of
    ``checkpoint`` to ``output``, with the user's metadata merged over the
    architecture's defaults. Returns ``output``."""
    user_metadata = read_metadata(metadata)
    model = model_from_checkpoint(checkpoint, context="export")
    merged = merge_metadata(model.metadata, user_metadata)
    exported = model.export(metadata=merged)
    save_exported(exported, output, extensions)
    return output
