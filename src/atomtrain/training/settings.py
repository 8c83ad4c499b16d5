"""The trainer hypers as the engine reads them: a frozen, typed view of the declaration.

The keys, their types, bounds and defaults are declared once, on
:class:`~.hypers.BaseTrainerHypers` (and an architecture's ``TrainerHypers``, which
extends it); the options validation merges the user's values over those defaults.
The engine then reads the merged hypers through a :class:`TrainerSettings`, built once
when the trainer is made (:func:`frozen_view`): attributes that mypy sees with their
types, and values that cannot be changed under the run (mappings become read-only,
lists tuples). A settings class holds no defaults: every value comes from the
expanded hypers, whose defaults come from the declaration, so nothing is restated.

An architecture whose trainer reads keys of its own extends :class:`TrainerSettings`
with them (``class PETTrainerSettings(TrainerSettings): random_rotations: bool``) and
names it in the trainer's ``settings_class``; a test checks each settings class
against its declaration, key for key and type for type
(:func:`declaration_mismatches`).
"""

from __future__ import annotations

import collections.abc
import dataclasses
from typing import (
    Any,
    ClassVar,
    Dict,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from typing_extensions import Annotated, NotRequired

from .hypers import BaseTrainerHypers, LossType

SettingsType = TypeVar("SettingsType", bound="HypersView")


class ReadOnlyMapping(collections.abc.Mapping):
    """A mapping that cannot be changed, and that pickles and deep-copies (a
    trainer may be copied or sent to another process, which ``MappingProxyType``
    forbids)."""

    def __init__(self, data: Mapping[Any, Any]) -> None:
        self._data = dict(data)

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)


def frozen(value: Any) -> Any:
    """``value`` with every mapping made read-only and every list a tuple."""
    if isinstance(value, Mapping):
        return ReadOnlyMapping({k: frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    return value


def frozen_view(
    settings_class: Type[SettingsType], hypers: Mapping[str, Any]
) -> SettingsType:
    """The ``settings_class`` view of expanded ``hypers`` (merged over their
    declaration's defaults by the options validation, or read from a checkpoint).
    Keys the settings class does not read are left out; a key it reads that
    ``hypers`` lacks is a bug of the caller (hypers not expanded)."""
    names = [field.name for field in dataclasses.fields(settings_class)]
    missing = [name for name in names if name not in hypers]
    if missing:
        raise KeyError(
            f"trainer hypers without {', '.join(missing)}: expand them over the "
            f"declaration {settings_class.__declaration__.__name__} first"
        )
    return settings_class(**{name: frozen(hypers[name]) for name in names})


@dataclasses.dataclass(frozen=True)
class HypersView:
    """A frozen, typed view of hypers declared by a TypedDict (its
    ``__declaration__``), built by :func:`frozen_view`. Trainers outside the shared
    engine (LLPR, composition) read their own hypers through a subclass."""

    #: The declaration whose keys and types this class mirrors.
    __declaration__: ClassVar[type]

    @classmethod
    def from_hypers(cls: Type[SettingsType], hypers: Mapping[str, Any]) -> SettingsType:
        """:func:`frozen_view` of ``hypers``."""
        return frozen_view(cls, hypers)


@dataclasses.dataclass(frozen=True)
class TrainerSettings(HypersView):
    """The keys of :class:`~.hypers.BaseTrainerHypers` (documented there), typed."""

    __declaration__: ClassVar[type] = BaseTrainerHypers

    num_epochs: int
    batch_size: int
    max_atoms_per_batch: Optional[int]
    max_edges_per_batch: Optional[int]
    num_workers: Optional[int]
    optimizer: Literal["adam", "adamw"]
    learning_rate: float
    weight_decay: float
    scheduler: Literal["warmup_cosine", "plateau", "constant"]
    warmup_fraction: float
    min_lr_ratio: float
    plateau_factor: float
    plateau_patience: int
    grad_clip_norm: Optional[float]
    ema_decay: Optional[float]
    early_stopping_patience: Optional[int]
    best_model_metric: str
    log_interval: int
    checkpoint_interval: int
    #: a loss type, or per-target entries (read by :func:`.losses.resolve_loss`)
    loss: Union[LossType, Mapping[str, Any]]
    atomic_baseline: Mapping[str, Mapping[int, float]]
    scale_targets: bool
    per_structure_targets: Tuple[str, ...]
    #: the fine-tuning section (read by :mod:`atomtrain.finetune`), or None
    finetune: Optional[Mapping[str, Any]]


# ---- checking a settings class against its declaration --------------------------

#: How declared container types read in a settings class (frozen).
_FROZEN_ORIGINS: Dict[Any, Any] = {
    list: tuple,
    List: tuple,
    dict: Mapping,
    Dict: Mapping,
}


def _settled(hint: Any) -> Any:
    """``hint`` as a settings class states it: bounds (``Annotated``) and
    ``NotRequired`` dropped, containers frozen, TypedDicts as mappings."""
    origin = get_origin(hint)
    if origin in (Annotated, NotRequired):
        return _settled(get_args(hint)[0])
    if isinstance(hint, type) and issubclass(hint, dict):
        return Mapping
    if origin in (Union, Literal):
        args = get_args(hint)
        if origin is Literal:
            return hint
        return Union[tuple(_settled(a) for a in args)]
    if origin in _FROZEN_ORIGINS or origin in (tuple, Mapping):
        frozen_origin = _FROZEN_ORIGINS.get(origin, origin)
        args = tuple(_settled(a) for a in get_args(hint))
        if frozen_origin is tuple:
            return Tuple[args[0], ...]
        return Mapping[args]  # type: ignore[misc, valid-type]
    return hint


def _loose(hint: Any) -> Any:
    """``hint`` with the arguments of mappings forgotten (``Mapping[str, Any]`` in a
    settings class stands for a declared mapping of TypedDicts)."""
    origin = get_origin(hint)
    if origin is Union:
        return Union[tuple(_loose(a) for a in get_args(hint))]
    if origin is collections.abc.Mapping or hint is Mapping:
        return Mapping
    return hint


def declaration_mismatches(
    settings_class: Type[HypersView], declaration: Optional[type] = None
) -> List[str]:
    """How ``settings_class`` differs from ``declaration`` (default: its
    ``__declaration__``): keys missing on either side, and keys whose types differ
    (after :func:`_settled`); empty when they match key for key."""
    declaration = declaration or settings_class.__declaration__
    declared = get_type_hints(declaration, include_extras=True)
    stated = get_type_hints(settings_class)
    stated = {k: v for k, v in stated.items() if k != "__declaration__"}
    problems = [f"{key}: declared, not in the settings" for key in declared]
    problems = [p for p in problems if p.split(":")[0] not in stated]
    problems += [f"{key}: not declared" for key in stated if key not in declared]
    for key in declared.keys() & stated.keys():
        want, have = _loose(_settled(declared[key])), _loose(stated[key])
        if want != have:
            problems.append(f"{key}: declared {want}, settings {have}")
    return sorted(problems)
