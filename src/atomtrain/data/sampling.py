"""Which structures go in which batch, epoch after epoch.

:func:`plan_epoch` splits a dataset into batches of at most ``batch_size`` structures,
optionally capped in atoms and in neighbour pairs (edges). It is deterministic in
``(seed, epoch)``, so every distributed rank computes the same plan and takes its share;
each rank gets the same number of batches, and the batches run at the same step on
different ranks have similar sizes.

Packing: the number of batches is the smallest that the caps allow; structures are
taken in shuffled order and each goes to the least-loaded batch (in atoms) that still
has room, which keeps batches random from one epoch to the next and their sizes even.

:class:`EpochBatchSampler` and :class:`StructureBatches` plug the plan into
:class:`torch.utils.data.DataLoader` to build batches in worker processes.
"""

from __future__ import annotations

import hashlib
import heapq
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

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
    num_replicas: int = 1,
    rank: int = 0,
) -> List[List[int]]:
    """The batches (lists of dataset indices) of ``rank`` at ``epoch``.

    ``num_edges`` is required when ``plan.max_edges`` is set (see
    :meth:`NeighborCache.num_edges`). A structure larger than a cap raises
    :class:`BatchingError` naming it with ``describe(index)``; none is ever dropped.
    """
    if not 0 <= rank < num_replicas:
        raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
    if plan.max_edges is not None and num_edges is None:
        raise ValueError("max_edges needs the number of edges of every structure")
    atoms = [int(n) for n in num_atoms]
    edges = [int(n) for n in num_edges] if num_edges is not None else [0] * len(atoms)
    _check_caps(plan, atoms, edges, describe)
    if len(atoms) < num_replicas:
        raise BatchingError(
            f"{len(atoms)} structures cannot be shared between {num_replicas} processes"
        )

    generator = epoch_generator(plan.seed, epoch)
    if plan.shuffle:
        order = torch.randperm(len(atoms), generator=generator).tolist()
    else:
        order = list(range(len(atoms)))
    batches = _pack(plan, order, atoms, edges, num_replicas)
    batches = _equalise(batches, atoms, order, num_replicas)
    return _share(batches, atoms, generator, plan.shuffle, num_replicas)[rank]


def _check_caps(
    plan: BatchPlan,
    atoms: List[int],
    edges: List[int],
    describe: Callable[[int], str],
) -> None:
    for index, (n_atoms, n_edges) in enumerate(zip(atoms, edges)):
        if plan.max_atoms is not None and n_atoms > plan.max_atoms:
            raise BatchingError(
                f"{describe(index)} has {n_atoms} atoms, more than "
                f"max_atoms_per_batch = {plan.max_atoms}; raise the cap"
            )
        if plan.max_edges is not None and n_edges > plan.max_edges:
            raise BatchingError(
                f"{describe(index)} has {n_edges} neighbour pairs, more than "
                f"max_edges_per_batch = {plan.max_edges}; raise the cap"
            )


def _pack(
    plan: BatchPlan,
    order: List[int],
    atoms: List[int],
    edges: List[int],
    num_replicas: int,
) -> List[List[int]]:
    """Least-loaded packing in the given order, starting from the fewest batches the
    caps allow (rounded up to a multiple of ``num_replicas``)."""
    needed = math.ceil(len(order) / plan.batch_size)
    if plan.max_atoms is not None:
        needed = max(needed, math.ceil(sum(atoms) / plan.max_atoms))
    if plan.max_edges is not None:
        needed = max(needed, math.ceil(sum(edges) / plan.max_edges))
    needed = min(len(order), num_replicas * math.ceil(needed / num_replicas))

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


def _equalise(
    batches: List[List[int]], atoms: List[int], order: List[int], num_replicas: int
) -> List[List[int]]:
    """Make the number of batches a multiple of ``num_replicas``: split the largest
    batches of several structures in two; when every batch holds one structure, repeat
    the first structures of the epoch's order (as ``DistributedSampler`` pads)."""
    batches = list(batches)
    padding = iter(order)
    while len(batches) % num_replicas:
        candidates = [b for b, batch in enumerate(batches) if len(batch) > 1]
        if not candidates:
            batches.append([next(padding)])
            continue
        largest = max(candidates, key=lambda b: sum(atoms[i] for i in batches[b]))
        batch = batches[largest]
        half = len(batch) // 2
        batches[largest : largest + 1] = [batch[:half], batch[half:]]
    return batches


def _share(
    batches: List[List[int]],
    atoms: List[int],
    generator: torch.Generator,
    shuffle: bool,
    num_replicas: int,
) -> List[List[List[int]]]:
    """Give each rank one batch per step; the batches of one step have similar sizes,
    and the order of steps is shuffled."""
    if num_replicas == 1:
        steps = [[batch] for batch in batches]
    else:
        by_size = sorted(batches, key=lambda batch: sum(atoms[i] for i in batch))
        steps = [
            by_size[k : k + num_replicas] for k in range(0, len(by_size), num_replicas)
        ]
    if shuffle:
        permutation = torch.randperm(len(steps), generator=generator).tolist()
        steps = [steps[k] for k in permutation]
    return [[step[rank] for step in steps] for rank in range(num_replicas)]


class EpochBatchSampler(torch.utils.data.Sampler[List[int]]):
    """A batch sampler for :class:`torch.utils.data.DataLoader`: yields the batches of
    :func:`plan_epoch` for the current epoch (call :meth:`set_epoch` before each)."""

    def __init__(
        self,
        plan: BatchPlan,
        num_atoms: Sequence[int],
        num_edges: Optional[Sequence[int]] = None,
        describe: Callable[[int], str] = lambda i: f"structure {i}",
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        self.plan = plan
        self.num_atoms = list(num_atoms)
        self.num_edges = None if num_edges is None else list(num_edges)
        self.describe = describe
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self._batches = self._plan()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._batches = self._plan()

    def _plan(self) -> List[List[int]]:
        return plan_epoch(
            self.plan,
            self.num_atoms,
            self.epoch,
            self.num_edges,
            self.describe,
            self.num_replicas,
            self.rank,
        )

    def __iter__(self) -> Iterator[List[int]]:
        return iter(self._batches)

    def __len__(self) -> int:
        return len(self._batches)


class StructureBatches(torch.utils.data.Dataset[CollatedBatch]):
    """Batches as items of a :class:`torch.utils.data.Dataset`: the item of
    ``(epoch, indices)`` is :meth:`BatchBuilder.collate` of those structures, so it
    runs in :class:`~torch.utils.data.DataLoader` workers."""

    def __init__(self, dataset: Dataset, builder: BatchBuilder) -> None:
        self.dataset = dataset
        self.builder = builder

    def __getitem__(self, request: Tuple[int, List[int]]) -> CollatedBatch:
        epoch, indices = request
        return self.builder.collate(self.dataset, indices, epoch)

    def __len__(self) -> int:
        return len(self.dataset)


class _EpochRequests(torch.utils.data.Sampler[Tuple[int, List[int]]]):
    def __init__(self, sampler: EpochBatchSampler) -> None:
        self.sampler = sampler

    def __iter__(self) -> Iterator[Tuple[int, List[int]]]:
        epoch = self.sampler.epoch
        return ((epoch, batch) for batch in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


def _unchanged(items: Any) -> Any:
    return items


def batch_loader(
    dataset: Dataset,
    builder: BatchBuilder,
    sampler: EpochBatchSampler,
    num_workers: int,
) -> torch.utils.data.DataLoader:
    """A DataLoader yielding :class:`CollatedBatch` es built by ``num_workers``
    persistent worker processes; pass each to :meth:`BatchBuilder.finalize` in the
    training process. The neighbour cache is filled first, so workers share it
    instead of each recomputing every topology."""
    builder.cache.fill(dataset, builder.neighbor_options)
    return torch.utils.data.DataLoader(
        StructureBatches(dataset, builder),
        sampler=_EpochRequests(sampler),
        batch_size=None,
        collate_fn=_unchanged,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        prefetch_factor=4 if num_workers > 0 else None,
    )
