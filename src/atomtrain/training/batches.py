"""Batches for the engine, from :mod:`atomtrain.data.sampling` (which structures go
together) and :mod:`atomtrain.data.batching` (systems with neighbour lists and
autograd leaves, labels as TensorMaps).

Training plans are shuffled deterministically from ``(seed, epoch)`` so that a restart
rebuilds the same batches, and augmentations are drawn from ``(seed, epoch, index)``;
with several training datasets, the batches of all of them are interleaved in an order
drawn from the same seed. Validation is not shuffled.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch

from ..data.batching import Batch, BatchBuilder
from ..data.dataset import Dataset
from ..data.neighbors import NeighborCache
from ..data.sampling import BatchPlan, plan_epoch
from ..utils.abc import ModelInterface

Plan = List[Tuple[Dataset, List[int]]]


class BatchFactory:
    """Plans epochs and builds batches in the model's dtype and device."""

    def __init__(
        self,
        trainer: Any,
        model: ModelInterface[Any],
        hypers: Dict[str, Any],
        dtype: torch.dtype,
        device: torch.device,
        seed: int = 0,
    ) -> None:
        self.hypers = hypers
        self.cache = NeighborCache()
        targets: Dict[str, Any] = dict(model.dataset_info.targets)
        extra = dict(model.dataset_info.extra_data)
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
        )
        self.eval_builder = BatchBuilder(
            self.options, targets, extra, dtype, device, self.cache
        )
        self.gradients = sorted({g for t in targets.values() for g in t.gradients})

    def _edges(self, dataset: Dataset) -> Optional[List[int]]:
        """Edges per structure (all lists together), when a cap on edges is set."""
        if self.hypers["max_edges_per_batch"] is None:
            return None
        counts = [0] * len(dataset)
        for options in self.options:
            for i, n in enumerate(self.cache.num_edges(dataset, options)):
                counts[i] += n
        return counts

    def plan(self, datasets: List[Dataset], seed: Optional[int], epoch: int) -> Plan:
        """The batches of one epoch (``seed`` None: in order, not shuffled)."""
        plan: Plan = []
        for number, dataset in enumerate(datasets):
            batch_plan = BatchPlan(
                batch_size=self.hypers["batch_size"],
                max_atoms=self.hypers["max_atoms_per_batch"],
                max_edges=self.hypers["max_edges_per_batch"],
                shuffle=seed is not None,
                seed=(seed or 0) + number,
            )
            batches = plan_epoch(
                batch_plan,
                dataset.num_atoms(),
                epoch,
                num_edges=self._edges(dataset),
                describe=dataset.describe,
            )
            plan.extend((dataset, list(indices)) for indices in batches)
        if seed is not None and len(datasets) > 1:
            generator = torch.Generator().manual_seed(seed + 7919 * epoch)
            order = torch.randperm(len(plan), generator=generator).tolist()
            plan = [plan[i] for i in order]
        return plan

    def count(self, datasets: List[Dataset], epoch: int) -> int:
        """Number of training batches in ``epoch``."""
        return len(self.plan(datasets, 0, epoch))

    def build(
        self, dataset: Dataset, indices: List[int], train: bool, epoch: int = 0
    ) -> Batch:
        if train:
            return self.train_builder(dataset, indices, self.gradients, epoch)
        return self.eval_builder(dataset, indices, self.gradients)
