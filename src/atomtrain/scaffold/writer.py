"""Write the files of a new architecture from :mod:`.templates`."""

from __future__ import annotations

import importlib
import importlib.util
import json
import keyword
import logging
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..errors import UserError
from ..testing.placeholders import PLACEHOLDER_PERSON
from . import templates


class ScaffoldError(UserError):
    """The architecture cannot be written (bad name, existing files)."""


@dataclass
class Scaffold:
    """What :func:`write_architecture` wrote."""

    name: str
    """The name users write in ``architecture.name``."""
    package: Path
    """The architecture's package folder (the four files)."""
    tests: Path
    """The test module running the conformance suite."""
    files: List[Path] = field(default_factory=list)
    placeholder_people: bool = False
    """Whether ``__init__.py`` names the placeholder person (no ``author`` or
    ``github`` given): the suite refuses it until it is replaced."""


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name):
        raise ScaffoldError(
            f"'{name}' cannot name an architecture: use lower-case letters, digits and "
            "underscores, starting with a letter (it becomes a Python package name)"
        )


def _people(author: Optional[str], github: Optional[str]) -> Tuple[str, bool]:
    """The ``__authors__`` list written, and whether it holds a placeholder."""
    if author is not None and not re.fullmatch(
        r"[^<>@]+ <[^<>@\s]+@[^<>@\s]+>", author
    ):
        raise ScaffoldError(
            f"--author '{author}' is not a name with an e-mail address, such as "
            "'Ada Lovelace <ada@example.org>'"
        )
    if github is not None and not re.fullmatch(r"@?[A-Za-z0-9][A-Za-z0-9-]*", github):
        raise ScaffoldError(
            f"--github '{github}' is not a GitHub handle, such as 'ada-lovelace'"
        )
    name = author if author is not None else PLACEHOLDER_PERSON[0]
    handle = "@" + github.lstrip("@") if github is not None else PLACEHOLDER_PERSON[1]
    # JSON strings are Python literals, in the double quotes of the other files
    person = f"({json.dumps(name, ensure_ascii=False)}, {json.dumps(handle)})"
    return f"[{person}]", author is None or github is None


def _render(text: str, tokens: Dict[str, str]) -> str:
    for token, value in tokens.items():
        text = text.replace(f"@{token}@", value)
    return text


def _write(path: Path, text: str, written: List[Path]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    written.append(path)


def _places(
    name: str, output: Path, external: bool
) -> Tuple[Path, Path, Path, str, str]:
    """Where architecture ``name`` goes (see :func:`write_architecture`): the root,
    the package and tests folders, the module's import path and the name users give
    in ``architecture.name``."""
    if external:
        root = output / f"atomtrain-{name.replace('_', '-')}"
        return root, root / "src" / name, root / "tests", name, name
    package = output / "src" / "atomtrain" / "experimental" / name
    tests_dir = output / "tests" / "experimental"
    return (
        output,
        package,
        tests_dir,
        f"atomtrain.experimental.{name}",
        f"experimental.{name}",
    )


def _tokens(name: str, module: str, entry: str, people: str) -> Dict[str, str]:
    """The values of the templates' ``@TOKEN@`` placeholders."""
    title = name.replace("_", " ").title()
    return {
        "NAME": name,
        "MODULE": module,
        "ENTRY": entry,
        "CLASS": "".join(part.title() for part in name.split("_")),
        "TITLE": title,
        "UNDERLINE": "=" * len(title),
        "DIST": name.replace("_", "-"),
        "TINY_HYPERS": repr(templates.TINY_HYPERS),
        "PEOPLE": people,
    }


def write_architecture(
    name: str,
    output: Path,
    external: bool,
    author: Optional[str] = None,
    github: Optional[str] = None,
) -> Scaffold:
    """Write a working minimal architecture ``name``, by ``author`` (``"Name
    <email>"``) whose GitHub handle is ``github`` (a placeholder, which the suite
    refuses, when either is None).

    In-tree (``external=False``), ``output`` is the root of an atomtrain checkout: the
    package goes to ``src/atomtrain/experimental/<name>/`` (users name it
    ``experimental.<name>``) and its tests to ``tests/experimental/test_<name>.py``.
    External, ``output / 'atomtrain-<name>'`` becomes an installable package
    registering the entry point ``<name>``. The golden checkpoint of version 1 is
    written next to the tests, so that the generated tests pass out of the box.
    """
    _check_name(name)
    people, placeholder = _people(author, github)
    root, package, tests_dir, module, entry = _places(name, output, external)
    if package.exists():
        raise ScaffoldError(f"{package} already exists: choose another name or folder")
    tokens = _tokens(name, module, entry, people)
    written: List[Path] = []
    for file_name, text in (
        ("__init__.py", templates.INIT),
        ("documentation.py", templates.DOCUMENTATION),
        ("model.py", templates.MODEL),
        ("trainer.py", templates.TRAINER),
    ):
        _write(package / file_name, _render(text, tokens), written)
    tests = tests_dir / f"test_{name}.py"
    _write(tests, _render(templates.TESTS, tokens), written)
    if external:
        _write(root / "pyproject.toml", _render(templates.PYPROJECT, tokens), written)
    search_path = root / "src"
    importlib.invalidate_caches()
    golden = _write_golden(search_path, module, entry, tests_dir)
    if golden is not None:
        written.append(golden)
    return Scaffold(
        name=entry,
        package=package,
        tests=tests,
        files=written,
        placeholder_people=placeholder,
    )


def _classes(module: str, search_path: Path) -> Optional[Tuple[type, type, Any]]:
    """The model and trainer classes and the documentation module of ``module``
    (found under ``search_path`` for an external package), or None when ``module``
    cannot be imported from there (in-tree files written outside the installed
    atomtrain)."""
    external = not module.startswith("atomtrain.")
    if external:
        sys.path.insert(0, str(search_path))
    try:
        if importlib.util.find_spec(module) is None:
            return None
        package = importlib.import_module(module)
        documentation = importlib.import_module(f"{module}.documentation")
    except ModuleNotFoundError:
        return None
    finally:
        if external:
            sys.path.remove(str(search_path))
    return package.__model__, package.__trainer__, documentation


def _write_golden(
    search_path: Path, module: str, entry: str, tests_dir: Path
) -> Optional[Path]:
    """The golden checkpoint of version 1, trained as the suite trains it."""
    from ..checkpoints import read_checkpoint_file, write_checkpoint_file
    from ..testing.checkpoints import golden_name
    from ..testing.datafiles import write_golden_checkpoint
    from ..training.hypers import base_trainer_defaults

    classes = _classes(module, search_path)
    if classes is None:
        return None
    model_class, trainer_class, documentation = classes
    model_hypers = {
        key: documentation.ModelHypers.__dict__[key]
        for key in documentation.ModelHypers.__annotations__
    }
    model_hypers.update(templates.TINY_HYPERS)
    training = {**base_trainer_defaults(), "num_epochs": 1, "batch_size": 4}
    target = tests_dir / "checkpoints" / golden_name(entry, 1, 1)
    quiet = logging.getLogger("atomtrain.training")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as directory:
        _, _, checkpoint = write_golden_checkpoint(
            model_class,
            trainer_class,
            {"model": model_hypers, "training": training},
            [1, 6, 8],
            Path(directory),
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        write_checkpoint_file(read_checkpoint_file(checkpoint), target)
    quiet.setLevel(level)
    return target
