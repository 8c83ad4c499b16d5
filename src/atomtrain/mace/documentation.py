r"""
MACE
====

MACE (Batatia et al., *MACE: Higher Order Equivariant Message Passing Neural Networks
for Fast and Accurate Force Fields*, NeurIPS 2022), built from the modules of
`mace-torch <https://github.com/ACEsuit/mace>`_ and trained by atomtrain's shared
engine.

Each neighbour :math:`j` of atom :math:`i` within ``r_max`` contributes the spherical
harmonics :math:`Y_{lm}(\hat{\mathbf{r}}_{ij})` up to ``max_ell``, weighted by a
``radial_MLP`` of ``num_radial_basis`` Bessel functions times a polynomial cutoff
envelope (``num_cutoff_basis``), and the features of :math:`j`; these messages are
summed (divided by ``avg_num_neighbors``) into equivariant features of :math:`i`,
whose symmetric tensor products up to order ``correlation`` form the many-body
features of the next layer, in the irreducible representations ``hidden_irreps``.
``num_interactions`` such layers are stacked, so the model sees ``num_interactions``
times ``r_max`` around each atom. The model is exactly invariant under rotations,
reflections, translations and permutations.

Each target has its own readout, in MACE's form: a linear map of the invariant
features of every layer but the last, and a small network (``MLP_irreps``, activation
``gate``) on those of the last layer; their sum is each atom's contribution. The
*last-layer features* of a target are the inputs of these final linear maps (the
invariant features of the first layers and the hidden layer of the last readout).
A fitted output scale multiplies each target's per-atom contributions (for energies
trained on forces, the root mean square of the force components, as
``mace_run_train``'s ``rms_forces_scaling``), and the composition baseline (MACE's
``E0s``, fitted by least squares on the training set, or fixed with
``architecture.training.atomic_baseline``) is added on top. With
``pair_repulsion: true``, MACE's ZBL repulsion is added to the energies.

Learned targets
---------------

- energies (``energy`` and variants such as ``energy/pbe``, each with its own
  readout), with forces, stress and virial by automatic differentiation;
- any per-structure or per-atom invariant scalar target.

Cartesian and spherical targets are refused with an error naming them.

Other outputs
-------------

- ``feature``: the invariant features of every layer of each atom (summed per
  structure unless per-atom features are requested);
- ``mtt::aux::<target>_last_layer_features``: the inputs of each target's last
  linear maps, for uncertainty estimates (``llpr``).

Starting from a MACE model file
-------------------------------

Fine-tuning can start from a ``.model`` file written by ``mace_run_train`` (or a
foundation model on disk), with its ``E0s``, scale and heads::

    architecture:
      name: mace
      training:
        finetune:
          read_from: MACE_model.model
          trust_pickled_code: true

A ``.model`` file is a Python pickle of a whole model object: loading it runs any
code it contains, so atomtrain reads one only when ``trust_pickled_code`` says that
you trust where the file comes from. It is read once, at the start of the run, and
converted to atomtrain's own plain data; the run's checkpoints are loaded safely like
every other. The model's architecture hypers come from the file (the ``model``
section of the options is not used). A single-head model's head becomes the target
``energy``; in a multi-head model, the head named ``Default`` becomes ``energy`` and
each other head ``h`` the target ``energy/h`` (give ``inherit_heads`` to start a new
target from one of them). Energies are in eV and lengths in Å, as in MACE.
Fine-tuning methods ``full`` and ``heads`` apply; ``lora`` does not (MACE's layers
are e3nn's equivariant linear maps, which atomtrain's adapters do not wrap).

Settings of ``mace_run_train``
------------------------------

The defaults below are those of ``mace_run_train`` (mace-torch 0.3): the model
hypers, the learning rate 0.01 with AMSGrad, the weight decay of the interaction and
product weights, the reduce-on-plateau schedule (factor 0.8, patience 50), gradient
clipping at norm 10, batches of 10 and an exponential moving average of the weights
(decay 0.99, off by default in ``mace_run_train`` but used in all of MACE's
examples). ``mace_run_train``'s default loss weighs forces 100 times more than
energies per atom; the same loss here is::

    loss:
      energy:
        forces: {weight: 100.0}

``mace_run_train`` trains in float64 by default; atomtrain trains MACE in float32
unless ``base_precision: 64`` is given: a step on 10 ethanol molecules with
``hidden_irreps: 32x0e + 32x1o`` took 0.23 s in float32 against 0.58 s in float64 on
one CPU thread.

Installing mace-torch
---------------------

The architecture needs ``mace-torch`` (``pip install atomtrain[mace]``).
"""

from __future__ import annotations

from typing import List, Literal, Optional

from annotated_types import Gt, Lt
from typing_extensions import Annotated, TypedDict

from atomtrain.training.hypers import (
    BaseTrainerHypers,
    Decay,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
)

InteractionName = Literal[
    "RealAgnosticInteractionBlock",
    "RealAgnosticResidualInteractionBlock",
    "RealAgnosticAttResidualInteractionBlock",
    "RealAgnosticDensityInteractionBlock",
    "RealAgnosticDensityResidualInteractionBlock",
    "RealAgnosticResidualNonLinearInteractionBlock",
]


class ModelHypers(TypedDict):
    """Hyperparameters of the MACE model, under ``mace_run_train``'s names and with
    its defaults."""

    r_max: PositiveFloat = 5.0
    """Cutoff radius of each atom's neighbourhood, in the dataset's length unit; the
    model sees ``num_interactions`` times this distance in total."""
    num_radial_basis: PositiveInt = 8
    """Number of Bessel functions expanding each neighbour's distance."""
    num_cutoff_basis: PositiveInt = 5
    """Power of the polynomial envelope that brings the radial functions smoothly to
    zero at ``r_max``."""
    radial_type: Literal["bessel", "gaussian", "chebyshev"] = "bessel"
    """Radial basis functions."""
    distance_transform: Literal["None", "Agnesi", "Soft"] = "None"
    """Transformation of the distances before the radial basis (``Agnesi`` and
    ``Soft`` depend on the elements' covalent radii)."""
    max_ell: NonNegativeInt = 3
    """Highest degree ``l`` of the spherical harmonics of the neighbour directions."""
    correlation: PositiveInt = 3
    """Correlation order of the symmetric products of each layer (the body order of
    the features is ``correlation + 1``)."""
    num_interactions: PositiveInt = 2
    """Number of message-passing layers."""
    hidden_irreps: str = "128x0e + 128x1o"
    """Irreducible representations of the features between layers (e3nn notation):
    the number of channels and their symmetry. ``mace_run_train``'s default
    (``--num_channels 128 --max_L 1``); a training step with ``32x0e + 32x1o``
    (94,000 parameters instead of 750,000 for ethanol) is about 2.5 times faster on
    a CPU."""
    MLP_irreps: str = "16x0e"
    """Hidden layer of the readout of the last layer."""
    radial_MLP: List[PositiveInt] = [64, 64, 64]
    """Widths of the hidden layers of the network mapping the radial basis to the
    weights of each message."""
    interaction_cls: InteractionName = "RealAgnosticResidualInteractionBlock"
    """Interaction block of every layer but the first."""
    interaction_cls_first: InteractionName = "RealAgnosticInteractionBlock"
    """Interaction block of the first layer (``mace_run_train --model MACE`` uses
    ``RealAgnosticInteractionBlock``)."""
    gate: Literal["silu", "tanh", "abs", "None"] = "silu"
    """Activation of the readout of the last layer."""
    avg_num_neighbors: Optional[PositiveFloat] = None
    """Divides the sum of the messages each atom receives; ``null``: the average
    number of neighbours within ``r_max`` of the training structures, computed at the
    start of training and kept with the model's weights."""
    use_reduced_cg: bool = False
    """Use the reduced generalised Clebsch-Gordan coefficients in the symmetric
    products."""
    pair_repulsion: bool = False
    """Add MACE's pairwise ZBL repulsion to the energies (the repulsion is computed
    in eV and Å and converted to the target's units)."""


class TrainerHypers(BaseTrainerHypers):
    """The shared trainer hyperparameters with ``mace_run_train``'s defaults."""

    num_epochs: PositiveInt = 2048
    """Number of passes over the training set (``--max_num_epochs``)."""
    batch_size: PositiveInt = 10
    """Number of structures per batch (``--batch_size``)."""
    learning_rate: PositiveFloat = 0.01
    """Learning rate (``--lr``)."""
    weight_decay: NonNegativeFloat = 5e-7
    """L2 penalty on the weights of the interactions' linear maps and of the
    products, as ``mace_run_train`` applies it (``--weight_decay``); the other
    weights are not decayed."""
    amsgrad: bool = True
    """Use the AMSGrad variant of Adam (``--amsgrad``)."""
    scheduler: Literal["warmup_cosine", "plateau", "constant"] = "plateau"
    """Learning-rate schedule: reduce-on-plateau of the validation loss, as
    ``mace_run_train``'s ``ReduceLROnPlateau``."""
    plateau_factor: Annotated[float, Gt(0), Lt(1)] = 0.8
    """Factor applied to the learning rate on a plateau (``--lr_factor``)."""
    plateau_patience: NonNegativeInt = 50
    """Epochs without improvement of the validation loss before reducing it
    (``--scheduler_patience``)."""
    grad_clip_norm: Optional[PositiveFloat] = 10.0
    """Clip the global norm of the gradients to this value (``--clip_grad``;
    ``null`` = off)."""
    scale_targets: bool = False
    """Divide each target's errors in the loss by the spread of its labels. Off, as
    in ``mace_run_train``, whose loss is in the labels' units: the gradient
    clipping at norm 10 is set for such a loss (a loss divided by the spread of
    per-atom energies, a few meV, is 10⁴ to 10⁵ times larger, and every step would
    be clipped)."""
    ema_decay: Optional[Decay] = 0.99
    """Decay of the exponential moving average of the weights used for validation
    and the final model (``--ema --ema_decay 0.99``; ``null`` = off)."""
