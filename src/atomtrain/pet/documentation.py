r"""
PET
===

The Point-Edge Transformer (Pozdnyakov & Ceriotti, *Smooth, exact rotational
symmetrization for deep learning on point clouds*, NeurIPS 2023): a graph neural network
whose messages are the tokens of a transformer run over each atom's neighbourhood.

For every atom :math:`i`, each neighbour :math:`j` within the ``cutoff`` becomes a
token built from the relative vector :math:`\mathbf{r}_{ij}` (and a Gaussian expansion
of its length), the species of :math:`j` and, from the second message-passing layer on,
the message that :math:`j` sent to :math:`i` in the previous layer — the output token
of :math:`j`'s own transformer at the edge :math:`j \to i`. A central token carries the
features of atom :math:`i`. A transformer (``num_attention_layers`` layers of
``num_heads``-head attention and a feed-forward network) mixes the tokens of each
neighbourhood; ``num_gnn_layers`` such layers are stacked, so the model sees
``num_gnn_layers`` times ``cutoff`` around each atom.

The model is smooth when atoms enter or leave the neighbourhood: the logarithm of a
switching function :math:`f_c(r_{ij})`, which goes from 1 to 0 over ``cutoff_width``
below the ``cutoff``, is added to the attention logits, so a neighbour at the cutoff
gets no attention at all, and its edge readout is weighted by :math:`f_c` too.

PET is not built-in rotationally equivariant: it learns rotational symmetry from
random rotations (and reflections) of the training structures, applied by its trainer
to positions, cells, forces, stresses and Cartesian targets. Energies and forces are
exactly invariant under translations and permutations of atoms.

Each message-passing layer has its own readouts: a network on each atom's features
and one on each edge token (weighted by :math:`f_c` and summed over neighbours); the
last hidden features of all layers form a target's *last-layer features*, which a
final linear layer turns into per-atom contributions, summed over atoms for
per-structure targets. The composition baseline (one value per element) is added on
top, and with ``zbl: true`` a short-range nuclear repulsion
(:mod:`atomtrain.modules.zbl`) to the energies.

Targets
-------

- energies (``energy`` and variants such as ``energy/pbe``, each with its own head),
  with forces, stress and virial by automatic differentiation;
- any per-structure or per-atom scalar target;
- Cartesian vectors and rank-2 tensors, learned as their spherical parts (a vector
  as λ = 1; a rank-2 tensor as its trace, antisymmetric and symmetric traceless parts)
  on the equivariant basis of the spherical targets and turned exactly into their
  Cartesian components (``cartesian_heads: spherical``, the default: on QM7-X
  polarizabilities the symmetric traceless part comes out 10 times more accurate than
  from nine independently learned components, ``cartesian_heads: components``).

- spherical targets of ``o3_lambda`` up to 2, proper and improper (all but
  pseudoscalars), per structure or per atom: invariant weights of an equivariant
  basis built from the edges (:mod:`atomtrain.pet.spherical`), so each block
  transforms as its irrep asks, to the accuracy of PET's learned invariance.

Additional outputs
------------------

- ``feature`` (metatomic's standard output, formerly ``features``): the per-atom
  features of every layer (node features and the cutoff-weighted sum of the edge
  tokens), summed per structure unless per-atom features are requested;
- ``mtt::aux::<target>_last_layer_features``: the input of each target's last linear
  layer, for uncertainty estimates.

Choice of the defaults
----------------------

The defaults are chosen for the time a model takes to reach a given accuracy, measured
as learning curves (validation force MAE against wall-clock time, one thread) on 800
frames of ethanol (``benchmarks/recipes.py``): a narrower network (``d_pet`` 64, one
attention layer of four heads per message-passing layer) trained at a learning rate
of 3e-3 with a short warm-up and an exponential moving average of the weights (decay
0.99) reaches 0.2 eV/Å in a few epochs, while the former defaults (``d_pet`` 128, two
attention layers of eight heads, learning rate 1e-4, no average) were still far from
it when the run stopped, many times later (the figures are in the docstring of
``benchmarks/recipes.py``). The options-file grammar is metatrain's; these defaults are
atomtrain's own (``atomtrain doc pet`` prints them, and every run writes the options
it used next to its outputs).
"""

from __future__ import annotations

from typing import Literal, Optional

from typing_extensions import TypedDict

from atomtrain.modules.long_range_hypers import LongRangeHypers
from atomtrain.training.hypers import (
    BaseTrainerHypers,
    Decay,
    PositiveFloat,
    PositiveInt,
    UnitInterval,
)


class ModelHypers(TypedDict):
    """Hyperparameters of the PET model."""

    cutoff: PositiveFloat = 4.5
    """Radius of each atom's neighbourhood, in the dataset's length unit. Lower is
    faster; the model sees ``num_gnn_layers`` times this distance in total."""
    cutoff_width: PositiveFloat = 0.5
    """Width of the region below ``cutoff`` over which neighbours are switched off
    smoothly."""
    cutoff_function: Literal["Cosine", "Bump"] = "Bump"
    """Shape of the switching function: ``Bump`` (infinitely differentiable) or
    ``Cosine``."""
    d_pet: PositiveInt = 64
    """Width of the edge tokens of the transformer (must be divisible by
    ``num_heads``): the main width of the network."""
    d_head: PositiveInt = 64
    """Width of the hidden layers of the readout networks of each target."""
    d_node: PositiveInt = 128
    """Width of the per-atom (node) features carried from one message-passing layer
    to the next."""
    d_feedforward: PositiveInt = 128
    """Width of the hidden layer of the transformer's feed-forward networks."""
    num_heads: PositiveInt = 4
    """Number of attention heads of each attention layer."""
    num_attention_layers: PositiveInt = 1
    """Number of transformer layers in each message-passing layer."""
    num_gnn_layers: PositiveInt = 2
    """Number of message-passing layers. One is much faster; more see further."""
    num_radial: PositiveInt = 16
    """Number of Gaussians between 0 and ``cutoff`` expanding each neighbour's
    distance in its token."""
    normalization: Literal["RMSNorm", "LayerNorm"] = "RMSNorm"
    """Normalisation of the transformer layers."""
    activation: Literal["SiLU", "SwiGLU"] = "SwiGLU"
    """Activation of the transformer's feed-forward networks."""
    attention_temperature: PositiveFloat = 1.0
    """Temperature dividing the attention logits."""
    transformer_type: Literal["PreLN", "PostLN"] = "PreLN"
    """Normalisation before (``PreLN``) or after (``PostLN``) each attention and
    feed-forward block."""
    num_neighbors_adaptive: Optional[PositiveInt] = None
    """A cutoff radius per atom, chosen so that each atom has about this many
    neighbours (``null``: every atom has ``cutoff``, which stays the largest
    radius): atoms in dense regions then see their nearest neighbours only, and
    atoms in sparse ones further (:mod:`atomtrain.pet.adaptive_cutoff`)."""
    adaptive_cutoff_method: Literal["solver", "grid"] = "solver"
    """How each atom's radius is found: ``solver`` solves "smooth neighbour count
    = num_neighbors_adaptive" by bisection; ``grid`` averages probe radii weighted
    by how close their counts come to it. Only with ``num_neighbors_adaptive``."""
    cutoff_width_adaptive: PositiveFloat = 1.0
    """The distance over which a neighbour enters the smooth count of the adaptive
    cutoff, in the length unit. Only with ``num_neighbors_adaptive``."""
    featurizer_type: Literal["residual", "feedforward"] = "residual"
    """How the message-passing layers feed each other and the heads (metatrain's
    names): ``residual``, the message into layer ``l + 1`` along ``i ← j`` is the
    token layer ``l`` gave along ``j ← i`` and every layer has its readouts;
    ``feedforward``, the message mixes (layer norm and a two-layer network) the
    tokens of both directions, so what flows from ``i`` to ``j`` can differ from
    what flows back, and only the last layer is read out."""
    spherical_channels: PositiveInt = 4
    """For spherical targets: the number of equivariant density channels per degree
    built from the edge tokens, and of their combinations coupled pairwise
    (Clebsch–Gordan products) into the basis of every irrep."""
    cartesian_heads: Literal["spherical", "components"] = "spherical"
    """How Cartesian vectors and rank-2 tensors are learned: ``spherical``, as their
    spherical parts (a vector as λ = 1; a rank-2 tensor as its trace, antisymmetric
    and symmetric traceless parts) on the equivariant basis of the spherical
    targets, turned into Cartesian components exactly; ``components``, as 3 or 9
    independent numbers per property whose rotational behaviour is learned from
    the augmentation alone (the only form before checkpoint version 6)."""
    system_conditioning: bool = False
    """Condition the model on each structure's total charge and spin multiplicity
    (``2S + 1``), read from ``extra_data`` entries named ``charge`` and
    ``spin_multiplicity`` in training and from metatomic's system data in
    simulations (``atoms.info["charge"]`` and ``atoms.info["spin_multiplicity"]``
    in ASE): learned embeddings of both are added to the node features before every
    message-passing layer, so one model gives each charge state its own energy."""
    max_charge: PositiveInt = 10
    """With ``system_conditioning``: the largest absolute total charge (integer)
    the model has embeddings for."""
    max_spin_multiplicity: PositiveInt = 10
    """With ``system_conditioning``: the largest spin multiplicity (integer, from
    1) the model has embeddings for."""
    long_range: LongRangeHypers
    """Long-range electrostatics (metatrain's section): learned charges whose
    Coulomb potential over the whole structure, periodic images included, is added
    to the node features the heads read (:mod:`atomtrain.modules.long_range`)."""
    zbl: bool = False
    """Add the screened nuclear repulsion of Ziegler, Biersack and Littmark (switched
    off smoothly at the sum of the two atoms' covalent radii) to every energy
    target, so that atoms pushed closer than in the training data repel."""


class TrainerHypers(BaseTrainerHypers):
    """The shared trainer hyperparameters with PET's defaults, plus augmentation."""

    num_epochs: PositiveInt = 1000
    """Number of passes over the training set."""
    learning_rate: PositiveFloat = 3e-3
    """Peak learning rate (chosen, with the EMA of the weights, for the time to
    reach a given accuracy: see the choice of the defaults above)."""
    warmup_fraction: UnitInterval = 0.001
    """Fraction of all steps spent warming up linearly (``warmup_cosine``): one
    epoch of 800 structures over the default 1000 epochs."""
    ema_decay: Optional[Decay] = 0.99
    """Decay of an exponential moving average of the weights, used for validation
    and the final model (``null`` = off): it smooths the noise of the high
    learning rate."""
    grad_clip_norm: Optional[PositiveFloat] = 1.0
    """Clip the global norm of the gradients to this value (``null`` = off)."""
    checkpoint_interval: PositiveInt = 100
    """Write ``model_<epoch>.ckpt`` every this many epochs."""
    random_rotations: bool = True
    """Rotate each training structure and its labels by a random rotation every
    epoch: PET learns rotational symmetry from these. Turn off only for data whose
    orientation is meaningful."""
    random_reflections: bool = True
    """Also reflect (invert through the origin) half of the rotated structures, for
    invariance under improper rotations."""
