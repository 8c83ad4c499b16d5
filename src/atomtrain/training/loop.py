"""The one training loop, shared by every architecture (see :mod:`.engine`).

Per epoch: the training batches (optimiser step, gradient clipping, schedule, EMA,
exact epoch sums of the loss and metrics), then validation (evaluation mode, EMA
weights when on), best-model tracking on ``best_model_metric``, early stopping, the
epoch line and CSV row, and a checkpoint every ``checkpoint_interval`` epochs. The
state stored in checkpoints (:class:`~.state.TrainingState`) makes a restart continue
exactly, including from the middle of an epoch after SIGINT/SIGTERM.

Under several processes (see :mod:`.distributed`) every process runs this loop on its
share of each batch (:mod:`.batches`); gradients are summed over processes after the
backward pass, with the loss normalised by the global element counts (:mod:`.step`),
so the update equals that of one process with the whole batch. The gradients are
all-reduced by hand rather than through ``DistributedDataParallel``: the model is
called through the trainer's ``predict`` hook, which differentiates the energy with
respect to positions and strain with ``create_graph=True`` before the backward pass,
a pattern DDP's reducer does not support; one flat all-reduce after ``backward`` is
exact and needs nothing from the architecture. The composition baseline and the loss
scales are computed on the first process only (each of them is a pass over the
training data, which the other processes need not read) and broadcast; the model starts
from rank 0's weights. Epoch sums are added over processes, so logs show global
values; a SIGINT/SIGTERM on any process stops every process after the same step (the
stop flag is summed with the loss of each step); only rank 0 writes logs, the CSV and
checkpoints. An error on one process during a step stops every process.
"""

from __future__ import annotations

import contextlib
import math
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager, Dict, List, Optional

import torch

from ..data.batching import CollatedBatch
from ..data.dataset import Dataset
from ..utils.abc import ModelInterface
from . import distributed
from .baseline import fit_output_scales, without_baseline
from .batches import BatchFactory, Step
from .ema import ExponentialMovingAverage
from .logging import EpochLog
from .memory import guard_memory
from .metrics import MetricAccumulator, selection_value
from .optimizers import build_optimizer
from .progress import EpochProgress, StructureProgress
from .schedules import LearningRateSchedule
from .signals import StopRequest, TrainingInterrupted
from .state import (
    TrainingState,
    capture_rng,
    fingerprint,
    fingerprint_changes,
    restore_rng,
    track_best,
)
from .step import (
    GradientStep,
    TrainingDiverged,
    raise_on_failure,
    sum_over_processes,
)
from .sums import EpochSums
from .targets import prepare_targets

if TYPE_CHECKING:
    # the engine starts the loop; the loop only calls the trainer's hooks
    from .engine import EngineTrainer


class TrainingRun:
    """One call of :meth:`EngineTrainer.train`: setup, epochs, and the end state."""

    def __init__(
        self,
        trainer: EngineTrainer[Any],
        model: ModelInterface[Any],
        dtype: torch.dtype,
        devices: List[torch.device],
        train_datasets: List[Dataset],
        val_datasets: List[Dataset],
        checkpoint_dir: str | Path,
    ) -> None:
        self.trainer = trainer
        self.model = model
        self.settings = trainer.settings
        self.device = devices[0]
        self.dtype = dtype
        self.checkpoint_dir = Path(checkpoint_dir)
        self.rank, self.main = distributed.rank(), distributed.is_main_process()
        distributed.check_shareable(sum(len(d) for d in train_datasets))
        restored = trainer.state is not None
        self.state = trainer.state if trainer.state is not None else TrainingState()
        trainer.state = self.state
        prepared = prepare_targets(
            trainer,
            model,
            self.state,
            train_datasets,
            val_datasets,
            restored,
        )
        self.targets, self.per_atom = prepared.targets, prepared.per_atom
        self.train_sets, self.val_sets = prepared.train_sets, prepared.val_sets
        self.loss = prepared.loss
        self._prepare_model(train_datasets)
        self._prepare_steps()
        self.optimizer = self._optimizer()
        steps = self.settings.num_epochs * self.batches.count(self.train_sets, 0)
        self.schedule = LearningRateSchedule.from_settings(
            self.optimizer, self.settings, steps
        )
        decay = self.settings.ema_decay
        self.ema = ExponentialMovingAverage(model, decay) if decay is not None else None
        self._prepare_logs()
        self.last_checkpoint: Optional[Path] = None
        if restored:
            self._restore(train_datasets)

    def _prepare_model(self, train_datasets: List[Dataset]) -> None:
        """The model on its device and dtype, its output scales fitted, the
        trainer's ``before_training`` hook called, and every process given the
        first one's weights."""
        model = self.model
        model.to(device=self.device, dtype=self.dtype)
        distributed.run_on_main(
            fit_output_scales,
            model,
            train_datasets,
            model.dataset_info.targets,
            self.trainer.composition_baseline(model),
        )
        self.trainer.before_training(model, train_datasets, model.dataset_info)
        distributed.broadcast_module(model)

    def _prepare_steps(self) -> None:
        """The batches and the gradient step, within the memory guard's limits."""
        self.batches = BatchFactory(
            self.trainer,
            self.model,
            self.settings,
            self.dtype,
            self.device,
            self.state.seed,
            targets=self.targets,
        )
        self.gradient = GradientStep(
            self.trainer, self.model, self.loss, self.batches, self.targets, self.device
        )
        guard_memory(
            self.batches,
            self.gradient.step_graph,
            list(self.model.parameters()),
            self.train_sets,
            self.val_sets,
            self.device,
        )
        self.batches.use_workers(
            [*self.train_sets, *self.val_sets], self.settings.num_workers or 0
        )

    def _prepare_logs(self) -> None:
        """The epoch sums of training and validation, and the epoch log (written by
        the first process only)."""
        metrics_args = (
            self.targets,
            self.per_atom,
            self.model.dataset_info.length_unit,
        )
        self.train_sums = EpochSums(self.loss, MetricAccumulator(*metrics_args))
        self.val_sums = EpochSums(self.loss, MetricAccumulator(*metrics_args))
        self.log = EpochLog(
            self.checkpoint_dir if self.main else None,
            self.train_sums.metrics.units(),
            "",
            self.trainer.external_loggers if self.main else [],
            quiet=not self.main,
        )

    def _optimizer(self) -> torch.optim.Optimizer:
        groups = self.trainer.parameter_groups(self.model)
        return build_optimizer(groups, self.settings)

    def _restore(self, train_datasets: List[Dataset]) -> None:
        state = self.state
        self.optimizer.load_state_dict(state.optimizer)
        # which kernel runs the update is a choice of this process, not saved state
        for group in self.optimizer.param_groups:
            group["fused"] = self.optimizer.defaults["fused"]
        self.schedule.load_state_dict(state.schedule)
        if self.ema is not None and state.ema is not None:
            self.ema.load_state_dict(state.ema)
        if state.partial_epoch:
            # rank 0 holds the sums of every process; the others start from zero
            self.train_sums.load_state_dict(state.partial_epoch, sums=self.main)
        changed = fingerprint_changes(
            state.fingerprint, fingerprint(dict(self.trainer.hypers), train_datasets)
        )
        if changed:
            self.log.info(
                f"warning: the {' and '.join(changed)} changed since the checkpoint "
                "was written; the restart will not reproduce the original run"
            )

    # ---- the loop --------------------------------------------------------------

    def execute(self) -> None:
        if self.state.rng:
            restore_rng(self.state.rng)
        try:
            with without_baseline(self.model), StopRequest() as stop:
                self._epochs(stop)
        finally:
            self.log.close()
        self._sync_state()
        if self.state.best_model_state_dict is not None:
            self.model.load_state_dict(self.state.best_model_state_dict)
            prefix = "val" if self.val_sets else "train"
            metric = f"{prefix}.{self.settings.best_model_metric}"
            self.log.info(
                "the trained model keeps the weights of epoch "
                f"{self.state.best_epoch}, the best by {metric} "
                f"({self.state.best_metric:.6g})"
            )

    def _epochs(self, stop: StopRequest) -> None:
        for epoch in range(self.state.epoch, self.settings.num_epochs):
            self._train_epoch(epoch, stop)
            self.train_sums.all_reduce()
            validation = self._validate()
            train = self.train_sums.values("train")
            self.state.epoch, self.state.batch = epoch + 1, 0
            self.state.partial_epoch = {}
            self.train_sums.reset()
            self.schedule.after_epoch(validation.get("val.loss", train["train.loss"]))
            stop_early = self._track_best(epoch, {**train, **validation})
            if epoch % self.settings.log_interval == 0 or stop_early:
                values = {"learning_rate": self.schedule.learning_rate()}
                self.log.epoch(epoch, {**values, **train, **validation})
            if (epoch + 1) % self.settings.checkpoint_interval == 0:
                self._write_checkpoint(self.checkpoint_dir / f"model_{epoch}.ckpt")
            if stop_early:
                break

    def _train_epoch(self, epoch: int, stop: StopRequest) -> None:
        self.model.train()
        plan = self.batches.plan(self.train_sets, self.state.seed, epoch)
        start = self.state.batch
        atoms = {id(d): d.num_atoms() for d in self.train_sets}
        collated = self.batches.collated(plan[start:], epoch, train=True)
        with EpochProgress(
            len(plan) - start, f"epoch {epoch}", None if self.main else False
        ) as progress:
            for number, first_stage in zip(range(start, len(plan)), collated):
                step = plan[number]
                stopping = self._step(epoch, number, step, stop, first_stage)
                indices = step.indices
                counts = atoms[id(step.dataset)]
                progress.update(len(indices), sum(counts[i] for i in indices))
                if stopping:
                    self._interrupt(epoch, number, stop.requested)

    def _interrupt(self, epoch: int, number: int, requested: Optional[str]) -> None:
        """Write a checkpoint and stop, with the exit code of the signal received
        (SIGTERM's when only another process received one: launchers stop the
        processes of a job with it)."""
        self.state.epoch, self.state.batch = epoch, number + 1
        self.train_sums.all_reduce()
        self.state.partial_epoch = self.train_sums.state_dict()
        path = self.checkpoint_dir / "model_interrupted.ckpt"
        self._write_checkpoint(path)
        # the others wait: a launcher may stop every process when one exits
        distributed.barrier()
        raise TrainingInterrupted(
            f"training interrupted by {requested or 'another process'} at epoch "
            f"{epoch}, batch {number}; checkpoint written to {path}; continue with "
            "--restart auto",
            signal.Signals[requested or "SIGTERM"],
        )

    def _step(
        self,
        epoch: int,
        number: int,
        step: Step,
        stop: StopRequest,
        first_stage: Optional[CollatedBatch],
    ) -> bool:
        """One optimiser step (``first_stage``: this process's share collated);
        True when a process received SIGINT/SIGTERM."""
        self.optimizer.zero_grad(set_to_none=True)
        indices = step.shares[self.rank]
        names = [term.name for term in self.loss.terms]
        failure: Optional[BaseException] = None
        counts: Dict[str, int] = {}
        batch = None
        try:
            counts, batch = self.gradient.local_counts(
                step.dataset, indices, epoch, first_stage
            )
        except Exception as error:
            failure = error
        agreed = sum_over_processes([counts.get(n, 0) for n in names], failure)
        raise_on_failure(failure, agreed[-1], epoch, number)
        denominators = {n: int(c) for n, c in zip(names, agreed[:-1])}
        loss = 0.0
        try:
            loss = self.gradient.backward(
                step.dataset, indices, epoch, denominators, self.train_sums, batch
            )
        except Exception as error:
            failure = error
        agreed = sum_over_processes([loss, float(stop.requested is not None)], failure)
        raise_on_failure(failure, agreed[-1], epoch, number)
        if not math.isfinite(agreed[0]):
            raise TrainingDiverged.at(
                agreed[0],
                epoch,
                number,
                step.dataset,
                step.indices,
                self.last_checkpoint,
            )
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        distributed.all_reduce_gradients(parameters)
        if self.settings.grad_clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, self.settings.grad_clip_norm)
        self.optimizer.step()
        self.schedule.after_step()
        if self.ema is not None:
            self.ema.update(self.model, self.schedule.step_count)
        self.train_sums.count_batch()
        return agreed[1] > 0

    def _validate(self) -> Dict[str, float]:
        if not self.val_sets:
            return {}
        self.model.eval()
        self.val_sums.reset()
        plan = self.batches.plan(self.val_sets, None, 0)
        progress = StructureProgress(
            sum(len(step.indices) for step in plan),
            "validation",
            None if self.main else False,
        )
        with self._evaluation_weights(), progress:
            for step, first_stage in zip(plan, self.batches.collated(plan, 0, False)):
                progress.update(len(step.indices))
                self.val_sums.count_batch()
                self.gradient.validate(
                    step.dataset, step.shares[self.rank], self.val_sums, first_stage
                )
        self.val_sums.all_reduce()
        return self.val_sums.values("val")

    def _evaluation_weights(self) -> ContextManager[None]:
        if self.ema is None:
            return contextlib.nullcontext()
        return self.ema.applied(self.model)

    def _track_best(self, epoch: int, values: Dict[str, float]) -> bool:
        """Update the best model; True when early stopping should stop."""
        metric = self.settings.best_model_metric
        prefix = "val" if self.val_sets else "train"
        return track_best(
            self.state,
            epoch,
            f"{prefix}.{metric}",
            selection_value(metric, values, prefix),
            self.settings.early_stopping_patience,
            self._best_weights,
            self.log.info,
        )

    def _best_weights(self) -> Dict[str, torch.Tensor]:
        """The weights to keep as the best model (EMA weights when training has EMA),
        copied to the CPU."""
        weights = self.ema.state_dict() if self.ema is not None else {}
        return {
            k: weights.get(k, v).detach().clone().cpu()
            for k, v in self.model.state_dict().items()
        }

    def _sync_state(self) -> None:
        """Copy the optimiser, schedule, EMA and generators into the state."""
        self.state.optimizer = self.optimizer.state_dict()
        for group in self.state.optimizer["param_groups"]:  # copies: see _restore
            group["fused"] = None
        self.state.schedule = self.schedule.state_dict()
        self.state.ema = self.ema.state_dict() if self.ema is not None else None
        self.state.rng = capture_rng()

    def _write_checkpoint(self, path: Path) -> None:
        self._sync_state()
        if self.main:
            self.trainer.save_checkpoint(self.model, path)
        self.last_checkpoint = path
