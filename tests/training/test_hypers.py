"""The bounds declared on the shared trainer hypers, as validation reports them."""

from __future__ import annotations

import pytest

from atomtrain.architectures.hypers import validate_hypers
from atomtrain.training.hypers import base_trainer_defaults

#: Every count of the shared trainer hypers, with a value below its bound.
BELOW_BOUND = {
    "num_epochs": (0, "expected an integer ≥ 1"),
    "batch_size": (0, "expected an integer ≥ 1"),
    "max_atoms_per_batch": (0, "expected an integer ≥ 1"),
    "max_edges_per_batch": (-5, "expected an integer ≥ 1"),
    "plateau_patience": (-1, "expected an integer ≥ 0"),
    "early_stopping_patience": (0, "expected an integer ≥ 1"),
    "log_interval": (0, "expected an integer ≥ 1"),
    "checkpoint_interval": (0, "expected an integer ≥ 1"),
    "learning_rate": (0.0, "expected a number > 0"),
    "weight_decay": (-0.1, "expected a number ≥ 0"),
    "warmup_fraction": (1.5, "expected a number ≤ 1"),
    "min_lr_ratio": (-0.5, "expected a number ≥ 0"),
    "plateau_factor": (1.0, "expected a number < 1"),
    "grad_clip_norm": (0.0, "expected a number > 0"),
    "ema_decay": (1.0, "expected a number < 1"),
}


@pytest.mark.parametrize("architecture", ["pet", "soap_bpnn"])
def test_every_bounded_trainer_hyper_is_refused_by_its_dotted_key(architecture):
    training = {key: value for key, (value, _) in BELOW_BOUND.items()}
    _, problems = validate_hypers(
        architecture, {"name": architecture, "training": training}
    )
    found = {problem.path: str(problem) for problem in problems}
    for key, (value, message) in BELOW_BOUND.items():
        path = f"architecture.training.{key}"
        assert found.pop(path) == f"{path}: {message} (got {value!r})"
    assert found == {}


def test_the_defaults_are_within_their_bounds():
    _, problems = validate_hypers(
        "pet", {"name": "pet", "training": base_trainer_defaults()}
    )
    assert problems == []


def test_the_model_counts_of_an_architecture_are_bounded():
    model = {"num_gnn_layers": 0, "num_heads": 0, "cutoff": -1.0}
    _, problems = validate_hypers("pet", {"name": "pet", "model": model})
    assert sorted(str(problem) for problem in problems) == [
        "architecture.model.cutoff: expected a number > 0 (got -1.0)",
        "architecture.model.num_gnn_layers: expected an integer ≥ 1 (got 0)",
        "architecture.model.num_heads: expected an integer ≥ 1 (got 0)",
    ]
