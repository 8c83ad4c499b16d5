"""The shared training engine: a :class:`TrainerInterface` that architectures subclass.

An architecture's trainer inherits :class:`EngineTrainer` and overrides a few hooks;
the loop itself lives in :mod:`atomtrain.training.loop`. Hooks:

- :meth:`~EngineTrainer.parameter_groups` — optimiser parameter groups;
- :meth:`~EngineTrainer.before_training` — called once before the first epoch;
- :meth:`~EngineTrainer.transform_structure` — augmentation of each training
  structure (for example a random rotation), or None for no augmentation;
- :meth:`~EngineTrainer.predict` — predictions with gradients for a batch;
- :meth:`~EngineTrainer.neighbor_options` — the neighbour lists the model needs;
- :meth:`~EngineTrainer.composition_baseline` — the model's baseline, if any.

Checkpoints add a ``trainer`` section ``{"hypers": ..., "state": TrainingState}`` to
the model's own checkpoint. A trainer loaded for ``restart`` continues the stored run
exactly; for ``finetune`` it starts a new run from the model's weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar, Dict, List, Optional, Type, TypeVar

import torch
from metatensor.torch import TensorMap
from metatomic.torch import NeighborListOptions

from ..checkpoints import write_checkpoint_file
from ..data.dataset import Dataset
from ..data.info import DatasetInfo, TargetInfo
from ..data.structure import Structure
from ..modules.composition import CompositionBaseline
from ..utils.abc import (
    ModelInterface,
    RequestsNeighborLists,
    TrainerCheckpointContext,
    TrainerInterface,
    WithCompositionBaseline,
)
from .hypers import RUN_SETTINGS, base_trainer_defaults
from .logging import ExternalLogger
from .predict import predict
from .settings import TrainerSettings
from .state import TrainingState

HypersType = TypeVar("HypersType")
EngineTrainerType = TypeVar("EngineTrainerType", bound="EngineTrainer[Any]")


class EngineTrainer(TrainerInterface[HypersType]):
    """Trains a model with the shared loop; subclasses override hooks only."""

    __checkpoint_version__ = 1

    #: The typed view of the hypers that the engine and the hooks read; an
    #: architecture whose hooks read keys of its own names its subclass here.
    settings_class: ClassVar[Type[TrainerSettings]] = TrainerSettings

    def __init__(self, hypers: HypersType) -> None:
        super().__init__(hypers)
        #: the hypers as the engine reads them, frozen (``self.hypers`` is what
        #: checkpoints store)
        self.settings = self.settings_class.from_hypers(
            hypers  # type: ignore[arg-type]
        )
        self.state: Optional[TrainingState] = None
        self.external_loggers: List[ExternalLogger] = []

    # ---- hooks ---------------------------------------------------------------

    def parameter_groups(self, model: ModelInterface[Any]) -> List[Dict[str, Any]]:
        """Optimiser parameter groups (default: every trainable parameter, with the
        shared learning rate and weight decay; ``self.settings`` holds the
        hypers)."""
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]

    def before_training(
        self,
        model: ModelInterface[Any],
        datasets: List[Dataset],
        dataset_info: DatasetInfo,
    ) -> None:
        """Called once before the first epoch, after the baseline is fitted."""

    def transform_structure(
        self,
    ) -> Optional[Callable[[Structure, torch.Generator], Structure]]:
        """Augmentation of each training structure: a function ``(structure,
        generator) -> structure`` (e.g. ``atomtrain.utils.data.random_rotation``),
        called with a generator seeded from the seed, the epoch and the structure's
        index; None (default) for no augmentation."""
        return None

    def predict(
        self,
        model: ModelInterface[Any],
        batch: Any,
        targets: Dict[str, TargetInfo],
    ) -> Dict[str, TensorMap]:
        """Predictions for ``batch``: target name → TensorMap in the layout of the
        labels, with the gradients the labels carry attached (``positions``: dE/dr,
        ``strain``: dE/dε, computed by autograd; see
        :func:`atomtrain.training.predict.predict`). The labels hold minus the forces
        and minus the virial, so the engine compares gradients with gradients: an
        override must not flip their sign (the suite checks it)."""
        return predict(model, batch, targets, training=model.training)

    def neighbor_options(self, model: ModelInterface[Any]) -> List[NeighborListOptions]:
        """The neighbour lists to attach to the systems (default: the model's
        ``requested_neighbor_lists()``)."""
        if isinstance(model, RequestsNeighborLists):
            return list(model.requested_neighbor_lists())
        return []

    def composition_baseline(
        self, model: ModelInterface[Any]
    ) -> Optional[CompositionBaseline]:
        """The model's composition baseline (when it declares
        :class:`~atomtrain.utils.abc.WithCompositionBaseline`), fitted by the engine
        before training and removed from the labels."""
        if isinstance(model, WithCompositionBaseline):
            return model.composition_baseline
        return None

    # ---- the trainer interface ----------------------------------------------

    def train(
        self,
        model: ModelInterface[Any],
        dtype: torch.dtype,
        devices: List[torch.device],
        train_datasets: List[Dataset],
        val_datasets: List[Dataset],
        checkpoint_dir: str | Path,
    ) -> None:
        """Train ``model`` in place; logs and checkpoints go to ``checkpoint_dir``."""
        from .loop import TrainingRun

        run = TrainingRun(
            self, model, dtype, devices, train_datasets, val_datasets, checkpoint_dir
        )
        run.execute()

    def checkpoint(self, model: ModelInterface[Any]) -> Dict[str, Any]:
        """The model's checkpoint with this trainer's section added, and the exact
        state of LoRA adapters while a fine-tuning run trains them."""
        from ..modules.lora import CHECKPOINT_SECTION, adapter_state

        data = model.get_checkpoint()
        adapters = adapter_state(model)
        if adapters:
            data[CHECKPOINT_SECTION] = adapters
        data["trainer_checkpoint_version"] = self.__checkpoint_version__
        hypers = dict(self.hypers)  # type: ignore[call-overload]
        data["trainer"] = {
            "hypers": {k: v for k, v in hypers.items() if k not in RUN_SETTINGS},
            "state": None if self.state is None else self.state.to_dict(),
        }
        return data

    def save_checkpoint(self, model: ModelInterface[Any], path: str | Path) -> None:
        write_checkpoint_file(self.checkpoint(model), path)

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        from ..checkpoints import upgrade

        return upgrade(checkpoint, "trainer", cls.__checkpoint_version__, {})

    @classmethod
    def load_checkpoint(
        cls: type[EngineTrainerType],
        checkpoint: Dict[str, Any],
        hypers: Any,
        context: TrainerCheckpointContext,
    ) -> EngineTrainerType:
        # checkpoints leave out the RUN_SETTINGS: hypers read from one take their
        # defaults, the only keys completed after the options were expanded
        shared = base_trainer_defaults()
        run_settings = {key: shared[key] for key in RUN_SETTINGS}
        trainer = cls({**run_settings, **hypers})
        state = (checkpoint.get("trainer") or {}).get("state")
        if context == "restart" and state is not None:
            trainer.state = TrainingState.from_dict(state)
        return trainer
