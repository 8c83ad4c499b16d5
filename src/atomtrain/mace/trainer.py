"""The MACE trainer: the shared engine, with ``mace_run_train``'s choices where MACE
has its own.

- ``avg_num_neighbors`` (when the hypers leave it ``null``) is the average number of
  neighbours within ``r_max`` of the atoms of the training set, computed once
  before the first epoch, as ``mace_run_train --compute_avg_num_neighbors``;
- the optimiser decays the weights of the interactions' linear maps and of the
  products only, with AMSGrad when ``amsgrad`` is on, as ``mace_run_train`` does.

The output scales (energies by the root mean square of their forces) are fitted by
the engine, as the model's :class:`~atomtrain.modules.scaling.OutputScaler` says.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, ClassVar, Dict, List

from atomtrain.checkpoints import upgrade
from atomtrain.data.dataset import Dataset
from atomtrain.data.info import DatasetInfo
from atomtrain.data.neighbors import compute_topology
from atomtrain.training.engine import EngineTrainer
from atomtrain.training.settings import TrainerSettings
from atomtrain.utils.abc import ModelInterface

from .documentation import TrainerHypers
from .model import MACE

LOGGER = logging.getLogger("atomtrain.training")


def average_neighbors(datasets: List[Dataset], cutoff: float) -> float:
    """The average number of neighbours within ``cutoff`` of the atoms of
    ``datasets`` (1 when they hold no atom)."""
    pairs, atoms = 0, 0
    for dataset in datasets:
        for structure in dataset:
            pairs += int(compute_topology(structure, cutoff, True).shape[0])
            atoms += len(structure)
    return pairs / atoms if atoms > 0 else 1.0


def _is_decayed(name: str) -> bool:
    """Whether ``mace_run_train`` applies weight decay to the parameter ``name``."""
    if name.startswith("encoder.products."):
        return True
    return name.startswith("encoder.interactions.") and (
        "linear.weight" in name or "skip_tp_full.weight" in name
    )


@dataclass(frozen=True)
class MACETrainerSettings(TrainerSettings):
    """The keys of MACE's :class:`~.documentation.TrainerHypers` (documented
    there)."""

    __declaration__: ClassVar[type] = TrainerHypers

    amsgrad: bool


class Trainer(EngineTrainer[TrainerHypers]):
    """Trains :class:`~atomtrain.mace.model.MACE` with the shared engine."""

    __checkpoint_version__ = 1
    settings_class = MACETrainerSettings
    settings: MACETrainerSettings

    def before_training(
        self,
        model: ModelInterface[Any],
        datasets: List[Dataset],
        dataset_info: DatasetInfo,
    ) -> None:
        if not isinstance(model, MACE):
            raise TypeError(f"the mace trainer trains MACE models, not {type(model)}")
        if model.needs_avg_num_neighbors():
            value = average_neighbors(datasets, float(model.hypers["r_max"]))
            model.set_avg_num_neighbors(value)
            LOGGER.info(f"average number of neighbours: {value:.4g}")

    def parameter_groups(self, model: ModelInterface[Any]) -> List[Dict[str, Any]]:
        """Weight decay on the interactions' linear maps and the products alone;
        AMSGrad as ``amsgrad`` says."""
        trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        decayed = [p for n, p in trained if _is_decayed(n)]
        others = [p for n, p in trained if not _is_decayed(n)]
        amsgrad = self.settings.amsgrad
        groups = [
            {"params": decayed, "weight_decay": self.settings.weight_decay},
            {"params": others, "weight_decay": 0.0},
        ]
        kept = [group for group in groups if group["params"]]
        for group in kept or groups[1:]:
            group["amsgrad"] = amsgrad
        return kept or groups[1:]

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "trainer", cls.__checkpoint_version__, {})
