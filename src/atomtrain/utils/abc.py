"""The plugin contract: what every architecture's model and trainer implement.

An architecture is a package with ``__init__.py`` (``__model__``, ``__trainer__``,
``__authors__``, ``__maintainers__``), ``documentation.py`` (``ModelHypers``,
``TrainerHypers``), ``model.py`` and ``trainer.py``. The model subclasses
:class:`ModelInterface`, the trainer :class:`TrainerInterface`; both are generic in the
type of their hyperparameters.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Dict,
    Generic,
    List,
    Literal,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
)

import torch
from metatensor.torch import Labels, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelMetadata,
    ModelOutput,
    NeighborListOptions,
    System,
)

if TYPE_CHECKING:
    from ..errors import Problem
    from ..modules.composition import CompositionBaseline
    from ..modules.scaling import OutputScaler
    from .data import Dataset, DatasetInfo

HypersType = TypeVar("HypersType")

ModelCheckpointContext = Literal["restart", "finetune", "export"]
TrainerCheckpointContext = Literal["restart", "finetune"]

_MODEL_CLASS_ATTRIBUTES = (
    "__checkpoint_version__",
    "__supported_devices__",
    "__supported_dtypes__",
    "__default_metadata__",
)


def _check_class_attributes(cls: type, names: tuple[str, ...]) -> None:
    for name in names:
        if not hasattr(cls, name):
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__} must define the class attribute "
                f"'{name}' (see atomtrain.utils.abc for what it holds)"
            )


class _ModelMeta(ABCMeta):
    """Checks the members of the optional protocols a model declares, once, when the
    model has been built."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        model = super().__call__(*args, **kwargs)
        check_protocols(model)
        return model


class ModelInterface(torch.nn.Module, Generic[HypersType], metaclass=_ModelMeta):
    """A trainable, exportable model of atomistic systems.

    Subclasses define the class attributes

    - ``__checkpoint_version__: int`` — bumped whenever the checkpoint format changes;
    - ``__supported_devices__: List[str]`` — e.g. ``["cuda", "cpu"]``, preferred first;
    - ``__supported_dtypes__: List[torch.dtype]`` — preferred first;
    - ``__default_metadata__: ModelMetadata`` — with
      ``references={"implementation": [...], "architecture": [...]}``.

    A missing attribute raises a :class:`TypeError` naming the class and the attribute
    when the model is constructed.

    What the framework does beyond the contract is declared by subclassing the
    optional protocols below (:class:`RequestsNeighborLists`,
    :class:`WithCompositionBaseline`, :class:`WithOutputScaler`, :class:`WithHeads`,
    :class:`ReadsForeignModels`);
    their members are checked once, when the model is built, and the engine relies on
    nothing else. Two conventions are outputs and hypers rather than members:

    - last-layer features (the ``llpr`` architecture): an output
      ``mtt::aux::<target>_last_layer_features`` per target, the input of the target's
      last linear layer (per atom, summed per structure for per-structure targets);
    - a ``zbl: true`` model hyper adding the repulsion of
      :class:`atomtrain.modules.zbl.EnergyRepulsion` to the energies (see the dummy
      architecture).
    """

    __checkpoint_version__: int
    __supported_devices__: List[str]
    __supported_dtypes__: List[torch.dtype]
    __default_metadata__: ModelMetadata

    def __init__(
        self,
        hypers: HypersType,
        dataset_info: DatasetInfo,
        metadata: Optional[ModelMetadata] = None,
    ) -> None:
        _check_class_attributes(type(self), _MODEL_CLASS_ATTRIBUTES)
        super().__init__()
        self.hypers = hypers
        self.dataset_info = dataset_info
        self.metadata = metadata if metadata is not None else self.__default_metadata__

    @abstractmethod
    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        """Predict the requested ``outputs`` for ``systems``.

        ``outputs`` maps the names of the outputs to compute to their
        :class:`ModelOutput` (quantity, unit, ``sample_kind``). Each result has the
        layout of :meth:`atomtrain.data.info.TargetInfo.layout`: one sample per
        structure (``system``) or per atom (``system``, ``atom``). With
        ``selected_atoms`` (samples ``system``, ``atom``), per-atom outputs hold the
        selected atoms only, and per-structure outputs sum the contributions of the
        selected atoms only (the other atoms still act as neighbours): LAMMPS leaves
        its ghost atoms out this way.
        """

    @abstractmethod
    def supported_outputs(self) -> Dict[str, ModelOutput]:
        """The outputs this model can compute, with quantity, unit and sample kind."""

    @abstractmethod
    def restart(self, dataset_info: DatasetInfo) -> ModelInterface[HypersType]:
        """Adapt a model loaded from a checkpoint to a new ``dataset_info``.

        Adds heads for new targets and atomic types where the architecture can, and
        raises a clear error for what it cannot do.
        """

    @classmethod
    @abstractmethod
    def load_checkpoint(
        cls, checkpoint: Dict[str, Any], context: ModelCheckpointContext
    ) -> ModelInterface[HypersType]:
        """Create a model from a checkpoint (already upgraded to the current version).

        ``context`` is ``"restart"`` (continue training), ``"finetune"`` (start a new
        training from these weights) or ``"export"`` (the best weights, for export).
        """

    @abstractmethod
    def export(self, metadata: Optional[ModelMetadata] = None) -> AtomisticModel:
        """Wrap this model as a metatomic :class:`AtomisticModel` ready to save.

        ``metadata``, when given (``atomtrain export -m``, merged over the model's
        own), replaces :attr:`metadata`: pass ``metadata if metadata is not None else
        self.metadata`` to :class:`AtomisticModel`. The model is exported as it is,
        composition baseline included."""

    @classmethod
    @abstractmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        """Upgrade the model section of an older checkpoint to the current version."""

    @abstractmethod
    def get_checkpoint(self) -> Dict[str, Any]:
        """The model's section of a checkpoint: plain data only."""

    def remove_output(self, name: str) -> None:
        """Remove the head of output ``name`` (optional)."""
        raise NotImplementedError(
            f"{type(self).__qualname__} does not support removing outputs"
        )


class RequestsNeighborLists(metaclass=ABCMeta):
    """A model that needs neighbour lists: the data pipeline computes (and caches)
    each list it requests and attaches it to the systems of every batch."""

    @abstractmethod
    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """The neighbour lists ``forward`` reads from the systems."""


class WithCompositionBaseline:
    """A model holding a composition baseline (per-type constants of its invariant
    scalar targets) that it adds to its outputs.

    The engine fits ``composition_baseline`` on the training sets before training,
    trains the model on the labels less the baseline, and switches the baseline off
    while it does (:func:`atomtrain.training.baseline.without_baseline`); the model
    calls it unconditionally in ``forward``.
    """

    composition_baseline: CompositionBaseline


class WithOutputScaler:
    """A model whose network outputs are multiplied by per-target scales that the
    engine fits on the residual training labels before training (scales already
    fitted, after a restart or for a fine-tuned model, are kept)."""

    output_scaler: OutputScaler


class WithHeads(metaclass=ABCMeta):
    """A model with one head per target (the rest is the backbone): fine-tuning
    ``method: heads`` trains only these, ``inherit_heads`` copies them."""

    @abstractmethod
    def head_modules(self) -> Dict[str, torch.nn.Module]:
        """Target name → the module that turns the shared representation into
        that target."""


class ReadsForeignModels(metaclass=ABCMeta):
    """A model whose fine-tuning can start from another code's model file
    (``training.finetune.read_from``), such as MACE's ``.model``.

    Such files are often pickles of whole Python objects, and reading one runs the
    code it holds: the fine-tuning set-up calls :meth:`checkpoint_from_foreign_model`
    only when the user set ``training.finetune.trust_pickled_code``, and only once —
    the converted checkpoint is plain data, and so is every checkpoint of the run.
    """

    foreign_model_suffixes: ClassVar[Tuple[str, ...]]
    """File name suffixes of the files the class reads (e.g. ``(".model",)``)."""
    foreign_model_description: ClassVar[str]
    """What such a file is, for messages (e.g. ``"a MACE model file"``)."""

    @classmethod
    @abstractmethod
    def checkpoint_from_foreign_model(cls, path: Path) -> Dict[str, Any]:
        """The checkpoint of the model in ``path``: plain data that
        ``load_checkpoint`` reads, as ``get_checkpoint`` writes it."""


#: The module attribute each data-member protocol requires.
_PROTOCOL_MEMBERS: Dict[type, str] = {
    WithCompositionBaseline: "composition_baseline",
    WithOutputScaler: "output_scaler",
}


#: Method-member protocols: a model defining the method must declare the protocol,
#: or the engine would not use it.
_PROTOCOL_METHODS: Dict[type, str] = {
    RequestsNeighborLists: "requested_neighbor_lists",
    WithHeads: "head_modules",
    ReadsForeignModels: "checkpoint_from_foreign_model",
}


def check_protocols(model: torch.nn.Module) -> None:
    """Raise a :class:`TypeError` naming the class, the protocol and the member when
    ``model`` declares a protocol without holding the module it requires, or defines
    a protocol's method without declaring the protocol."""
    for protocol, method in _PROTOCOL_METHODS.items():
        if not isinstance(model, protocol) and callable(getattr(model, method, None)):
            raise TypeError(
                f"{type(model).__module__}.{type(model).__qualname__} defines "
                f"{method}() but does not declare atomtrain.utils.abc."
                f"{protocol.__name__}: add it to the class's bases"
            )
    for protocol, member in _PROTOCOL_MEMBERS.items():
        if isinstance(model, protocol) and not isinstance(
            getattr(model, member, None), torch.nn.Module
        ):
            raise TypeError(
                f"{type(model).__module__}.{type(model).__qualname__} declares "
                f"{protocol.__name__} but sets no module '{member}' in __init__ "
                f"(see atomtrain.utils.abc.{protocol.__name__})"
            )


class TrainerInterface(Generic[HypersType], metaclass=ABCMeta):
    """Trains a :class:`ModelInterface`.

    Subclasses define ``__checkpoint_version__: int``. Trainers built on
    :mod:`atomtrain.training` reuse the shared engine and override a few hooks.
    """

    __checkpoint_version__: int

    def __init__(self, hypers: HypersType) -> None:
        _check_class_attributes(type(self), ("__checkpoint_version__",))
        self.hypers = hypers

    @abstractmethod
    def train(
        self,
        model: ModelInterface[Any],
        dtype: torch.dtype,
        devices: List[torch.device],
        train_datasets: List[Dataset],
        val_datasets: List[Dataset],
        checkpoint_dir: str | Path,
    ) -> None:
        """Train ``model`` in place."""

    @abstractmethod
    def save_checkpoint(self, model: ModelInterface[Any], path: str | Path) -> None:
        """Write a checkpoint of ``model`` and of the training state to ``path``."""

    @classmethod
    @abstractmethod
    def upgrade_checkpoint(cls, checkpoint: Dict[str, Any]) -> Dict[str, Any]:
        """Upgrade the trainer section of an older checkpoint to the current version."""

    @classmethod
    @abstractmethod
    def load_checkpoint(
        cls,
        checkpoint: Dict[str, Any],
        hypers: HypersType,
        context: TrainerCheckpointContext,
    ) -> TrainerInterface[HypersType]:
        """Create a trainer from a checkpoint, to restart or fine-tune."""

    def option_problems(self) -> List[Problem]:
        """The problems of the hypers that their declaration cannot express (a
        key required only by this trainer, a file that must exist), with dotted
        keys; ``atomtrain train`` refuses them before the run directory exists
        (default: none)."""
        return []

    def dataset_problems(
        self, training: Sequence[Dataset], validation: Sequence[Dataset]
    ) -> List[Problem]:
        """The problems of the datasets that this trainer cannot train on (an empty
        validation set for a trainer that calibrates on it), with dotted keys;
        ``atomtrain train`` refuses them before the run directory exists (default:
        none)."""
        return []
