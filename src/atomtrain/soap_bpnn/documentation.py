r"""
SOAP-BPNN
=========

A Behler-Parrinello neural network on smooth-overlap-of-atomic-positions (SOAP) power
spectra: the classic descriptor model for small data sets and CPUs.

The neighbour density of each atom :math:`i`, one channel per neighbour type
:math:`a`, is expanded on radial functions and real spherical harmonics,

.. math::

    c^{i}_{a n l m} = \sum_{j \in \mathcal{N}(i),\, t_j = a}
        f_c(r_{ij})\, R_{nl}(r_{ij})\, Y_{lm}(\hat{\mathbf{r}}_{ij}),

where :math:`R_{nl}` are the Laplacian eigenstates of the cutoff sphere (spherical
Bessel functions vanishing at ``cutoff.radius``, truncated at a common eigenvalue so
that :math:`l = 0` has ``max_radial + 1`` functions and higher :math:`l` fewer) and
:math:`f_c` is a cosine switching function over the last ``cutoff.width`` of the
cutoff. The power spectrum

.. math::

    p^{i}_{(a n)(b n') l} = \frac{1}{\sqrt{2l+1}} \sum_m c^{i}_{a n l m}\,
        c^{i}_{b n' l m}

is invariant under rotations, reflections and permutations of the neighbours; its
upper triangle in :math:`(a n), (b n')` is the descriptor of atom :math:`i`. Each
element has its own multilayer perceptron (with an optional layer normalisation of its
input), followed by one head per target (a further per-element hidden layer, ``mlp``,
or none, ``linear``) and a per-element linear layer. Atomic contributions are summed
into per-structure targets. The composition baseline (per-element reference values
fitted by least squares) is added to the predictions, and removed from the labels
during training.

Spherical harmonics come from `sphericart <https://github.com/lab-cosmo/sphericart>`_;
exported models carry its compiled extension in the ``extensions/`` folder.

Targets and outputs
-------------------

- invariant scalar targets, per structure (energies and their variants such as
  ``energy/pbe``, with forces, stress and virial from autograd) or per atom;
- ``feature``: the per-atom output of the element networks (summed per structure
  when requested per structure);
- ``mtt::aux::<target>_last_layer_features``: the input of the last linear layer of
  each target, for uncertainty estimates (the per-element features placed in the
  block of the atom's element, zero elsewhere).

- spherical targets (``type: {spherical: {irreps: [...]}}``), per structure or per
  atom, any number of irreps and subtargets, exactly equivariant: for each irrep
  (λ, σ) the heads predict invariant weights of an equivariant basis built from the
  density coefficients (those of channel λ, and the Clebsch–Gordan products of
  pairs of channels, λ-SOAP), see :mod:`atomtrain.soap_bpnn.equivariant`. A
  pseudoscalar (λ = 0, σ = −1) has no such basis and is refused.

Cartesian targets are refused with an error naming them.

Choice of the training defaults
-------------------------------

The trainer's defaults are chosen for the time a model takes to reach a given
accuracy, measured as learning curves (validation force MAE against wall-clock time,
one thread) on 800 frames of ethanol (``benchmarks/recipes.py``): a learning rate of
3e-3 with a warm-up of one epoch and an exponential moving average of the weights
(decay 0.99) reaches each force error in 0.4 to 0.75 times the time of the former
defaults (1e-3, a warm-up of 5 % of the run, no average; the figures are in the
docstring of ``benchmarks/recipes.py``). The options-file grammar is
metatrain's; these defaults are atomtrain's own (``atomtrain doc soap_bpnn`` prints
them, and every run writes the options it used next to its outputs).

Installation
------------

The architecture needs ``sphericart-torch`` (``pip install sphericart-torch``).
"""

from __future__ import annotations

from typing import Dict, Literal, Optional

from typing_extensions import TypedDict

from atomtrain.modules.long_range_hypers import LongRangeHypers
from atomtrain.training.hypers import (
    BaseTrainerHypers,
    Decay,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    UnitInterval,
)


class SOAPCutoffConfig(TypedDict):
    """The cutoff of the atomic environments."""

    radius: PositiveFloat = 5.0
    """Radius of the environments, in the dataset's length unit: neighbours beyond
    it do not contribute."""
    width: PositiveFloat = 0.5
    """Width of the smooth switching at the edge of the environments: neighbours
    between ``radius - width`` and ``radius`` are switched off smoothly."""


class SOAPConfig(TypedDict):
    """The SOAP descriptor."""

    max_angular: NonNegativeInt = 6
    """Largest angular channel ``l`` of the spherical harmonics."""
    max_radial: NonNegativeInt = 7
    """Largest radial index ``n`` of the ``l = 0`` channel (``max_radial + 1``
    functions); channels of higher ``l`` keep the functions of no larger
    Laplacian eigenvalue."""
    cutoff: SOAPCutoffConfig
    """The cutoff of the atomic environments."""


class BPNNConfig(TypedDict):
    """The per-element neural networks."""

    num_hidden_layers: NonNegativeInt = 2
    """Number of hidden layers of each element's network (0: the features go to the
    heads directly)."""
    num_neurons_per_layer: PositiveInt = 32
    """Width of the hidden layers."""
    layernorm: bool = True
    """Normalise each element's descriptor (layer normalisation) before its
    network: faster convergence, sometimes worse extrapolation."""


#: The head of a target that ``heads`` does not list.
DEFAULT_HEAD: Literal["mlp", "linear"] = "mlp"


class ModelHypers(TypedDict):
    """Hyperparameters of the SOAP-BPNN model."""

    soap: SOAPConfig
    """The SOAP descriptor."""
    bpnn: BPNNConfig
    """The per-element neural networks."""
    heads: Dict[str, Literal["mlp", "linear"]] = {}
    """The head of each target: ``mlp`` (one more per-element hidden layer as wide as
    the networks, the default for targets not listed) or ``linear`` (the last
    layer only), e.g. ``{energy: linear}``."""
    spherical_channels: PositiveInt = 4
    """For spherical targets: the number of combinations of each angular channel's
    density coefficients that are coupled pairwise (Clebsch–Gordan products) into
    the equivariant basis of every irrep; the basis grows as its square."""
    long_range: LongRangeHypers
    """Long-range electrostatics (metatrain's section): learned charges whose
    Coulomb potential over the whole structure, periodic images included, is added
    to the outputs of the element networks the heads read
    (:mod:`atomtrain.modules.long_range`)."""
    zbl: bool = False
    """Add the screened nuclear repulsion of Ziegler, Biersack and Littmark (switched
    off smoothly at the sum of the two atoms' covalent radii) to every energy
    target, so that atoms pushed closer than in the training data repel."""


class TrainerHypers(BaseTrainerHypers):
    """The shared trainer hyperparameters with SOAP-BPNN's defaults: it adds no key
    (its features are invariant, so it needs no rotational augmentation)."""

    learning_rate: PositiveFloat = 3e-3
    """Peak learning rate (chosen, with the EMA of the weights, for the time to
    reach a given accuracy: see the choice of the defaults above)."""
    warmup_fraction: UnitInterval = 0.01
    """Fraction of all steps spent warming up linearly (``warmup_cosine``): one
    epoch over the default 100."""
    ema_decay: Optional[Decay] = 0.99
    """Decay of an exponential moving average of the weights, used for validation
    and the final model (``null`` = off): it smooths the noise of the high
    learning rate."""
