"""Neighbour lists: topology computed once with vesin and cached, vectors every step.

A model declares the lists it needs as :class:`metatomic.torch.NeighborListOptions`
through ``requested_neighbor_lists()`` methods on itself or any submodule (metatomic's
convention). The *topology* of a list — the pairs ``(i, j)`` and the integer cell shifts
``S`` — depends only on the fractional coordinates, so it is computed once per structure
and per options, and kept in a :class:`NeighborCache` as one ``int32`` tensor
``[n_pairs, 5]`` whose columns are the metatomic sample names
``first_atom, second_atom, cell_shift_a, cell_shift_b, cell_shift_c``.

Every step recomputes the pair vectors from the current positions and cell,

    r_ij = positions[j] - positions[i] + S @ cell

so they are differentiable with respect to positions and cell (exact autograd forces and
stress) and rigid rotations of a structure need no new topology.
"""

from __future__ import annotations

import weakref
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch
import vesin
from metatensor.torch import Labels, TensorBlock
from metatomic.torch import NeighborListOptions

from .dataset import Dataset
from .structure import Structure

#: Sample names of a metatomic neighbour-list block, in column order of a topology.
PAIR_SAMPLE_NAMES = [
    "first_atom",
    "second_atom",
    "cell_shift_a",
    "cell_shift_b",
    "cell_shift_c",
]

#: The property of neighbour-list blocks.
DISTANCE = Labels("distance", torch.zeros((1, 1), dtype=torch.int32))

#: ``(cutoff in the data's length unit, full_list, strict)``: what identifies a list.
OptionsKey = Tuple[float, bool, bool]


def requested_neighbor_lists(
    module: torch.nn.Module, length_unit: str = ""
) -> List[NeighborListOptions]:
    """Every distinct list requested by ``module`` or its submodules, in the order
    metatomic's :class:`~metatomic.torch.AtomisticModel` finds them (depth first).

    Options without a length unit get ``length_unit``; two options are the same list
    when their cutoff, ``full_list`` and ``strict`` agree.
    """
    found: List[NeighborListOptions] = []
    for _, submodule in module.named_modules():
        request = getattr(submodule, "requested_neighbor_lists", None)
        if request is None:
            continue
        for options in request():
            if options.length_unit == "" and length_unit:
                options.length_unit = length_unit
            if not any(options == existing for existing in found):
                found.append(options)
    return found


def options_key(options: NeighborListOptions, length_unit: str) -> OptionsKey:
    """The cache key of ``options`` for data whose positions are in ``length_unit``."""
    cutoff = (
        options.engine_cutoff(length_unit) if options.length_unit else options.cutoff
    )
    return (float(cutoff), bool(options.full_list), bool(options.strict))


def compute_topology(
    structure: Structure, cutoff: float, full_list: bool
) -> torch.Tensor:
    """Pairs and cell shifts of ``structure`` within ``cutoff`` (vesin), as an
    ``int32`` tensor ``[n_pairs, 5]`` (see :data:`PAIR_SAMPLE_NAMES`).

    Periodic, non-periodic and mixed boundary conditions are handled by vesin, including
    cells smaller than twice the cutoff (several images of the same atom). A half list
    holds each pair once, either as ``(i, j, S)`` or as ``(j, i, -S)``.
    """
    calculator = vesin.NeighborList(cutoff=cutoff, full_list=full_list)
    pairs, shifts = calculator.compute(
        points=structure.positions.detach().numpy(),
        box=structure.cell.detach().numpy(),
        periodic=structure.pbc.numpy().astype(bool),
        quantities="PS",
        copy=True,
    )
    topology = np.concatenate([pairs.astype(np.int32), shifts.astype(np.int32)], axis=1)
    return torch.from_numpy(topology.reshape(-1, 5))


def neighbor_vectors(
    positions: torch.Tensor, cell: torch.Tensor, topology: torch.Tensor
) -> torch.Tensor:
    """``[n_pairs, 3]`` vectors ``positions[j] - positions[i] + S @ cell`` of one
    structure, differentiable with respect to ``positions`` and ``cell``."""
    i = topology[:, 0].long()
    j = topology[:, 1].long()
    shifts = topology[:, 2:].to(positions.dtype)
    return positions[j] - positions[i] + shifts @ cell


def neighbor_block(
    vectors: torch.Tensor,
    topology: torch.Tensor,
    components: Labels | None = None,
    properties: Labels | None = None,
) -> TensorBlock:
    """The metatomic neighbour-list block of one structure from its pair vectors
    ``[n_pairs, 3]`` and topology ``[n_pairs, 5]`` (on the vectors' device).

    ``components`` (``xyz``) and ``properties`` (``distance``) may be given on the
    right device to save creating them for every structure."""
    if components is None:
        components = Labels.range("xyz", 3).to(vectors.device)
    if properties is None:
        properties = DISTANCE.to(vectors.device)
    return TensorBlock(
        values=vectors.reshape(-1, 3, 1),
        samples=Labels(PAIR_SAMPLE_NAMES, topology, assume_unique=True),
        components=[components],
        properties=properties,
    )


class NeighborCache:
    """Neighbour topologies per ``(dataset, structure index, options)``.

    Datasets are held by weak reference: a dataset that is garbage collected takes its
    topologies with it. Topologies are plain ``int32`` tensors on the CPU
    (20 bytes per pair); :attr:`nbytes` says how much the cache holds. :attr:`hits`
    and :attr:`misses` count look-ups, so callers can check the cache works.
    """

    def __init__(self) -> None:
        self._store: weakref.WeakKeyDictionary[
            Dataset, Dict[OptionsKey, Dict[int, torch.Tensor]]
        ] = weakref.WeakKeyDictionary()
        self.hits = 0
        self.misses = 0

    def topology(
        self,
        dataset: Dataset,
        index: int,
        options: NeighborListOptions,
        structure: Structure | None = None,
    ) -> torch.Tensor:
        """The ``[n_pairs, 5]`` topology of structure ``index`` of ``dataset``.

        ``structure`` (``dataset[index]`` as read, before any augmentation) saves
        reading it again on a miss.
        """
        key = options_key(options, dataset.info.length_unit)
        return self.lookup(dataset, index, key, structure)

    def lookup(
        self,
        dataset: Dataset,
        index: int,
        key: OptionsKey,
        structure: Structure | None = None,
    ) -> torch.Tensor:
        """:meth:`topology` for an :func:`options_key` computed once by the caller."""
        per_options = self._store.setdefault(dataset, {}).setdefault(key, {})
        cached = per_options.get(index)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        if structure is None:
            structure = dataset[index]
        topology = compute_topology(structure, key[0], key[1])
        per_options[index] = topology
        return topology

    def fill(self, dataset: Dataset, options: Sequence[NeighborListOptions]) -> None:
        """Compute every missing topology of ``dataset`` now (before starting worker
        processes, so that they share the filled cache)."""
        for index in range(len(dataset)):
            structure: Structure | None = None
            for option in options:
                if self._has(dataset, index, option):
                    continue
                if structure is None:
                    structure = dataset[index]
                self.topology(dataset, index, option, structure)

    def num_edges(self, dataset: Dataset, options: NeighborListOptions) -> List[int]:
        """Number of pairs of every structure of ``dataset`` for ``options``."""
        self.fill(dataset, [options])
        return [
            int(self.topology(dataset, i, options).shape[0])
            for i in range(len(dataset))
        ]

    def _has(self, dataset: Dataset, index: int, options: NeighborListOptions) -> bool:
        key = options_key(options, dataset.info.length_unit)
        return index in self._store.get(dataset, {}).get(key, {})

    @property
    def nbytes(self) -> int:
        """Bytes held by the cached topologies."""
        return sum(
            t.numel() * t.element_size()
            for per_dataset in self._store.values()
            for per_options in per_dataset.values()
            for t in per_options.values()
        )

    def clear(self) -> None:
        self._store = weakref.WeakKeyDictionary()

    def __getstate__(self) -> Dict[str, Any]:
        # weak references do not pickle; datasets pickled together with the cache
        # keep their identity through pickle's memo
        return {
            "entries": list(self._store.items()),
            "hits": self.hits,
            "misses": self.misses,
        }

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self._store = weakref.WeakKeyDictionary(state["entries"])
        self.hits = state["hits"]
        self.misses = state["misses"]
