"""Units of the metatomic model: lengths handed to the wrapped model in its own unit
and outputs scaled to the dataset's.

When the dataset's length unit differs from the wrapped model's, positions, cells and
neighbour vectors are multiplied by the factor from the dataset's unit to the
model's before the model sees them, inside the autograd graph, so that forces and
stress come out per the dataset's unit; the neighbour lists are computed by the data
pipeline with cutoffs in the dataset's unit (:func:`in_length_unit`) and handed to
the model under its own requests.
"""

from typing import List, Optional

import torch
from metatensor.torch import TensorBlock, TensorMap
from metatomic.torch import NeighborListOptions, System


def converted_systems(
    systems: List[System],
    factor: float,
    engine_lists: List[NeighborListOptions],
    model_lists: List[NeighborListOptions],
) -> List[System]:
    """``systems`` with positions, cells and neighbour vectors times ``factor`` (in
    the wrapped model's length unit; differentiable), each list of ``engine_lists``
    (the pipeline's requests) handed over as the matching one of ``model_lists``
    (the model's own)."""
    converted: List[System] = []
    for system in systems:
        new = System(
            types=system.types,
            positions=system.positions * factor,
            cell=system.cell * factor,
            pbc=system.pbc,
        )
        for engine, wanted in zip(engine_lists, model_lists):
            pairs = system.get_neighbor_list(engine)
            new.add_neighbor_list(
                wanted,
                TensorBlock(
                    values=pairs.values * factor,
                    samples=pairs.samples,
                    components=pairs.components,
                    properties=pairs.properties,
                ),
            )
        for name in system.known_data():
            new.add_data(name, system.get_data(name))
        converted.append(new)
    return converted


def in_length_unit(
    options: NeighborListOptions, length_unit: str, factor: float
) -> NeighborListOptions:
    """``options`` (of a model whose lengths are ``factor`` times the dataset's)
    with the cutoff in the dataset's ``length_unit``."""
    if factor == 1.0:
        return options
    converted = NeighborListOptions(
        cutoff=float(options.cutoff) / factor,
        full_list=bool(options.full_list),
        strict=bool(options.strict),
        requestor="atomtrain metatomic",
    )
    converted.length_unit = length_unit
    return converted


def scaled(
    tensor: TensorMap, factor: float, shift: Optional[torch.Tensor]
) -> TensorMap:
    """``tensor`` with its values times ``factor`` (plus ``shift``, for a
    single-block tensor)."""
    blocks: List[TensorBlock] = []
    for block in tensor.blocks():
        values = block.values * factor
        if shift is not None:
            values = values + shift.to(values.dtype)
        blocks.append(
            TensorBlock(
                values=values,
                samples=block.samples,
                components=block.components,
                properties=block.properties,
            )
        )
    return TensorMap(tensor.keys, blocks)
