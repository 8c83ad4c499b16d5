"""The validated options as frozen, typed objects.

:func:`read_run_options` validates an options file (:func:`.base.validate_options`,
every problem at once, nothing written) and returns a :class:`RunOptions`: every
default filled in, every value of its declared type, nothing to look up with
``.get(key, default)`` downstream. The keys, types and defaults of what a user may
write are declared once, in :mod:`.grammar`; these classes hold the expanded form,
whose fields are the grammar's keys (a test checks it).

Plain data is needed at three boundaries, and :meth:`RunOptions.as_plain` is the one
conversion to it: the expanded ``options_restart.yaml``; the readers of
:mod:`atomtrain.data`, which take dataset sections as mappings (as they do the sections
built from the header of an on-disk dataset); and the architecture's hypers, which the
plugin contract hands to ``Model(hypers, dataset_info)`` and ``Trainer(hypers)`` as
dicts (:meth:`ArchitectureOptions.hypers`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from ..data.targets import GRADIENT_OF
from .base import validate_options

Plain = Dict[str, Any]


def _frozen(value: Any) -> Any:
    """JSON-like ``value`` made read-only: mappings as mapping proxies, lists as
    tuples."""
    if isinstance(value, dict):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    return value


def _plain(value: Any) -> Any:
    """The inverse of :func:`_frozen`: fresh dicts and lists."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return copy.deepcopy(value)


@dataclass(frozen=True)
class GradientOptions:
    """Where a gradient (forces, stress, virial) of an energy is read from."""

    read_from: Optional[str]
    reader: Optional[str]
    key: str
    required: bool


@dataclass(frozen=True)
class DataOptions:
    """An entry of ``extra_data``, and the fields every target shares."""

    quantity: str
    read_from: Optional[str]
    reader: Optional[str]
    key: str
    unit: str
    sample_kind: str
    #: ``"scalar"`` or the read-only mapping ``{cartesian: {rank}}`` /
    #: ``{spherical: {irreps}}``.
    type: Any
    num_subtargets: int
    description: str

    @classmethod
    def fields_of(cls, section: Plain) -> Plain:
        return {name: _frozen(section[name]) for name in DATA_FIELDS}


DATA_FIELDS = tuple(DataOptions.__dataclass_fields__)


@dataclass(frozen=True)
class TargetOptions(DataOptions):
    """A target; its gradients are None when off (and for every non-energy)."""

    forces: Optional[GradientOptions] = None
    stress: Optional[GradientOptions] = None
    virial: Optional[GradientOptions] = None


GRADIENT_FIELDS = tuple(GRADIENT_OF)


def _gradient(section: Any) -> Optional[GradientOptions]:
    """An expanded gradient section: a mapping, or False when off."""
    return None if not section else GradientOptions(**section)


@dataclass(frozen=True)
class SystemsOptions:
    """Where the structures of a dataset are read from."""

    read_from: Optional[str]
    reader: Optional[str]
    length_unit: str


@dataclass(frozen=True)
class DatasetOptions:
    """One expanded dataset section."""

    systems: SystemsOptions
    targets: Mapping[str, TargetOptions]
    extra_data: Mapping[str, DataOptions]
    indices: Optional[Tuple[int, ...]]

    @classmethod
    def from_plain(cls, section: Plain) -> DatasetOptions:
        targets = {
            name: TargetOptions(
                **DataOptions.fields_of(target),
                forces=_gradient(target["forces"]),
                stress=_gradient(target["stress"]),
                virial=_gradient(target["virial"]),
            )
            for name, target in section["targets"].items()
        }
        extra = {
            name: DataOptions(**DataOptions.fields_of(entry))
            for name, entry in section["extra_data"].items()
        }
        indices = section["indices"]
        return cls(
            SystemsOptions(**section["systems"]),
            MappingProxyType(targets),
            MappingProxyType(extra),
            None if indices is None else tuple(indices),
        )

    def as_plain(self) -> Plain:
        targets = {}
        for name, target in self.targets.items():
            plain = {f: _plain(getattr(target, f)) for f in DATA_FIELDS}
            for gradient in GRADIENT_FIELDS:
                value = getattr(target, gradient)
                plain[gradient] = False if value is None else dict(vars(value))
            targets[name] = plain
        return {
            "systems": dict(vars(self.systems)),
            "targets": targets,
            "extra_data": {
                name: {f: _plain(getattr(entry, f)) for f in DATA_FIELDS}
                for name, entry in self.extra_data.items()
            },
            "indices": None if self.indices is None else list(self.indices),
        }


Datasets = Tuple[DatasetOptions, ...]
#: A validation or test set: a fraction of the training set, or its own datasets.
Split = Union[float, Datasets]


def _datasets(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(DatasetOptions.from_plain(section) for section in value)
    return value


def _plain_datasets(value: Any) -> Any:
    if isinstance(value, tuple):
        return [section.as_plain() for section in value]
    return value


@dataclass(frozen=True)
class LoggerOptions:
    tensorboard: bool
    #: ``wandb.init`` settings, or None for no Weights & Biases run.
    wandb: Optional[Mapping[str, Any]]


@dataclass(frozen=True)
class ArchitectureOptions:
    """The architecture and its hypers, merged over its ``documentation.py``."""

    name: str
    #: As given in the options (None: the types of the training data).
    atomic_types: Optional[Tuple[int, ...]]
    model: Mapping[str, Any]
    training: Mapping[str, Any]

    def hypers(self) -> Plain:
        """``{"model": ..., "training": ...}`` as fresh dicts: the plugin contract
        hands hypers to models and trainers as dicts."""
        return {"model": _plain(self.model), "training": _plain(self.training)}


@dataclass(frozen=True)
class RunOptions:
    """A validated, fully expanded options file."""

    architecture: ArchitectureOptions
    device: Union[str, Tuple[str, ...]]
    base_precision: int
    seed: int
    training_set: Datasets
    validation_set: Split
    test_set: Split
    loggers: LoggerOptions
    print_stats: Union[bool, str]
    final_eval: bool

    @classmethod
    def from_plain(cls, options: Plain) -> RunOptions:
        """The typed form of :func:`.base.validate_options`' result."""
        section = options["architecture"]
        types = section.get("atomic_types")  # absent: from the training data
        architecture = ArchitectureOptions(
            section["name"],
            None if types is None else tuple(types),
            _frozen(section["model"]),
            _frozen(section["training"]),
        )
        loggers = options["loggers"]
        return cls(
            architecture=architecture,
            device=_frozen(options["device"]),
            base_precision=options["base_precision"],
            seed=options["seed"],
            training_set=_datasets(options["training_set"]),
            validation_set=_datasets(options["validation_set"]),
            test_set=_datasets(options["test_set"]),
            loggers=LoggerOptions(loggers["tensorboard"], _frozen(loggers["wandb"])),
            print_stats=options["print_stats"],
            final_eval=options["final_eval"],
        )

    def as_plain(self) -> Plain:
        """The expanded options as plain data, as :func:`.base.validate_options`
        returns them (``options_restart.yaml``, the readers)."""
        architecture: Plain = {"name": self.architecture.name}
        if self.architecture.atomic_types is not None:
            architecture["atomic_types"] = list(self.architecture.atomic_types)
        architecture.update(self.architecture.hypers())
        return {
            "architecture": architecture,
            "device": _plain(self.device),
            "base_precision": self.base_precision,
            "seed": self.seed,
            "training_set": _plain_datasets(self.training_set),
            "validation_set": _plain_datasets(self.validation_set),
            "test_set": _plain_datasets(self.test_set),
            "loggers": {
                "tensorboard": self.loggers.tensorboard,
                "wandb": _plain(self.loggers.wandb),
            },
            "print_stats": self.print_stats,
            "final_eval": self.final_eval,
        }


def read_run_options(raw: Any, file: Optional[str], base_dir: Path) -> RunOptions:
    """Validate ``raw`` (read from ``file``; relative paths from ``base_dir``) into a
    :class:`RunOptions`; every problem is raised at once as an ``OptionsError``."""
    return RunOptions.from_plain(validate_options(raw, file, base_dir))
