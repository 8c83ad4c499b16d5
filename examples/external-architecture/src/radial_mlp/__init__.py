"""The radial_mlp architecture: an MLP on radial symmetry functions."""

from radial_mlp.model import RadialMlpModel
from radial_mlp.trainer import RadialMlpTrainer

__model__ = RadialMlpModel
__trainer__ = RadialMlpTrainer

__authors__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
__maintainers__ = [("atomtrain developers <dev@atomtrain.org>", "atomtrain")]
