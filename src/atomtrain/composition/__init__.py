"""The ``composition`` architecture: a per-element linear model of scalar targets.

Its :class:`~atomtrain.modules.composition.CompositionBaseline` is also the baseline
that every other architecture adds to its predictions.
"""

from ..modules.composition import CompositionBaseline
from .model import CompositionModel
from .trainer import Trainer

__model__ = CompositionModel
__trainer__ = Trainer

__authors__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
__maintainers__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]

__all__ = ["CompositionBaseline", "CompositionModel", "Trainer"]
