"""Write small throw-away architecture packages for the tests of discovery and docs.

Each package follows the plugin contract: ``__init__.py``, ``documentation.py``,
``model.py`` (a :class:`ModelInterface` subclass) and ``trainer.py``.
"""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path
from typing import Dict, Optional

BARE = """
class ModelHypers:
    width = 16
    layers = {"depth": 2, "activation": "silu"}
    extra = {}


class TrainerHypers:
    num_epochs = 10
    learning_rate = 0.001
"""

EXPERIMENTAL = '''
"""
Tiny
====

A tiny test architecture, one line.
It spans two lines.

More text after the first paragraph.
"""


class ModelHypers:
    width: int = 16
    """Number of hidden features."""
    layers = {"depth": 2, "activation": "silu"}
    """Depth and activation of the network."""


class TrainerHypers:
    num_epochs = 10
    """Number of passes over the training set."""
    learning_rate = 0.001
    """Step size of the optimiser."""
'''

STABLE = '''
"""
Typed
=====

A typed test architecture with TypedDict hypers.
"""

from typing import Dict, List, Literal, Optional, Union

from typing_extensions import NotRequired, TypedDict


class CutoffHypers(TypedDict):
    """Cutoff of the neighbourhoods."""

    radius: float = 5.0
    """Cutoff radius (Å)."""
    width: float = 0.5
    """Width of the smooth switching (Å)."""


class ModelHypers(TypedDict):
    cutoff: CutoffHypers = {"radius": 4.0}
    """Where neighbourhoods end."""
    activation: Literal["silu", "tanh", "relu"] = "silu"
    """Non-linearity between the layers."""
    layer_widths: List[int] = [32, 32]
    """Widths of the hidden layers."""
    head: Optional[CutoffHypers] = None
    """An optional second cutoff."""


class BaseTrainerHypers(TypedDict):
    num_epochs: int = 100
    """Number of passes over the training set."""
    learning_rate: float = 0.001
    """Step size of the optimiser."""


class TrainerHypers(BaseTrainerHypers):
    batch_size: int = 8
    """Structures per batch."""
    scheduler: Union[int, Literal["auto"]] = "auto"
    """Epochs between learning-rate decays, or 'auto'."""
    loss_weights: Dict[str, float] = {}
    """Weight of each target in the loss."""
    seed_offset: NotRequired[int]
    """Added to the global seed (optional)."""
'''

INIT = """
from .model import Model
from .trainer import Trainer

__model__ = Model
__trainer__ = Trainer
__authors__ = [("Ada Lovelace <ada@example.org>", "@ada")]
__maintainers__ = [("Grace Hopper <grace@example.org>", "@grace")]
"""

MODEL = """
{extra_import}
from metatomic.torch import ModelMetadata

from atomtrain.utils.abc import ModelInterface


class Model(ModelInterface):
    __checkpoint_version__ = 1
    __supported_devices__ = ["cpu"]
    __supported_dtypes__ = []
    __default_metadata__ = ModelMetadata(
        references={{
            "architecture": ["https://doi.org/10.0000/tiny"],
            "implementation": ["https://example.org/tiny"],
        }}
    )
"""

TRAINER = """
from atomtrain.utils.abc import TrainerInterface


class Trainer(TrainerInterface):
    __checkpoint_version__ = 1
"""


def write_package(root: Path, dotted: str, files: Dict[str, str]) -> Path:
    """Write the package ``dotted`` under ``root`` (parents get empty ``__init__``)."""
    directory = root
    for part in dotted.split("."):
        directory = directory / part
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "__init__.py").touch()
    for name, text in files.items():
        (directory / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    importlib.invalidate_caches()
    return directory


def write_architecture(
    root: Path,
    dotted: str,
    documentation: str = STABLE,
    init: str = INIT,
    extra_import: str = "",
    trainer: Optional[str] = None,
) -> Path:
    """Write a complete architecture package ``dotted`` under ``root``."""
    return write_package(
        root,
        dotted,
        {
            "__init__.py": init,
            "documentation.py": documentation,
            "model.py": MODEL.format(extra_import=extra_import),
            "trainer.py": trainer if trainer is not None else TRAINER,
        },
    )


def write_distribution(site: Path, name: str, entry_points: Dict[str, str]) -> None:
    """A distribution as importlib.metadata sees it, registering ``entry_points``."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8"
    )
    lines = ["[atomtrain.architectures]"]
    lines += [f"{key} = {value}" for key, value in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    importlib.invalidate_caches()
