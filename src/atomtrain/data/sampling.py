"""Which structures go in which batch, epoch after epoch, and batches built in worker
processes.

:func:`plan_epoch` splits a dataset into batches of at most ``batch_size`` structures,
optionally capped in atoms and in neighbour pairs (edges). It is deterministic in
``(seed, epoch)``, so every distributed process computes the same plan (the engine
then shares each batch between processes, see :mod:`atomtrain.training.batches`).

Packing: the number of batches is the smallest that the caps allow; structures are
taken in shuffled order and each goes to the least-loaded batch (in atoms) that still
has room, which keeps batches random from one epoch to the next and their sizes even;
the order of the batches is shuffled too.

:func:`batch_loader` builds batches in :class:`torch.utils.data.DataLoader` worker
processes: the first stage of :class:`~atomtrain.data.batching.BatchBuilder`
(reading, augmentation, neighbour topologies, concatenation) runs there, for the
batches asked by :class:`BatchRequests`, and the training process finalizes them.
"""

from __future__ import annotations

import array
import hashlib
import heapq
import math
import signal
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import UserError
from .batching import BatchBuilder, CollatedBatch
from .dataset import Dataset


class BatchingError(UserError):
    """A structure cannot fit in any batch under the configured caps."""


@dataclass(frozen=True)
class BatchPlan:
    """How batches are formed: ``batch_size`` structures at most, and optionally at
    most ``max_atoms`` atoms and ``max_edges`` neighbour pairs per batch."""

    batch_size: int
    max_atoms: Optional[int] = None
    max_edges: Optional[int] = None
    shuffle: bool = True
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise BatchingError(f"batch_size must be at least 1, got {self.batch_size}")


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of the shuffling at ``epoch``, the same on every rank."""
    digest = hashlib.blake2b(f"shuffle:{seed}:{epoch}".encode(), digest_size=8)
    return torch.Generator().manual_seed(int.from_bytes(digest.digest(), "little") >> 1)


def plan_epoch(
    plan: BatchPlan,
    num_atoms: Sequence[int],
    epoch: int,
    num_edges: Optional[Sequence[int]] = None,
    describe: Callable[[int], str] = lambda i: f"structure {i}",
) -> List[List[int]]:
    """The batches (lists of dataset indices) at ``epoch``.

    ``num_edges`` is required when ``plan.max_edges`` is set (see
    :meth:`~atomtrain.training.batches.BatchFactory.edges_per_structure`). A
    structure larger than a cap raises :class:`BatchingError` naming it with
    ``describe(index)``; none is ever dropped. Sizes are held as 8-byte integers
    (a list of Python integers would take 36 bytes per structure).
    """
    if plan.max_edges is not None and num_edges is None:
        raise ValueError("max_edges needs the number of edges of every structure")
    atoms = _compact(num_atoms)
    edges = _compact(num_edges if num_edges is not None else np.zeros(len(atoms)))
    _check_caps(plan, atoms, edges, describe)
    generator = epoch_generator(plan.seed, epoch)
    order: Sequence[int] = range(len(atoms))
    if plan.shuffle:
        order = _compact(torch.randperm(len(atoms), generator=generator).numpy())
    batches = _pack(plan, order, atoms, edges)
    if plan.shuffle:
        permutation = torch.randperm(len(batches), generator=generator).tolist()
        batches = [batches[k] for k in permutation]
    return batches


def _compact(values: Any) -> array.array:
    """``values`` as an array of 8-byte integers, indexed like a list."""
    compact = array.array("q")
    compact.frombytes(np.asarray(values, dtype=np.int64).tobytes())
    return compact


def _check_caps(
    plan: BatchPlan,
    atoms: Sequence[int],
    edges: Sequence[int],
    describe: Callable[[int], str],
) -> None:
    for cap, sizes, what, name in (
        (plan.max_atoms, atoms, "atoms", "max_atoms_per_batch"),
        (plan.max_edges, edges, "neighbour pairs", "max_edges_per_batch"),
    ):
        if cap is None:
            continue
        over = np.flatnonzero(np.asarray(sizes) > cap)
        if len(over):
            index = int(over[0])
            raise BatchingError(
                f"{describe(index)} has {sizes[index]} {what}, more than "
                f"{name} = {cap}; raise the cap"
            )


def _pack(
    plan: BatchPlan, order: Sequence[int], atoms: Sequence[int], edges: Sequence[int]
) -> List[List[int]]:
    """Least-loaded packing in the given order, starting from the fewest batches the
    caps allow."""
    needed = math.ceil(len(order) / plan.batch_size)
    if plan.max_atoms is not None:
        needed = max(needed, math.ceil(sum(atoms) / plan.max_atoms))
    if plan.max_edges is not None:
        needed = max(needed, math.ceil(sum(edges) / plan.max_edges))
    needed = min(len(order), needed)

    batches: List[List[int]] = [[] for _ in range(needed)]
    batch_atoms = [0] * needed
    batch_edges = [0] * needed
    # heap of (atoms, batch) over batches that still have room for one more structure
    heap = [(0, b) for b in range(needed)]
    for index in order:
        rejected = []
        chosen = None
        while heap:
            load, b = heapq.heappop(heap)
            fits_atoms = plan.max_atoms is None or load + atoms[index] <= plan.max_atoms
            fits_edges = (
                plan.max_edges is None
                or batch_edges[b] + edges[index] <= plan.max_edges
            )
            if not fits_atoms:
                # every other batch holds at least as many atoms: none fits
                rejected.append((load, b))
                break
            if fits_edges:
                chosen = b
                break
            rejected.append((load, b))
        if chosen is None:
            chosen = len(batches)
            batches.append([])
            batch_atoms.append(0)
            batch_edges.append(0)
        batches[chosen].append(index)
        batch_atoms[chosen] += atoms[index]
        batch_edges[chosen] += edges[index]
        if len(batches[chosen]) < plan.batch_size:
            heapq.heappush(heap, (batch_atoms[chosen], chosen))
        for item in rejected:
            heapq.heappush(heap, item)
    return [batch for batch in batches if batch]


#: One batch to build: ``(dataset number, epoch, dataset indices, train)``; a
#: training batch is augmented, an evaluation one is not.
Request = Tuple[int, int, List[int], bool]


class BatchRequests(torch.utils.data.Sampler[Request]):
    """The batches a :func:`batch_loader` builds in its next pass, in order: set
    them with :meth:`set` before iterating over the loader."""

    def __init__(self) -> None:
        self.requests: List[Request] = []

    def set(self, requests: Sequence[Request]) -> None:
        self.requests = list(requests)

    def __iter__(self) -> Iterator[Request]:
        return iter(self.requests)

    def __len__(self) -> int:
        return len(self.requests)


class CollatedBatches(torch.utils.data.Dataset[Optional[CollatedBatch]]):
    """Batches as items of a :class:`torch.utils.data.Dataset`: the item of a
    :data:`Request` is the first stage (:meth:`BatchBuilder.collate`) of its
    structures, by ``train_builder`` or ``eval_builder``; None for no structure
    (a process's empty share of a small batch)."""

    def __init__(
        self,
        datasets: Sequence[Dataset],
        train_builder: BatchBuilder,
        eval_builder: BatchBuilder,
    ) -> None:
        self.datasets = list(datasets)
        self.train_builder = train_builder
        self.eval_builder = eval_builder

    def __getitem__(self, request: Request) -> Optional[CollatedBatch]:
        number, epoch, indices, train = request
        if not indices:
            return None
        builder = self.train_builder if train else self.eval_builder
        return builder.collate(self.datasets[number], indices, epoch)

    def __len__(self) -> int:
        return sum(len(dataset) for dataset in self.datasets)


def _start_worker(worker: int) -> None:
    """A worker leaves SIGINT and SIGTERM to the training process (which stops
    training cleanly and ends its workers), uses one thread, and keeps its share of
    the neighbour-topology cache."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    torch.set_num_threads(1)
    info = torch.utils.data.get_worker_info()
    if info is not None and isinstance(info.dataset, CollatedBatches):
        builders = (info.dataset.train_builder, info.dataset.eval_builder)
        for cache in {id(b.cache): b.cache for b in builders}.values():
            cache.max_bytes //= info.num_workers


def _unchanged(item: Any) -> Any:
    return item


def batch_loader(
    batches: CollatedBatches, requests: BatchRequests, num_workers: int
) -> torch.utils.data.DataLoader:
    """A DataLoader yielding the :class:`CollatedBatch` of each of ``requests``,
    built ahead by ``num_workers`` persistent worker processes; pass each to
    :meth:`BatchBuilder.finalize` in the training process."""
    return torch.utils.data.DataLoader(
        batches,
        sampler=requests,
        batch_size=None,
        collate_fn=_unchanged,
        num_workers=num_workers,
        persistent_workers=True,
        prefetch_factor=4,
        worker_init_fn=_start_worker,
    )
