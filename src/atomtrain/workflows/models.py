"""Loading models and trainers from checkpoints, and saving exported models.

Checkpoints are plain data read with ``weights_only=True``; the architecture named in
the checkpoint is found by discovery and upgrades the checkpoint to its current version.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import yaml
from metatomic.torch import AtomisticModel, ModelMetadata

from ..architectures.discovery import import_architecture
from ..architectures.hypers import validate_hypers
from ..checkpoints import CheckpointContentError, in_checkpoint, load_checkpoint
from ..errors import UserError
from ..files import atomic_output
from ..utils.abc import ModelCheckpointContext, ModelInterface
from .outputs import merge_extensions, scratch_directory


def read_checkpoint(path: Path) -> Tuple[Dict[str, Any], Any]:
    """Load ``path`` safely and upgrade it: ``(checkpoint, architecture module)``.
    A damaged content (an invalid version, model hypers the architecture refuses)
    is a :class:`CheckpointContentError` naming the file."""
    checkpoint = load_checkpoint(path)
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


def model_from_checkpoint(
    path: Path, context: ModelCheckpointContext
) -> ModelInterface[Any]:
    """The model stored in the checkpoint at ``path``."""
    checkpoint, architecture = read_checkpoint(path)
    with in_checkpoint(path):
        return architecture.__model__.load_checkpoint(checkpoint, context=context)


def read_metadata(path: Optional[Path]) -> Optional[ModelMetadata]:
    """User metadata from a YAML file with ``name``, ``description``, ``authors``,
    ``references`` (``implementation``, ``architecture``, ``model`` lists) and
    ``extra`` (string values)."""
    if path is None:
        return None
    with open(path) as file:
        raw = yaml.safe_load(file) or {}
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
    model: AtomisticModel,
    path: Path,
    extensions: Optional[Path] = None,
    collect_into: Optional[Path] = None,
) -> None:
    """Save an exported model atomically. Its compiled extensions (if any) are
    collected into ``collect_into`` (a new directory atomtrain owns; by default a
    scratch directory removed afterwards) and merged into the user's ``extensions``
    directory, never deleting anything there (:mod:`atomtrain.workflows.outputs`)."""
    with atomic_output(path, "exported model") as temporary:
        if extensions is None:
            model.save(str(temporary))
            return
        if collect_into is not None:
            if collect_into.exists():
                raise FileExistsError(f"'{collect_into}' exists already")
            model.save(str(temporary), collect_extensions=str(collect_into))
            merge_extensions(collect_into, extensions)
            return
        with scratch_directory(path.parent) as scratch:
            model.save(str(temporary), collect_extensions=str(scratch))
            merge_extensions(scratch, extensions)
