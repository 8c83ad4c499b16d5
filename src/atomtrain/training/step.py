"""The gradient of one training step, for this process's share of a batch.

The loss of a batch is ``Σ_terms weight · S / N`` (``mean`` terms) where ``S`` sums
the pointwise losses over the batch and ``N`` counts them. A share (of a process, or a
piece of it) contributes ``weight · S_share / N`` with the *global* ``N``: the counts
of every share are added first (:meth:`LossFunction.counts` needs only the labels),
so the contributions and their gradients add up exactly to those of the whole batch.
That is what makes N processes, or a batch split in pieces, equal to one process with
the whole batch — a mean of per-process means would not be when shares differ in
size.

On CUDA out-of-memory the step starts again with the share split in halves (then
quarters, ...), accumulating the gradients of the pieces; the result is the same
gradient. Validation batches are split the same way. A structure that does not fit
alone is reported with its size.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import torch
from metatensor.torch import TensorMap

from ..data.batching import Batch, CollatedBatch
from ..data.dataset import Dataset
from ..data.info import TargetInfo
from ..errors import UserError
from ..utils.abc import ModelInterface
from . import distributed
from .batches import BatchFactory
from .losses import LossFunction
from .predict import batch_predictions
from .sums import EpochSums


class OutOfMemoryWarning(UserWarning):
    """A batch did not fit in the device's memory and was split."""


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""

    @classmethod
    def at(
        cls,
        loss: float,
        epoch: int,
        number: int,
        dataset: Dataset,
        indices: List[int],
        last_checkpoint: Optional[Path],
    ) -> TrainingDiverged:
        """The error for batch ``number`` of ``epoch`` (structures ``indices`` of
        ``dataset``), naming the last checkpoint written."""
        structures = ", ".join(dataset.describe(i) for i in indices)
        kept = (
            f"the last good checkpoint is {last_checkpoint}"
            if last_checkpoint is not None
            else "no checkpoint was written yet"
        )
        return cls(
            f"the training loss is {loss} at epoch {epoch}, batch {number} "
            f"(structures: {structures}); {kept}. Lower the learning rate, set "
            "grad_clip_norm, or check these structures"
        )


class StructureTooLarge(UserError):
    """One structure alone does not fit in the device's memory."""


def split_in_halves(pieces: List[List[int]]) -> List[List[int]]:
    """Every piece of more than one structure cut in two (order kept)."""
    result = []
    for piece in pieces:
        if len(piece) > 1:
            half = len(piece) // 2
            result.extend([piece[:half], piece[half:]])
        else:
            result.append(piece)
    return result


class GradientStep:
    """Forward and backward of one share of a batch, gradients accumulated in
    ``.grad``; the optimiser step itself is left to the loop."""

    def __init__(
        self,
        trainer: Any,
        model: ModelInterface[Any],
        loss: LossFunction,
        batches: BatchFactory,
        targets: Dict[str, TargetInfo],
        device: torch.device,
    ) -> None:
        self.trainer = trainer
        self.model = model
        self.loss = loss
        self.batches = batches
        self.targets = targets
        self.device = device
        self.current: List[int] = []

    def local_counts(
        self,
        dataset: Dataset,
        indices: List[int],
        epoch: int,
        collated: Optional[CollatedBatch] = None,
    ) -> tuple[Dict[str, int], Optional[Batch]]:
        """Element counts of the loss terms in a share (``collated``: its first
        stage, when built ahead), and the share's batch when it could be built whole
        (None after an out-of-memory error while building)."""
        if not indices:
            return {}, None
        try:
            batch = self.batches.build(dataset, indices, True, epoch, collated)
            return self.loss.counts(batch.targets, batch.extra_data), batch
        except torch.cuda.OutOfMemoryError:
            self._release()
        counts: Dict[str, int] = {}
        for piece in split_in_halves([indices]):
            piece_counts, _ = self.local_counts(dataset, piece, epoch)
            for name, count in piece_counts.items():
                counts[name] = counts.get(name, 0) + count
        return counts, None

    def backward(
        self,
        dataset: Dataset,
        indices: List[int],
        epoch: int,
        denominators: Dict[str, int],
        sums: EpochSums,
        batch: Optional[Batch] = None,
    ) -> float:
        """Accumulate the gradient of this share's part of the batch loss; add its
        loss terms and errors to ``sums``; return the part (detached)."""
        prebuilt = [batch]

        def batches(pieces: List[List[int]]) -> Iterator[Batch]:
            for piece in pieces:
                self.current = piece
                whole = prebuilt.pop() if prebuilt and len(pieces) == 1 else None
                if whole is None:
                    whole = self.batches.build(dataset, piece, True, epoch)
                yield whole

        def run(pieces: List[List[int]]) -> float:
            total = 0.0
            for built, predictions in batch_predictions(batches(pieces), self._predict):
                loss = self._add(built, predictions, sums, denominators)
                loss.backward()
                total += float(loss.detach())
            return total

        def clear() -> None:
            prebuilt.clear()
            self.model.zero_grad(set_to_none=True)

        return self._retrying(dataset, indices, sums, run, clear)

    def validate(
        self,
        dataset: Dataset,
        indices: List[int],
        sums: EpochSums,
        collated: Optional[CollatedBatch] = None,
    ) -> None:
        """Add the loss terms and errors of a share to ``sums`` (no gradient;
        ``collated``: the share's first stage, when built ahead)."""

        def batches(pieces: List[List[int]]) -> Iterator[Batch]:
            for piece in pieces:
                self.current = piece
                whole = collated if len(pieces) == 1 else None
                yield self.batches.build(dataset, piece, False, collated=whole)

        def run(pieces: List[List[int]]) -> float:
            for batch, predictions in batch_predictions(batches(pieces), self._predict):
                self._add(batch, predictions, sums, None)
            return 0.0

        self._retrying(dataset, indices, sums, run, lambda: None)

    def _predict(self, batch: Batch) -> Dict[str, TensorMap]:
        """The trainer's predictions for ``batch`` (its ``predict`` hook)."""
        return self.trainer.predict(self.model, batch, self.targets)

    def _add(
        self,
        batch: Batch,
        predictions: Dict[str, TensorMap],
        sums: EpochSums,
        denominators: Optional[Dict[str, int]],
    ) -> torch.Tensor:
        """The loss of ``batch`` given its ``predictions``, its parts and errors
        added to ``sums``."""
        atoms = torch.tensor([len(s) for s in batch.systems], device=self.device)
        loss, parts = self.loss(
            predictions, batch.targets, batch.extra_data, atoms, denominators
        )
        sums.add(parts, predictions, batch, atoms, count_batch=False)
        return loss

    def step_graph(self, batch: Batch) -> torch.Tensor:
        """The loss of ``batch`` with the autograd graph of a training step (for the
        memory guard's measure; no gradient is computed and nothing is summed)."""
        atoms = torch.tensor([len(s) for s in batch.systems], device=self.device)
        predictions = self._predict(batch)
        return self.loss(predictions, batch.targets, batch.extra_data, atoms, None)[0]

    def _retrying(
        self,
        dataset: Dataset,
        indices: List[int],
        sums: EpochSums,
        run: Callable[[List[List[int]]], float],
        clear: Callable[[], None],
    ) -> float:
        """``run(pieces)``, again with pieces half as large after each CUDA
        out-of-memory error, ``sums`` and ``clear()`` undoing the failed attempt."""
        if not indices:
            return 0.0
        pieces = [indices]
        snapshot = sums.state_dict()
        while True:
            try:
                return run(pieces)
            except torch.cuda.OutOfMemoryError:
                clear()
                sums.load_state_dict(snapshot)
                self._release()
                if len(self.current) == 1:
                    raise self._too_large(dataset, self.current[0]) from None
                pieces = split_in_halves(pieces)
                structures = ", ".join(dataset.describe(i) for i in indices)
                warnings.warn(
                    f"out of memory on {self.device} for a batch of {len(indices)} "
                    f"structures ({structures}); retrying in {len(pieces)} pieces "
                    "with the same result",
                    OutOfMemoryWarning,
                    stacklevel=3,
                )

    def _release(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _too_large(self, dataset: Dataset, index: int) -> UserError:
        atoms, pairs = self.batches.structure_size(dataset, index)
        return StructureTooLarge(
            f"{dataset.describe(index)} ({atoms} atoms, {pairs} neighbour pairs) does "
            f"not fit in the memory of {self.device} on its own; use a device with "
            "more memory, a lower base_precision, or a smaller model or cutoff"
        )


def sum_over_processes(
    values: List[float], failure: Optional[BaseException]
) -> List[float]:
    """``values`` summed over processes, with the number of failed processes last."""
    flags = [*values, 0.0 if failure is None else 1.0]
    tensor = torch.tensor(flags, dtype=torch.float64)
    return [float(v) for v in distributed.all_reduce_sum(tensor).tolist()]


def raise_on_failure(
    failure: Optional[BaseException], failed: float, epoch: int, number: int
) -> None:
    """Re-raise this process's error, or stop because another process failed."""
    if failure is not None:
        raise failure
    if failed > 0:
        raise distributed.DistributedError(
            f"{int(failed)} other process(es) failed at epoch {epoch}, batch {number}; "
            "their error is in their output"
        )
