"""The JSON schema (draft 2020-12) of the options file, for editors.

The base grammar comes from :mod:`atomtrain.options.grammar`; ``architecture.name`` is
one of the installed architectures, and for each of them an ``if``/``then`` pair gives
the schema of ``architecture.model`` and ``architecture.training`` from its
``documentation.py`` (the TypedDicts of stable architectures with types; plain classes
with their keys only). Editors using the YAML language server pick it up from a first
line such as::

    # yaml-language-server: $schema=atomtrain-options.schema.json

Building the schema reads ``documentation.py`` files only: no model is imported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from atomtrain._version import __version__
from atomtrain.architectures.discovery import get_entry, list_architectures
from atomtrain.architectures.docsource import attribute_docstrings, hypers_classes
from atomtrain.errors import UserError
from atomtrain.options.grammar import ArchitectureSection, OptionsFile

from ..files import write_text
from .convert import Schema, SchemaBuilder, hypers_schema

DRAFT = "https://json-schema.org/draft/2020-12/schema"
#: Where ``architecture.name``'s alternatives are described.
NAME_DESCRIPTION = "Name of the architecture, one of those 'atomtrain doc' lists."


def _nullable(schema: Schema) -> Schema:
    """``schema`` or null: an empty ``model:`` in YAML is null, read as ``{}``."""
    return {"anyOf": [schema, {"type": "null"}]}


def architecture_rule(builder: SchemaBuilder, name: str) -> Schema:
    """The ``if``/``then`` pair giving the hypers of the architecture ``name``."""
    condition = {
        "properties": {"name": {"const": name}},
        "required": ["name"],
    }
    try:
        classes = hypers_classes(get_entry(name))
    except UserError as error:
        # a broken plugin still gets its name completed; its hypers are not checked
        return {"if": condition, "then": {"$comment": str(error)}}
    builder.namespace = name
    try:
        sections = {
            section: _nullable(hypers_schema(builder, cls))
            for section, cls in classes.items()
        }
    finally:
        builder.namespace = None
    return {"if": condition, "then": {"properties": sections}}


def _architecture_names() -> List[str]:
    return [entry.name for entry in list_architectures()]


def options_schema() -> Dict[str, Any]:
    """The JSON schema of the options file, with every installed architecture."""
    builder = SchemaBuilder()
    root = builder.typeddict_schema(OptionsFile)
    section = builder.defs[builder.typeddict(ArchitectureSection)]
    names = _architecture_names()
    docs = attribute_docstrings(ArchitectureSection)
    section["properties"]["name"] = {
        "description": docs.get("name", NAME_DESCRIPTION),
        "enum": names,
    }
    section["allOf"] = [architecture_rule(builder, name) for name in names]
    return {
        "$schema": DRAFT,
        "title": f"atomtrain {__version__} options file",
        **root,
        "$defs": dict(sorted(builder.defs.items())),
    }


def write_schema(path: str | Path) -> Path:
    """Write :func:`options_schema` as indented JSON to ``path``; the path."""
    text = json.dumps(options_schema(), indent=2, ensure_ascii=False)
    return write_text(Path(path), text + "\n", "-o")
