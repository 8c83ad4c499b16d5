"""Export refuses a model whose weights are not finite, naming them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from atomtrain.errors import UserError
from atomtrain.workflows.export import require_finite_weights


def test_nan_parameters_and_infinite_buffers_are_named():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))
    model.register_buffer("scale", torch.tensor([1.0, float("inf")]))
    model.register_buffer("types", torch.tensor([1, 6]))
    with torch.no_grad():
        model[1].weight[0, :2] = float("nan")
    with pytest.raises(UserError) as error:
        require_finite_weights(model, Path("run/model.ckpt"))
    assert str(error.value).startswith(
        "cannot export the model of 'run/model.ckpt': NaN or infinite values in "
        "parameter '1.weight' (2 of 4 values); buffer 'scale' (1 of 2 values). The "
        "training that wrote it diverged"
    )


def test_finite_weights_pass():
    require_finite_weights(torch.nn.Linear(3, 4), Path("model.ckpt"))
