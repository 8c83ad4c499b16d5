"""Fine-tuning and transfer learning for every architecture built on the engine.

``architecture.training.finetune: {method: full | heads | lora, read_from,
config, inherit_heads}`` (see :mod:`.settings`); the train workflow calls
:func:`finetune_model` instead of building a fresh model, :func:`resume_finetune` on a
restart, and :func:`finish_finetune` after training. Heads are found through the
convention of :mod:`.heads`; adapters live in :mod:`.lora`; :mod:`.check` holds the
step-0 check.
"""

from ..modules.lora import LoRALinear, inject_lora, merge_lora
from .check import StepZeroMismatch, StepZeroReport, step_zero_check
from .heads import head_modules, inherit_heads
from .prepare import finetune_model, finish_finetune, resume_finetune
from .settings import FinetuneSettings, LoraSettings, finetune_settings

__all__ = [
    "FinetuneSettings",
    "LoRALinear",
    "LoraSettings",
    "StepZeroMismatch",
    "StepZeroReport",
    "finetune_model",
    "finetune_settings",
    "finish_finetune",
    "head_modules",
    "inherit_heads",
    "inject_lora",
    "merge_lora",
    "resume_finetune",
    "step_zero_check",
]
