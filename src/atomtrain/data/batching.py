"""Batches of structures turned into what a model eats: systems and target TensorMaps.

Building a batch has two stages so that the first can run in worker processes:

1. :meth:`BatchBuilder.collate` reads the structures, applies the augmentation, looks
   the neighbour topologies up in the cache and concatenates everything into a
   :class:`CollatedBatch` of plain CPU tensors (picklable);
2. :meth:`BatchBuilder.finalize` converts to the model's dtype and device, creates the
   autograd leaves, computes every pair vector of the batch in one vectorised step, and
   builds the :class:`metatomic.torch.System` objects and target TensorMaps.

Calling the builder does both.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Collection, Dict, List, Optional, Sequence, Tuple

import torch
from metatensor.torch import Labels, TensorMap
from metatomic.torch import NeighborListOptions, System

from .batch_labels import (
    BatchSamples,
    CollatedTarget,
    collate_labels,
    labels_tensormap,
)
from .dataset import Dataset
from .info import TargetInfo
from .neighbors import DISTANCE, NeighborCache, neighbor_block, options_key
from .structure import Structure
from .system_inputs import attach_inputs

#: An augmentation: returns a transformed copy of a structure and its labels. It must
#: keep the neighbour topology valid (rigid rotations, reflections, permutations of
#: nothing); the topology is computed from the structure before the transform.
Transform = Callable[[Structure, torch.Generator], Structure]


@dataclass
class CollatedBatch:
    """A batch as plain CPU tensors, ready to be sent between processes.

    ``topologies[k]`` concatenates the ``[n_pairs, 5]`` topologies of every structure
    for the ``k``-th neighbour list (atom indices local to each structure) and
    ``num_pairs[k]`` gives the pairs per structure.
    """

    indices: torch.Tensor
    types: torch.Tensor
    positions: torch.Tensor
    cells: torch.Tensor
    pbc: torch.Tensor
    num_atoms: torch.Tensor
    topologies: List[torch.Tensor]
    num_pairs: List[torch.Tensor]
    targets: Dict[str, CollatedTarget]
    extra_data: Dict[str, CollatedTarget]


@dataclass
class Batch:
    """What a training step needs.

    ``systems`` are in the model's dtype and on its device, with every requested
    neighbour list attached. ``targets`` and ``extra_data`` are TensorMaps with exactly
    the layout of :meth:`TargetInfo.layout` (samples ``system`` or ``system, atom``
    numbered within the batch). ``indices`` are the dataset indices (int64).

    When gradients were requested, ``positions[s]`` (``[n_atoms, 3]``) and
    ``strains[s]`` (``[3, 3]``, the identity) are the autograd leaves of structure
    ``s``: the system's positions are ``positions[s] @ strains[s]`` and its cell
    ``cell @ strains[s]``, so ``dE/dpositions[s]`` is minus the forces and
    ``dE/dstrains[s]`` minus the virial. Both lists are empty otherwise.
    """

    systems: List[System]
    targets: Dict[str, TensorMap]
    extra_data: Dict[str, TensorMap]
    indices: torch.Tensor
    positions: List[torch.Tensor]
    strains: List[torch.Tensor]

    def __len__(self) -> int:
        return len(self.systems)


def augmentation_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """A generator for the augmentation of structure ``index`` at ``epoch``: the same
    in every process, whatever the batch or the worker that builds it."""
    digest = hashlib.blake2b(f"{seed}:{epoch}:{index}".encode(), digest_size=8)
    return torch.Generator().manual_seed(int.from_bytes(digest.digest(), "little") >> 1)


class BatchBuilder:
    """Turns dataset indices into a :class:`Batch`.

    ``neighbor_options`` are the lists the model requested (see
    :func:`atomtrain.data.neighbors.requested_neighbor_lists`); ``targets`` and
    ``extra_data`` the entries to put in the batch; ``transform`` an optional
    augmentation, called with a generator seeded from ``(seed, epoch, index)``;
    ``inputs`` the names of the per-structure inputs the model requests, attached
    to the systems (see :mod:`atomtrain.data.system_inputs`).
    """

    def __init__(
        self,
        neighbor_options: Sequence[NeighborListOptions],
        targets: Dict[str, TargetInfo],
        extra_data: Optional[Dict[str, TargetInfo]] = None,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
        cache: Optional[NeighborCache] = None,
        transform: Optional[Transform] = None,
        seed: int = 0,
        inputs: Sequence[str] = (),
    ) -> None:
        self.inputs = list(inputs)
        self.neighbor_options = list(neighbor_options)
        self.targets = dict(targets)
        self.extra_data = dict(extra_data or {})
        self.dtype = dtype
        self.device = torch.device(device)
        self.cache = cache if cache is not None else NeighborCache()
        self.transform = transform
        self.seed = seed

    def __call__(
        self,
        dataset: Dataset,
        indices: Sequence[int],
        gradients: Collection[str] = (),
        epoch: int = 0,
    ) -> Batch:
        return self.finalize(self.collate(dataset, indices, epoch), gradients)

    def collate(
        self, dataset: Dataset, indices: Sequence[int], epoch: int = 0
    ) -> CollatedBatch:
        """Stage one: read, augment and concatenate (CPU, float64)."""
        indices = [int(i) for i in indices]
        structures = []
        topologies: List[List[torch.Tensor]] = [[] for _ in self.neighbor_options]
        length_unit = dataset.info.length_unit
        keys = [options_key(o, length_unit) for o in self.neighbor_options]
        for index in indices:
            structure = dataset[index]
            for k, key in enumerate(keys):
                topologies[k].append(self.cache.lookup(dataset, index, key, structure))
            if self.transform is not None:
                generator = augmentation_generator(self.seed, epoch, index)
                structure = self.transform(structure, generator)
            structures.append(structure)
        return CollatedBatch(
            indices=torch.tensor(indices, dtype=torch.int64),
            types=torch.cat([s.types for s in structures]).to(torch.int32),
            positions=torch.cat([s.positions for s in structures]),
            cells=torch.stack([s.cell for s in structures]),
            pbc=torch.stack([s.pbc for s in structures]),
            num_atoms=torch.tensor([len(s) for s in structures], dtype=torch.int64),
            topologies=[torch.cat(t) for t in topologies],
            num_pairs=[
                torch.tensor([len(p) for p in t], dtype=torch.int64) for t in topologies
            ],
            targets=collate_labels(dataset, indices, structures, self.targets, True),
            extra_data=collate_labels(
                dataset, indices, structures, self.extra_data, False
            ),
        )

    def finalize(self, batch: CollatedBatch, gradients: Collection[str] = ()) -> Batch:
        """Stage two: dtype and device, autograd leaves, pair vectors, systems and
        TensorMaps."""
        device, dtype = self.device, self.dtype
        counts = batch.num_atoms.tolist()
        positions = batch.positions.to(device=device, dtype=dtype)
        cells = batch.cells.to(device=device, dtype=dtype)
        position_leaves: List[torch.Tensor] = []
        strain_leaves: List[torch.Tensor] = []
        if gradients:
            position_leaves, strain_leaves, positions, cells = _strained(
                positions, cells, batch.num_atoms
            )
        types = batch.types.to(device)
        pbc = batch.pbc.to(device)
        systems = [
            System(types=t, positions=p, cell=cells[s], pbc=pbc[s])
            for s, (t, p) in enumerate(
                zip(torch.split(types, counts), torch.split(positions, counts))
            )
        ]
        self._add_neighbor_lists(systems, positions, cells, batch)
        samples = BatchSamples(batch.num_atoms, device)
        targets = {
            name: labels_tensormap(
                name, self.targets[name], entry, samples, gradients, dtype, device
            )
            for name, entry in batch.targets.items()
        }
        extra_data = {
            name: labels_tensormap(
                name, self.extra_data[name], entry, samples, (), dtype, device
            )
            for name, entry in batch.extra_data.items()
        }
        attach_inputs(systems, self.inputs, extra_data)
        return Batch(
            systems=systems,
            targets=targets,
            extra_data=extra_data,
            indices=batch.indices,
            positions=position_leaves,
            strains=strain_leaves,
        )

    def _add_neighbor_lists(
        self,
        systems: List[System],
        positions: torch.Tensor,
        cells: torch.Tensor,
        batch: CollatedBatch,
    ) -> None:
        """Attach each neighbour list to ``systems``, the pair vectors of the whole
        batch computed at once from ``positions`` and ``cells``."""
        device = positions.device
        xyz = Labels.range("xyz", 3).to(device)
        distance = DISTANCE.to(device)
        for options, topology, num_pairs in zip(
            self.neighbor_options, batch.topologies, batch.num_pairs
        ):
            topology = topology.to(device)
            vectors = _batch_vectors(
                positions, cells, batch.num_atoms, topology, num_pairs
            )
            pair_counts = num_pairs.tolist()
            for system, v, t in zip(
                systems,
                torch.split(vectors, pair_counts),
                torch.split(topology, pair_counts),
            ):
                system.add_neighbor_list(options, neighbor_block(v, t, xyz, distance))


def _strained(
    positions: torch.Tensor, cells: torch.Tensor, num_atoms: torch.Tensor
) -> Tuple[List[torch.Tensor], List[torch.Tensor], torch.Tensor, torch.Tensor]:
    """The autograd leaves of each structure (positions ``[n_atoms, 3]`` and strain,
    the identity ``[3, 3]``), and the batch's positions and cells computed from them:
    ``positions @ strain`` and ``cell @ strain``."""
    dtype, device = positions.dtype, positions.device
    counts = num_atoms.tolist()
    position_leaves = [
        p.detach().requires_grad_(True) for p in torch.split(positions, counts)
    ]
    strain_leaves = [
        torch.eye(3, dtype=dtype, device=device).requires_grad_(True) for _ in counts
    ]
    strains = torch.stack(strain_leaves)
    atom_strain = strains.repeat_interleave(num_atoms.to(device), dim=0)
    strained = torch.bmm(torch.cat(position_leaves).unsqueeze(1), atom_strain)
    return (
        position_leaves,
        strain_leaves,
        strained.squeeze(1),
        torch.bmm(cells, strains),
    )


def _batch_vectors(
    positions: torch.Tensor,
    cells: torch.Tensor,
    num_atoms: torch.Tensor,
    topology: torch.Tensor,
    num_pairs: torch.Tensor,
) -> torch.Tensor:
    """Pair vectors of a whole batch in one go: ``[n_pairs_total, 3]``."""
    device = positions.device
    first_atom = torch.cumsum(num_atoms, 0) - num_atoms
    pair_structure = torch.repeat_interleave(
        torch.arange(len(num_atoms)), num_pairs
    ).to(device)
    offset = first_atom.to(device)[pair_structure]
    i = topology[:, 0].long() + offset
    j = topology[:, 1].long() + offset
    shifts = topology[:, 2:].to(positions.dtype)
    cell_shift = torch.bmm(shifts.unsqueeze(1), cells[pair_structure]).squeeze(1)
    return positions[j] - positions[i] + cell_shift
