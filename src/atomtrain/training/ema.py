"""Exponential moving average of a model's weights.

After each optimiser step, ``average = decay · average + (1 - decay) · weights`` for
every floating-point parameter and buffer. Validation, best-model tracking and the
final model use the averaged weights; training continues on the live ones.
"""

from __future__ import annotations

import contextlib
from typing import Dict, Iterator

import torch


class ExponentialMovingAverage:
    """The running average of ``model``'s floating-point state."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.average: Dict[str, torch.Tensor] = {
            name: value.detach().clone()
            for name, value in model.state_dict().items()
            if value.is_floating_point()
        }

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        """Fold the current weights of ``model`` into the average."""
        state = model.state_dict()
        for name, average in self.average.items():
            average.mul_(self.decay).add_(state[name].detach(), alpha=1.0 - self.decay)

    @contextlib.contextmanager
    def applied(self, model: torch.nn.Module) -> Iterator[None]:
        """Within the block, ``model`` holds the averaged weights; the live weights
        are put back afterwards."""
        live = {
            name: value.detach().clone() for name, value in model.state_dict().items()
        }
        model.load_state_dict(self.average, strict=False)
        try:
            yield
        finally:
            model.load_state_dict(live)

    def state_dict(self) -> Dict[str, torch.Tensor]:
        return {name: value.clone() for name, value in self.average.items()}

    def load_state_dict(self, state: Dict[str, torch.Tensor]) -> None:
        for name, value in state.items():
            self.average[name] = value.detach().clone().to(self.average[name])
