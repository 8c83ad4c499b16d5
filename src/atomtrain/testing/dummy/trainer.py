"""The dummy trainer: the shared engine with its default hooks."""

from __future__ import annotations

from typing import Any, Dict

from atomtrain.checkpoints import upgrade
from atomtrain.training.engine import EngineTrainer

from .documentation import TrainerHypers


class DummyTrainer(EngineTrainer[TrainerHypers]):
    """Trains :class:`~atomtrain.testing.dummy.model.DummyModel` with the engine's
    default optimiser groups, predictions and (no) augmentation."""

    __checkpoint_version__ = 1

    @classmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        return upgrade(checkpoint, "trainer", cls.__checkpoint_version__, {})
