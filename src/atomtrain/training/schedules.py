"""Learning-rate schedules: linear warm-up then cosine decay, reduce-on-plateau, or
constant.

The schedule multiplies each parameter group's initial learning rate by a factor.
``warmup_cosine`` is defined over a total number of optimiser steps fixed when
training starts (``num_epochs`` times the batches per epoch) and stored in the
checkpoint: a run restarted with more epochs keeps the stored length, so the learning
rate does not jump back up; the extra epochs run at the final rate (``min_lr_ratio``).
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import torch

from .settings import TrainerSettings


class LearningRateSchedule:
    """Sets the learning rate of ``optimizer`` after every step and epoch."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        kind: str,
        total_steps: int,
        warmup_fraction: float = 0.0,
        min_lr_ratio: float = 0.0,
        plateau_factor: float = 0.5,
        plateau_patience: int = 10,
    ) -> None:
        if kind not in ("warmup_cosine", "plateau", "constant"):
            raise ValueError(f"unknown learning-rate schedule '{kind}'")
        self.optimizer = optimizer
        self.kind = kind
        self.total_steps = max(int(total_steps), 1)
        self.warmup_fraction = warmup_fraction
        self.min_lr_ratio = min_lr_ratio
        self.plateau_factor = plateau_factor
        self.plateau_patience = plateau_patience
        self.base_lrs: List[float] = [float(g["lr"]) for g in optimizer.param_groups]
        self.step_count = 0
        self.plateau_scale = 1.0
        self.plateau_best: Optional[float] = None
        self.plateau_bad_epochs = 0
        self._apply()

    @classmethod
    def from_settings(
        cls,
        optimizer: torch.optim.Optimizer,
        settings: TrainerSettings,
        total_steps: int,
    ) -> LearningRateSchedule:
        """The schedule that the trainer hypers ``scheduler``, ``warmup_fraction``,
        ``min_lr_ratio``, ``plateau_factor`` and ``plateau_patience`` describe."""
        return cls(
            optimizer,
            settings.scheduler,
            total_steps,
            settings.warmup_fraction,
            settings.min_lr_ratio,
            settings.plateau_factor,
            settings.plateau_patience,
        )

    def factor(self) -> float:
        """The current multiplier of the initial learning rates."""
        if self.kind == "plateau":
            return self.plateau_scale
        if self.kind == "constant":
            return 1.0
        warmup = int(self.warmup_fraction * self.total_steps)
        if self.step_count < warmup:
            return (self.step_count + 1) / warmup
        progress = min(
            (self.step_count - warmup) / max(self.total_steps - warmup, 1), 1.0
        )
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine

    def after_step(self) -> None:
        """Advance by one optimiser step."""
        self.step_count += 1
        self._apply()

    def after_epoch(self, validation_loss: float) -> None:
        """Reduce the rate when the validation loss has stopped improving
        (``plateau`` only)."""
        if self.kind != "plateau":
            return
        if self.plateau_best is None or validation_loss < self.plateau_best:
            self.plateau_best = validation_loss
            self.plateau_bad_epochs = 0
            return
        self.plateau_bad_epochs += 1
        if self.plateau_bad_epochs > self.plateau_patience:
            self.plateau_scale *= self.plateau_factor
            self.plateau_bad_epochs = 0
            self._apply()

    def learning_rate(self) -> float:
        """The learning rate of the first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def _apply(self) -> None:
        factor = self.factor()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * factor

    def state_dict(self) -> Dict[str, Any]:
        return {
            "kind": self.kind,
            "total_steps": self.total_steps,
            "step_count": self.step_count,
            "base_lrs": list(self.base_lrs),
            "plateau_scale": self.plateau_scale,
            "plateau_best": self.plateau_best,
            "plateau_bad_epochs": self.plateau_bad_epochs,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore a stored schedule, including its total length."""
        self.total_steps = int(state["total_steps"])
        self.step_count = int(state["step_count"])
        self.base_lrs = [float(lr) for lr in state["base_lrs"]]
        self.plateau_scale = float(state["plateau_scale"])
        best = state["plateau_best"]
        self.plateau_best = None if best is None else float(best)
        self.plateau_bad_epochs = int(state["plateau_bad_epochs"])
        self._apply()
