"""Generate an architecture's documentation page (Markdown) from its documentation.py.

The page holds the title and description from the module docstring, how to install
the architecture, the default hypers as the YAML of an options file, one table each
for the model and trainer hypers, and the references, authors and maintainers from the
architecture package (the only part that imports the architecture itself).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import yaml

from ..files import write_text
from .discovery import (
    ArchitectureEntry,
    MissingDependencyError,
    get_entry,
    import_architecture,
    install_hint,
    list_architectures,
)
from .docsource import HyperEntry, read_architecture_doc
from .hypers import get_defaults
from .typeinfo import NO_DEFAULT


def _plain_data(value: Any) -> Any:
    """``value`` with tuples as lists and other non-YAML values as their repr."""
    if isinstance(value, dict):
        return {str(key): _plain_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_data(item) for item in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default_cell(entry: HyperEntry) -> str:
    if entry.default is NO_DEFAULT:
        return "required" if entry.required else "not set"
    if entry.nested:
        return "see below"
    return f"`{_cell(json.dumps(_plain_data(entry.default)))}`"


def hypers_table(entries: List[HyperEntry], section: str) -> str:
    """A Markdown table of the ``section`` hypers: name, type, default, description."""
    if not entries:
        return f"This architecture has no {section} hyperparameters.\n"
    lines = ["| Name | Type | Default | Description |", "|---|---|---|---|"]
    for entry in entries:
        type_cell = f"`{_cell(entry.type)}`" if entry.type else ""
        lines.append(
            f"| `{entry.name}` | {type_cell} | {_default_cell(entry)} "
            f"| {_cell(entry.description)} |"
        )
    return "\n".join(lines) + "\n"


def _definition_tables(definitions: Dict[str, List[HyperEntry]]) -> List[str]:
    parts = []
    for name, entries in definitions.items():
        parts.append(f"### {name}\n")
        parts.append(f"The keys of a `{name}` mapping, used in the types above.\n")
        parts.append(hypers_table(entries, name))
    return parts


def _installation(entry: ArchitectureEntry) -> str:
    hint = install_hint(entry)
    if entry.maturity == "external":
        source = f"the package `{entry.distribution}`" if entry.distribution else "a"
        text = f"This architecture is provided by {source}, outside atomtrain"
        return f"{text}:\n\n```bash\n{hint}\n```\n" if hint else f"{text}.\n"
    if hint is None:
        return "This architecture is included in atomtrain: nothing more to install.\n"
    return (
        "This architecture needs optional dependencies, installed with\n\n"
        f"```bash\n{hint}\n```\n"
    )


def _default_yaml(name: str) -> str:
    defaults = get_defaults(name)
    section = {"architecture": {"name": name, **_plain_data(defaults)}}
    return yaml.safe_dump(section, sort_keys=False, default_flow_style=False)


def _people(people: Any) -> List[str]:
    return [f"- {person[0]} (@{person[1].lstrip('@')})" for person in people]


def _credits(entry: ArchitectureEntry) -> str:
    try:
        module = import_architecture(entry.name)
    except MissingDependencyError as error:
        return (
            "## References, authors and maintainers\n\n"
            f"Not shown: the architecture cannot be imported here ({error}).\n"
        )
    parts = ["## References\n"]
    metadata = getattr(module.__model__, "__default_metadata__", None)
    references = dict(metadata.references) if metadata is not None else {}
    listed = [(kind, list(refs)) for kind, refs in references.items() if refs]
    if not listed:
        parts.append("None given.\n")
    for kind, refs in listed:
        parts.append(f"{kind.capitalize()}:\n\n" + "\n".join(f"- {r}" for r in refs))
        parts.append("")
    parts.append("## Authors\n")
    parts.append("\n".join(_people(module.__authors__)) or "None listed.")
    parts.append("\n## Maintainers\n")
    parts.append("\n".join(_people(module.__maintainers__)) or "None listed.")
    return "\n".join(parts) + "\n"


def render_page(name: str) -> str:
    """The Markdown documentation page of the architecture ``name``."""
    entry = get_entry(name)
    doc = read_architecture_doc(name)
    sections = [f"# {doc.title}\n"]
    if entry.maturity in ("experimental", "deprecated"):
        sections.append(f"*This architecture is {entry.maturity}.*\n")
    if doc.description:
        sections.append(doc.description + "\n")
    if doc.level == "plain":
        sections.append(
            "*The hyperparameters of this architecture are not typed: "
            "their values are not checked.*\n"
        )
    sections += [
        "## Installation\n",
        _installation(entry),
        "## Default hyperparameters\n",
        "Any of these can be changed in the `architecture` section of the options "
        "file; the values not given keep their default.\n",
        f"```yaml\n{_default_yaml(entry.name)}```\n",
        "## Model hyperparameters\n",
        hypers_table(doc.model, "model"),
        "## Trainer hyperparameters\n",
        hypers_table(doc.training, "trainer"),
        *_definition_tables(doc.definitions),
        _credits(entry),
    ]
    return "\n".join(sections)


def write_pages(directory: str | Path) -> List[Path]:
    """Write ``<name>.md`` for every architecture into ``directory``; the paths."""
    directory = Path(directory)
    return [
        write_text(directory / f"{entry.name}.md", render_page(entry.name), "-o")
        for entry in list_architectures()
    ]
