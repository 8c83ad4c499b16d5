"""The ``metatomic`` architecture: fine-tuning any exported metatomic model (a
TorchScript ``AtomisticModel``, whichever code trained it) on the shared engine."""

from .model import MetatomicModel
from .trainer import Trainer

__model__ = MetatomicModel
__trainer__ = Trainer

__authors__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
__maintainers__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]

__all__ = ["MetatomicModel", "Trainer"]
