"""The restart step of architectures with one head per target (PET, MACE): a trained
model learns the new targets of the restart's data with new heads, and refuses new
atomic types, which its trained embeddings have no room for."""

from __future__ import annotations

from typing import Callable, Iterator, List, Protocol, Type

import torch

from ..data.info import DatasetInfo, TargetInfo
from ..errors import UserError
from ..modules.composition import CompositionBaseline
from ..modules.scaling import OutputScaler


class ModelWithHeads(Protocol):
    """What :func:`add_new_targets` changes in a model."""

    dataset_info: DatasetInfo
    heads: torch.nn.ModuleDict
    output_scaler: OutputScaler
    composition_baseline: CompositionBaseline

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]: ...


def refuse_new_atomic_types(
    known: DatasetInfo,
    new: DatasetInfo,
    model_name: str,
    error: Type[UserError],
) -> None:
    """Raise ``error`` when ``new`` has atomic types that ``known`` (the trained
    model's, ``model_name`` such as ``"this PET model"``) lacks."""
    new_types: List[int] = known.new_atomic_types(new)
    if new_types:
        raise error(
            f"the data contains atomic types {new_types} that {model_name} was "
            f"not trained on (it knows {known.atomic_types}); train a "
            "new model that includes them in architecture.atomic_types"
        )


def add_new_targets(
    model: ModelWithHeads,
    dataset_info: DatasetInfo,
    add_head: Callable[[str, TargetInfo], None],
) -> None:
    """Give ``model`` a head (made by ``add_head``, moved to the device and dtype of
    the model's parameters), unit output scales and baseline entries for each target
    and variant of ``dataset_info`` it does not have yet."""
    merged = model.dataset_info.union(dataset_info)
    reference = next(model.parameters())
    for name in model.dataset_info.new_targets(dataset_info):
        add_head(name, merged.targets[name])
        model.heads[name].to(device=reference.device, dtype=reference.dtype)
        model.output_scaler.add_target(name, merged.targets[name])
    model.composition_baseline = model.composition_baseline.extended(
        merged.atomic_types, merged.targets
    )
    model.dataset_info = merged
