"""The ``mace`` architecture: MACE, built from mace-torch's modules, on the shared
training engine."""

from .model import MACE
from .trainer import Trainer

__model__ = MACE
__trainer__ = Trainer

__authors__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
__maintainers__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]

__all__ = ["MACE", "Trainer"]
