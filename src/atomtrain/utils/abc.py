"""The plugin contract: what every architecture's model and trainer implement.

An architecture is a package with ``__init__.py`` (``__model__``, ``__trainer__``,
``__authors__``, ``__maintainers__``), ``documentation.py`` (``ModelHypers``,
``TrainerHypers``), ``model.py`` and ``trainer.py``. The model subclasses
:class:`ModelInterface`, the trainer :class:`TrainerInterface`; both are generic in the
type of their hyperparameters.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Generic, List, Literal, Optional, TypeVar

import torch
from metatensor.torch import Labels, TensorMap
from metatomic.torch import AtomisticModel, ModelMetadata, ModelOutput, System

if TYPE_CHECKING:
    from .data import Dataset, DatasetInfo

HypersType = TypeVar("HypersType")

ModelCheckpointContext = Literal["restart", "finetune", "export"]
TrainerCheckpointContext = Literal["restart", "finetune"]

_MODEL_CLASS_ATTRIBUTES = (
    "__checkpoint_version__",
    "__supported_devices__",
    "__supported_dtypes__",
    "__default_metadata__",
)


def _check_class_attributes(cls: type, names: tuple[str, ...]) -> None:
    for name in names:
        if not hasattr(cls, name):
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__} must define the class attribute "
                f"'{name}' (see atomtrain.utils.abc for what it holds)"
            )


class ModelInterface(torch.nn.Module, Generic[HypersType], metaclass=ABCMeta):
    """A trainable, exportable model of atomistic systems.

    Subclasses define the class attributes

    - ``__checkpoint_version__: int`` — bumped whenever the checkpoint format changes;
    - ``__supported_devices__: List[str]`` — e.g. ``["cuda", "cpu"]``, preferred first;
    - ``__supported_dtypes__: List[torch.dtype]`` — preferred first;
    - ``__default_metadata__: ModelMetadata`` — with
      ``references={"implementation": [...], "architecture": [...]}``.

    A missing attribute raises a :class:`TypeError` naming the class and the attribute
    when the model is constructed.

    Optional conventions that framework features rely on:

    - heads (``finetune: {method: heads}``, ``inherit_heads``): a method
      ``head_modules() -> Dict[str, torch.nn.Module]`` giving the head of each target,
      or a ``torch.nn.ModuleDict`` attribute ``heads`` keyed by target name; the rest
      of the model is the backbone;
    - last-layer features (the ``llpr`` architecture): an output
      ``mtt::aux::<target>_last_layer_features`` per target, the input of the target's
      last linear layer (per atom, summed per structure for per-structure targets);
    - a ``zbl: true`` model hyper adding the repulsion of
      :class:`atomtrain.modules.zbl.EnergyRepulsion` to the energies (see the dummy
      architecture).
    """

    __checkpoint_version__: int
    __supported_devices__: List[str]
    __supported_dtypes__: List[torch.dtype]
    __default_metadata__: ModelMetadata

    def __init__(
        self,
        hypers: HypersType,
        dataset_info: DatasetInfo,
        metadata: Optional[ModelMetadata] = None,
    ) -> None:
        _check_class_attributes(type(self), _MODEL_CLASS_ATTRIBUTES)
        super().__init__()
        self.hypers = hypers
        self.dataset_info = dataset_info
        self.metadata = metadata if metadata is not None else self.__default_metadata__

    @abstractmethod
    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        """Predict the requested ``outputs`` for ``systems``."""

    @abstractmethod
    def supported_outputs(self) -> Dict[str, ModelOutput]:
        """The outputs this model can compute, with quantity, unit and sample kind."""

    @abstractmethod
    def restart(self, dataset_info: DatasetInfo) -> ModelInterface[HypersType]:
        """Adapt a model loaded from a checkpoint to a new ``dataset_info``.

        Adds heads for new targets and atomic types where the architecture can, and
        raises a clear error for what it cannot do.
        """

    @classmethod
    @abstractmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: ModelCheckpointContext
    ) -> ModelInterface[HypersType]:
        """Create a model from a checkpoint (already upgraded to the current version).

        ``context`` is ``"restart"`` (continue training), ``"finetune"`` (start a new
        training from these weights) or ``"export"`` (the best weights, for export).
        """

    @abstractmethod
    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        """Wrap this model as a metatomic :class:`AtomisticModel` ready to save."""

    @classmethod
    @abstractmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        """Upgrade the model section of an older checkpoint to the current version."""

    @abstractmethod
    def get_checkpoint(self) -> Dict[str, Any]:
        """The model's section of a checkpoint: plain data only."""

    def remove_output(self, name: str) -> None:
        """Remove the head of output ``name`` (optional)."""
        raise NotImplementedError(
            f"{type(self).__qualname__} does not support removing outputs"
        )


class TrainerInterface(Generic[HypersType], metaclass=ABCMeta):
    """Trains a :class:`ModelInterface`.

    Subclasses define ``__checkpoint_version__: int``. Trainers built on
    :mod:`atomtrain.training` reuse the shared engine and override a few hooks.
    """

    __checkpoint_version__: int

    def __init__(self, hypers: HypersType) -> None:
        _check_class_attributes(type(self), ("__checkpoint_version__",))
        self.hypers = hypers

    @abstractmethod
    def train(
        self,
        model: ModelInterface[Any],
        dtype: torch.dtype,
        devices: List[torch.device],
        train_datasets: List[Dataset],
        val_datasets: List[Dataset],
        checkpoint_dir: str | Path,
    ) -> None:
        """Train ``model`` in place."""

    @abstractmethod
    def save_checkpoint(self, model: ModelInterface[Any], path: str | Path) -> None:
        """Write a checkpoint of ``model`` and of the training state to ``path``."""

    @classmethod
    @abstractmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        """Upgrade the trainer section of an older checkpoint to the current version."""

    @classmethod
    @abstractmethod
    def load_checkpoint(
        cls,
        checkpoint: Dict[str, Any],
        hypers: HypersType,
        context: TrainerCheckpointContext,
    ) -> TrainerInterface[HypersType]:
        """Create a trainer from a checkpoint, to restart or fine-tune."""
