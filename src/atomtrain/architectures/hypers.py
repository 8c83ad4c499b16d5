"""Default hyperparameters of an architecture, and validation of the user's ones.

The ``architecture`` section of an options file holds ``name``, ``atomic_types``,
``model`` and ``training``. ``model`` and ``training`` are merged over the defaults of
``ModelHypers`` and ``TrainerHypers`` from the architecture's ``documentation.py``:

- TypedDict hypers (stable architectures) are validated strictly with pydantic: unknown
  keys, wrong types and ``Literal`` choices are problems (an integer is accepted where a
  float is expected);
- plain-class hypers reject unknown keys (also inside mappings whose default is a
  non-empty mapping) and warn, once per architecture, that their types go unchecked.

Every problem is collected, with its dotted path in the options file.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Mapping, Set, Tuple

from typing_extensions import is_typeddict

from atomtrain.errors import Problem, did_you_mean

from .discovery import get_entry
from .docsource import class_defaults, hypers_classes
from .problems import dotted, translate
from .typeinfo import fill_defaults, merge, nested_typeddicts

FRAMEWORK_KEYS = ("name", "atomic_types", "model", "training")
"""The keys of the ``architecture`` section; ``model`` and ``training`` hold hypers."""

_WARNED_UNCHECKED: Set[str] = set()
_ADAPTERS: Dict[type, Any] = {}


class UncheckedHypersWarning(UserWarning):
    """The architecture's hypers are plain classes: their types are not checked."""


def get_defaults(architecture_name: str) -> Dict[str, Dict[str, Any]]:
    """``{"model": {...}, "training": {...}}``: fresh copies of the default hypers."""
    classes = hypers_classes(get_entry(architecture_name))
    return {section: class_defaults(cls) for section, cls in classes.items()}


def merge_hypers(
    defaults: Mapping[str, Any], user: Mapping[str, Any]
) -> Dict[str, Any]:
    """``user`` over ``defaults``, recursively: nested mappings are merged key-wise.

    Neither argument is modified; the result shares no mutable value with them.
    """
    merged = merge(dict(defaults), dict(user))
    return dict(merged)


def _adapter(cls: type) -> Any:
    from pydantic import ConfigDict, TypeAdapter

    if cls not in _ADAPTERS:
        for typed in nested_typeddicts(cls):
            config = dict(typed.__dict__.get("__pydantic_config__", {}))
            config["extra"] = "forbid"
            typed.__pydantic_config__ = ConfigDict(**config)  # type: ignore[attr-defined]
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


def _validate_typed(
    cls: type, values: Dict[str, Any], path: str
) -> Tuple[Dict[str, Any], List[Problem]]:
    from pydantic import ValidationError

    adapter = _adapter(cls)
    try:
        validated = adapter.validate_python(values, strict=True)
    except ValidationError as error:
        return values, translate(cls, [dict(e) for e in error.errors()], path)
    return dict(validated), []


def _unknown_plain_keys(
    defaults: Mapping[str, Any], user: Mapping[str, Any], path: str
) -> List[Problem]:
    problems: List[Problem] = []
    for key, value in user.items():
        where = dotted(path, (key,))
        if key not in defaults:
            hint = did_you_mean(str(key), [str(k) for k in defaults])
            problems.append(Problem(where, f"unknown key{hint}", value))
            continue
        default = defaults[key]
        if isinstance(default, dict) and default and isinstance(value, dict):
            problems.extend(_unknown_plain_keys(default, value, where))
    return problems


def _warn_unchecked(name: str) -> None:
    if name in _WARNED_UNCHECKED:
        return
    _WARNED_UNCHECKED.add(name)
    warnings.warn(
        f"the hyperparameters of the architecture '{name}' are declared as plain "
        "classes: unknown keys are rejected but their types are not checked",
        UncheckedHypersWarning,
        stacklevel=3,
    )


def _user_section(
    section: Mapping[str, Any], key: str, path: str, problems: List[Problem]
) -> Dict[str, Any]:
    value = section.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(Problem(path, "expected a mapping of hyperparameters", value))
        return {}
    return value


def validate_hypers(
    architecture_name: str,
    architecture: Mapping[str, Any],
    path_prefix: str = "architecture",
) -> Tuple[Dict[str, Any], List[Problem]]:
    """Merge the ``architecture`` section over the defaults and check it.

    Returns the merged section (``name`` and ``atomic_types`` as given when present,
    ``model`` and ``training`` complete) and every problem found; the merged section
    is only meaningful when there is no problem.
    """
    problems: List[Problem] = []
    for key, value in architecture.items():
        if key not in FRAMEWORK_KEYS:
            hint = did_you_mean(str(key), FRAMEWORK_KEYS)
            where = dotted(path_prefix, (key,))
            problems.append(Problem(where, f"unknown key{hint}", value))
    merged: Dict[str, Any] = {
        key: architecture[key]
        for key in ("name", "atomic_types")
        if key in architecture
    }
    entry = get_entry(architecture_name)
    for section, cls in hypers_classes(entry).items():
        path = dotted(path_prefix, (section,))
        user = _user_section(architecture, section, path, problems)
        defaults = class_defaults(cls)
        values = merge_hypers(defaults, user)
        if is_typeddict(cls):
            values, found = _validate_typed(cls, fill_defaults(cls, values), path)
            problems.extend(found)
        else:
            problems.extend(_unknown_plain_keys(defaults, user, path))
            _warn_unchecked(entry.name)
        merged[section] = values
    return merged, problems
