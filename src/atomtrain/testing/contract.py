"""Suite: the plugin contract: class attributes, ``__init__.py``, documentation."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
import typing
from types import ModuleType
from typing import Any, Dict

import torch

from ..architectures import get_defaults, read_architecture_doc, validate_hypers
from ..architectures.discovery import check_architecture_module, get_entry
from ..utils.abc import ModelInterface, TrainerInterface
from .base import ArchitectureFixtures
from .placeholders import PLACEHOLDER_PERSON
from .probe import fail

#: Top-level modules ``documentation.py`` may import: the standard library and
#: atomtrain's own dependencies, never an architecture's optional ones.
ALLOWED_IMPORTS = (
    "atomtrain",
    "typing_extensions",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "torch",
    "numpy",
    "yaml",
    "metatensor",
    "metatomic",
    "vesin",
    "ase",
    "tqdm",
)

_IMPORT_ALONE = """
import importlib.abc, importlib.util, sys
allowed = set({allowed!r})
banned_package = {package!r}

class Guard(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if name == banned_package or name.startswith(banned_package + "."):
            raise ImportError(f"documentation.py imported its own package: {{name}}")
        if top in sys.stdlib_module_names or top in allowed or top.startswith("_"):
            return None
        raise ImportError(f"documentation.py imported '{{name}}', which is not a "
                          "dependency of atomtrain")

sys.meta_path.insert(0, Guard())
spec = importlib.util.spec_from_file_location("documentation_alone", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
for name in ("ModelHypers", "TrainerHypers"):
    assert isinstance(getattr(module, name, None), type), name
"""


def _declared_hypers(cls: type, interface: type) -> Any:
    """The type argument ``cls`` (or a base) gives to a generic base deriving from
    ``interface``, or None."""
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            if isinstance(origin, type) and issubclass(origin, interface):
                arguments = typing.get_args(base)
                if arguments and not isinstance(arguments[0], typing.TypeVar):
                    return arguments[0]
    return None


def check_people_are_named(module: ModuleType) -> None:
    """``__authors__`` and ``__maintainers__`` name people, not the scaffold's
    placeholder."""
    for attribute in ("__authors__", "__maintainers__"):
        for person in getattr(module, attribute):
            if any(part in PLACEHOLDER_PERSON for part in person):
                raise fail(
                    f"{module.__name__}.{attribute} still names the placeholder "
                    f"{tuple(person)!r} written by atomtrain new-architecture",
                    "write the real authors and maintainers in __init__.py, as "
                    "('Name <email>', '@github-handle') pairs (or pass --author and "
                    "--github to atomtrain new-architecture)",
                )


class ContractTests(ArchitectureFixtures):
    """Class attributes, ``__init__.py`` metadata and ``documentation.py``."""

    def test_model_class_attributes(self, model_class: type) -> None:
        version = getattr(model_class, "__checkpoint_version__", None)
        if not isinstance(version, int) or version < 1:
            raise fail(
                f"{model_class.__qualname__}.__checkpoint_version__ is {version!r}",
                "set __checkpoint_version__ to a positive integer, bumped whenever "
                "the checkpoint format changes",
            )
        devices = getattr(model_class, "__supported_devices__", None)
        if not devices or not all(d in ("cuda", "cpu", "mps") for d in devices):
            raise fail(
                f"__supported_devices__ is {devices!r}",
                "list the devices the model runs on, preferred first, among "
                "'cuda', 'mps' and 'cpu'",
            )
        dtypes = getattr(model_class, "__supported_dtypes__", None)
        if not dtypes or not all(d in (torch.float32, torch.float64) for d in dtypes):
            raise fail(
                f"__supported_dtypes__ is {dtypes!r}",
                "list torch.float64 and/or torch.float32, preferred first",
            )
        metadata = getattr(model_class, "__default_metadata__", None)
        references = getattr(metadata, "references", None)
        if not isinstance(references, dict) or set(references) != {
            "implementation",
            "architecture",
        }:
            raise fail(
                f"__default_metadata__ is {metadata!r}",
                "set __default_metadata__ = ModelMetadata(name=..., description=..., "
                "references={'implementation': [...], 'architecture': [...]})",
            )

    def test_trainer_class_attributes(self, trainer_class: type) -> None:
        version = getattr(trainer_class, "__checkpoint_version__", None)
        if not isinstance(version, int) or version < 1:
            raise fail(
                f"{trainer_class.__qualname__}.__checkpoint_version__ is {version!r}",
                "set the trainer's __checkpoint_version__ to a positive integer",
            )

    def test_init_declares_model_trainer_and_people(
        self, architecture_module: ModuleType
    ) -> None:
        check_architecture_module(architecture_module)
        check_people_are_named(architecture_module)

    def test_model_stores_hypers_info_and_metadata(
        self, model: ModelInterface[Any], hypers: Dict[str, Dict[str, Any]]
    ) -> None:
        if dict(model.hypers) != hypers["model"]:
            raise fail(
                f"model.hypers is {model.hypers}, expected {hypers['model']}",
                "call super().__init__(hypers, dataset_info, metadata) and keep "
                "hypers unchanged",
            )
        if model.metadata is not type(model).__default_metadata__:
            raise fail(
                "model.metadata is not __default_metadata__ when no metadata is given",
                "pass metadata on to ModelInterface.__init__",
            )
        if list(model.dataset_info.atomic_types) != sorted(self.atomic_types):
            raise fail(
                "model.dataset_info lost the atomic types",
                "store the dataset_info given to __init__",
            )

    def test_documentation_imports_alone(self, architecture_name: str) -> None:
        entry = get_entry(architecture_name)
        assert entry.documentation_file is not None
        script = _IMPORT_ALONE.format(
            allowed=list(ALLOWED_IMPORTS),
            package=entry.module,
            path=str(entry.documentation_file),
        )
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise fail(
                f"{entry.documentation_file} does not import on its own:\n"
                + textwrap.indent(result.stderr.strip()[-1500:], "    "),
                "documentation.py must import with the standard library, "
                "typing_extensions and atomtrain only: no relative imports of the "
                "model or trainer, no optional dependency (the doc page and the "
                "options validation read it without the architecture installed)",
            )

    def test_documentation_level(
        self, architecture_name: str, architecture_module: ModuleType
    ) -> None:
        doc = read_architecture_doc(architecture_name)
        defaults = get_defaults(architecture_name)
        if not isinstance(defaults["model"], dict):
            raise fail("ModelHypers gives no defaults", "declare defaults as values")
        if self.documentation_level == "bare":
            return
        entry = get_entry(architecture_name)
        if doc.title == entry.name or not doc.description:
            raise fail(
                "documentation.py has no title or description",
                "start documentation.py with a docstring: the architecture's name, "
                "a line of '=' under it, then a paragraph describing it",
            )
        undocumented = [
            f"{section}.{e.name}"
            for section, entries in (("model", doc.model), ("training", doc.training))
            for e in entries
            if not e.description
        ]
        if undocumented:
            raise fail(
                f"hyperparameters without a docstring: {', '.join(undocumented)}",
                "write a string literal under each hyperparameter saying what it "
                "does, with its unit",
            )
        if self.documentation_level == "stable":
            self._check_stable(architecture_name, architecture_module, doc.level)

    def _check_stable(self, name: str, module: ModuleType, level: str) -> None:
        if level != "typed":
            raise fail(
                "a stable architecture's hypers are plain classes",
                "declare ModelHypers and TrainerHypers as typing_extensions.TypedDict "
                "classes with types",
            )
        _, problems = validate_hypers(name, {"model": {}, "training": {}})
        if problems:
            raise fail(
                "the defaults do not validate against their own types: "
                + "; ".join(f"{p.path}: {p.message}" for p in problems),
                "make each default value match its declared type",
            )
        documentation = importlib.import_module(f"{module.__name__}.documentation")
        for cls, interface, declared in (
            (module.__model__, ModelInterface, documentation.ModelHypers),
            (module.__trainer__, TrainerInterface, documentation.TrainerHypers),
        ):
            given = _declared_hypers(cls, interface)
            if given is not declared:
                raise fail(
                    f"{cls.__qualname__} is declared with hypers type {given!r}",
                    f"declare class {cls.__name__}({interface.__name__}"
                    f"[{declared.__name__}]) (or a generic base such as "
                    f"EngineTrainer[{declared.__name__}])",
                )
