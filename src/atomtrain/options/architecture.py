"""The ``architecture`` section: ``name``, ``atomic_types``, ``model``, ``training``.

The framework checks ``name`` and ``atomic_types``; the content of ``model`` and
``training`` is validated against the architecture's ``documentation.py`` by
:func:`atomtrain.architectures.hypers.validate_hypers`, which also merges the user's
values over the defaults. The architecture's model class tells which devices and
precisions it supports, used for ``device`` and ``base_precision``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ..architectures.discovery import import_architecture
from ..architectures.hypers import get_defaults, validate_hypers
from ..architectures.typeinfo import field_types
from ..errors import Problem, UserError, did_you_mean
from ..utils.dtype import dtype_to_bits
from .grammar import ArchitectureSection
from .reference_keys import without_reference_keys, without_reference_model_keys

ARCHITECTURE_KEYS = tuple(field_types(ArchitectureSection))


@dataclass(frozen=True)
class ArchitectureSupport:
    """What the architecture's model class declares it can run on."""

    #: ``__supported_devices__``, preferred first (e.g. ``["cuda", "cpu"]``).
    devices: Tuple[str, ...]
    #: ``__supported_dtypes__`` as ``base_precision`` values, preferred first.
    precisions: Tuple[int, ...]


def validate_architecture(
    section: Any, path: str = "architecture"
) -> Tuple[Dict[str, Any], List[Problem], Optional[ArchitectureSupport]]:
    """Check and expand the ``architecture`` section.

    Returns the expanded section (hypers merged over the architecture's defaults), the
    problems found, and what the architecture supports (``None`` when its name is
    invalid).
    """
    if not isinstance(section, dict):
        problem = Problem(
            path,
            "expected a mapping with at least 'name' (see 'atomtrain doc')",
            section,
        )
        return {}, [problem], None
    problems = _check_name(section.get("name"), path)
    problems += _check_atomic_types(section, path)
    expanded = {key: section[key] for key in ARCHITECTURE_KEYS if key in section}
    for key in ("model", "training"):
        expanded[key] = expanded.get(key) or {}
    support, known = None, not problems or problems[0].path != f"{path}.name"
    if known:
        support, name_problem = _architecture_support(section["name"], path)
        if name_problem is not None:
            problems.append(name_problem)
            known = False
    if not known:
        # without the architecture's hypers, only the framework's keys are checked
        return expanded, problems + _check_sections(section, path), support
    section, reference_problems = _without_reference_keys(section, path)
    problems += reference_problems
    merged, hyper_problems = _validate_hypers(section["name"], section, path)
    problems += [p for p in hyper_problems if not _already_reported(p, problems)]
    expanded["model"] = merged.get("model", expanded["model"])
    expanded["training"] = merged.get("training", expanded["training"])
    return expanded, problems, support


def _without_reference_keys(
    section: Dict[str, Any], path: str
) -> Tuple[Dict[str, Any], List[Problem]]:
    """``section`` with metatrain's model and trainer options that have no effect
    here taken out of ``model`` and ``training`` (see :mod:`.reference_keys`)."""
    try:
        # an architecture may declare no trainer hypers at all
        defaults = get_defaults(section["name"])
    except UserError:
        return section, []  # reported by the validation of the hypers
    problems: List[Problem] = []
    model = section.get("model")
    if isinstance(model, dict):
        declared = defaults.get("model", {})
        model, found = without_reference_model_keys(
            model, section["name"], declared, f"{path}.model"
        )
        section, problems = {**section, "model": model}, problems + found
    training = section.get("training")
    if isinstance(training, dict):
        declared = defaults.get("training", {})
        kept, found = without_reference_keys(training, declared, f"{path}.training")
        section, problems = {**section, "training": kept}, problems + found
    return section, problems


def _validate_hypers(
    name: str, section: Dict[str, Any], path: str
) -> Tuple[Dict[str, Any], List[Problem]]:
    try:
        merged, problems = validate_hypers(name, section, path_prefix=path)
    except UserError as error:
        return {}, [Problem(path, str(error))]
    return merged, list(problems)


def _already_reported(problem: Problem, problems: List[Problem]) -> bool:
    return any(problem.path == seen.path for seen in problems)


def _check_name(name: Any, path: str) -> List[Problem]:
    if name is None:
        return [
            Problem(
                f"{path}.name",
                "required: the name of the architecture ('atomtrain doc' lists them)",
            )
        ]
    if not isinstance(name, str) or not name.strip():
        return [Problem(f"{path}.name", "expected the name of an architecture", name)]
    return []


def _check_atomic_types(section: Dict[str, Any], path: str) -> List[Problem]:
    if "atomic_types" not in section:
        return []
    types = section["atomic_types"]
    where = f"{path}.atomic_types"
    if not isinstance(types, list) or not all(
        isinstance(t, int) and not isinstance(t, bool) for t in types
    ):
        return [
            Problem(where, "expected a list of atomic numbers, e.g. [1, 6, 8]", types)
        ]
    if len(set(types)) != len(types):
        return [Problem(where, "an atomic type is listed more than once", types)]
    return []


def _check_sections(section: Dict[str, Any], path: str) -> List[Problem]:
    """Unknown keys and non-mapping ``model``/``training`` (when the architecture is
    unknown, so that its hypers cannot be checked)."""
    problems = [
        Problem(
            f"{path}.{key}",
            "unknown key; expected one of "
            + ", ".join(ARCHITECTURE_KEYS)
            + did_you_mean(str(key), ARCHITECTURE_KEYS),
        )
        for key in section
        if key not in ARCHITECTURE_KEYS
    ]
    for key in ("model", "training"):
        value = section.get(key)
        if value is not None and not isinstance(value, dict):
            problems.append(Problem(f"{path}.{key}", "expected a mapping", value))
    return problems


def _architecture_support(
    name: str, path: str
) -> Tuple[Optional[ArchitectureSupport], Optional[Problem]]:
    try:
        module = import_architecture(name)
    except UserError as error:
        return None, Problem(f"{path}.name", str(error), name)
    model = module.__model__
    support = ArchitectureSupport(
        devices=tuple(model.__supported_devices__),
        precisions=tuple(dtype_to_bits(d) for d in model.__supported_dtypes__),
    )
    return support, None
