"""Loading models and trainers from checkpoints, and saving exported models.

Checkpoints are plain data read with ``weights_only=True``; the architecture named in
the checkpoint is found by discovery and upgrades the checkpoint to its current version.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from metatomic.torch import AtomisticModel, ModelMetadata

from ..architectures.discovery import import_architecture
from ..checkpoints import load_checkpoint
from ..errors import UserError
from ..options.loading import parse_yaml
from ..utils.abc import ModelCheckpointContext, ModelInterface


def read_checkpoint(path: Path) -> Tuple[Dict[str, Any], Any]:
    """Load ``path`` safely and upgrade it: ``(checkpoint, architecture module)``."""
    checkpoint = load_checkpoint(path)
    name = checkpoint.get("architecture_name")
    if not isinstance(name, str):
        raise UserError(
            f"'{path}' is not an atomtrain checkpoint (no architecture name)"
        )
    architecture = import_architecture(name)
    checkpoint = architecture.__model__.upgrade_checkpoint(checkpoint)
    if "trainer" in checkpoint:
        checkpoint = architecture.__trainer__.upgrade_checkpoint(checkpoint)
    return checkpoint, architecture


def model_from_checkpoint(
    path: Path, context: ModelCheckpointContext
) -> ModelInterface[Any]:
    """The model stored in the checkpoint at ``path``."""
    checkpoint, architecture = read_checkpoint(path)
    return architecture.__model__.load_checkpoint(checkpoint, context=context)


def read_metadata(path: Optional[Path]) -> Optional[ModelMetadata]:
    """User metadata from a YAML file with ``name``, ``description``, ``authors``,
    ``references`` (``implementation``, ``architecture``, ``model`` lists) and
    ``extra`` (string values)."""
    if path is None:
        return None
    with open(path) as file:
        raw = parse_yaml(file.read(), str(path)) or {}
    known = {"name", "description", "authors", "references", "extra"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UserError(
            f"unknown key(s) {', '.join(unknown)} in metadata file '{path}'; "
            f"expected some of {', '.join(sorted(known))}"
        )
    try:
        return ModelMetadata(
            name=str(raw.get("name", "")),
            description=str(raw.get("description", "")),
            authors=[str(a) for a in raw.get("authors", [])],
            references={
                str(k): [str(r) for r in v]
                for k, v in raw.get("references", {}).items()
            },
            extra={str(k): str(v) for k, v in raw.get("extra", {}).items()},
        )
    except (TypeError, ValueError, RuntimeError) as error:
        raise UserError(f"invalid metadata in '{path}': {error}") from error


def merge_metadata(
    default: ModelMetadata, user: Optional[ModelMetadata]
) -> ModelMetadata:
    """The user's name and description over the architecture's; authors and
    references of both."""
    if user is None:
        return default
    references: Dict[str, list[str]] = {}
    for source in (default.references, user.references):
        for key, values in source.items():
            references.setdefault(key, [])
            references[key].extend(v for v in values if v not in references[key])
    extra = dict(default.extra)
    extra.update(user.extra)
    return ModelMetadata(
        name=user.name or default.name,
        description=user.description or default.description,
        authors=list(default.authors)
        + [a for a in user.authors if a not in default.authors],
        references=references,
        extra=extra,
    )


def save_exported(
    model: AtomisticModel, path: Path, extensions: Optional[Path] = None
) -> None:
    """Save an exported model atomically, collecting compiled extensions (if any) into
    ``extensions``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        model.save(
            temporary, collect_extensions=str(extensions) if extensions else None
        )
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
