"""
Radial Mlp
==========

A multilayer perceptron on radial symmetry functions. For atom i, the features are
G(i, t, k) = sum over the neighbours j of element t of exp(-((r_ij - mu_k) / w)^2)
f_c(r_ij), for every neighbour element t and Gaussian k, with the smooth cutoff
f_c(r) = (1 + cos(pi r / r_c)) / 2. Together with a one-hot code of the element of i
(so that the network sees each element pair) they go through a two-layer network with
one linear head per target. Per-structure targets sum the atomic contributions, and
the composition baseline is added. Invariant scalar targets only, with forces and
stress by automatic differentiation.
"""

from typing_extensions import TypedDict

from atomtrain.training.hypers import BaseTrainerHypers


class ModelHypers(TypedDict):
    """Hyperparameters of the model."""

    cutoff: float = 5.0
    """Radius of the atomic environments, in the length unit of the data."""
    num_radial: int = 8
    """Number of Gaussian radial functions between 0 and the cutoff."""
    hidden: int = 32
    """Width of the two hidden layers."""


class TrainerHypers(BaseTrainerHypers):
    """The shared trainer hyperparameters of :mod:`atomtrain.training`."""
