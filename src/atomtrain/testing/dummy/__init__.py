"""A small architecture that exercises the shared training engine in tests."""

from .model import DummyModel
from .trainer import DummyTrainer

__model__ = DummyModel
__trainer__ = DummyTrainer

__authors__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
__maintainers__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
