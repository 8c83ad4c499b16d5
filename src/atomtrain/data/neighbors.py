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

import itertools
import weakref
from collections import OrderedDict
from typing import Any, Dict, List, Tuple

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
    return torch.from_numpy(_topology_array(structure, cutoff, full_list))


def _topology_array(structure: Structure, cutoff: float, full_list: bool) -> np.ndarray:
    """:func:`compute_topology` as a numpy array (what the cache keeps)."""
    calculator = vesin.NeighborList(cutoff=cutoff, full_list=full_list)
    pairs, shifts = calculator.compute(
        points=structure.positions.detach().numpy(),
        box=structure.cell.detach().numpy(),
        periodic=structure.pbc.numpy().astype(bool),
        quantities="PS",
        copy=True,
    )
    topology = np.concatenate([pairs.astype(np.int32), shifts.astype(np.int32)], axis=1)
    return topology.reshape(-1, 5)


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


#: Bytes of topologies a :class:`NeighborCache` keeps by default. Recomputing a
#: topology is cheap next to a training step: measured on the development machine
#: (one CPU thread, float32), 60 µs for an ethanol molecule (9 atoms, cutoff 5 Å,
#: 72 pairs), so about 1 ms for a batch of 16, against 76 ms for the forward and
#: backward (with forces) of SOAP-BPNN on that batch and 130 ms for a small PET
#: (d_pet 64, one attention layer). The cache therefore need not hold a large
#: dataset: 128 MB keeps every topology of 7 x 10^4 such molecules (1.4 kB each,
#: 1.8 kB with the entry's overhead) and bounds the memory of a run on 10^6 or
#: more, which recomputes what it evicted (about 1 % of a step).
DEFAULT_MAX_BYTES = 128 * 2**20

#: Bytes an entry of the cache takes beside its topology's own: the numpy array
#: object, its allocation, the key and the slot of the ordered dict (measured: 360
#: bytes per entry over 10^5 entries; a torch tensor per entry took 830). Counted in
#: the bound, so that ``max_bytes`` bounds what the cache really holds.
ENTRY_OVERHEAD = 360


class NeighborCache:
    """Neighbour topologies per ``(dataset, structure index, options)``, at most
    ``max_bytes`` of them, the least recently used evicted first.

    Topologies are kept as plain ``int32`` numpy arrays (20 bytes per pair, and
    :data:`ENTRY_OVERHEAD` per entry) and handed out as CPU tensors sharing their
    memory; :attr:`nbytes` says how much the cache holds. :attr:`hits` and
    :attr:`misses` count look-ups, so callers can check the cache works. Datasets
    are told apart by identity (held by weak reference, so that a new dataset never
    gets the token of a collected one); the topologies of a collected dataset are
    evicted in time.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._tokens: weakref.WeakKeyDictionary[Dataset, int] = (
            weakref.WeakKeyDictionary()
        )
        self._topologies: OrderedDict[Tuple[int, int, OptionsKey], np.ndarray] = (
            OrderedDict()
        )
        self.nbytes = 0
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
        entry = (self._token(dataset), int(index), key)
        cached = self._topologies.get(entry)
        if cached is not None:
            self.hits += 1
            self._topologies.move_to_end(entry)
            return torch.from_numpy(cached)
        self.misses += 1
        if structure is None:
            structure = dataset.geometry(index)
        topology = _topology_array(structure, key[0], key[1])
        self._keep(entry, topology)
        return torch.from_numpy(topology)

    def _token(self, dataset: Dataset) -> int:
        token = self._tokens.get(dataset)
        if token is None:
            token = self._tokens[dataset] = next(_TOKENS)
        return token

    def _keep(self, entry: Tuple[int, int, OptionsKey], topology: np.ndarray) -> None:
        size = topology.nbytes + ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        self._topologies[entry] = topology
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            _, evicted = self._topologies.popitem(last=False)
            self.nbytes -= evicted.nbytes + ENTRY_OVERHEAD

    def __getstate__(self) -> Dict[str, Any]:
        # weak references do not pickle: a copy sent to a worker process starts
        # empty, with the same bound
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["max_bytes"])  # type: ignore[misc]


_TOKENS = itertools.count()
