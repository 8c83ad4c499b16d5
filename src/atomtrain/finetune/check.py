"""The step-0 check: before its first update, a fine-tuned model must reproduce the
pretrained model's predictions for every target it keeps.

Loading, adding heads, copying heads and injecting adapters must not change what the
model computes; a difference here is a bug in the architecture's ``restart`` or in the
fine-tuning setup, and the run stops instead of silently training from a damaged
model. The check runs before the composition baseline is re-fitted on the new data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import torch
from metatensor.torch import TensorMap

from ..data.batching import BatchBuilder
from ..data.dataset import Dataset
from ..data.neighbors import requested_neighbor_lists
from ..errors import UserError

#: Number of training structures the check predicts.
NUM_STRUCTURES = 4


class StepZeroMismatch(UserError):
    """The fine-tuned model does not reproduce the pretrained predictions."""


@dataclass(frozen=True)
class StepZeroReport:
    """What the check compared: targets, number of structures, and the largest
    absolute difference per target (in the target's unit)."""

    targets: List[str]
    num_structures: int
    differences: Dict[str, float]

    def message(self, units: Dict[str, str]) -> str:
        if not self.targets:
            return (
                "step-0 check: the fine-tuned model keeps none of the pretrained "
                "targets; nothing to compare"
            )
        largest = ", ".join(
            f"{name} {self.differences[name]:.3g} {units.get(name, '')}".rstrip()
            for name in self.targets
        )
        return (
            "step-0 check passed: before the first update, the fine-tuned model "
            f"reproduces the pretrained predictions of {', '.join(self.targets)} on "
            f"{self.num_structures} training structures (largest difference: "
            f"{largest})"
        )


def _tolerance(dtype: torch.dtype, scale: float) -> float:
    relative = 1e-10 if dtype == torch.float64 else 1e-5
    return relative * max(1.0, scale)


def _predict(
    model: torch.nn.Module, systems: List[Any], outputs: Dict[str, Any]
) -> Dict[str, TensorMap]:
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(systems, outputs, None)
    finally:
        model.train(was_training)


def _usable(dataset: Dataset, types: Sequence[int]) -> List[int]:
    """Up to :data:`NUM_STRUCTURES` structures whose elements the pretrained model
    knows."""
    known = set(int(t) for t in types)
    chosen: List[int] = []
    for index in range(len(dataset)):
        if set(dataset[index].types.tolist()) <= known:
            chosen.append(index)
        if len(chosen) == NUM_STRUCTURES:
            break
    return chosen


def step_zero_check(
    pretrained: Any, finetuned: Any, datasets: Sequence[Dataset]
) -> StepZeroReport:
    """Compare both models on the first training structures, for the pretrained
    targets that ``finetuned`` still has. Raises :class:`StepZeroMismatch` naming
    the target and the difference when they disagree."""
    kept = [
        n
        for n in pretrained.dataset_info.targets
        if n in finetuned.dataset_info.targets
    ]
    datasets = [d for d in datasets if len(d) > 0]
    if not kept or not datasets:
        return StepZeroReport(kept if datasets else [], 0, {})
    dataset = datasets[0]
    indices = _usable(dataset, pretrained.dataset_info.atomic_types)
    if not indices:
        return StepZeroReport([], 0, {})
    dtype = next(finetuned.parameters()).dtype
    length_unit = dataset.info.length_unit
    lists = requested_neighbor_lists(finetuned, length_unit)
    for options in requested_neighbor_lists(pretrained, length_unit):
        if not any(options == existing for existing in lists):
            lists.append(options)
    batch = BatchBuilder(lists, {}, dtype=dtype)(dataset, indices)
    outputs = {n: pretrained.dataset_info.targets[n].model_output() for n in kept}
    before = _predict(pretrained.to(dtype), batch.systems, outputs)
    after = _predict(finetuned, batch.systems, outputs)
    differences: Dict[str, float] = {}
    for name in kept:
        old = torch.cat([b.values.reshape(-1) for b in before[name].blocks()])
        new = torch.cat([b.values.reshape(-1) for b in after[name].blocks()])
        difference = (
            float((old - new).abs().max()) if old.shape == new.shape else float("inf")
        )
        differences[name] = difference
        if not difference <= _tolerance(dtype, float(old.abs().max())):
            raise StepZeroMismatch(
                f"step-0 check failed: before any update, the fine-tuned model "
                f"predicts '{name}' differently from the pretrained model on "
                f"{', '.join(dataset.describe(i) for i in indices)} (largest "
                f"difference {difference:.3g}); the architecture's restart() or the "
                "fine-tuning setup changed the pretrained model"
            )
    return StepZeroReport(kept, len(indices), differences)
