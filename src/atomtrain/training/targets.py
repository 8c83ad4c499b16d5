"""The targets of a training run: what is learned, the datasets of residuals after the
composition baseline, the target scales and the loss.

A fresh run fits the baseline and the target scales (on the first process, which
broadcasts them: each is a pass over the training data that the other processes need
not read) and records its seed and fingerprint in the state; a restarted run keeps
those of its checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, List

import torch

from ..data.dataset import Dataset
from ..data.info import TargetInfo
from ..utils.abc import ModelInterface
from . import distributed
from .baseline import residuals, target_scales
from .losses import LossFunction, resolve_loss
from .state import TrainingState, fingerprint

if TYPE_CHECKING:
    from .engine import EngineTrainer


@dataclass
class RunTargets:
    """The targets of a run and the data and loss to learn them with."""

    targets: Dict[str, TargetInfo]
    #: the per-structure targets whose loss and metrics are divided by atoms
    per_atom: List[str]
    #: the training and validation sets, less the composition baseline
    train_sets: List[Dataset]
    val_sets: List[Dataset]
    loss: LossFunction


def prepare_targets(
    trainer: EngineTrainer[Any],
    model: ModelInterface[Any],
    state: TrainingState,
    train_datasets: List[Dataset],
    val_datasets: List[Dataset],
    restored: bool,
) -> RunTargets:
    """The targets of ``train_datasets``, the residual datasets, the seed and the
    target scales (fitted on a fresh run, from ``state`` when ``restored``) and the
    loss, as the trainer's settings ask."""
    settings = trainer.settings
    targets: Dict[str, TargetInfo] = {}
    for dataset in train_datasets:
        targets.update(dataset.info.targets)
    per_atom = [
        name
        for name, info in targets.items()
        if not info.per_atom and name not in settings.per_structure_targets
    ]
    terms = resolve_loss(settings.loss, targets)
    baseline = trainer.composition_baseline(model)
    if baseline is not None and not restored:
        distributed.run_on_main(baseline.fit, train_datasets, settings.atomic_baseline)
        distributed.broadcast_module(baseline)
    train_sets = residuals(train_datasets, baseline, list(targets))
    val_sets = residuals(val_datasets, baseline, list(targets))
    if not restored:
        state.seed = int(torch.initial_seed()) % (2**63)
        state.fingerprint = fingerprint(dict(trainer.hypers), train_datasets)
        if settings.scale_targets:
            state.scales = distributed.run_on_main(
                target_scales, train_sets, list(targets), per_atom, targets
            )
    state.seed, state.scales = distributed.broadcast_object((state.seed, state.scales))
    loss = LossFunction(terms, per_atom, state.scales)
    return RunTargets(targets, per_atom, train_sets, val_sets, loss)
