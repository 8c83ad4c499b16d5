"""The checks of ``atomtrain train`` that need the data read or the model built, run
before the run directory is created: what the options alone cannot refute."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence

from ..data.dataset import Dataset
from ..data.elements import unseen_elements_error
from ..data.info import TargetInfo
from ..errors import OptionsError, Problem
from ..options.run_options import RunOptions
from ..training.losses import resolve_loss
from ..training.metrics import require_run_metric
from ..utils.abc import ModelInterface, TrainerInterface, WithCompositionBaseline


def require_hypers_fit(
    options: RunOptions,
    targets: Dict[str, TargetInfo],
    model: ModelInterface[Any],
    trainer: TrainerInterface[Any],
    file: str,
    splits: Mapping[str, Sequence[Dataset]],
) -> None:
    """Refuse, before the run directory exists, trainer hypers that only the data
    or the model can refute: a ``best_model_metric`` or a ``loss`` on a gradient
    the options allow (an energy's optional forces or stress) but the files lack,
    an ``atomic_baseline`` for a target or an atomic type the model's composition
    baseline does not have, and what the trainer itself refuses in its hypers or
    in the datasets (:meth:`~atomtrain.utils.abc.TrainerInterface.option_problems`,
    :meth:`~atomtrain.utils.abc.TrainerInterface.dataset_problems`)."""
    training = options.architecture.training
    problems: List[Problem] = []
    try:
        if "best_model_metric" in training:
            require_run_metric(training["best_model_metric"], targets)
        if "loss" in training:
            resolve_loss(training["loss"], targets)
    except OptionsError as error:
        problems += error.problems
    fixed = training.get("atomic_baseline")
    if fixed and isinstance(model, WithCompositionBaseline):
        problems += model.composition_baseline.fixed_problems(fixed)
    problems += trainer.option_problems()
    problems += trainer.dataset_problems(
        splits["training_set"], splits["validation_set"]
    )
    if problems:
        raise OptionsError(problems, file)


def require_elements_known(
    model: ModelInterface[Any], splits: Dict[str, Sequence[Dataset]]
) -> None:
    """Refuse validation and test structures with elements the model has no types
    for, before any training."""
    for split, datasets in splits.items():
        for number, dataset in enumerate(datasets):
            unseen = unseen_elements_error(
                dataset,
                model.dataset_info.atomic_types,
                "the model's atomic types (from the training set and "
                "architecture.atomic_types)",
                "list it in architecture.atomic_types or add structures with it to "
                "the training set",
                split if len(datasets) == 1 else f"{split}[{number}]",
            )
            if unseen is not None:
                raise unseen
