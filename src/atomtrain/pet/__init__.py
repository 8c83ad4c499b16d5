"""The ``pet`` architecture: the Point-Edge Transformer on the shared training
engine."""

from .model import PET
from .trainer import Trainer

__model__ = PET
__trainer__ = Trainer

__authors__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
__maintainers__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]

__all__ = ["PET", "Trainer"]
