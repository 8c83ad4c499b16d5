"""The SOAP-BPNN trainer: the shared engine with its default hooks.

The descriptor is invariant under rotations, so no augmentation is needed; every
parameter trains with the shared learning rate.
"""

from typing import Any, Dict

from atomtrain.checkpoints import UpgradeStep, upgrade
from atomtrain.training.engine import EngineTrainer

from .documentation import TrainerHypers

#: One-step upgrades of the trainer section: ``steps[v]`` turns version v into v + 1.
TRAINER_UPGRADES: Dict[int, UpgradeStep] = {}


class Trainer(EngineTrainer[TrainerHypers]):
    """Trains :class:`~atomtrain.soap_bpnn.model.SoapBpnn` with the shared loop."""

    __checkpoint_version__ = 1

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(
            checkpoint, "trainer", cls.__checkpoint_version__, TRAINER_UPGRADES
        )
