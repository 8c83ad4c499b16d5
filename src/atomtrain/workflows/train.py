"""``atomtrain train``: from an options file to a checkpoint and an exported model.

The flow (DESIGN.md §2): validate everything, then create the run directory; read the
data once; restart from a checkpoint (``Trainer.load_checkpoint(..., "restart")``,
``Model.load_checkpoint(..., "restart")``, ``model.restart(dataset_info)``), or
fine-tune (``training.finetune.read_from``), or build a fresh model; train; save the
checkpoint; export; evaluate the exported model on every split.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from ..architectures.discovery import import_architecture
from ..checkpoints import in_checkpoint
from ..data.dataset import Dataset
from ..files import (
    copy_file,
)
from ..finetune import finetune_model, finish_finetune, resume_finetune
from ..options import load_options, resolve_devices, resolve_dtype
from ..options.datasets import options_sections
from ..options.run_options import RunOptions, read_run_options
from ..options.target_sections import warn_about_units
from ..training import distributed
from ..training.engine import EngineTrainer
from ..training.logging import (
    RunLogFile,
    TensorBoardLogger,
    WandbLogger,
    configure_warnings,
    held_records,
    write_held,
)
from ..utils.abc import ModelInterface, TrainerInterface
from .evaluate import DEFAULT_BATCH_SIZE, Evaluation, evaluate, format_metrics
from .export import require_finite_weights
from .models import save_exported
from .restart import (
    check_restart_hypers,
    read_restart_checkpoint,
    restart_checkpoint,
    split_indices_of,
)
from .run_checks import require_elements_known, require_hypers_fit
from .run_directory import create_run_directory, write_options
from .run_outputs import (
    RESTARTED_FROM,
    Targets,
    check_train_outputs,
    copy_run_outputs,
    same_path,
)
from .summary import end_summary, run_header, start_summary

LOGGER = logging.getLogger("atomtrain.train")


@dataclass
class TrainResult:
    """Where a training run wrote its outputs, and its final errors per split."""

    run_dir: Path
    checkpoint: Path
    model: Path
    evaluations: Dict[str, List[Evaluation]] = field(default_factory=dict)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _build(
    architecture: Any,
    options: RunOptions,
    data: Any,
    checkpoint: Optional[Dict[str, Any]],
) -> tuple[ModelInterface[Any], TrainerInterface[Any]]:
    """Restart, fine-tune or start fresh, as DESIGN.md §2 describes; fine-tuning
    is set up by :mod:`atomtrain.finetune`."""
    model_class, trainer_class = architecture.__model__, architecture.__trainer__
    hypers = options.architecture.hypers()
    if checkpoint is not None:
        trainer = trainer_class.load_checkpoint(
            checkpoint, hypers["training"], "restart"
        )
        model = model_class.load_checkpoint(checkpoint, context="restart")
        model = model.restart(data.dataset_info)
        resume_finetune(model, hypers["training"], data.dataset_info, checkpoint)
        return model, trainer
    if hypers["training"].get("finetune"):
        model = finetune_model(
            model_class, hypers["training"], data.dataset_info, data.training
        )
        return model, trainer_class(hypers["training"])
    return model_class(hypers["model"], data.dataset_info), trainer_class(
        hypers["training"]
    )


def _external_loggers(options: RunOptions, run_dir: Path) -> List[Any]:
    loggers = options.loggers
    result: List[Any] = []
    if loggers.tensorboard:
        result.append(TensorBoardLogger(run_dir / "tensorboard"))
    if loggers.wandb:
        # W&B records the expanded options, as options_restart.yaml holds them
        plain = options.as_plain()
        result.append(WandbLogger(plain["loggers"]["wandb"], plain, run_dir))
    return result


def train(
    options_path: Path,
    overrides: Sequence[str] = (),
    output: Path = Path("model.pt"),
    extensions: Optional[Path] = Path("extensions"),
    restart: Optional[str] = None,
    outputs_root: Path = Path("outputs"),
    command_line: Sequence[str] = (),
) -> TrainResult:
    """Train from ``options_path`` and write ``output`` (the exported model) and its
    checkpoint (same name, ``.ckpt``), with copies in the run directory.

    Under a multi-process launcher (torchrun, SLURM), every process trains its share
    of each batch and only the first one writes: one run directory, one checkpoint,
    one exported model. ``command_line`` (the command as typed) heads ``train.log``."""
    configure_warnings()
    raw, file = load_options(options_path, overrides)
    options = read_run_options(raw, file, options_path.parent)
    warn_about_units(options_sections(options.as_plain()))
    architecture = import_architecture(options.architecture.name)
    model_class = architecture.__model__
    devices = resolve_devices(options.device, model_class.__supported_devices__)
    dtype = resolve_dtype(options.base_precision, model_class.__supported_dtypes__)
    try:
        devices = distributed.initialize(devices)
        return _train(
            options_path,
            options,
            architecture,
            devices,
            dtype,
            output,
            extensions,
            restart,
            outputs_root,
            command_line,
        )
    finally:
        distributed.shutdown()


@dataclass
class _Run:
    """What a run starts from: the restart checkpoint (if any), the data, the model
    and trainer, the run directory, and the ``-o`` targets with their state at the
    start."""

    restart_path: Optional[Path]
    targets: Targets
    data: Any
    model: ModelInterface[Any]
    trainer: TrainerInterface[Any]
    run_dir: Path


def _prepare(
    options_path: Path,
    options: RunOptions,
    architecture: Any,
    output: Path,
    extensions: Optional[Path],
    restart: Optional[str],
    outputs_root: Path,
) -> _Run:
    """Every check that can refuse the run, the data read and the model built
    (restarted, fine-tuned or new), then the run directory: a refused run leaves
    none behind (what it logs is held for ``train.log`` by the caller)."""
    from ..data.loading import load_datasets
    from ..data.splits import write_indices

    # the readers, the output checks and options_restart.yaml take plain data
    plain = options.as_plain()
    restart_path = distributed.run_on_main(restart_checkpoint, restart, outputs_root)
    targets = distributed.run_on_main(
        check_train_outputs,
        options_path,
        plain,
        output,
        extensions,
        restart_path,
        outputs_root,
    )
    checkpoint = None
    if restart_path is not None:
        checkpoint = read_restart_checkpoint(restart_path, plain, architecture)
        # a fine-tuning run's model has the pretrained model's hypers, not the
        # options' (which it never read)
        if not options.architecture.training.get("finetune"):
            model_hypers = options.architecture.hypers()["model"]
            check_restart_hypers(checkpoint, model_hypers, restart_path)

    def new_run_directory() -> Path:
        run_dir = create_run_directory(outputs_root)
        write_options(run_dir, plain)
        if restart_path is not None and same_path(
            restart_path, targets["model.ckpt"][0]
        ):
            # the run ends by replacing the checkpoint it restarted from: keep it
            copy_file(restart_path, run_dir / RESTARTED_FROM, "the restart checkpoint")
        return run_dir

    _seed_everything(options.seed)
    data = load_datasets(plain, None, split_indices_of(restart_path))
    with in_checkpoint(restart_path):
        model, trainer = _build(architecture, options, data, checkpoint)
    learned = data.dataset_info.targets
    splits = {"training_set": data.training, "validation_set": data.validation}
    require_hypers_fit(options, learned, model, trainer, str(options_path), splits)
    require_elements_known(
        model, {"validation_set": data.validation, "test_set": data.test}
    )
    run_dir = distributed.run_on_main(new_run_directory)
    if distributed.is_main_process():
        write_indices(run_dir / "indices", data.splits)
    return _Run(restart_path, targets, data, model, trainer, run_dir)


def _train(
    options_path: Path,
    options: RunOptions,
    architecture: Any,
    devices: List[torch.device],
    dtype: torch.dtype,
    output: Path,
    extensions: Optional[Path],
    restart: Optional[str],
    outputs_root: Path,
    command_line: Sequence[str],
) -> TrainResult:
    with held_records() as records:
        LOGGER.info(run_header(command_line))
        run = _prepare(
            options_path,
            options,
            architecture,
            output,
            extensions,
            restart,
            outputs_root,
        )
    log_file = None
    if distributed.is_main_process():
        write_held(run.run_dir, records)
        log_file = RunLogFile(run.run_dir / "train.log")
    try:
        return _run(options, architecture, devices, dtype, output, extensions, run)
    finally:
        if log_file is not None:
            log_file.close()


def _run(
    options: RunOptions,
    architecture: Any,
    devices: List[torch.device],
    dtype: torch.dtype,
    output: Path,
    extensions: Optional[Path],
    run: _Run,
) -> TrainResult:
    """Build, train, save, export and evaluate, once the run directory exists; every
    message goes to the console and to ``train.log``."""
    data, run_dir, main = run.data, run.run_dir, distributed.is_main_process()
    model, trainer = run.model, run.trainer
    if isinstance(trainer, EngineTrainer) and main:
        # trainers on the shared engine log each epoch to TensorBoard and W&B too
        trainer.external_loggers = _external_loggers(options, run_dir)
    splits: Dict[str, List[Dataset]] = {
        "training": list(data.training),
        "validation": list(data.validation),
        "test": list(data.test),
    }
    if main:
        name = options.architecture.name
        LOGGER.info(start_summary(name, model, splits, devices, dtype, run_dir))
    trainer.train(
        model, dtype, devices, splits["training"], splits["validation"], run_dir
    )
    result = TrainResult(run_dir, output.with_suffix(".ckpt"), output)
    if not main:
        return result
    exported = _write_outputs(trainer, model, run_dir, extensions)
    copies = copy_run_outputs(run_dir, run.targets)
    result.checkpoint, result.model = copies["model.ckpt"], copies["model.pt"]
    if options.final_eval:
        # a trainer without batches (composition) evaluates in the default ones
        training = options.architecture.training
        batch_size = int(training.get("batch_size", DEFAULT_BATCH_SIZE))
        result.evaluations = _final_evaluation(
            exported, splits, batch_size, str(devices[0])
        )
    LOGGER.info(end_summary(run_dir, result.checkpoint, result.model, extensions))
    return result


def _write_outputs(
    trainer: TrainerInterface[Any],
    model: ModelInterface[Any],
    run_dir: Path,
    extensions: Optional[Path],
) -> Any:
    """Save the checkpoint and the exported model (its extensions collected into the
    run directory and added to ``extensions``); the exported model."""
    trainer.save_checkpoint(model, run_dir / "model.ckpt")
    finish_finetune(model)
    require_finite_weights(model, run_dir / "model.ckpt")
    exported = model.export()
    collect_into = run_dir / "extensions" if extensions is not None else None
    save_exported(exported, run_dir / "model.pt", extensions, collect_into)
    return exported


def _final_evaluation(
    model: Any, splits: Dict[str, List[Dataset]], batch_size: int, device: str
) -> Dict[str, List[Evaluation]]:
    """RMSE/MAE of the exported model on every non-empty split, logged."""
    evaluations: Dict[str, List[Evaluation]] = {}
    for split, datasets in splits.items():
        for number, dataset in enumerate(datasets):
            if len(dataset) == 0:
                continue
            evaluation = evaluate(
                model, dataset, batch_size, device, keep_predictions=False
            )
            evaluations.setdefault(split, []).append(evaluation)
            name = split if len(datasets) == 1 else f"{split}[{number}]"
            LOGGER.info(format_metrics(f"final errors on the {name} set", evaluation))
    return evaluations
