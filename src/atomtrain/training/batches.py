"""Batches for the engine, from :mod:`atomtrain.data.sampling` (which structures go
together) and :mod:`atomtrain.data.batching` (systems with neighbour lists and
autograd leaves, labels as TensorMaps).

Training plans are shuffled deterministically from ``(seed, epoch)`` so that a restart
rebuilds the same batches, and augmentations are drawn from ``(seed, epoch, index)``;
with several training datasets, the batches of all of them are interleaved in an order
drawn from the same seed. Validation is not shuffled.

With several processes, ``batch_size`` and the caps on atoms and edges apply to each
process: the plan is made of *global* batches (``batch_size * world_size`` structures,
caps multiplied likewise), exactly the batches a single process would use with those
values, and each is split between the processes by :func:`share_batch` with similar
numbers of atoms (or edges, when they are capped) per process. A run on N processes
therefore follows the same batches as a run on one process with an N times larger
batch. Every process computes the same plan, so they agree on the number of steps
without communicating, and each reads only the structures of its own shares.

Edges (neighbour pairs per structure), needed by ``max_edges_per_batch`` and the
memory guard, are counted once per dataset in one pass shared between the processes
(each counts every N-th structure) and kept as one ``int32`` per structure.

With ``num_workers > 0``, the first stage of each batch (reading, augmentation,
neighbour topologies) runs in DataLoader worker processes (:mod:`atomtrain.data.
sampling`) ahead of the training process, which only finalizes it. Measured on the
development machine (2 cores shared, float32), the first stage of a batch of 16
ethanol molecules takes 1.0 ms from disk against 76 ms for a SOAP-BPNN step, so the
default is 0: workers pay where reading is slow (large structures, a network file
system) and cores are free.
"""

from __future__ import annotations

import array
import weakref
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import torch

from ..data.batching import Batch, BatchBuilder, CollatedBatch
from ..data.dataset import Dataset
from ..data.neighbors import NeighborCache
from ..data.sampling import (
    BatchingError,
    BatchPlan,
    BatchRequests,
    CollatedBatches,
    batch_loader,
    plan_epoch,
)
from ..data.system_inputs import check_inputs, requested_inputs
from ..utils.abc import ModelInterface
from . import distributed
from .memory import MemoryBudget
from .progress import StructureProgress
from .settings import TrainerSettings


class Step(NamedTuple):
    """One optimiser step: a global batch of ``dataset`` and, per process, the
    dataset indices of its share (possibly empty when the batch has fewer structures
    than there are processes)."""

    dataset: Dataset
    shares: List[List[int]]

    @property
    def indices(self) -> List[int]:
        """Every structure of the global batch."""
        return [i for share in self.shares for i in share]


Plan = List[Step]


def share_batch(
    indices: Sequence[int],
    loads: Sequence[int],
    world_size: int,
    fits: Any = None,
) -> Optional[List[List[int]]]:
    """Split a batch between ``world_size`` processes, largest structures first, each
    to the least-loaded process (``loads[i]``: atoms or edges of structure ``i``).
    ``fits(share, index)`` says whether a structure may join a share; None when some
    structure fits nowhere. Shares keep the batch's order."""
    position = {index: k for k, index in enumerate(indices)}
    shares: List[List[int]] = [[] for _ in range(world_size)]
    totals = [0] * world_size
    for index in sorted(indices, key=lambda i: (-loads[i], position[i])):
        room = [r for r in range(world_size) if fits is None or fits(shares[r], index)]
        if not room:
            return None
        chosen = min(room, key=lambda r: (totals[r], r))
        shares[chosen].append(index)
        totals[chosen] += loads[index]
    return [sorted(share, key=position.__getitem__) for share in shares]


class BatchFactory:
    """Plans epochs and builds batches in the model's dtype and device."""

    def __init__(
        self,
        trainer: Any,
        model: ModelInterface[Any],
        settings: TrainerSettings,
        dtype: torch.dtype,
        device: torch.device,
        seed: int = 0,
        targets: Optional[Dict[str, Any]] = None,
    ) -> None:
        """``targets``: the labels to put in batches (default: every target of the
        model; a fine-tuned model also has targets the new data lacks)."""
        self.settings = settings
        self.cache = NeighborCache()
        if targets is None:
            targets = dict(model.dataset_info.targets)
        extra = dict(model.dataset_info.extra_data)
        requested = requested_inputs(model)
        check_inputs(requested, extra)
        inputs = sorted(requested)
        self.options = trainer.neighbor_options(model)
        self.train_builder = BatchBuilder(
            self.options,
            targets,
            extra,
            dtype,
            device,
            self.cache,
            transform=trainer.transform_structure(),
            seed=seed,
            inputs=inputs,
        )
        self.eval_builder = BatchBuilder(
            self.options, targets, extra, dtype, device, self.cache, inputs=inputs
        )
        self.gradients = sorted({g for t in targets.values() for g in t.gradients})
        #: the memory one step may use (see :mod:`.memory`), None for no guard
        self.memory: Optional[MemoryBudget] = None
        self._edges: weakref.WeakKeyDictionary[Dataset, np.ndarray] = (
            weakref.WeakKeyDictionary()
        )
        self._workers: Optional[Tuple[List[Dataset], BatchRequests, Any]] = None

    def edges_per_structure(self, dataset: Dataset) -> np.ndarray:
        """Neighbour pairs of every structure (all lists together, ``int32``),
        counted once, each process counting every N-th structure."""
        counts = self._edges.get(dataset)
        if counts is None:
            rank, world = distributed.rank(), distributed.world_size()
            share = range(rank, len(dataset), world)
            mine = np.zeros(len(share), dtype=np.int32)
            with StructureProgress(
                len(share), "neighbour lists", None if rank == 0 else False
            ) as progress:
                for position, i in enumerate(share):
                    mine[position] = sum(
                        len(self.cache.topology(dataset, i, o)) for o in self.options
                    )
                    progress.update(1)
            counts = np.zeros(len(dataset), dtype=np.int32)
            for r, share in enumerate(distributed.all_gather_object(mine)):
                counts[r::world] = share
            self._edges[dataset] = counts
        return counts

    def use_workers(self, datasets: Sequence[Dataset], num_workers: int) -> None:
        """Build the batches of ``datasets`` in ``num_workers`` worker processes
        (started at the first batch); 0 builds them in this process."""
        if num_workers == 0:
            self._workers = None
            return
        requests = BatchRequests()
        collated = CollatedBatches(datasets, self.train_builder, self.eval_builder)
        self._workers = (
            list(datasets),
            requests,
            batch_loader(collated, requests, num_workers),
        )

    def collated(
        self, steps: Sequence[Step], epoch: int, train: bool
    ) -> Iterator[Optional[CollatedBatch]]:
        """The first stage of this process's share of each of ``steps``, in order
        (None for an empty share): from the workers, or built here as each is
        consumed."""
        rank = distributed.rank()
        if self._workers is None:
            builder = self.train_builder if train else self.eval_builder
            for step in steps:
                share = step.shares[rank]
                yield builder.collate(step.dataset, share, epoch) if share else None
            return
        datasets, requests, loader = self._workers
        numbers = {id(dataset): n for n, dataset in enumerate(datasets)}
        requests.set(
            [(numbers[id(s.dataset)], epoch, s.shares[rank], train) for s in steps]
        )
        yield from loader

    def _edges_if_needed(self, dataset: Dataset) -> Optional[Sequence[int]]:
        """Edges per structure, when a cap on edges or memory needs them (4-byte
        integers, indexed like a list)."""
        if self.settings.max_edges_per_batch is None and self.memory is None:
            return None
        edges = array.array("i")
        edges.frombytes(self.edges_per_structure(dataset).tobytes())
        return edges

    def plan(
        self,
        datasets: List[Dataset],
        seed: Optional[int],
        epoch: int,
        world_size: Optional[int] = None,
    ) -> Plan:
        """The steps of one epoch (``seed`` None: in order, not shuffled), shared
        between ``world_size`` processes (default: those of the process group)."""
        world = distributed.world_size() if world_size is None else world_size
        settings = self.settings
        scaled = [
            None if cap is None else cap * world
            for cap in (settings.max_atoms_per_batch, settings.max_edges_per_batch)
        ]
        plan: Plan = []
        for number, dataset in enumerate(datasets):
            batch_plan = BatchPlan(
                batch_size=settings.batch_size * world,
                max_atoms=scaled[0],
                max_edges=scaled[1],
                shuffle=seed is not None,
                seed=(seed or 0) + number,
            )
            edges = self._edges_if_needed(dataset)
            atoms = dataset.num_atoms()
            for indices in plan_epoch(
                batch_plan, atoms, epoch, num_edges=edges, describe=dataset.describe
            ):
                for shares in self._split(dataset, indices, atoms, edges, world):
                    plan.append(Step(dataset, shares))
        if seed is not None and len(datasets) > 1:
            generator = torch.Generator().manual_seed(seed + 7919 * epoch)
            order = torch.randperm(len(plan), generator=generator).tolist()
            plan = [plan[i] for i in order]
        return plan

    def _split(
        self,
        dataset: Dataset,
        indices: List[int],
        atoms: Sequence[int],
        edges: Optional[Sequence[int]],
        world: int,
    ) -> List[List[List[int]]]:
        """Shares of one global batch under the per-process caps; a batch that cannot
        be shared within them becomes two steps (the same on every process)."""
        max_atoms = self.settings.max_atoms_per_batch
        max_edges = self.settings.max_edges_per_batch

        memory = self.memory

        def fits(share: List[int], index: int) -> bool:
            members = [*share, index]
            total_atoms = sum(atoms[i] for i in members)
            if max_atoms is not None and total_atoms > max_atoms:
                return False
            if edges is None:
                return True
            total_edges = sum(edges[i] for i in members)
            if max_edges is not None and total_edges > max_edges:
                return False
            return memory is None or memory.fits(total_atoms, total_edges)

        loads = edges if max_edges is not None else None
        shares = share_batch(indices, loads or atoms, world, fits)
        if shares is not None:
            return [shares]
        if len(indices) == 1:
            atoms_text = f"{atoms[indices[0]]} atoms"
            edges_text = "" if loads is None else f", {loads[indices[0]]} pairs"
            raise BatchingError(
                f"{dataset.describe(indices[0])} ({atoms_text}{edges_text}) does not "
                "fit under max_atoms_per_batch / max_edges_per_batch; raise the caps"
            )
        half = len(indices) // 2
        return self._split(dataset, indices[:half], atoms, edges, world) + self._split(
            dataset, indices[half:], atoms, edges, world
        )

    def structure_size(self, dataset: Dataset, index: int) -> Tuple[int, int]:
        """Atoms and neighbour pairs (all lists together) of one structure."""
        pairs = sum(
            int(self.cache.topology(dataset, index, options).shape[0])
            for options in self.options
        )
        return len(dataset[index]), pairs

    def count(self, datasets: List[Dataset], epoch: int) -> int:
        """Number of training steps in ``epoch``."""
        return len(self.plan(datasets, 0, epoch))

    def build(
        self,
        dataset: Dataset,
        indices: List[int],
        train: bool,
        epoch: int = 0,
        collated: Optional[CollatedBatch] = None,
    ) -> Batch:
        """The batch of ``indices``, finalized from ``collated`` (their first stage,
        see :meth:`collated`) when given."""
        builder = self.train_builder if train else self.eval_builder
        if collated is not None:
            return builder.finalize(collated, self.gradients)
        return builder(dataset, indices, self.gradients, epoch)
