"""Translate pydantic validation errors on TypedDict hypers into :class:`Problem` s.

pydantic locates an error by a tuple mixing the keys of the data with labels of the
union member it tried (``("u", "int")``). Walking the declared type along the tuple
separates the two, so that each problem carries the dotted path of the options file,
the value given and what was expected; unknown keys get a "did you mean".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import typing_extensions
from typing_extensions import is_typeddict

from atomtrain.errors import Problem, did_you_mean

from .typeinfo import (
    field_types,
    format_type,
    union_members,
    union_tag,
    unwrap,
    without_none,
)

_EXPECTED = {
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "none_required": "expected null",
}


#: pydantic's errors for the bounds of ``annotated_types`` constraints: the key of
#: the bound in the error's context, and its symbol.
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", "≥"),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "≤"),
}


class Index(int):
    """A position in a list (shown as ``[i]``), unlike an integer key of a mapping."""


@dataclass
class _Location:
    """Where a pydantic error lies in the data, and the types around it."""

    keys: Tuple[Any, ...]
    """The keys and indices into the data."""
    parent: Optional[type]
    """The TypedDict holding the last key, if any."""
    union: Optional[Tuple[Tuple[Any, ...], Any, Any]]
    """The outermost union crossed: (keys up to it, its type, the member label)."""
    leaf: Any
    """The type declared at the error's location (``Any`` where unknown)."""


def _match_member(tp: Any, label: Any) -> Optional[Any]:
    members = union_members(tp) or []
    if not isinstance(label, str):
        return None
    for member in members:
        for tag in union_tag(member):
            if label == tag or (tag.endswith("[") and label.startswith(tag)):
                return member
    return None


def _locate(tp: Any, loc: Tuple[Any, ...]) -> _Location:
    keys: List[Any] = []
    parent: Optional[type] = None
    union: Optional[Tuple[Tuple[Any, ...], Any, Any]] = None
    remaining = list(loc)
    while remaining:
        members = union_members(tp)
        if members is not None and len(members) == 1:
            tp = members[0]
            continue
        if members is not None:
            member = _match_member(tp, remaining[0])
            if member is None:
                break
            if union is None:
                union = (tuple(keys), tp, remaining[0])
            remaining.pop(0)
            tp = member
            continue
        tp = unwrap(tp)
        item = remaining.pop(0)
        keys.append(item)
        if is_typeddict(tp):
            parent = tp
            tp = field_types(tp).get(item, Any)
            continue
        parent = None
        args = typing_extensions.get_args(tp)
        origin = typing_extensions.get_origin(tp)
        if origin in (list, tuple, set, frozenset) and args:
            keys[-1] = Index(item)
            tp = args[0]
        elif origin is dict and len(args) == 2:
            tp = args[1]
        else:
            tp = Any
    keys.extend(remaining)
    return _Location(tuple(keys), parent, union, tp if not remaining else Any)


def dotted(prefix: str, keys: Tuple[Any, ...]) -> str:
    """``prefix.a.b[0].c`` for the keys ``("a", "b", Index(0), "c")``."""
    path = prefix
    for key in keys:
        if isinstance(key, Index):
            path += f"[{key}]"
        else:
            path = f"{path}.{key}" if path else str(key)
    return path


def _message(error: Dict[str, Any], location: _Location) -> str:
    kind = error["type"]
    if kind == "missing":
        return "required key with no default value: please give it"
    if kind == "extra_forbidden":
        key = str(location.keys[-1])
        known = list(field_types(location.parent)) if location.parent else []
        hint = did_you_mean(key, known)
        if not hint and known:
            hint = f" (known keys: {', '.join(known)})"
        return f"unknown key{hint}"
    if kind == "literal_error":
        choices = _literal_choices(location.leaf)
        value = error.get("input")
        message = f"expected one of {', '.join(repr(c) for c in choices)}"
        if isinstance(value, str):
            message += did_you_mean(value, [c for c in choices if isinstance(c, str)])
        return message
    if kind in _BOUNDS:
        name, symbol = _BOUNDS[kind]
        noun = "an integer" if without_none(location.leaf) is int else "a number"
        return f"expected {noun} {symbol} {error['ctx'][name]:g}"
    text = str(error.get("msg", kind))
    message = _EXPECTED.get(kind, text.replace("Input should be", "expected", 1))
    value = error.get("input")
    if kind == "float_type" and isinstance(value, str) and _is_number(value):
        message += (
            " (YAML reads a number without a dot as text: write 1.0e-3, not 1e-3)"
        )
    return message


def _literal_choices(tp: Any) -> List[Any]:
    members = union_members(tp)
    if members is not None:
        return [choice for member in members for choice in _literal_choices(member)]
    return list(typing_extensions.get_args(unwrap(tp)))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _problem(prefix: str, location: _Location, error: Dict[str, Any]) -> Problem:
    message = _message(error, location)
    if error["type"] == "missing":
        return Problem(dotted(prefix, location.keys), message)
    return Problem(dotted(prefix, location.keys), message, error.get("input"))


def translate(tp: Any, errors: List[Dict[str, Any]], prefix: str) -> List[Problem]:
    """One :class:`Problem` per pydantic error on data of type ``tp``.

    Errors from the several members of a union are reported as one problem saying the
    union's type, unless one member matched the shape of the value (then that member's
    errors are the relevant ones).
    """
    problems: List[Problem] = []
    unions: Dict[Tuple[Any, ...], List[Tuple[_Location, Dict[str, Any]]]] = {}
    union_types: Dict[Tuple[Any, ...], Any] = {}
    for error in errors:
        location = _locate(tp, tuple(error["loc"]))
        if location.union is None:
            problems.append(_problem(prefix, location, error))
        else:
            unions.setdefault(location.union[0], []).append((location, error))
            union_types[location.union[0]] = location.union[1]
    for union_keys, failures in unions.items():
        deeper = [
            (location, error)
            for location, error in failures
            if len(location.keys) > len(union_keys)
        ]
        if deeper:
            problems.extend(_problem(prefix, loc, error) for loc, error in deeper)
            continue
        expected = f"expected {format_type(union_types[union_keys])}"
        value = failures[0][1].get("input")
        problems.append(Problem(dotted(prefix, union_keys), expected, value))
    return problems
