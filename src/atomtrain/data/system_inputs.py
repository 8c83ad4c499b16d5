"""Per-structure inputs a model asks for besides positions and types (metatomic's
``requested_inputs``: the total ``charge`` and ``spin_multiplicity`` of each
structure), attached to the systems of each batch from the dataset's
``extra_data`` entries of the same names, as simulation engines attach them.

A structure of a dataset without such an entry gets metatomic's default: neutral
(``charge`` 0) and a singlet (``spin_multiplicity`` 1). Any other input must come
from the dataset.
"""

from __future__ import annotations

import warnings
from typing import Dict, List, Mapping, Sequence

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import ModelOutput, System

from ..errors import UserError


class DefaultInputWarning(UserWarning):
    """A model input is taken at its default for every structure of a dataset."""


#: The value of each standard per-structure input when the dataset has none.
DEFAULTS: Dict[str, float] = {"charge": 0.0, "spin_multiplicity": 1.0}


def requested_inputs(model: torch.nn.Module) -> Dict[str, ModelOutput]:
    """The inputs requested by ``model`` and its submodules (an exported model's
    own list when it is a metatomic ``AtomisticModel``)."""
    exported = getattr(model, "requested_inputs", None)
    if callable(exported) and hasattr(model, "capabilities"):
        return dict(exported(use_new_names=True))
    found: Dict[str, ModelOutput] = {}
    for module in model.modules():
        method = getattr(module, "requested_inputs", None)
        if callable(method):
            found.update(method())
    return found


def check_inputs(
    inputs: Mapping[str, ModelOutput], extra_data: Mapping[str, object]
) -> None:
    """Refuse inputs that are not per structure, or that neither the dataset's
    ``extra_data`` nor a default provides; warn about those the default gives."""
    for name, output in inputs.items():
        if output.sample_kind != "system":
            raise UserError(
                f"the model asks for the per-{output.sample_kind} input '{name}', "
                "which atomtrain cannot provide (only per-structure inputs)"
            )
        if name in extra_data:
            continue
        if name not in DEFAULTS:
            raise UserError(
                f"the model needs the input '{name}' of every structure: declare it "
                f"as extra_data.{name} in the dataset section"
            )
        warnings.warn(
            f"the model takes each structure's '{name}' as input, but the dataset "
            f"declares no extra_data.{name}: every structure is taken with {name} "
            f"{DEFAULTS[name]:g}",
            DefaultInputWarning,
            stacklevel=2,
        )


def attach_inputs(
    systems: List[System],
    inputs: Sequence[str],
    extra_data: Mapping[str, TensorMap],
) -> None:
    """Add the inputs named ``inputs`` to ``systems`` (one batch) as system data,
    from the batch's ``extra_data`` (one row per system) or the default."""
    if not systems:
        return
    positions = systems[0].positions
    for name in inputs:
        if name in extra_data:
            values = extra_data[name].block().values.reshape(len(systems), -1)[:, :1]
        elif name in DEFAULTS:
            values = torch.full((len(systems), 1), DEFAULTS[name])
        else:
            raise UserError(
                f"the model needs the input '{name}' of every structure, which has "
                "no default: give it as extra data"
            )
        values = values.to(dtype=positions.dtype, device=positions.device)
        samples = Labels(["system"], torch.zeros((1, 1), dtype=torch.int32))
        properties = Labels([name], torch.zeros((1, 1), dtype=torch.int32))
        keys = Labels(["_"], torch.zeros((1, 1), dtype=torch.int32))
        for index, system in enumerate(systems):
            block = TensorBlock(
                values[index : index + 1],
                samples.to(positions.device),
                [],
                properties.to(positions.device),
            )
            system.add_data(name, TensorMap(keys.to(positions.device), [block]))
