"""Python type annotations of hypers and options → JSON schema (draft 2020-12).

The conversion follows how atomtrain validates: TypedDicts reject unknown keys, an
integer is accepted where a float is expected (JSON's ``number``), ``bool`` is never an
integer, and a key is required only when its TypedDict requires it and gives no
default. Extra keywords (bounds, patterns) ride on ``Annotated[T, JsonSchema(...)]``,
and the bounds of ``annotated_types`` (``Ge``, ``Gt``, ``Le``, ``Lt``), which pydantic
checks, become ``minimum``, ``exclusiveMinimum``, ``maximum`` and ``exclusiveMaximum``.

TypedDicts become entries of ``$defs`` referenced with ``$ref``, so a class used in
several places is described once; descriptions are the attribute docstrings and
defaults the class-level values, as for the documentation pages.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any, Dict, List, Mapping, Optional

import annotated_types
import typing_extensions
from typing_extensions import is_typeddict

from atomtrain.architectures.docsource import attribute_docstrings, plain_defaults

# JsonSchema is declared beside the types it annotates (the options grammar uses it)
from atomtrain.architectures.typeinfo import JsonSchema as JsonSchema
from atomtrain.architectures.typeinfo import (
    field_types,
    is_required,
    typed_defaults,
    union_members,
    unwrap,
)

Schema = Dict[str, Any]

_SCALARS: Dict[Any, Schema] = {
    bool: {"type": "boolean"},
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    type(None): {"type": "null"},
    None: {"type": "null"},
}
_SEQUENCES = (list, tuple, set, frozenset, typing.Sequence, typing.List)
_MAPPINGS = (dict, typing.Dict, typing.Mapping)
#: The JSON-schema keyword of each ``annotated_types`` bound, and its attribute.
_BOUNDS = {
    annotated_types.Ge: ("minimum", "ge"),
    annotated_types.Gt: ("exclusiveMinimum", "gt"),
    annotated_types.Le: ("maximum", "le"),
    annotated_types.Lt: ("exclusiveMaximum", "lt"),
}
#: Keys of ``Dict[int, ...]`` as YAML editors see them: integers written as strings.
INTEGER_KEY_PATTERN = "^-?[0-9]+$"


def json_value(value: Any) -> Any:
    """``value`` as JSON data: mapping keys as strings, tuples as lists, anything
    else that JSON cannot hold as its ``repr``."""
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


class SchemaBuilder:
    """Converts types to schemas, collecting the TypedDicts into :attr:`defs`."""

    def __init__(self) -> None:
        self.defs: Dict[str, Schema] = {}
        self._names: Dict[type, str] = {}
        self.namespace: Optional[str] = None
        """Prefix of the classes declared in a ``documentation.py`` (the name of the
        architecture being converted), which all call their hypers ``ModelHypers``."""

    def of_type(self, tp: Any) -> Schema:
        """The schema of values of type ``tp``."""
        extra = _annotated_keywords(tp)
        schema = self._bare(unwrap(tp))
        if extra:
            schema = {**schema, **extra}
        return schema

    def _bare(self, tp: Any) -> Schema:
        if tp is Any or tp is object:
            return {}
        if tp in _SCALARS:
            return dict(_SCALARS[tp])
        if is_typeddict(tp):
            return {"$ref": f"#/$defs/{self.typeddict(tp)}"}
        origin = typing_extensions.get_origin(tp)
        args = typing_extensions.get_args(tp)
        if origin in (typing.Literal, typing_extensions.Literal):
            return {"enum": list(args)}
        if union_members(tp) is not None:
            return _any_of([self.of_type(arg) for arg in args])
        if origin in _SEQUENCES or tp in _SEQUENCES:
            schema: Schema = {"type": "array"}
            if origin is tuple and args and args[-1] is not Ellipsis:
                items = [self.of_type(arg) for arg in args]
                return {**schema, "prefixItems": items, "items": False}
            if args:
                schema["items"] = self.of_type(args[0])
            return schema
        if origin in _MAPPINGS or tp in _MAPPINGS:
            return self._mapping(args)
        raise TypeError(f"cannot describe the type {tp!r} in a JSON schema")

    def _mapping(self, args: tuple[Any, ...]) -> Schema:
        schema: Schema = {"type": "object"}
        if len(args) != 2:
            return schema
        key, value = unwrap(args[0]), args[1]
        if key is int:
            schema["propertyNames"] = {"pattern": INTEGER_KEY_PATTERN}
        elif typing_extensions.get_origin(key) in (
            typing.Literal,
            typing_extensions.Literal,
        ):
            schema["propertyNames"] = {"enum": [str(k) for k in key.__args__]}
        value_schema = self.of_type(value)
        if value_schema:
            schema["additionalProperties"] = value_schema
        return schema

    def typeddict(self, cls: type) -> str:
        """The name of ``cls`` in :attr:`defs`, converting it on first use."""
        if cls in self._names:
            return self._names[cls]
        name = cls.__name__
        if self.namespace is not None and _DOCUMENTATION in cls.__module__:
            name = f"{self.namespace}.{name}"
        base, number = name, 1
        while name in self.defs:
            number += 1
            name = f"{base}{number}"
        self._names[cls] = name
        self.defs[name] = {}  # reserved before converting, for recursive types
        self.defs[name] = self.typeddict_schema(cls)
        return name

    def typeddict_schema(self, cls: type) -> Schema:
        """The object schema of the TypedDict ``cls`` (nested ones by reference)."""
        docs = attribute_docstrings(cls)
        defaults = typed_defaults(cls)
        properties: Dict[str, Schema] = {}
        required: List[str] = []
        for key, tp in field_types(cls).items():
            # Required[...] marks a key the user must give even when its type is a
            # TypedDict whose defaults would otherwise make a default value
            explicit = typing_extensions.get_origin(tp) is typing_extensions.Required
            default = _MISSING if explicit else defaults.get(key, _MISSING)
            properties[key] = _described(self.of_type(tp), docs.get(key), default)
            if is_required(cls, key) and default is _MISSING:
                required.append(key)
        schema: Schema = {"type": "object"}
        description = _class_description(cls)
        if description:
            schema["description"] = description
        schema["properties"] = properties
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        return schema


_MISSING: Any = object()
#: Part of the module name of every ``documentation.py``, imported or read on its own.
_DOCUMENTATION = "documentation"


def _described(schema: Schema, description: Optional[str], default: Any) -> Schema:
    """``schema`` with a description and a default; a ``$ref`` is wrapped in
    ``allOf`` so that these annotations sit beside it in every draft."""
    if not description and default is _MISSING:
        return schema
    if "$ref" in schema and len(schema) == 1:
        schema = {"allOf": [schema]}
    else:
        schema = dict(schema)
    if description:
        schema["description"] = plain_text(description)
    if default is not _MISSING:
        schema["default"] = json_value(default)
    return schema


def plain_text(docstring: str) -> str:
    """A docstring as an editor shows it: paragraphs on one line each, reST's
    double backquotes as Markdown's single ones."""
    paragraphs = inspect.cleandoc(docstring).split("\n\n")
    text = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    return text.replace("``", "`")


def _class_description(cls: type) -> str:
    doc = cls.__doc__
    if not doc or doc == dict.__doc__ or doc.startswith(f"{cls.__name__}("):
        return ""
    return plain_text(doc)


def _annotated_keywords(tp: Any) -> Schema:
    """The :class:`JsonSchema` keywords and bounds of ``Annotated`` (outermost
    wrappers only)."""
    keywords: Schema = {}
    while True:
        origin = typing_extensions.get_origin(tp)
        if origin is typing_extensions.Annotated:
            for meta in getattr(tp, "__metadata__", ()):
                if isinstance(meta, JsonSchema):
                    keywords.update(meta.keywords)
                bound = _BOUNDS.get(type(meta))
                if bound is not None:
                    keywords[bound[0]] = getattr(meta, bound[1])
            tp = typing_extensions.get_args(tp)[0]
        elif origin in (typing_extensions.NotRequired, typing_extensions.Required):
            tp = typing_extensions.get_args(tp)[0]
        else:
            return keywords


def _any_of(schemas: List[Schema]) -> Schema:
    """One schema for a union; plain ``type`` alternatives merge into a list."""
    if all(set(s) == {"type"} and isinstance(s["type"], str) for s in schemas):
        return {"type": [s["type"] for s in schemas]}
    if any(not s for s in schemas):
        return {}
    return {"anyOf": schemas}


def plain_schema(defaults: Mapping[str, Any], docs: Mapping[str, str]) -> Schema:
    """The schema of plain-class hypers: known keys, their defaults, no types.

    As in validation, unknown keys are refused, also inside mappings whose default is
    a non-empty mapping; the values' types are not checked.
    """
    properties: Dict[str, Schema] = {}
    for key, default in defaults.items():
        schema: Schema = {}
        if isinstance(default, dict) and default:
            # without "type", these keywords only constrain a mapping, as validation
            schema = plain_schema(default, {})
            del schema["type"]
        properties[str(key)] = _described(schema, docs.get(str(key)), default)
    return {"type": "object", "properties": properties, "additionalProperties": False}


def hypers_schema(builder: SchemaBuilder, cls: type) -> Schema:
    """The schema of a hypers class of ``documentation.py``, TypedDict or plain."""
    if is_typeddict(cls):
        return {"$ref": f"#/$defs/{builder.typeddict(cls)}"}
    return plain_schema(plain_defaults(cls), attribute_docstrings(cls))
