"""Exact epoch sums of the loss terms and of the metrics.

The epoch loss is ``Σ_terms weight · S / N`` for ``mean`` terms and
``Σ_terms weight · S / n_batches`` for ``sum`` terms, where ``S`` is the sum of the
term's pointwise losses over the epoch and ``N`` their number. For ``mean`` terms it
does not depend on the batching, so the training and validation losses are directly
comparable.

Under several processes each process adds its share of every batch; :meth:`EpochSums.
all_reduce` adds the sums of all processes (the batch count is not summed: every
process counts every step), after which every process holds the global values.
"""

from __future__ import annotations

from typing import Any, Dict, List

import torch
from metatensor.torch import TensorMap

from . import distributed
from .losses import LossFunction
from .metrics import MetricAccumulator


class EpochSums:
    """Loss-term sums and metric sums of one pass over a dataset."""

    def __init__(self, loss: LossFunction, metrics: MetricAccumulator) -> None:
        self.loss = loss
        self.metrics = metrics
        self.terms: Dict[str, List[float]] = {}
        self.batches = 0
        self.reset()

    def reset(self) -> None:
        self.terms = {term.name: [0.0, 0.0] for term in self.loss.terms}
        self.batches = 0
        self.metrics.reset()

    def add(
        self,
        parts: Dict[str, Any],
        predictions: Dict[str, TensorMap],
        batch: Any,
        atoms_per_structure: torch.Tensor,
        count_batch: bool = True,
    ) -> None:
        """Add one batch: its loss parts ``{term: (sum, count)}`` and its errors.
        ``count_batch`` False adds a part of a batch (see :meth:`count_batch`)."""
        for name, (total, count) in parts.items():
            self.terms[name][0] += total
            self.terms[name][1] += count
        if count_batch:
            self.batches += 1
        volumes = torch.stack(
            [torch.linalg.det(s.cell.detach()).abs() for s in batch.systems]
        )
        self.metrics.update(predictions, batch.targets, atoms_per_structure, volumes)

    def count_batch(self) -> None:
        """Count one batch whose parts were added with ``count_batch=False``."""
        self.batches += 1

    def all_reduce(self) -> None:
        """Replace the loss-term and metric sums by their totals over every
        process (no-op in a single process)."""
        if distributed.world_size() == 1:
            return
        metric_sums = self.metrics.sums
        flat = [v for name in sorted(self.terms) for v in self.terms[name]]
        flat += [v for key in sorted(metric_sums) for v in metric_sums[key]]
        totals = distributed.all_reduce_sum(
            torch.tensor(flat, dtype=torch.float64)
        ).tolist()
        for name in sorted(self.terms):
            self.terms[name] = [totals.pop(0), totals.pop(0)]
        for key in sorted(metric_sums):
            metric_sums[key] = [totals.pop(0) for _ in metric_sums[key]]

    def epoch_loss(self) -> float:
        value = 0.0
        for term in self.loss.terms:
            total, count = self.terms[term.name]
            if count == 0:
                continue
            divisor = count if term.reduction == "mean" else max(self.batches, 1)
            value += term.weight * total / divisor
        return value

    def values(self, prefix: str) -> Dict[str, float]:
        """``{"<prefix>.loss": ..., "<prefix>.<metric>": ...}``."""
        result = {f"{prefix}.loss": self.epoch_loss()}
        for name, value in self.metrics.compute().items():
            result[f"{prefix}.{name}"] = value
        return result

    def state_dict(self) -> Dict[str, Any]:
        return {
            "terms": {k: list(v) for k, v in self.terms.items()},
            "batches": self.batches,
            "metrics": self.metrics.state_dict(),
        }

    def load_state_dict(self, state: Dict[str, Any], sums: bool = True) -> None:
        """Restore a :meth:`state_dict`; ``sums`` False keeps only the batch count
        (the other processes of a run restored on rank 0, which holds the totals)."""
        self.batches = int(state["batches"])
        if not sums:
            return
        self.terms = {k: [float(x) for x in v] for k, v in state["terms"].items()}
        self.metrics.load_state_dict(state["metrics"])
