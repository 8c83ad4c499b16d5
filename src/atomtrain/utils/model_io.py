"""Checkpoint and export steps that most architectures share.

An architecture whose model is fully described by its hypers, its
:class:`~atomtrain.data.info.DatasetInfo` and its ``state_dict`` can implement
``get_checkpoint``, ``load_checkpoint`` and ``export`` of the contract with one call
each to the functions here.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Type, TypeVar

import torch
from metatomic.torch import AtomisticModel, ModelCapabilities, ModelMetadata

from ..checkpoints import (
    check_weights,
    model_weights,
    new_checkpoint,
    stored_model_weights,
)
from ..data.info import DatasetInfo
from .abc import ModelCheckpointContext, ModelInterface
from .dtype import dtype_to_str

ModelType = TypeVar("ModelType", bound=ModelInterface[Any])


def parameter_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype of the model's parameters (buffers such as the float64 composition
    baseline do not count)."""
    return next(model.parameters()).dtype


def checkpoint_of(model: ModelInterface[Any], architecture_name: str) -> Dict[str, Any]:
    """The model's section of a checkpoint: hypers, dataset info and weights, plain
    data on the CPU."""
    checkpoint = new_checkpoint(architecture_name, model.__checkpoint_version__)
    checkpoint["model"] = {
        "hypers": dict(model.hypers),
        "dataset_info": model.dataset_info.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    return checkpoint


def build_from_checkpoint(
    cls: Type[ModelType], checkpoint: Dict[str, Any], context: ModelCheckpointContext
) -> ModelType:
    """Build ``cls`` from a checkpoint written by :func:`checkpoint_of`, with the
    weights of ``context`` (live ones to restart, best ones otherwise), in the dtype
    its parameters were saved in: a float64 model rebuilt in the default float32
    would lose precision and a restart would not continue the run exactly. Every
    copy of the weights the checkpoint holds must fit the model (see
    :func:`~atomtrain.checkpoints.check_weights`)."""
    if context not in ("restart", "finetune", "export"):
        raise ValueError(f"unknown checkpoint context '{context}'")
    section = checkpoint["model"]
    model = cls(dict(section["hypers"]), DatasetInfo.from_dict(section["dataset_info"]))
    expected = model.state_dict()
    for entry, stored, partial in stored_model_weights(checkpoint):
        check_weights(expected, stored, entry, partial)
    weights = model_weights(checkpoint, context)
    names = [name for name, _ in model.named_parameters()]
    saved = [weights[name].dtype for name in names if name in weights]
    if saved:
        model.to(saved[0])
    model.load_state_dict(weights)
    return model


def export_model(
    model: ModelInterface[Any],
    interaction_range: float,
    metadata: Optional[ModelMetadata] = None,
) -> AtomisticModel:
    """The model in evaluation mode as a
    metatomic model of all its supported outputs in its parameters' dtype."""
    capabilities = ModelCapabilities(
        outputs=model.supported_outputs(),
        atomic_types=list(model.dataset_info.atomic_types),
        interaction_range=interaction_range,
        length_unit=model.dataset_info.length_unit,
        supported_devices=list(model.__supported_devices__),
        dtype=dtype_to_str(parameter_dtype(model)),
    )
    return AtomisticModel(
        model.eval(), metadata if metadata is not None else model.metadata, capabilities
    )
