"""Last-layer prediction rigidity (LLPR) uncertainties for a trained model."""

from .model import LLPRModel
from .trainer import LLPRTrainer

__model__ = LLPRModel
__trainer__ = LLPRTrainer

__authors__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
__maintainers__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
