"""Reading the types, defaults and nesting of TypedDict hyperparameter classes.

A stable ``documentation.py`` declares its hypers as ``typing_extensions.TypedDict``
classes whose class-level assignments are the defaults::

    class CutoffHypers(TypedDict):
        radius: float = 5.0
        \"\"\"Cutoff radius (Å).\"\"\"

The TypedDict machinery keeps these assignments in the class ``__dict__``; inherited
fields are found through ``__orig_bases__`` because a TypedDict's ``__mro__`` is
``(cls, dict, object)``. A field typed with a nested TypedDict and no default (or a
partial dict as default) gets the nested class's defaults.
"""

from __future__ import annotations

import copy
import inspect
import types
import typing
from typing import Any, Dict, Iterator, List, Optional, Tuple

import typing_extensions
from typing_extensions import is_typeddict

NO_DEFAULT: Any = object()
"""Marks a field without default value."""


class JsonSchema:
    """JSON-schema keywords added to a type: ``Annotated[int, JsonSchema(minimum=1)]``.

    Documentation pages show the bare type; the schema gets the keywords. Hashable
    (as ``Annotated`` metadata must be), so the values are numbers, strings or
    booleans.
    """

    def __init__(self, **keywords: Any) -> None:
        self._items = tuple(sorted(keywords.items()))

    @property
    def keywords(self) -> Dict[str, Any]:
        return dict(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonSchema) and other._items == self._items

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        keywords = ", ".join(f"{key}={value!r}" for key, value in self._items)
        return f"JsonSchema({keywords})"


_UNION_ORIGINS = (typing.Union, types.UnionType)
_WRAPPERS = (
    typing_extensions.NotRequired,
    typing_extensions.Required,
    typing_extensions.ReadOnly,
)


def unwrap(tp: Any) -> Any:
    """``tp`` without ``Annotated``, ``NotRequired``, ``Required`` and ``ReadOnly``."""
    while True:
        origin = typing_extensions.get_origin(tp)
        if origin is typing_extensions.Annotated or origin in _WRAPPERS:
            tp = typing_extensions.get_args(tp)[0]
        else:
            return tp


def union_members(tp: Any) -> Optional[List[Any]]:
    """The members of a union other than ``None``, or None if ``tp`` is no union."""
    tp = unwrap(tp)
    if typing_extensions.get_origin(tp) not in _UNION_ORIGINS:
        return None
    return [arg for arg in typing_extensions.get_args(tp) if arg is not type(None)]


def without_none(tp: Any) -> Any:
    """``X`` for ``Optional[X]``; ``tp`` unchanged otherwise."""
    members = union_members(tp)
    if members is not None and len(members) == 1:
        return unwrap(members[0])
    return unwrap(tp)


def typeddict_of(tp: Any) -> Optional[type]:
    """The TypedDict class ``tp`` (or ``Optional[tp]``) stands for, else None."""
    tp = without_none(tp)
    return tp if is_typeddict(tp) else None


def lineage(cls: type) -> List[type]:
    """The TypedDict classes ``cls`` is built from: basic first, ``cls`` last."""
    chain: List[type] = []
    for base in getattr(cls, "__orig_bases__", ()):
        if is_typeddict(base):
            for ancestor in lineage(base):
                if ancestor not in chain:
                    chain.append(ancestor)
    chain.append(cls)
    return chain


def field_types(cls: type) -> Dict[str, Any]:
    """The field names of a TypedDict and their (unresolved-wrapper) types, in order."""
    hints = typing_extensions.get_type_hints(cls, include_extras=True)
    ordered: Dict[str, Any] = {}
    for klass in lineage(cls):
        for name in inspect.get_annotations(klass):
            if name in hints:
                ordered[name] = hints[name]
    for name, tp in hints.items():
        ordered.setdefault(name, tp)
    return ordered


def field_default(cls: type, name: str) -> Any:
    """The value assigned to field ``name`` in ``cls`` or its bases, or NO_DEFAULT."""
    for klass in reversed(lineage(cls)):
        if name in inspect.get_annotations(klass) and name in klass.__dict__:
            return klass.__dict__[name]
    return NO_DEFAULT


def is_required(cls: type, name: str) -> bool:
    """Whether the TypedDict ``cls`` requires the key ``name``.

    The declared ``NotRequired``/``Required`` wins: with postponed annotations
    (``from __future__ import annotations``) ``__required_keys__`` cannot see it.
    """
    origin = typing_extensions.get_origin(field_types(cls).get(name))
    if origin is typing_extensions.NotRequired:
        return False
    if origin is typing_extensions.Required:
        return True
    return name in getattr(cls, "__required_keys__", frozenset())


def merge(defaults: Any, user: Any) -> Any:
    """``user`` over ``defaults``: mappings merged key-wise, anything else replaced."""
    if isinstance(defaults, dict) and isinstance(user, dict):
        merged = copy.deepcopy(defaults)
        for key, value in user.items():
            merged[key] = merge(merged.get(key), value)
        return merged
    return copy.deepcopy(user)


def typed_defaults(cls: type) -> Dict[str, Any]:
    """The defaults of a TypedDict hypers class, nested TypedDicts included."""
    defaults: Dict[str, Any] = {}
    for name, tp in field_types(cls).items():
        default = field_default(cls, name)
        nested = typeddict_of(tp) if without_none(tp) is unwrap(tp) else None
        if nested is not None and (default is NO_DEFAULT or isinstance(default, dict)):
            own = {} if default is NO_DEFAULT else default
            defaults[name] = merge(typed_defaults(nested), own)
        elif default is not NO_DEFAULT:
            defaults[name] = copy.deepcopy(default)
    return defaults


def fill_defaults(tp: Any, value: Any) -> Any:
    """``value`` with the defaults of every TypedDict it holds filled in.

    Reaches mappings the merge with the top-level defaults cannot: a dict given for an
    ``Optional[Hypers]`` whose default is None, and TypedDicts inside lists and dicts.
    """
    members = union_members(tp)
    if members is not None:
        candidates = [m for m in members if typeddict_of(m) is not None]
        return fill_defaults(candidates[0], value) if len(candidates) == 1 else value
    tp = unwrap(tp)
    if is_typeddict(tp) and isinstance(value, dict):
        filled = merge(typed_defaults(tp), value)
        hints = field_types(tp)
        return {
            key: fill_defaults(hints[key], item) if key in hints else item
            for key, item in filled.items()
        }
    origin = typing_extensions.get_origin(tp)
    args = typing_extensions.get_args(tp)
    if origin in (list, List) and args and isinstance(value, list):
        return [fill_defaults(args[0], item) for item in value]
    if origin in (dict, Dict) and len(args) == 2 and isinstance(value, dict):
        return {key: fill_defaults(args[1], item) for key, item in value.items()}
    return value


def nested_typeddicts(tp: Any) -> Iterator[type]:
    """Every TypedDict class reachable from ``tp`` (itself included)."""
    seen: List[type] = []
    stack = [tp]
    while stack:
        current = unwrap(stack.pop())
        if is_typeddict(current):
            if current in seen:
                continue
            seen.append(current)
            yield current
            stack.extend(field_types(current).values())
        else:
            stack.extend(typing_extensions.get_args(current))


def format_type(tp: Any) -> str:
    """A short, readable spelling of a type: ``int``, ``"a" | "b"``, ``list[float]``."""
    tp = unwrap(tp)
    if tp is type(None) or tp is None:
        return "None"
    if tp is Any:
        return "Any"
    origin = typing_extensions.get_origin(tp)
    args = typing_extensions.get_args(tp)
    if origin is typing_extensions.Literal or origin is typing.Literal:
        return " | ".join(repr(arg) for arg in args)
    if origin in _UNION_ORIGINS:
        members = [format_type(arg) for arg in args if arg is not type(None)]
        if type(None) in args:
            members.append("None")
        return " | ".join(members)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin).replace("typing.", ""))
        if not args:
            return name
        return f"{name}[{', '.join(format_type(arg) for arg in args)}]"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def union_tag(member: Any) -> Tuple[str, ...]:
    """The labels pydantic puts in an error location for a union ``member``."""
    member = unwrap(member)
    origin = typing_extensions.get_origin(member)
    if origin is typing_extensions.Literal or origin is typing.Literal:
        return ("literal[",)
    if origin is not None:
        name = getattr(origin, "__name__", "")
        return (f"{name}[", name)
    return (getattr(member, "__name__", str(member)),)
