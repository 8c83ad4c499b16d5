"""The trainer hyperparameters shared by every architecture built on the engine.

An architecture's ``documentation.py`` declares
``class TrainerHypers(BaseTrainerHypers)`` and adds its own keys; defaults are the
class-level values, the string under each key is its documentation. TypedDict
subclasses do not inherit class attributes, so the defaults of the shared keys are also
available from :func:`base_trainer_defaults`. The nested sections declare their
defaults the same way (:class:`TargetLossHypers`, :class:`GradientLossHypers`,
:class:`FinetuneHypers`, :class:`LoraHypers`; :func:`declared_defaults` reads them).
The engine reads the expanded hypers through the typed view of
:mod:`atomtrain.training.settings`, never this dict with defaults of its own.

Bounds are declared on the types (:data:`PositiveInt` and friends: ``annotated_types``
constraints that pydantic checks and the JSON schema shows), so that zero epochs or a
negative learning rate is refused with its dotted key when the options are validated,
instead of training silently into a useless model. Architectures use the same types for
their own hypers.
"""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Literal, Optional, Union

from annotated_types import Ge, Gt, Le, Lt
from typing_extensions import Annotated, NotRequired, TypedDict

from ..errors import Problem, did_you_mean

#: A count of at least one: epochs, structures per batch, layers, widths, intervals.
PositiveInt = Annotated[int, Ge(1)]
#: A count that may be zero (a patience that acts at the first bad epoch).
NonNegativeInt = Annotated[int, Ge(0)]
#: A strictly positive number: a learning rate, a radius, a clipping norm.
PositiveFloat = Annotated[float, Gt(0)]
#: A number ≥ 0: a weight decay.
NonNegativeFloat = Annotated[float, Ge(0)]
#: A fraction in [0, 1].
UnitInterval = Annotated[float, Ge(0), Le(1)]
#: A decay in [0, 1): 1 would freeze what it averages.
Decay = Annotated[float, Ge(0), Lt(1)]

LossType = Literal["mse", "mae", "huber", "masked_mse", "masked_mae", "masked_huber"]

#: Shared trainer keys that choose how a run is carried out, not what it computes:
#: left out of checkpoints and of the fingerprint a restart compares.
RUN_SETTINGS = ("num_workers",)

#: ``best_model_metric`` values that multiply every RMSE or every MAE of the run
#: (metatrain's ``rmse_prod`` and ``mae_prod``), the suffix of the metrics multiplied
PRODUCT_METRICS: Dict[str, str] = {"rmse_prod": ".rmse", "mae_prod": ".mae"}


def best_metric_problem(metric: str, available: List[str]) -> Optional[Problem]:
    """The problem of a ``best_model_metric`` not among the ``available`` ones."""
    if metric in available:
        return None
    return Problem(
        "architecture.training.best_model_metric",
        f"not a metric of this run{did_you_mean(metric, available)}; choose from "
        + ", ".join(available),
        metric,
    )


class GradientLossHypers(TypedDict):
    """The loss on one gradient of a target (forces, stress or virial)."""

    type: NotRequired[LossType]
    """Pointwise loss: ``mse``, ``mae`` or ``huber`` (default: the target's type,
    unmasked)."""
    weight: NotRequired[float] = 1.0
    """Weight of this term in the total loss."""
    reduction: NotRequired[Literal["mean", "sum"]]
    """How the pointwise losses of a batch are reduced (default: the target's)."""
    delta: NotRequired[float] = 1.0
    """Threshold between quadratic and linear regimes of the ``huber`` loss."""


class TargetLossHypers(TypedDict):
    """The loss on one target, and on its gradients."""

    type: NotRequired[LossType] = "mse"
    """Pointwise loss; ``masked_*`` variants read a boolean mask ``<target>_mask``
    from ``extra_data``."""
    weight: NotRequired[float] = 1.0
    """Weight of this target in the total loss."""
    reduction: NotRequired[Literal["mean", "sum"]] = "mean"
    """``mean`` or ``sum`` over the elements of a batch."""
    delta: NotRequired[float] = 1.0
    """Threshold of the ``huber`` loss, in the target's units."""
    forces: NotRequired[GradientLossHypers]
    """The loss on the forces (the positions gradient)."""
    stress: NotRequired[GradientLossHypers]
    """The loss on the stress (the strain gradient)."""
    virial: NotRequired[GradientLossHypers]
    """The loss on the virial (the strain gradient); give ``stress`` or ``virial``."""
    gradients: NotRequired[Dict[str, GradientLossHypers]]
    """metatrain's form of the same: ``positions`` (the forces) and ``strain`` (the
    stress or virial); an entry for a gradient the target has no labels for has no
    effect."""


class LoraHypers(TypedDict):
    """The ``config`` of ``method: lora``: low-rank adapters
    ``W x + (alpha / rank) B A x`` on linear layers."""

    rank: NotRequired[PositiveInt] = 4
    """Rank of the adapters."""
    alpha: NotRequired[PositiveFloat] = 8.0
    """Scale of the adapters' output, divided by ``rank``."""
    target_modules: NotRequired[List[str]] = []
    """Names of the ``torch.nn.Linear`` layers to adapt, matched on the full dotted
    name or its last parts (empty: every linear layer outside the heads)."""


class FinetuneHypers(TypedDict):
    """Fine-tuning a pretrained model (see :mod:`atomtrain.finetune`)."""

    read_from: str
    """Path of the checkpoint whose model weights training starts from."""
    method: NotRequired[Literal["full", "heads", "lora"]] = "full"
    """``full``: train every weight; ``heads``: train the heads of the targets in
    the new data, backbone frozen; ``lora``: train low-rank adapters on linear layers
    (merged into the weights at the end) and those heads."""
    config: NotRequired[Dict[str, Any]]
    """Options of the method: for ``lora``, those of :class:`LoraHypers`; the
    other methods take none."""
    inherit_heads: NotRequired[Dict[str, str]]
    """``{new_target: old_target}``: initialise the head of a new target with the
    weights of a pretrained one (e.g. ``{energy/pbe: energy}``)."""
    trust_pickled_code: NotRequired[bool] = False
    """Allow ``read_from`` to be a model file of another code that is a Python
    pickle (MACE's ``.model``, for the ``mace`` architecture): reading one runs any
    code it holds, so set this only for files whose origin you trust. The file is
    read once and converted to plain data (atomtrain's own checkpoints never run
    code)."""


class BaseTrainerHypers(TypedDict):
    """Trainer hyperparameters common to all architectures using the shared engine."""

    num_epochs: PositiveInt = 100
    """Number of passes over the training set."""
    batch_size: PositiveInt = 16
    """Number of structures per batch."""
    max_atoms_per_batch: Optional[PositiveInt] = None
    """Cap on the number of atoms in a batch (``null`` = no cap)."""
    max_edges_per_batch: Optional[PositiveInt] = None
    """Cap on the number of neighbour pairs in a batch (``null`` = no cap)."""
    num_workers: Optional[NonNegativeInt] = 0
    """Worker processes building batches (reading, augmenting, neighbour lists) ahead
    of the training process; 0 (or ``null``) builds each batch in the training
    process between steps. Worth it when building takes a noticeable share of a step
    and cores are free (see :mod:`atomtrain.training.batches`); the results do not
    depend on it."""
    optimizer: Literal["adam", "adamw"] = "adam"
    """``adam`` (L2 penalty in the gradient) or ``adamw`` (decoupled weight decay)."""
    learning_rate: PositiveFloat = 1e-3
    """Peak learning rate."""
    weight_decay: NonNegativeFloat = 0.0
    """Weight decay of the optimiser."""
    scheduler: Literal["warmup_cosine", "plateau", "constant"] = "warmup_cosine"
    """Learning-rate schedule: linear warm-up then cosine decay, reduce-on-plateau of
    the validation loss, or constant."""
    warmup_fraction: UnitInterval = 0.05
    """Fraction of all steps spent warming up linearly (``warmup_cosine``)."""
    min_lr_ratio: UnitInterval = 0.01
    """Final learning rate of the cosine decay, as a fraction of ``learning_rate``."""
    plateau_factor: Annotated[float, Gt(0), Lt(1)] = 0.5
    """Factor applied to the learning rate on a plateau (``plateau``)."""
    plateau_patience: NonNegativeInt = 10
    """Epochs without improvement of the validation loss before reducing it."""
    grad_clip_norm: Optional[PositiveFloat] = None
    """Clip the global norm of the gradients to this value (``null`` = off)."""
    ema_decay: Optional[Decay] = None
    """Decay of an exponential moving average of the weights, used for validation and
    the final model (``null`` = off; typical 0.99 to 0.999). It warms up over the
    first steps: step ``n`` decays by ``min(ema_decay, (1 + n) / (10 + n))``."""
    early_stopping_patience: Optional[PositiveInt] = None
    """Stop after this many epochs without improvement of ``best_model_metric``
    (``null`` = off)."""
    best_model_metric: str = "loss"
    """Validation metric that selects the best model: ``loss`` (total validation
    loss), ``<target>.<rmse|mae>``, ``<target>.<forces|stress|virial>.<rmse|mae>``
    (e.g. ``energy.forces.rmse``), or ``rmse_prod``/``mae_prod`` (the product of all
    RMSEs or all MAEs)."""
    log_interval: PositiveInt = 1
    """Write a log line every this many epochs."""
    checkpoint_interval: PositiveInt = 25
    """Write ``model_<epoch>.ckpt`` every this many epochs."""
    loss: Union[LossType, Dict[str, TargetLossHypers]] = "mse"
    """A loss type for every target, or per-target settings (see the loss section)."""
    atomic_baseline: Dict[str, Dict[int, float]] = {}
    """Fixed per-element values of the composition baseline, per target
    (e.g. ``{energy: {1: -13.6}}``); the other elements are fitted."""
    scale_targets: bool = True
    """Divide each target's errors in the loss by the standard deviation of its
    labels (after removing the composition baseline)."""
    per_structure_targets: List[str] = []
    """Per-structure targets whose loss is not normalised by the number of atoms."""
    finetune: Optional[FinetuneHypers] = None
    """Fine-tune a pretrained model: start from the weights of the checkpoint
    ``read_from`` (new targets and types added by the architecture where it can) with
    a fresh training state (``null`` = train a new model)."""


def declared_defaults(declaration: type) -> Dict[str, Any]:
    """The defaults declared on the keys of the TypedDict ``declaration`` (its
    class-level values, deep-copied); keys without one are left out."""
    return {
        name: copy.deepcopy(declaration.__dict__[name])
        for name in declaration.__annotations__
        if name in declaration.__dict__
    }


def base_trainer_defaults() -> Dict[str, Any]:
    """The default values of :class:`BaseTrainerHypers`, deep-copied."""
    return declared_defaults(BaseTrainerHypers)
