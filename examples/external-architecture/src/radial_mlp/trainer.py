"""The radial_mlp trainer: the shared training engine, default hooks."""

from typing import Any, Dict

from atomtrain.checkpoints import upgrade
from atomtrain.training.engine import EngineTrainer
from radial_mlp.documentation import TrainerHypers

#: One-step upgrades of the trainer checkpoint: UPGRADES[v] turns version v into v + 1.
UPGRADES: Dict[int, Any] = {}


class RadialMlpTrainer(EngineTrainer[TrainerHypers]):
    """Trains the radial_mlp model with the engine; override hooks here (optimiser
    groups, augmentation, predictions) when the model needs them."""

    __checkpoint_version__ = 1

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "trainer", cls.__checkpoint_version__, UPGRADES)
