"""
Dummy
=====

A small, honest model used to test the shared training engine: a per-atom
multilayer perceptron on smooth radial features of the neighbours (Gaussians times a
cosine cutoff, summed per neighbour type), plus the composition baseline. It predicts
invariant scalar targets, per structure or per atom, and their forces and stress by
autograd. It is not meant for production; its trainer is the engine with no hook
overridden.

It is also the worked example of three optional conventions: it exposes the
last-layer features of each target as ``mtt::aux::<target>_last_layer_features`` (used
by the ``llpr`` architecture), declares its per-target heads through
``head_modules()`` (used by ``finetune: {method: heads}``), and adds the ZBL
short-range repulsion of :mod:`atomtrain.modules.zbl` to its energies with
``zbl: true``.
"""

from typing_extensions import TypedDict

from atomtrain.training.hypers import BaseTrainerHypers, PositiveFloat, PositiveInt


class ModelHypers(TypedDict):
    """Hyperparameters of the dummy model."""

    cutoff: PositiveFloat = 4.0
    """Radius of the neighbourhood, in the dataset's length unit."""
    num_radial: PositiveInt = 8
    """Number of Gaussian radial functions between 0 and the cutoff."""
    hidden: PositiveInt = 32
    """Width of the two hidden layers of the per-atom network."""
    zbl: bool = False
    """Add the Ziegler-Biersack-Littmark screened nuclear repulsion (switched off
    smoothly at the sum of covalent radii) to every energy target."""


class TrainerHypers(BaseTrainerHypers):
    """The shared trainer hyperparameters; the dummy trainer adds none."""
