"""Find architectures by name, list them, and import them with their contract checked.

Names map to modules as follows:

- ``<name>`` → ``atomtrain.<name>`` (stable; ``metatomic`` →
  ``atomtrain.metatomic_model``);
- ``experimental.<name>`` → ``atomtrain.experimental.<name>``;
- ``deprecated.<name>`` → ``atomtrain.deprecated.<name>`` (with a
  :class:`DeprecatedArchitectureWarning`, once per name);
- any name registered by an installed distribution under the entry-point group
  ``atomtrain.architectures`` (entry-point name = architecture name, value = module).

An in-tree architecture is a package folder holding both ``__init__.py`` and
``documentation.py``. Listing reads files only: it imports neither torch nor the models.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Literal, Optional, Set

from atomtrain.errors import UserError, did_you_mean

ENTRY_POINT_GROUP = "atomtrain.architectures"

#: The package holding the in-tree architectures (and its ``experimental`` and
#: ``deprecated`` sub-packages).
ROOT_PACKAGE = "atomtrain"

#: Stable architectures whose package is not named as the architecture: the
#: ``metatomic`` architecture lives in ``atomtrain.metatomic_model``, so that its
#: package is never mistaken for the ``metatomic`` library it wraps.
_RENAMED = {"metatomic_model": "metatomic"}

Maturity = Literal["stable", "experimental", "deprecated", "external"]
MATURITIES: tuple[Maturity, ...] = ("stable", "experimental", "deprecated", "external")
_PREFIXED: tuple[Maturity, ...] = ("experimental", "deprecated")

_WARNED_DEPRECATED: Set[str] = set()
_WARNED_SHADOWED: Set[str] = set()


class DeprecatedArchitectureWarning(FutureWarning):
    """The architecture in use is deprecated and will be removed."""


class ShadowedArchitectureWarning(UserWarning):
    """An installed package registers a name that atomtrain already uses."""


class UnknownArchitectureError(UserError):
    """No architecture has the requested name."""


class InvalidArchitectureError(UserError):
    """An architecture package does not follow the plugin contract."""


class MissingDependencyError(UserError):
    """An architecture needs an optional dependency that is not installed."""


@dataclass(frozen=True)
class ArchitectureEntry:
    """One architecture known to atomtrain, found without importing it."""

    name: str
    """The name used in ``architecture.name``."""
    maturity: Maturity
    module: str
    """The architecture's Python package, e.g. ``atomtrain.composition``."""
    documentation_file: Optional[Path]
    """The architecture's ``documentation.py``, or None where it cannot be located."""
    distribution: Optional[str] = None
    """For external architectures, the distribution registering the entry point."""

    @property
    def description(self) -> str:
        """One line from the ``documentation.py`` module docstring."""
        if self.documentation_file is None:
            return "(documentation.py not found)"
        return one_line_description(module_docstring(self.documentation_file))


def module_docstring(path: Path) -> str:
    """The docstring of the Python file at ``path``, read without importing it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return ast.get_docstring(tree) or ""


def split_docstring(docstring: str) -> tuple[Optional[str], str]:
    """Split ``Title\\n=====\\n\\nbody`` into the title and the body.

    The title is None when the docstring does not start with a title underlined by
    ``=`` (a documentation.py below the experimental level).
    """
    lines = docstring.strip().splitlines()
    if len(lines) >= 2 and lines[0].strip() and set(lines[1].strip()) == {"="}:
        return lines[0].strip(), "\n".join(lines[2:]).strip()
    return None, docstring.strip()


_LONG_LINE = 80


def one_line_description(docstring: str) -> str:
    """The first sentence of a docstring's body (``""`` if empty).

    A sentence longer than 80 characters is cut at its first colon or semicolon.
    """
    _, body = split_docstring(docstring)
    paragraph = " ".join(body.split("\n\n")[0].split()) if body else ""
    sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0]
    if len(sentence) > _LONG_LINE:
        clause = re.split(r"[:;]\s", sentence, maxsplit=1)[0]
        sentence = clause if len(clause) < len(sentence) else sentence
    return sentence


def _package_directories(package: str) -> List[Path]:
    """Folders of ``package`` located without executing any of its ``__init__.py``."""
    parts = package.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return []
    if spec is None or spec.submodule_search_locations is None:
        return []
    directories = [Path(location) for location in spec.submodule_search_locations]
    for part in parts[1:]:
        directories = [d / part for d in directories if (d / part).is_dir()]
    return directories


def _documentation_file(module: str) -> Optional[Path]:
    for directory in _package_directories(module):
        if (directory / "documentation.py").is_file():
            return directory / "documentation.py"
    return None


def _is_architecture_dir(directory: Path) -> bool:
    return (directory / "__init__.py").is_file() and (
        directory / "documentation.py"
    ).is_file()


def _in_tree(maturity: Maturity) -> List[ArchitectureEntry]:
    prefix = "" if maturity == "stable" else f"{maturity}."
    package = ROOT_PACKAGE if maturity == "stable" else f"{ROOT_PACKAGE}.{maturity}"
    found: Dict[str, ArchitectureEntry] = {}
    for directory in _package_directories(package):
        for child in sorted(directory.iterdir()):
            if child.name.startswith(("_", ".")) or not child.is_dir():
                continue
            if maturity == "stable" and child.name in _PREFIXED:
                continue
            if _is_architecture_dir(child) and child.name not in found:
                found[child.name] = ArchitectureEntry(
                    name=prefix + _RENAMED.get(child.name, child.name),
                    maturity=maturity,
                    module=f"{package}.{child.name}",
                    documentation_file=child / "documentation.py",
                )
    return list(found.values())


def _external(taken: Set[str]) -> List[ArchitectureEntry]:
    entries: Dict[str, ArchitectureEntry] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        distribution = entry_point.dist.name if entry_point.dist else None
        if entry_point.name in taken or entry_point.name in entries:
            if entry_point.name not in _WARNED_SHADOWED:
                _WARNED_SHADOWED.add(entry_point.name)
                warnings.warn(
                    f"the package '{distribution}' registers the architecture "
                    f"'{entry_point.name}' ({entry_point.value}), but that name is "
                    "already taken: it is ignored",
                    ShadowedArchitectureWarning,
                    stacklevel=3,
                )
            continue
        entries[entry_point.name] = ArchitectureEntry(
            name=entry_point.name,
            maturity="external",
            module=entry_point.value,
            documentation_file=_documentation_file(entry_point.value),
            distribution=distribution,
        )
    return sorted(entries.values(), key=lambda entry: entry.name)


def list_architectures() -> List[ArchitectureEntry]:
    """Every known architecture: stable, experimental, deprecated, then external.

    Reads folders, entry points and docstrings only; imports no architecture.
    """
    entries = [
        entry for maturity in ("stable", *_PREFIXED) for entry in _in_tree(maturity)
    ]
    entries.extend(_external({entry.name for entry in entries}))
    return entries


def get_entry(name: str) -> ArchitectureEntry:
    """The architecture called ``name``, or an :class:`UnknownArchitectureError`.

    Warns (once per name) when the architecture is deprecated.
    """
    entries = {entry.name: entry for entry in list_architectures()}
    if name in entries:
        entry = entries[name]
        if entry.maturity == "deprecated" and name not in _WARNED_DEPRECATED:
            _WARNED_DEPRECATED.add(name)
            warnings.warn(
                f"the architecture '{name}' is deprecated and will be removed in a "
                "future version of atomtrain; see 'atomtrain doc' for the maintained "
                "ones",
                DeprecatedArchitectureWarning,
                stacklevel=3,
            )
        return entry
    raise UnknownArchitectureError(_unknown_name_message(name, list(entries)))


def _unknown_name_message(name: str, known: List[str]) -> str:
    message = f"unknown architecture '{name}'"
    bare = name.split(".", 1)[1] if name.startswith(_PREFIXED) else name
    elsewhere = [
        candidate
        for candidate in known
        if candidate != name and candidate.split(".")[-1] == bare.split(".")[-1]
    ]
    if elsewhere:
        names = " or ".join(f"'{candidate}'" for candidate in elsewhere)
        message += f": it exists as {names}"
    else:
        message += did_you_mean(name, known)
    listing = ", ".join(known) if known else "none"
    return f"{message}. Known architectures: {listing} (see 'atomtrain doc')"


def find_architecture(name: str) -> str:
    """The Python module of the architecture called ``name``."""
    return get_entry(name).module


def import_architecture(name: str) -> ModuleType:
    """Import the architecture called ``name`` and check its ``__init__.py``.

    Raises :class:`MissingDependencyError` when an optional dependency is missing and
    :class:`InvalidArchitectureError` when the package breaks the plugin contract.
    """
    entry = get_entry(name)
    try:
        module = importlib.import_module(entry.module)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        top = missing.split(".")[0]
        ours = {ROOT_PACKAGE, entry.module.split(".")[0]}
        if not missing or top in ours:
            raise
        raise MissingDependencyError(
            _missing_dependency_message(entry, missing)
        ) from error
    check_architecture_module(module)
    return module


def install_hint(entry: ArchitectureEntry) -> Optional[str]:
    """The ``pip install`` command providing ``entry``'s dependencies, or None."""
    if entry.maturity == "external":
        return f"pip install {entry.distribution}" if entry.distribution else None
    extra = entry.name.split(".")[-1].replace("_", "-")
    try:
        extras = importlib.metadata.metadata("atomtrain").get_all("Provides-Extra")
    except importlib.metadata.PackageNotFoundError:
        return None
    if extra in (extras or []):
        return f"pip install atomtrain[{extra}]"
    return None


def _missing_dependency_message(entry: ArchitectureEntry, missing: str) -> str:
    message = (
        f"the architecture '{entry.name}' needs the package '{missing}', which is not "
        "installed"
    )
    hint = install_hint(entry)
    if hint is not None:
        return f"{message}: install it with `{hint}`"
    return f"{message}: install '{missing}'"


def _check_people(module: ModuleType, attribute: str) -> None:
    where = f"{module.__name__}.{attribute}"
    if not hasattr(module, attribute):
        raise InvalidArchitectureError(f"{where} is missing from __init__.py")
    people = getattr(module, attribute)
    expected = (
        "a list of (name-with-email, github-handle) pairs such as "
        "[('Ada Lovelace <ada@example.org>', '@ada-lovelace')]"
    )
    if not isinstance(people, list):
        raise InvalidArchitectureError(f"{where} must be {expected}, got {people!r}")
    for person in people:
        valid = (
            isinstance(person, (tuple, list))
            and len(person) == 2
            and all(isinstance(part, str) for part in person)
            and "@" in person[0]
            and "<" in person[0]
            and person[0].rstrip().endswith(">")
            and person[1].lstrip("@") != ""
            and not any(space in person[1] for space in " \t\n")
        )
        if not valid:
            raise InvalidArchitectureError(
                f"{where} must be {expected}; {person!r} is not"
            )


def check_architecture_module(module: ModuleType) -> None:
    """Check ``__model__``, ``__trainer__``, ``__authors__`` and ``__maintainers__``."""
    from atomtrain.utils.abc import ModelInterface, TrainerInterface

    for attribute, base in (
        ("__model__", ModelInterface),
        ("__trainer__", TrainerInterface),
    ):
        where = f"{module.__name__}.{attribute}"
        if not hasattr(module, attribute):
            raise InvalidArchitectureError(f"{where} is missing from __init__.py")
        value = getattr(module, attribute)
        if not (isinstance(value, type) and issubclass(value, base)):
            raise InvalidArchitectureError(
                f"{where} must be a subclass of atomtrain.utils.abc.{base.__name__}, "
                f"got {value!r}"
            )
    _check_people(module, "__authors__")
    _check_people(module, "__maintainers__")
