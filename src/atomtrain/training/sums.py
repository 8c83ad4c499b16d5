"""Exact epoch sums of the loss terms and of the metrics.

The epoch loss is ``Σ_terms weight · S / N`` for ``mean`` terms and
``Σ_terms weight · S / n_batches`` for ``sum`` terms, where ``S`` is the sum of the
term's pointwise losses over the epoch and ``N`` their number. For ``mean`` terms it
does not depend on the batching, so the training and validation losses are directly
comparable.
"""

from __future__ import annotations

from typing import Any, Dict, List

import torch
from metatensor.torch import TensorMap

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
    ) -> None:
        """Add one batch: its loss parts ``{term: (sum, count)}`` and its errors."""
        for name, (total, count) in parts.items():
            self.terms[name][0] += total
            self.terms[name][1] += count
        self.batches += 1
        volumes = torch.stack(
            [torch.linalg.det(s.cell.detach()).abs() for s in batch.systems]
        )
        self.metrics.update(predictions, batch.targets, atoms_per_structure, volumes)

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

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.terms = {k: [float(x) for x in v] for k, v in state["terms"].items()}
        self.batches = int(state["batches"])
        self.metrics.load_state_dict(state["metrics"])
