"""The options-file grammar, declared once: every key, its type, default and docstring.

This module is the one source of the grammar. The validation (:mod:`.base`,
:mod:`.datasets`, :mod:`.target_sections`, :mod:`.architecture`) takes the keys it
accepts and its static defaults from these classes; :mod:`atomtrain.schema` generates
the JSON schema and the options-file reference page from them, with the machinery that
documents an architecture's hypers (types, defaults as class values, a docstring under
each key). The classes describe what a user may write (shorthands included); what
validation returns, expanded, is :mod:`.run_options`.

The TypedDicts are the source, rather than the frozen objects of :mod:`.run_options`,
because the written grammar is wider than the expanded form: a section may be a file
name, a gradient ``on`` or a key, ``per_atom`` is metatrain's spelling of
``sample_kind``; the JSON schema must describe those, the expanded objects need not.
"""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Optional, Union

from typing_extensions import Annotated, NotRequired, Required, TypedDict

from ..architectures.typeinfo import JsonSchema
from ..data.targets import DEFAULT_SAMPLE_KIND, DEFAULT_TARGET_TYPE

#: Seeds are passed to numpy, which takes them below 2**32.
SEED_LIMIT = 2**32


def _any_case(word: str) -> str:
    """A regular expression matching ``word`` in any case (JSON schema has no flags)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)


_ONE_DEVICE = f"({_any_case('cpu')}|{_any_case('mps')}|{_any_case('cuda')}(:[0-9]+)?)"
_ALIASES = "|".join(_any_case(alias) for alias in ("auto", "gpu", "multi-gpu"))

Reader = Literal["ase", "metatensor", "disk"]
OneDevice = Annotated[str, JsonSchema(pattern=f"^{_ONE_DEVICE}$")]
Device = Union[
    Annotated[str, JsonSchema(pattern=f"^({_ALIASES}|{_ONE_DEVICE})$")],
    Annotated[List[OneDevice], JsonSchema(minItems=1, uniqueItems=True)],
]
Precision = Literal[16, 32, 64, "16", "32", "64"]
Fraction = Annotated[float, JsonSchema(minimum=0, exclusiveMaximum=1)]
NonNegative = Annotated[int, JsonSchema(minimum=0)]


class SystemsSection(TypedDict):
    """Where the structures of a dataset are read from."""

    read_from: str
    """File holding the structures (any format ASE reads), or an on-disk dataset (a
    directory written by ``atomtrain convert``, which also gives the targets),
    relative to the options file."""
    reader: NotRequired[Literal["ase", "disk"]]
    """Library reading the file: ASE for files, ``disk`` for on-disk datasets (the
    default for a directory)."""
    length_unit: str = "angstrom"
    """Unit of the positions and cell in the file (ASE gives ångström; an on-disk
    dataset gives its own)."""


class GradientSection(TypedDict):
    """Where a gradient of an energy (forces, stress or virial) is read from."""

    read_from: NotRequired[str]
    """File holding the gradient (default: the energy's file)."""
    reader: NotRequired[Reader]
    """``ase`` or ``metatensor`` (default: from the file's extension)."""
    key: NotRequired[str]
    """Key of the gradient in the file (default: ``forces``, ``stress`` or
    ``virial``)."""
    required: NotRequired[bool]
    """Whether every structure must have it: true when the options name the gradient,
    false for the forces and stress an energy reads when the file has them."""


Gradient = Union[bool, str, GradientSection, None]


class CartesianShape(TypedDict):
    rank: Annotated[int, JsonSchema(minimum=1)]
    """1 for a vector, 2 for a rank-2 tensor such as a polarizability."""


class CartesianType(TypedDict):
    """A Cartesian tensor target."""

    cartesian: CartesianShape
    """The tensor's rank."""


class Irrep(TypedDict):
    """One irreducible representation of O(3)."""

    o3_lambda: NonNegative
    """Angular order λ ≥ 0."""
    o3_sigma: Literal[1, -1]
    """Parity: 1 for proper, -1 for improper tensors."""


class SphericalShape(TypedDict):
    irreps: Annotated[List[Irrep], JsonSchema(minItems=1)]
    """The irreps the target is made of, each listed once."""


class SphericalType(TypedDict):
    """A spherical tensor target, as a sum of irreps."""

    spherical: SphericalShape
    """The target's irreps."""


TargetType = Union[Literal["scalar"], CartesianType, SphericalType]


class ExtraDataSection(TypedDict):
    """One entry of ``extra_data``: data read with the structures but not trained
    on (for example a mask used by a ``masked_*`` loss). Targets have the same keys,
    plus their gradients."""

    quantity: NotRequired[str]
    """Physical quantity, e.g. ``energy`` (default: ``energy`` for the target
    ``energy`` and its variants ``energy/<name>``, empty otherwise)."""
    read_from: NotRequired[str]
    """File holding the values (default: the file of the systems)."""
    reader: NotRequired[Reader]
    """``ase`` or ``metatensor`` (default: ``metatensor`` for ``.mts`` files, ``ase``
    otherwise)."""
    key: NotRequired[str]
    """Key of the values in the file (default: the name without its ``mtt::``
    prefix)."""
    unit: str = ""
    """Unit of the values, in metatomic's unit grammar (``eV``, ``kcal/mol``);
    empty for none."""
    sample_kind: Literal["system", "atom"] = DEFAULT_SAMPLE_KIND
    """One value per structure (``system``) or per atom (``atom``)."""
    per_atom: NotRequired[bool]
    """metatrain's spelling of ``sample_kind``: true for ``atom``."""
    type: TargetType = DEFAULT_TARGET_TYPE
    """``scalar``, ``{cartesian: {rank: N}}`` or ``{spherical: {irreps: [...]}}``."""
    num_subtargets: Annotated[int, JsonSchema(minimum=1)] = 1
    """Number of values per sample, e.g. one per head of a multi-output target."""
    description: str = ""
    """Free text describing the target, kept in the exported model."""


class TargetSection(ExtraDataSection):
    """One target to train on. Gradients exist only on energies (quantity
    ``energy``, scalar, per structure)."""

    forces: NotRequired[Gradient]
    """``on``/``off``, a key, a file or a mapping (default: read when the file has
    them)."""
    stress: NotRequired[Gradient]
    """Stress (1/V) ∂E/∂ε, same forms as ``forces`` (default: read when the file has
    it); give stress or virial, not both."""
    virial: NotRequired[Gradient]
    """Virial, minus ∂E/∂ε, same forms as ``forces`` (default: off)."""


class DatasetSection(TypedDict):
    """One dataset: structures, the targets read with them, optional extra data and
    a selection of structures."""

    systems: Union[str, SystemsSection]
    """A file name, or where and how the structures are read."""
    targets: Dict[str, Union[str, TargetSection, None]]
    """Targets by name (``energy``, ``energy/<variant>``, ``mtt::<name>``); a file name
    or null takes every default."""
    extra_data: Dict[str, Union[str, ExtraDataSection, None]] = {}
    """Extra data by name, read like targets but not trained on."""
    indices: Union[List[NonNegative], str, None] = None
    """The structures of the file to use, as a list of indices or a file with one index
    per line (default: all of them)."""


Dataset = Union[
    str, DatasetSection, Annotated[List[DatasetSection], JsonSchema(minItems=1)]
]
Split = Union[Fraction, Dataset]


class Loggers(TypedDict):
    """Where training curves are sent besides the log and CSV files."""

    tensorboard: bool = False
    """Write TensorBoard event files in the run directory."""
    wandb: Optional[Dict[str, Any]] = None
    """Settings passed to ``wandb.init`` (null: no Weights & Biases run); the expanded
    options become the W&B run's config, and its files go into the run directory
    unless ``dir`` is given."""


class ArchitectureSection(TypedDict):
    """The architecture to train and its hyperparameters."""

    name: str
    """Name of the architecture, as ``atomtrain doc`` lists them: ``composition``,
    ``experimental.<name>``, or the name an installed package registers."""
    atomic_types: NotRequired[List[int]]
    """Atomic numbers the model handles (default: those of the training data); list
    more to fine-tune on other elements later."""
    model: Optional[Dict[str, Any]] = {}
    """Model hyperparameters, merged over the architecture's defaults (see its
    page)."""
    training: Optional[Dict[str, Any]] = {}
    """Trainer hyperparameters, merged over the architecture's defaults (see its page
    and the shared trainer hyperparameters)."""


class OptionsFile(TypedDict):
    """The top level of an options file."""

    architecture: Required[ArchitectureSection]
    """The architecture to train and its hyperparameters."""
    device: Device = "auto"
    """``auto`` (the architecture's preferred device this machine has), ``cpu``,
    ``cuda``, ``cuda:N``, ``mps``, ``gpu`` (CUDA, else MPS), ``multi-gpu`` (every CUDA
    device), or a list of devices such as ``[cuda:0, cuda:1]``."""
    base_precision: NotRequired[Precision]
    """Floating-point bits of the model: 16, 32 or 64 (default: the architecture's
    preferred precision)."""
    seed: NotRequired[
        Optional[Annotated[int, JsonSchema(minimum=0, maximum=SEED_LIMIT - 1)]]
    ]
    """Seed of every random number generator (default: a random seed, written into the
    expanded options so that the run can be repeated)."""
    training_set: Dataset
    """The data to train on: a file name, a dataset section, or a list of them."""
    # metatrain requires it; a held-out tenth is the sensible default for selection
    validation_set: Split = 0.1
    """A fraction of the training set held out for validation, in [0, 1), or datasets
    as for ``training_set``."""
    test_set: Split = 0.0
    """A fraction of the training set held out for testing, or datasets."""
    loggers: Optional[Loggers] = {"tensorboard": False, "wandb": None}
    """Extra loggers of the training curves."""
    wandb: NotRequired[Optional[Dict[str, Any]]]
    """metatrain's spelling of ``loggers.wandb``; give one of the two."""
    print_stats: Union[bool, Literal["auto"]] = "auto"
    """Print statistics of the datasets before training; ``auto``: when they hold
    fewer than a million structures."""
    final_eval: bool = True
    """Evaluate the final model on every dataset after training."""
