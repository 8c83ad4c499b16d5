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
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from ..architectures.discovery import import_architecture
from ..data.dataset import Dataset
from ..finetune import finetune_model, finish_finetune, resume_finetune
from ..options import load_options, resolve_devices, resolve_dtype, validate_options
from ..options.datasets import options_sections
from ..options.target_sections import warn_about_units
from ..training import distributed
from ..training.logging import TensorBoardLogger, WandbLogger, configure_warnings
from ..utils.abc import ModelInterface, TrainerInterface
from .evaluate import Evaluation, evaluate, format_metrics
from .export import require_finite_weights
from .models import read_checkpoint, save_exported
from .restart import check_restart_hypers
from .run_directory import create_run_directory, newest_checkpoint, write_options
from .summary import end_summary, start_summary

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


def _restart_checkpoint(restart: Optional[str], outputs: Path) -> Optional[Path]:
    if restart is None:
        return None
    if restart == "auto":
        return newest_checkpoint(outputs)
    return Path(restart)


def _build(
    architecture: Any,
    hypers: Dict[str, Any],
    data: Any,
    checkpoint: Optional[Dict[str, Any]],
    run_dir: Path,
) -> tuple[ModelInterface[Any], TrainerInterface[Any]]:
    """Restart, fine-tune or start fresh, as DESIGN.md §2 describes; fine-tuning
    is set up by :mod:`atomtrain.finetune`."""
    model_class, trainer_class = architecture.__model__, architecture.__trainer__
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
            model_class, hypers["training"], data.dataset_info, data.training, run_dir
        )
        return model, trainer_class(hypers["training"])
    return model_class(hypers["model"], data.dataset_info), trainer_class(
        hypers["training"]
    )


def _external_loggers(options: Dict[str, Any], run_dir: Path) -> List[Any]:
    loggers = options.get("loggers") or {}
    result: List[Any] = []
    if loggers.get("tensorboard"):
        result.append(TensorBoardLogger(run_dir / "tensorboard"))
    if loggers.get("wandb"):
        result.append(WandbLogger(loggers["wandb"]))
    return result


def train(
    options_path: Path,
    overrides: Sequence[str] = (),
    output: Path = Path("model.pt"),
    extensions: Optional[Path] = Path("extensions"),
    restart: Optional[str] = None,
    outputs_root: Path = Path("outputs"),
) -> TrainResult:
    """Train from ``options_path`` and write ``output`` (the exported model) and its
    checkpoint (same name, ``.ckpt``), with copies in the run directory.

    Under a multi-process launcher (torchrun, SLURM), every process trains its share
    of each batch and only the first one writes: one run directory, one checkpoint,
    one exported model."""
    configure_warnings()
    raw, file = load_options(options_path, overrides)
    options = validate_options(raw, file, options_path.parent)
    warn_about_units(options_sections(options))
    architecture = import_architecture(options["architecture"]["name"])
    model_class = architecture.__model__
    devices = resolve_devices(options["device"], model_class.__supported_devices__)
    dtype = resolve_dtype(options["base_precision"], model_class.__supported_dtypes__)
    try:
        devices = distributed.initialize(devices)
        return _train(
            options,
            architecture,
            devices,
            dtype,
            output,
            extensions,
            restart,
            outputs_root,
        )
    finally:
        distributed.shutdown()


def _train(
    options: Dict[str, Any],
    architecture: Any,
    devices: List[torch.device],
    dtype: torch.dtype,
    output: Path,
    extensions: Optional[Path],
    restart: Optional[str],
    outputs_root: Path,
) -> TrainResult:
    from ..data.loading import load_datasets

    restart_path = distributed.run_on_main(_restart_checkpoint, restart, outputs_root)
    checkpoint = read_checkpoint(restart_path)[0] if restart_path else None
    if checkpoint is not None and restart_path is not None:
        model_hypers = options["architecture"]["model"]
        check_restart_hypers(checkpoint, model_hypers, restart_path)

    def new_run_directory() -> Path:
        run_dir = create_run_directory(outputs_root)
        write_options(run_dir, options)
        return run_dir

    run_dir = distributed.run_on_main(new_run_directory)
    main = distributed.is_main_process()
    _seed_everything(int(options["seed"]))
    indices_from = restart_path.parent / "indices" if restart_path else None
    data = load_datasets(options, run_dir if main else None, indices_from)

    model, trainer = _build(
        architecture, options["architecture"], data, checkpoint, run_dir
    )
    if hasattr(trainer, "external_loggers") and main:
        trainer.external_loggers = _external_loggers(options, run_dir)
    training: List[Dataset] = list(data.training)
    validation: List[Dataset] = list(data.validation)
    if main:
        splits: Dict[str, List[Dataset]] = {
            "training": training,
            "validation": validation,
            "test": list(data.test),
        }
        name = options["architecture"]["name"]
        LOGGER.info(start_summary(name, model, splits, devices, dtype, run_dir))
    trainer.train(model, dtype, devices, training, validation, checkpoint_dir=run_dir)

    result = TrainResult(run_dir, output.with_suffix(".ckpt"), output)
    if not main:
        return result
    exported = _write_outputs(
        trainer, model, run_dir, result.checkpoint, output, extensions
    )
    if options.get("final_eval", True):
        batch_size = int(options["architecture"]["training"].get("batch_size", 16))
        final: Dict[str, List[Dataset]] = {
            "training": training,
            "validation": validation,
            "test": list(data.test),
        }
        result.evaluations = _final_evaluation(
            exported, final, batch_size, str(devices[0])
        )
    LOGGER.info(end_summary(run_dir, result.checkpoint, output, extensions))
    return result


def _write_outputs(
    trainer: TrainerInterface[Any],
    model: ModelInterface[Any],
    run_dir: Path,
    checkpoint: Path,
    output: Path,
    extensions: Optional[Path],
) -> Any:
    """Save the checkpoint and the exported model in the run directory, copy them to
    where the user asked; the exported model."""
    trainer.save_checkpoint(model, run_dir / "model.ckpt")
    finish_finetune(model)
    require_finite_weights(model, run_dir / "model.ckpt")
    exported = model.export()
    save_exported(exported, run_dir / "model.pt", extensions)
    for source, target in (
        (run_dir / "model.ckpt", checkpoint),
        (run_dir / "model.pt", output),
    ):
        if target.resolve() != source.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return exported


def _final_evaluation(
    model: Any, splits: Dict[str, List[Dataset]], batch_size: int, device: str
) -> Dict[str, List[Evaluation]]:
    """RMSE/MAE of the exported model on every non-empty split, printed."""
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
            print(format_metrics(f"final errors on the {name} set", evaluation))
    return evaluations
