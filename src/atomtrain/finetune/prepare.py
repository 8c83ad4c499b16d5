"""Setting up a fine-tuning run: load, extend, initialise, freeze, check.

:func:`finetune_model` turns the pretrained checkpoint named in
``architecture.training.finetune.read_from`` into the model to train:

1. load it (``Model.load_checkpoint(..., "finetune")``), and refuse targets whose
   meaning or unit differ between the checkpoint and the new data; a model file of
   another code is converted first by the architecture
   (:func:`pretrained_checkpoint`), when the user trusts it;
2. ``model.restart(dataset_info)``: the architecture adds heads for new targets and
   variants, and new elements where it can (else its error names them);
3. copy old heads into new ones (``inherit_heads``);
4. apply the method: ``full`` trains everything; ``heads`` trains the heads of the
   targets in the new data (the backbone and the other heads are frozen); ``lora``
   trains low-rank adapters on linear layers, the heads of the new data's targets and
   any parameter the restart added;
5. the step-0 check (:mod:`.check`), logged with the rest.

The training engine then re-fits the composition baseline on the new data (targets
absent from it keep their pretrained baseline) and trains. Checkpoints written while
LoRA adapters train carry them exactly (:data:`.lora.CHECKPOINT_SECTION`, written by
the engine), and :func:`resume_finetune` puts them back on a restart;
:func:`finish_finetune` merges them into the weights after the last checkpoint.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch

from ..architectures.checkpoints import read_checkpoint
from ..checkpoints import in_checkpoint
from ..data.dataset import Dataset
from ..data.info import DatasetInfo
from ..errors import OptionsError, Problem, UserError
from ..modules.lora import (
    CHECKPOINT_SECTION,
    LoRALinear,
    inject_lora,
    linear_layers,
    load_adapter_state,
    merge_lora,
    select_lora_targets,
)
from ..training.logging import LOGGER
from ..utils.abc import ModelInterface, ReadsForeignModels
from .check import step_zero_check
from .heads import head_prefixes, inherit_heads, require_heads
from .settings import OPTION, FinetuneSettings, finetune_settings


def _check_compatible(old: DatasetInfo, new: DatasetInfo) -> None:
    problems = []
    if old.length_unit != new.length_unit:
        problems.append(
            Problem(
                "training_set.systems.length_unit",
                f"the pretrained model works in '{old.length_unit}', the fine-tuning "
                f"data is in '{new.length_unit}'; declare the same length unit",
                new.length_unit,
            )
        )
    for name, info in new.targets.items():
        if name in old.targets and not old.targets[name].is_compatible_with(info):
            was = old.targets[name]
            problems.append(
                Problem(
                    f"training_set.targets.{name}",
                    f"the pretrained model's '{name}' is a {was.kind} "
                    f"{was.sample_kind} target in '{was.unit}' with "
                    f"{was.num_subtargets} properties; here it is a {info.kind} "
                    f"{info.sample_kind} target in '{info.unit}' with "
                    f"{info.num_subtargets}. Fine-tune it under a new name (e.g. "
                    f"'{name.split('/')[0]}/<variant>', with {OPTION}.inherit_heads "
                    "to start from the old head)",
                )
            )
    if problems:
        raise OptionsError(problems)


def _no_lora_layers(model: torch.nn.Module) -> str:
    """Why ``lora`` found nothing to adapt in ``model``, and what to do instead."""
    if not linear_layers(model):
        return (
            f"{OPTION}.method 'lora' adapts torch.nn.Linear layers, and this "
            f"{type(model).__name__} model has none (its linear maps are of another "
            "kind); fine-tune it with method 'full' or 'heads'"
        )
    return (
        f"{OPTION}.method 'lora' found no linear layer to adapt outside the heads; "
        "name them in config.target_modules"
    )


def _trainable(
    model: torch.nn.Module,
    settings: FinetuneSettings,
    trained_targets: Sequence[str],
    added: Sequence[str],
) -> str:
    """Set ``requires_grad`` for ``settings.method``; a description for the log."""
    if settings.method == "full":
        for parameter in model.parameters():
            parameter.requires_grad_(True)
        return "method full: every weight is trained"
    prefixes = head_prefixes(model)
    if settings.method == "heads":
        require_heads(model, f"{OPTION}.method 'heads' trains the heads alone")
    heads = [prefixes[t] for t in trained_targets if t in prefixes]
    with_head = [t for t in trained_targets if t in prefixes]
    description = (
        f"heads of {', '.join(with_head)}"
        if with_head
        else f"no head ({type(model).__qualname__} declares none for "
        f"{', '.join(trained_targets)})"
    )
    if settings.method == "lora":
        lora = settings.lora
        assert lora is not None
        if not any(isinstance(m, LoRALinear) for m in model.modules()):
            names = select_lora_targets(
                model, lora.target_modules, list(prefixes.values())
            )
            if not names:
                raise UserError(_no_lora_layers(model))
            inject_lora(model, names, lora.rank, lora.alpha)
        adapted = [n for n, m in model.named_modules() if isinstance(m, LoRALinear)]
        description = (
            f"method lora (rank {lora.rank}, alpha {lora.alpha:g}) on "
            f"{', '.join(adapted)}; also trained: {description}"
        )
    else:
        description = f"method heads: backbone frozen; trained: {description}"
    for name, parameter in model.named_parameters():
        trained = (
            any(name.startswith(h + ".") for h in heads)
            or name in added
            or name.rsplit(".", 1)[-1] in ("lora_a", "lora_b")
        )
        parameter.requires_grad_(trained)
    return description


def _count(model: torch.nn.Module) -> str:
    total = sum(p.numel() for p in model.parameters())
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return f"{trained} of {total} parameters trainable"


def _log(run_dir: Optional[Path], lines: List[str]) -> None:
    handler: Optional[logging.Handler] = None
    if run_dir is not None:
        handler = logging.FileHandler(Path(run_dir) / "train.log")
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")
        )
        LOGGER.addHandler(handler)
    if LOGGER.level == logging.NOTSET:
        LOGGER.setLevel(logging.INFO)
    try:
        for line in lines:
            LOGGER.info(line)
    finally:
        if handler is not None:
            LOGGER.removeHandler(handler)
            handler.close()


def _foreign_checkpoint(
    model_class: type[ReadsForeignModels], settings: FinetuneSettings
) -> Dict[str, Any]:
    path = settings.read_from
    if not settings.trust_pickled_code:
        raise OptionsError(
            [
                Problem(
                    f"{OPTION}.trust_pickled_code",
                    f"'{path}' is {model_class.foreign_model_description}: a Python "
                    "pickle of a whole model object, and reading it runs any code it "
                    f"holds. Set {OPTION}.trust_pickled_code: true to read it, only "
                    "if you trust where the file comes from; atomtrain converts it "
                    "once into a checkpoint of plain data",
                )
            ]
        )
    if not path.is_file():
        raise UserError(f"{OPTION}.read_from: '{path}' does not exist")
    return model_class.checkpoint_from_foreign_model(path)


def pretrained_checkpoint(
    model_class: Any, settings: FinetuneSettings
) -> Dict[str, Any]:
    """The checkpoint fine-tuning starts from: an atomtrain checkpoint of
    ``model_class``'s architecture (read safely), or a model file of another code
    that ``model_class`` converts (:class:`~atomtrain.utils.abc.ReadsForeignModels`),
    read only when ``trust_pickled_code`` is set."""
    suffix = settings.read_from.suffix
    if issubclass(model_class, ReadsForeignModels) and (
        suffix in model_class.foreign_model_suffixes
    ):
        return _foreign_checkpoint(model_class, settings)
    checkpoint, architecture = read_checkpoint(settings.read_from)
    if architecture.__model__ is not model_class:
        raise UserError(
            f"{OPTION}.read_from: '{settings.read_from}' holds a "
            f"'{checkpoint['architecture_name']}' model, but the options train "
            f"{model_class.__qualname__}; fine-tune with the checkpoint's "
            "architecture"
        )
    return checkpoint


def finetune_model(
    model_class: Any,
    training: Dict[str, Any],
    dataset_info: DatasetInfo,
    train_datasets: Sequence[Dataset],
    run_dir: Optional[Path] = None,
) -> ModelInterface[Any]:
    """The model to fine-tune, set up as the module docstring describes."""
    settings = finetune_settings(training)
    assert settings is not None
    checkpoint = pretrained_checkpoint(model_class, settings)
    with in_checkpoint(settings.read_from):
        pretrained = model_class.load_checkpoint(checkpoint, context="finetune")
        model = model_class.load_checkpoint(checkpoint, context="finetune")
    old_targets = list(model.dataset_info.targets)
    _check_compatible(model.dataset_info, dataset_info)
    new_targets = [n for n in dataset_info.targets if n not in old_targets]
    before = set(model.state_dict())
    model = model.restart(dataset_info)
    inherit_heads(model, settings.inherit_heads, old_targets, new_targets)
    added = [n for n, _ in model.named_parameters() if n not in before]
    description = _trainable(model, settings, list(dataset_info.targets), added)
    report = step_zero_check(pretrained, model, train_datasets)
    units = {n: i.unit for n, i in pretrained.dataset_info.targets.items()}
    refit = [n for n in dataset_info.targets]
    _log(
        run_dir,
        [
            f"fine-tuning {settings.read_from}: {description} ({_count(model)})",
            *(
                f"new target {n}"
                + (
                    f", head copied from {settings.inherit_heads[n]}"
                    if n in settings.inherit_heads
                    else ""
                )
                for n in new_targets
            ),
            report.message(units),
            "the composition baseline is re-fitted on the fine-tuning data for "
            f"{', '.join(refit)}; the other targets keep their pretrained baseline",
        ],
    )
    return model


def resume_finetune(
    model: ModelInterface[Any],
    training: Dict[str, Any],
    dataset_info: DatasetInfo,
    checkpoint: Dict[str, Any],
) -> None:
    """On a restart of a fine-tuning run, freeze and adapt the model as the original
    run did (training the heads of the targets of ``dataset_info``, the data's), so
    that the stored optimiser state matches its parameters. LoRA
    adapters are put back exactly from the checkpoint's adapter section; a
    checkpoint without one (written after the adapters were merged) restarts them
    from the merged weights, which is logged."""
    settings = finetune_settings(training)
    if settings is None or settings.method == "full":
        return
    _trainable(model, settings, list(dataset_info.targets), [])
    if settings.method != "lora":
        return
    adapters = checkpoint.get(CHECKPOINT_SECTION)
    if adapters:
        load_adapter_state(model, adapters)
    else:
        _log(
            None,
            [
                "the checkpoint holds no LoRA adapters (they were merged into the "
                "weights at the end of its run): new adapters start from the merged "
                "weights, and the run does not continue exactly"
            ],
        )


def finish_finetune(model: torch.nn.Module) -> int:
    """At the end of the run, after its last checkpoint is written (with the
    adapters, so that a restart can continue it): merge LoRA adapters into the
    weights, so that the exported model is the plain architecture. The number of
    layers merged."""
    return merge_lora(model)
