"""Helpers of the options tests: expand a dataset section and collect its problems."""

from pathlib import Path
from typing import Any, Dict, List

from atomtrain.errors import Problem
from atomtrain.options.datasets import expand_dataset_section


def expand(value: Any, base: Path) -> List[Dict[str, Any]]:
    sections, problems = expand_dataset_section(value, "training_set", base)
    assert problems == []
    return sections


def problems_of(value: Any, base: Path) -> List[Problem]:
    return expand_dataset_section(value, "training_set", base)[1]


def messages(value: Any, base: Path) -> Dict[str, str]:
    return {p.path: str(p) for p in problems_of(value, base)}
