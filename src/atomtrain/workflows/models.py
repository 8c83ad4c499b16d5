"""The metadata of exported models, and saving them with their extensions.

Checkpoints of any architecture are read by :mod:`atomtrain.architectures.checkpoints`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

from metatomic.torch import AtomisticModel, ModelMetadata

from ..errors import UserError
from ..files import atomic_output, require_free_space
from ..options.loading import parse_yaml
from .outputs import merge_extensions, scratch_directory


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
        # every key of a metadata file is optional; an absent one is empty, as in
        # metatomic's ModelMetadata
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
    size = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    require_free_space(path.parent, size, "the exported model")
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
