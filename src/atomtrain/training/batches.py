"""Batches for the engine, from :mod:`atomtrain.data.sampling` (which structures go
together) and :mod:`atomtrain.data.batching` (systems with neighbour lists and
autograd leaves, labels as TensorMaps).

Training plans are shuffled deterministically from ``(seed, epoch)`` so that a restart
rebuilds the same batches; with several training datasets, the batches of all of them
are interleaved in an order drawn from the same seed. Validation is not shuffled.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from ..data.dataset import Dataset
from ..utils.abc import ModelInterface

Plan = List[Tuple[Dataset, List[int]]]


def _components() -> Tuple[Any, Any, Callable[..., List[List[int]]]]:
    """``(BatchBuilder, NeighborCache, plan_epoch)`` from the data package."""
    from ..data.batching import BatchBuilder
    from ..data.neighbors import NeighborCache
    from ..data.sampling import plan_epoch

    return BatchBuilder, NeighborCache, plan_epoch


class BatchFactory:
    """Plans epochs and builds batches in the model's dtype and device."""

    def __init__(
        self,
        trainer: Any,
        model: ModelInterface[Any],
        hypers: Dict[str, Any],
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        builder_class, cache_class, self.plan_epoch = _components()
        self.hypers = hypers
        self.cache = cache_class()
        targets: Dict[str, Any] = dict(model.dataset_info.targets)
        extra = dict(model.dataset_info.extra_data)
        options = trainer.neighbor_options(model)
        self.train_builder = builder_class(
            options, targets, extra, dtype, device, self.cache
        )
        transform = trainer.transform_structure()
        if transform is not None:
            self.train_builder.transform = transform
        self.eval_builder = builder_class(
            options, targets, extra, dtype, device, self.cache
        )
        self.gradients = sorted({g for t in targets.values() for g in t.gradients})

    def plan(self, datasets: List[Dataset], seed: Optional[int], epoch: int) -> Plan:
        """The batches of one epoch (``seed`` None: in order, not shuffled)."""
        plan: Plan = []
        for number, dataset in enumerate(datasets):
            batches = self.plan_epoch(
                dataset,
                batch_size=self.hypers["batch_size"],
                max_atoms_per_batch=self.hypers["max_atoms_per_batch"],
                max_edges_per_batch=self.hypers["max_edges_per_batch"],
                shuffle=seed is not None,
                seed=(seed or 0) + number,
                epoch=epoch,
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

    def build(self, dataset: Dataset, indices: List[int], train: bool) -> Any:
        builder = self.train_builder if train else self.eval_builder
        return builder(dataset, indices, self.gradients)
