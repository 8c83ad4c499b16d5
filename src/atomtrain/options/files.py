"""File names and readers of the dataset sections (:mod:`.datasets`,
:mod:`.target_sections`), and the unknown-key problems of every part of the options
file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..errors import Problem, did_you_mean

READERS = ("ase", "metatensor")


def infer_reader(path: str) -> str:
    """``metatensor`` for ``.mts`` files, ``ase`` for everything else."""
    return "metatensor" if path.lower().endswith(".mts") else "ase"


def unknown_keys(
    mapping: Dict[str, Any], known: Tuple[str, ...], path: str, noun: str = "key"
) -> List[Problem]:
    """A problem for each key of ``mapping`` (at ``path``, empty at the top level)
    not in ``known``, called an unknown ``noun``."""
    return [
        Problem(
            f"{path}.{key}" if path else str(key),
            f"unknown {noun}"
            + did_you_mean(str(key), known)
            + "; expected one of "
            + ", ".join(known),
        )
        for key in mapping
        if key not in known
    ]


def resolve_file(
    value: Any, path: str, base_dir: Path, problems: List[Problem]
) -> Optional[str]:
    """``value`` as an absolute file name (relative to ``base_dir``); a problem when
    it is not a file name or the file does not exist."""
    if not isinstance(value, str) or not value:
        problems.append(Problem(path, "expected a file name", value))
        return None
    resolved = Path(os.path.abspath(base_dir / Path(value).expanduser()))
    if resolved.is_dir():
        problems.append(Problem(path, _directory_message(resolved), value))
    elif not resolved.is_file():
        problems.append(Problem(path, f"file '{resolved}' does not exist", value))
    return str(resolved)


def _directory_message(directory: Path) -> str:
    if (directory / "header.json").is_file():
        return (
            f"'{directory}' is an on-disk dataset: name it in systems.read_from of a "
            "dataset section, which reads its targets too"
        )
    return (
        f"'{directory}' is a directory, not a file (nor an on-disk dataset written "
        "by atomtrain convert: it has no header.json)"
    )


def expand_reader(
    value: Any, read_from: Optional[str], path: str, problems: List[Problem]
) -> Optional[str]:
    """The reader ``value``, or the one inferred from ``read_from`` when None."""
    if value is None:
        return infer_reader(read_from) if read_from else None
    if value not in READERS:
        problems.append(
            Problem(
                path,
                "unknown reader"
                + did_you_mean(str(value), READERS)
                + "; expected one of "
                + ", ".join(READERS),
                value,
            )
        )
    return value if isinstance(value, str) else None
