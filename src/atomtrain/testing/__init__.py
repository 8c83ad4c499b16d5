"""The conformance suite offered to architecture authors.

An architecture opts in by subclassing :class:`ArchitectureTests` (every check) or some
of the classes it is made of — :class:`ContractTests`, :class:`OutputTests`,
:class:`PhysicsTests`, :class:`TorchScriptTests`, :class:`CheckpointTests`,
:class:`TrainingTests` — in a pytest module, and setting class attributes that say what
it supports (see :class:`~atomtrain.testing.base.ArchitectureFixtures`). A failing check
raises a :class:`ConformanceError` saying what the architecture must change.

The check functions are public too (:mod:`.physics_checks`, :mod:`.output_checks`,
:mod:`.trainer_checks`, :mod:`.export_checks`), for architectures that want to call
them on their own structures.

Importing this package imports neither pytest nor torch: the suite is loaded on first
use of one of its names, so that ``atomtrain.testing.dummy`` (the engine's test
architecture) stays importable without the test dependencies.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import ArchitectureFixtures
    from .checkpoints import CheckpointTests
    from .contract import ContractTests
    from .outputs import OutputTests
    from .physics import PhysicsTests
    from .probe import ConformanceError, Probe
    from .suite import ArchitectureTests
    from .torchscript import TorchScriptTests
    from .training import TrainingTests

_EXPORTS = {
    "ArchitectureFixtures": "base",
    "ArchitectureTests": "suite",
    "CheckpointTests": "checkpoints",
    "ConformanceError": "probe",
    "ContractTests": "contract",
    "OutputTests": "outputs",
    "PhysicsTests": "physics",
    "Probe": "probe",
    "TorchScriptTests": "torchscript",
    "TrainingTests": "training",
}

__all__ = [
    "ArchitectureFixtures",
    "ArchitectureTests",
    "CheckpointTests",
    "ConformanceError",
    "ContractTests",
    "OutputTests",
    "PhysicsTests",
    "Probe",
    "TorchScriptTests",
    "TrainingTests",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with warnings.catch_warnings():
        # the first import of metatensor compiles its operations with
        # torch.jit.script, which warns that it is deprecated hundreds of times
        # while an architecture's test module is collected
        warnings.filterwarnings(
            "ignore", message=".*torch.jit.*", category=DeprecationWarning
        )
        module = importlib.import_module(f".{_EXPORTS[name]}", __name__)
    return getattr(module, name)
