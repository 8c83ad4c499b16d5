"""The moving average of the weights: its decay warms up, so that the random initial
weights are forgotten within the first steps."""

from __future__ import annotations

import pytest
import torch

from atomtrain.training.ema import ExponentialMovingAverage


def test_the_decay_warms_up_to_its_value():
    model = torch.nn.Linear(1, 1, bias=False, dtype=torch.float64)
    torch.nn.init.constant_(model.weight, 0.0)
    ema = ExponentialMovingAverage(model, 0.99)
    assert [ema.decay_at(n) for n in (1, 8, 80, 1000)] == pytest.approx(
        [2 / 11, 0.5, 0.9, 0.99]
    )
    # the live weights jump from 0 to 1 at the first step and stay there: after 80
    # steps the average is within 1e-3 of them (a fixed decay of 0.99 would still
    # hold 0.99**80 = 45 % of the initial weights)
    torch.nn.init.constant_(model.weight, 1.0)
    for step in range(1, 81):
        ema.update(model, step)
    expected = 1.0
    for step in range(1, 81):
        expected *= ema.decay_at(step)
    assert float(ema.average["weight"]) == pytest.approx(1.0 - expected, abs=1e-12)
    assert 1.0 - float(ema.average["weight"]) < 1e-3
