"""Helpers of the options tests: expand a dataset section and collect its problems."""

from pathlib import Path
from typing import Any, Dict, List

from atomtrain.errors import Problem
from atomtrain.options.datasets import (
    expand_dataset_section,
    expand_standalone_sections,
)


def expand(value: Any, base: Path) -> List[Dict[str, Any]]:
    sections, problems = expand_dataset_section(value, "training_set", base)
    assert problems == []
    return sections


def problems_of(value: Any, base: Path) -> List[Problem]:
    return expand_dataset_section(value, "training_set", base)[1]


def messages(value: Any, base: Path) -> Dict[str, str]:
    return {p.path: str(p) for p in problems_of(value, base)}


def standalone_messages(value: Any, base: Path) -> Dict[str, str]:
    """The problems of sections read on their own, units checked across them."""
    problems = expand_standalone_sections(value, "training_set", base)[1]
    return {p.path: str(p) for p in problems}
