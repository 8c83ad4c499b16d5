"""Exponential moving average of a model's weights.

After optimiser step ``n`` (counted from 1), ``average = d · average + (1 - d) ·
weights`` for every floating-point parameter and buffer, with ``d = min(decay, (1 +
n) / (10 + n))``: the decay warms up, as in torch_ema (which mace_run_train uses), so
that the average forgets the random initial weights within the first few dozen
steps instead of keeping ``decay^n`` of them (with decay 0.99, still 45 % after 80
steps and 9 % after 240). Validation, best-model tracking and the final model use the
averaged weights; training continues on the live ones.
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

    def decay_at(self, step: int) -> float:
        """The decay of the update after optimiser step ``step`` (from 1)."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        """Fold the current weights of ``model``, after optimiser step ``step``
        (counted from 1 in the run's schedule), into the average."""
        decay = self.decay_at(step)
        state = model.state_dict()
        for name, average in self.average.items():
            average.mul_(decay).add_(state[name].detach(), alpha=1.0 - decay)

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
