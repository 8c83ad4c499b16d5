"""The composition architecture's trainer: one least-squares fit, no gradient loop.

The model is linear in its weights, so the optimum is computed directly (see
:meth:`CompositionBaseline.fit`): no epochs, no optimiser, no learning rate.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Mapping

import torch

from ..checkpoints import UpgradeStep, upgrade, write_checkpoint_file
from ..data.dataset import Dataset
from ..modules.composition import unknown_type_error
from ..training.settings import HypersView
from ..utils.abc import ModelInterface, TrainerCheckpointContext, TrainerInterface
from .documentation import TrainerHypers
from .model import CompositionModel

LOGGER = logging.getLogger(__name__)

#: One-step upgrades of the trainer section: ``steps[v]`` turns version v into v + 1.
TRAINER_UPGRADES: Dict[int, UpgradeStep] = {}


@dataclasses.dataclass(frozen=True)
class CompositionTrainerSettings(HypersView):
    """The keys of the composition :class:`~.documentation.TrainerHypers`, typed."""

    __declaration__: ClassVar[type] = TrainerHypers

    atomic_baseline: Mapping[str, Mapping[int, float]]


class Trainer(TrainerInterface[TrainerHypers]):
    """Fits a :class:`CompositionModel` by least squares on the training sets."""

    __checkpoint_version__ = 1

    def __init__(self, hypers: TrainerHypers) -> None:
        super().__init__(hypers)
        #: the hypers as the trainer reads them, frozen (``self.hypers`` is what
        #: checkpoints store)
        self.settings = CompositionTrainerSettings.from_hypers(hypers)

    def train(
        self,
        model: ModelInterface[Any],
        dtype: torch.dtype,
        devices: List[torch.device],
        train_datasets: List[Dataset],
        val_datasets: List[Dataset],
        checkpoint_dir: str | Path,
    ) -> None:
        """Fit the weights (exactly, in float64: no gradient descent, the model is
        linear), then move the model to ``devices[0]`` and ``dtype`` and log the
        validation RMSE of every target."""
        if not isinstance(model, CompositionModel):
            raise TypeError(
                f"the composition trainer trains CompositionModel, not "
                f"{type(model).__qualname__}"
            )
        model.composition_baseline.fit(train_datasets, self.settings.atomic_baseline)
        model.to(device=devices[0], dtype=dtype)
        for name in model.composition_baseline.target_names:
            rmse = validation_rmse(model, val_datasets, name)
            unit = model.dataset_info.targets[name].unit
            LOGGER.info("composition %s: validation RMSE %.6g %s", name, rmse, unit)

    def save_checkpoint(self, model: ModelInterface[Any], path: str | Path) -> None:
        checkpoint = model.get_checkpoint()
        checkpoint["trainer_checkpoint_version"] = self.__checkpoint_version__
        checkpoint["trainer"] = {"hypers": copy.deepcopy(dict(self.hypers))}
        write_checkpoint_file(checkpoint, path)

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        if "trainer" not in checkpoint:
            return checkpoint
        return upgrade(
            checkpoint, "trainer", cls.__checkpoint_version__, TRAINER_UPGRADES
        )

    @classmethod
    def load_checkpoint(
        cls,
        checkpoint: Dict[str, Any],
        hypers: TrainerHypers,
        context: TrainerCheckpointContext,
    ) -> Trainer:
        """A trainer with ``hypers``: a fit keeps no state between runs."""
        if context not in ("restart", "finetune"):
            raise ValueError(f"unknown checkpoint context '{context}'")
        return cls(hypers)


def validation_rmse(
    model: CompositionModel, datasets: List[Dataset], target: str
) -> float:
    """RMSE of the baseline of ``target`` over the labelled structures of
    ``datasets`` (NaN labels skipped; NaN when there is no label)."""
    squared = 0.0
    count = 0
    for dataset in datasets:
        for i in range(len(dataset)):
            structure = dataset[i]
            if target not in structure.targets:
                continue
            try:
                predicted = model.composition_baseline.contributions(
                    structure.types, target
                )
            except ValueError as unknown:
                raise unknown_type_error(unknown, dataset, i) from None
            error = structure.targets[target].blocks[0].to(torch.float64) - predicted
            finite = torch.isfinite(error)
            squared += float((error[finite] ** 2).sum())
            count += int(finite.sum())
    return math.sqrt(squared / count) if count else math.nan
