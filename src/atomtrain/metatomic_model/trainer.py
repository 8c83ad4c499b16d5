"""The metatomic trainer: the shared engine, with what fine-tuning a pretrained
model needs before the first update.

- the step-0 check (:mod:`.step_zero`);
- the energy correction fitted on the labels less the pretrained predictions;
- the replay structures labelled by the pretrained model, trained on beside the new
  data with their own loss weight (:mod:`.replay`);
- a note of what the model is fine-tuned on (files and their sha256, options), which
  the exported model's metadata keeps.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Dict, List, Mapping, Optional

import torch

from atomtrain.checkpoints import upgrade
from atomtrain.data.dataset import Dataset
from atomtrain.data.info import DatasetInfo
from atomtrain.training.engine import EngineTrainer
from atomtrain.training.settings import TrainerSettings
from atomtrain.utils.abc import ModelInterface

from .documentation import TrainerHypers
from .model import MetatomicModel
from .pretrained import residual_dataset
from .replay import replay_dataset, with_replay, with_replay_loss
from .step_zero import check_step_zero

LOGGER = logging.getLogger("atomtrain.training")

#: The trainer hypers recorded in the fine-tuning note.
NOTED_HYPERS = ("num_epochs", "batch_size", "learning_rate", "loss", "replay")


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(datasets: List[Dataset]) -> Dict[str, str]:
    """The files the structures of ``datasets`` come from, with their sha256."""
    names = sorted({d.origin(i)[0] for d in datasets for i in range(len(d))})
    return {name: sha256(name) for name in names if Path(name).is_file()}


@dataclass(frozen=True)
class MetatomicTrainerSettings(TrainerSettings):
    """The keys of this architecture's :class:`~.documentation.TrainerHypers`."""

    __declaration__: ClassVar[type] = TrainerHypers

    #: the replay section (``read_from``, ``weight``), or None
    replay: Optional[Mapping[str, Any]]


class Trainer(EngineTrainer[TrainerHypers]):
    """Fine-tunes :class:`~atomtrain.metatomic_model.model.MetatomicModel` with the
    shared engine."""

    __checkpoint_version__ = 1
    settings_class = MetatomicTrainerSettings
    settings: MetatomicTrainerSettings

    def __init__(self, hypers: TrainerHypers) -> None:
        super().__init__(hypers)
        self.fresh = True
        self.new_data: List[Dataset] = []

    def train(
        self,
        model: ModelInterface[Any],
        dtype: torch.dtype,
        devices: List[torch.device],
        train_datasets: List[Dataset],
        val_datasets: List[Dataset],
        checkpoint_dir: str | Path,
    ) -> None:
        """Add the replay structures (labelled by the pretrained model) to the
        training sets, then train with the shared engine."""
        if not isinstance(model, MetatomicModel):
            raise TypeError(
                f"the metatomic trainer trains MetatomicModel, not {type(model)}"
            )
        self.fresh = self.state is None
        self.new_data = list(train_datasets)
        replay = self.hypers.get("replay")
        hypers = self.hypers
        datasets = list(train_datasets)
        if replay:
            model.to(device=devices[0], dtype=dtype)
            replayed = replay_dataset(model, dict(replay))
            LOGGER.info(
                f"replay: {len(replayed)} structures of {replay['read_from']} "
                "labelled by the pretrained model"
            )
            datasets, val_datasets = with_replay(datasets, val_datasets, replayed)
            targets = sorted({n for d in datasets for n in d.info.targets})
            weight = float(replay.get("weight", 1.0))
            self.hypers = {
                **hypers,
                "loss": with_replay_loss(hypers["loss"], targets, weight),
            }
        try:
            super().train(model, dtype, devices, datasets, val_datasets, checkpoint_dir)
        finally:
            self.hypers = hypers

    def before_training(
        self,
        model: ModelInterface[Any],
        datasets: List[Dataset],
        dataset_info: DatasetInfo,
    ) -> None:
        """On a fresh run from the model file: the step-0 check and the energy
        correction's fit on the residuals of the pretrained predictions (a model
        fine-tuned again from a checkpoint keeps its correction); on every fresh
        run, the fine-tuning note."""
        assert isinstance(model, MetatomicModel)
        if not self.fresh:
            return
        if not model.finetuning:
            check_step_zero(model, self.new_data)
            self._fit_correction(model, dataset_info)
        previous = model.finetuning
        model.finetuning = {
            "model": {
                "file": str(model.hypers.get("path")),
                "trainable": list(model.hypers.get("trainable", ["*"])),
            },
            "training_files": _files(self.new_data),
            "options": {k: self.hypers.get(k) for k in NOTED_HYPERS},
        }
        if previous:
            model.finetuning["previous"] = previous

    def _fit_correction(self, model: MetatomicModel, dataset_info: DatasetInfo) -> None:
        corrected = {n: dataset_info.targets[n] for n in model.corrected}
        if not corrected:
            return
        model.correction.fit(residual_dataset(model, self.new_data, corrected))
        for name in corrected:
            weights = model.correction.target_weights(name)[:, 0].tolist()
            shown = ", ".join(
                f"{t}: {w:.6g}" for t, w in zip(model.atomic_types, weights) if w
            )
            LOGGER.info(f"energy correction of '{name}' per element: {shown}")

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "trainer", cls.__checkpoint_version__, {})
