"""Read an architecture's ``documentation.py``: hypers classes, docstrings, defaults.

``documentation.py`` is executed on its own, without the architecture's
``__init__.py``, so reading hypers and documentation imports neither the model nor its
optional dependencies (nor torch, unless ``documentation.py`` itself does). When the
architecture package is already imported, its own ``documentation`` module is used.

Attribute docstrings (a string literal right after a class attribute) are not kept by
Python; they are read from the source with :mod:`ast`.
"""

from __future__ import annotations

import ast
import copy
import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Literal, Optional

from typing_extensions import is_typeddict

from .discovery import (
    ArchitectureEntry,
    InvalidArchitectureError,
    get_entry,
    split_docstring,
)
from .typeinfo import (
    NO_DEFAULT,
    field_types,
    format_type,
    is_required,
    lineage,
    nested_typeddicts,
    typed_defaults,
    typeddict_of,
)

HypersLevel = Literal["plain", "typed"]
SECTIONS = {"model": "ModelHypers", "training": "TrainerHypers"}

_STANDALONE: Dict[str, ModuleType] = {}


@dataclass(frozen=True)
class HyperEntry:
    """One hyperparameter, as shown in the documentation tables."""

    name: str
    """Dotted below nested hypers: ``cutoff.radius``."""
    type: str
    """Readable type: ``float``, ``'adam' | 'sgd'``; for plain hypers, the default's."""
    default: Any
    """The default value; :data:`NO_DEFAULT` when the key is required."""
    description: str
    required: bool = False
    nested: bool = False
    """Whether the value is a mapping whose keys follow as ``name.key`` entries."""


@dataclass(frozen=True)
class ArchitectureDoc:
    """Everything ``documentation.py`` tells about an architecture."""

    name: str
    title: str
    description: str
    level: HypersLevel
    """``typed`` for TypedDict hypers (validated), ``plain`` for plain classes."""
    model: List[HyperEntry] = field(default_factory=list)
    training: List[HyperEntry] = field(default_factory=list)
    definitions: Dict[str, List[HyperEntry]] = field(default_factory=dict)
    """Entries of TypedDicts used inside lists, mappings or unions, by class name."""


def load_documentation(entry: ArchitectureEntry) -> ModuleType:
    """The ``documentation`` module of ``entry``, without importing the architecture."""
    name = f"{entry.module}.documentation"
    if entry.module in sys.modules:
        return importlib.import_module(name)
    if entry.module in _STANDALONE:
        return _STANDALONE[entry.module]
    if entry.documentation_file is None:
        raise InvalidArchitectureError(
            f"cannot find documentation.py of the architecture '{entry.name}' "
            f"(module {entry.module})"
        )
    private = "_atomtrain_documentation_of_" + entry.module.replace(".", "_")
    spec = importlib.util.spec_from_file_location(private, entry.documentation_file)
    if spec is None or spec.loader is None:
        raise InvalidArchitectureError(f"cannot load {entry.documentation_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        del sys.modules[private]
        raise InvalidArchitectureError(
            f"{entry.documentation_file} must import without the optional dependencies "
            f"of the architecture '{entry.name}', but it failed with: {error}"
        ) from error
    _STANDALONE[entry.module] = module
    return module


def hypers_classes(entry: ArchitectureEntry) -> Dict[str, type]:
    """``{"model": ModelHypers, "training": TrainerHypers}`` of ``entry``."""
    module = load_documentation(entry)
    classes: Dict[str, type] = {}
    for section, attribute in SECTIONS.items():
        value = getattr(module, attribute, None)
        if not isinstance(value, type):
            raise InvalidArchitectureError(
                f"{entry.module}.documentation.{attribute} must be a class declaring "
                f"the {section} hyperparameters, got {value!r}"
            )
        classes[section] = value
    return classes


def plain_defaults(cls: type) -> Dict[str, Any]:
    """The defaults of a plain hypers class: its public, non-callable attributes."""
    defaults: Dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):
        for name, value in vars(klass).items():
            if name.startswith("_") or callable(value):
                continue
            if isinstance(value, (staticmethod, classmethod, property)):
                continue
            defaults[name] = copy.deepcopy(value)
    return defaults


def class_defaults(cls: type) -> Dict[str, Any]:
    """The defaults of a hypers class, TypedDict or plain."""
    return typed_defaults(cls) if is_typeddict(cls) else plain_defaults(cls)


@lru_cache(maxsize=64)
def _parsed(path: str, mtime: float) -> ast.Module:
    return ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)


def _class_node(cls: type) -> Optional[ast.ClassDef]:
    try:
        path = inspect.getsourcefile(cls)
    except TypeError:
        return None
    if path is None or not Path(path).is_file():
        return None
    body: List[ast.stmt] = _parsed(path, Path(path).stat().st_mtime).body
    node: Optional[ast.ClassDef] = None
    for part in cls.__qualname__.split("."):
        found = [n for n in body if isinstance(n, ast.ClassDef) and n.name == part]
        if not found:
            return None
        node = found[-1]
        body = node.body
    return node


def attribute_docstrings(cls: type) -> Dict[str, str]:
    """``{attribute: docstring}`` for the class and its bases, read from the source."""
    docs: Dict[str, str] = {}
    bases = lineage(cls) if is_typeddict(cls) else list(reversed(cls.__mro__[:-1]))
    for klass in bases:
        node = _class_node(klass)
        if node is None:
            continue
        for statement, following in zip(node.body, node.body[1:]):
            target: Optional[ast.expr] = None
            if isinstance(statement, ast.AnnAssign):
                target = statement.target
            elif isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target = statement.targets[0]
            if not isinstance(target, ast.Name):
                continue
            if (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[target.id] = inspect.cleandoc(following.value.value)
    return docs


def _typed_entries(cls: type, prefix: str = "") -> List[HyperEntry]:
    entries: List[HyperEntry] = []
    docs = attribute_docstrings(cls)
    defaults = typed_defaults(cls)
    for name, tp in field_types(cls).items():
        nested = typeddict_of(tp)
        default = defaults.get(name, NO_DEFAULT)
        entries.append(
            HyperEntry(
                name=prefix + name,
                type=format_type(tp),
                default=default,
                description=docs.get(name, ""),
                required=is_required(cls, name) and default is NO_DEFAULT,
                nested=nested is not None,
            )
        )
        if nested is not None:
            entries.extend(_typed_entries(nested, prefix=f"{prefix}{name}."))
    return entries


def _definitions(classes: List[type]) -> Dict[str, List[HyperEntry]]:
    """Tables of the TypedDicts that appear in a field's type without being inlined."""
    inlined: set[type] = set()
    used: List[type] = []
    for cls in classes:
        for klass in nested_typeddicts(cls):
            for tp in field_types(klass).values():
                nested = typeddict_of(tp)
                if nested is not None:
                    inlined.add(nested)
                used.extend(t for t in nested_typeddicts(tp) if t is not nested)
    return {
        klass.__name__: _typed_entries(klass)
        for klass in dict.fromkeys(used)
        if klass not in inlined and klass not in classes
    }


def _plain_entries(cls: type) -> List[HyperEntry]:
    docs = attribute_docstrings(cls)
    annotations: Dict[str, Any] = {}
    for klass in reversed(cls.__mro__[:-1]):
        annotations.update(getattr(klass, "__annotations__", {}))
    return [
        HyperEntry(
            name=name,
            type=_plain_type(annotations.get(name), default),
            default=default,
            description=docs.get(name, ""),
        )
        for name, default in plain_defaults(cls).items()
    ]


def _plain_type(annotation: Any, default: Any) -> str:
    if annotation is None:
        return type(default).__name__ if default is not None else ""
    return annotation if isinstance(annotation, str) else format_type(annotation)


def read_architecture_doc(name: str) -> ArchitectureDoc:
    """The documentation of the architecture ``name``, read from documentation.py."""
    entry = get_entry(name)
    module = load_documentation(entry)
    classes = hypers_classes(entry)
    title, description = split_docstring(inspect.getdoc(module) or "")
    typed = all(is_typeddict(cls) for cls in classes.values())
    entries = {
        section: _typed_entries(cls) if is_typeddict(cls) else _plain_entries(cls)
        for section, cls in classes.items()
    }
    return ArchitectureDoc(
        name=entry.name,
        title=title or entry.name,
        description=description,
        level="typed" if typed else "plain",
        model=entries["model"],
        training=entries["training"],
        definitions=_definitions([c for c in classes.values() if is_typeddict(c)]),
    )


def typed_entries(cls: type) -> List[HyperEntry]:
    """The table entries of any TypedDict (nested ones as dotted names), as for the
    hypers of an architecture; used for the options-file reference."""
    return _typed_entries(cls)


def definition_entries(classes: List[type]) -> Dict[str, List[HyperEntry]]:
    """The entries of the TypedDicts used inside lists, mappings or unions of the
    fields of ``classes``, by class name."""
    return _definitions(classes)
