"""The labels of a batch: the targets (or extra data) of its structures collated into
one tensor per block and gradient (:func:`collate_labels`, in the first stage of a
batch), then TensorMaps with the layout of :meth:`TargetInfo.layout`, numbered within
the batch (:func:`labels_tensormap`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection, Dict, List

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from ..errors import DataError
from .dataset import Dataset
from .info import TargetInfo
from .structure import Structure, TargetData


@dataclass
class CollatedTarget:
    """The labels of one target for a batch, concatenated over structures (float64).

    ``blocks[k]`` is ``[n_samples_total, *components, n_properties]``;
    ``gradients["positions"]`` is ``[n_atoms_total, 3, n_properties]`` and
    ``gradients["strain"]`` is ``[n_structures, 3, 3, n_properties]`` (NaN where a
    structure has no such label).
    """

    blocks: List[torch.Tensor]
    gradients: Dict[str, torch.Tensor] = field(default_factory=dict)


def collate_labels(
    dataset: Dataset,
    indices: List[int],
    structures: List[Structure],
    infos: Dict[str, TargetInfo],
    is_target: bool,
) -> Dict[str, CollatedTarget]:
    """The labels ``infos`` of ``structures`` (``indices`` of ``dataset``): targets
    when ``is_target``, extra data otherwise; a structure without one is an error
    naming it."""
    collated = {}
    for name, info in infos.items():
        entries = []
        for index, structure in zip(indices, structures):
            data = (structure.targets if is_target else structure.extra_data).get(name)
            if data is None:
                kind = "target" if is_target else "extra data"
                raise DataError(
                    f"{dataset.describe(index)} has no {kind} '{name}'", key=name
                )
            entries.append(data)
        blocks = [
            torch.cat([e.blocks[k] for e in entries])
            for k in range(len(entries[0].blocks))
        ]
        gradients = {
            gradient: torch.cat(
                [
                    _gradient_of(e, s, gradient, info)
                    for e, s in zip(entries, structures)
                ]
            )
            for gradient in info.gradients
        }
        collated[name] = CollatedTarget(blocks=blocks, gradients=gradients)
    return collated


def _gradient_of(
    data: TargetData, structure: Structure, gradient: str, info: TargetInfo
) -> torch.Tensor:
    """The ``gradient`` of one structure, with a leading structure axis for
    ``strain``; NaN where the structure has no such label."""
    values = data.gradients.get(gradient)
    if values is None:
        shape = [len(structure), 3] if gradient == "positions" else [3, 3]
        values = torch.full(
            [*shape, info.num_subtargets], float("nan"), dtype=torch.float64
        )
    return values if gradient == "positions" else values.unsqueeze(0)


class BatchSamples:
    """Sample labels shared by every entry of a batch."""

    def __init__(self, num_atoms: torch.Tensor, device: torch.device) -> None:
        n_structures = len(num_atoms)
        structure = torch.arange(n_structures, dtype=torch.int32)
        atom_structure = torch.repeat_interleave(structure, num_atoms)
        first_atom = torch.cumsum(num_atoms, 0) - num_atoms
        atom = torch.arange(int(num_atoms.sum()), dtype=torch.int64)
        atom = (atom - first_atom.repeat_interleave(num_atoms)).to(torch.int32)
        self.system = Labels(
            ["system"], structure.reshape(-1, 1), assume_unique=True
        ).to(device)
        self.atom = Labels(
            ["system", "atom"],
            torch.stack([atom_structure, atom], dim=1),
            assume_unique=True,
        ).to(device)
        self.positions_gradient = Labels(
            ["sample", "system", "atom"],
            torch.stack([atom_structure, atom_structure, atom], dim=1),
            assume_unique=True,
        ).to(device)
        self.strain_gradient = Labels(
            ["sample"], structure.reshape(-1, 1), assume_unique=True
        ).to(device)


def labels_tensormap(
    name: str,
    info: TargetInfo,
    entry: CollatedTarget,
    samples: BatchSamples,
    gradients: Collection[str],
    dtype: torch.dtype,
    device: torch.device,
) -> TensorMap:
    """The TensorMap of one target for a batch, with the layout of
    :meth:`TargetInfo.layout` and the requested gradients the target has."""
    properties = Labels.range(info.property_name(name), info.num_subtargets).to(device)
    block_samples = samples.atom if info.per_atom else samples.system
    blocks = []
    for values, components in zip(entry.blocks, info.block_components()):
        block = TensorBlock(
            values=values.to(device=device, dtype=dtype),
            samples=block_samples,
            components=[c.to(device) for c in components],
            properties=properties,
        )
        for gradient in info.gradients:
            if gradient not in gradients:
                continue
            if gradient == "positions":
                gradient_samples = samples.positions_gradient
                gradient_components = [Labels.range("xyz", 3)]
            else:
                gradient_samples = samples.strain_gradient
                gradient_components = [
                    Labels.range("xyz_1", 3),
                    Labels.range("xyz_2", 3),
                ]
            block.add_gradient(
                gradient,
                TensorBlock(
                    values=entry.gradients[gradient].to(device=device, dtype=dtype),
                    samples=gradient_samples,
                    components=[c.to(device) for c in gradient_components],
                    properties=properties,
                ),
            )
        blocks.append(block)
    return TensorMap(info.keys().to(device), blocks)
