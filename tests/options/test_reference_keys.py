"""metatrain's trainer options that have no effect in atomtrain: accepted at harmless
values with a warning naming them, refused otherwise by name."""

import pytest

from atomtrain.options.architecture import validate_architecture
from atomtrain.options.reference_keys import (
    IgnoredOptionWarning,
    without_reference_keys,
)

HARMLESS = {
    "num_workers": 4,
    "log_mae": True,
    "log_separate_blocks": False,
    "distributed": False,
    "distributed_port": 39591,
    "fixed_scaling_weights": {},
    "min_atoms_per_batch": 0,
}


def test_harmless_values_are_ignored_with_a_warning():
    section = {
        "name": "pet",
        "training": {
            "num_epochs": 3,
            "weight_decay": None,
            "finetune": {"method": "full", "read_from": None, "config": {}},
            **HARMLESS,
        },
    }
    with pytest.warns(IgnoredOptionWarning) as caught:
        expanded, problems, _ = validate_architecture(section)
    assert problems == []
    message = str(caught[0].message)
    for key in HARMLESS:
        assert f"architecture.training.{key} (" in message
        assert key not in expanded["training"]
    assert expanded["training"]["num_epochs"] == 3
    assert expanded["training"]["weight_decay"] == 0.0  # metatrain's null: none
    assert "finetune (read_from: null, no fine-tuning)" in message
    assert expanded["training"].get("finetune") is None


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("log_separate_blocks", True, "only as false"),
        ("fixed_scaling_weights", {"energy": 2.0}, "fixed output scales"),
        ("min_atoms_per_batch", 10, "only as 0"),
        ("num_workers", -1, "an integer ≥ 0 or null"),
        ("distributed_port", "auto", "a port number"),
    ],
)
def test_values_atomtrain_cannot_honour_are_problems(key, value, expected):
    section = {"name": "pet", "training": {key: value}}
    _, problems, _ = validate_architecture(section)
    (problem,) = problems
    assert problem.path == f"architecture.training.{key}"
    assert expected in str(problem)


def test_an_option_the_architecture_declares_is_its_own():
    training = {"num_workers": -1, "log_mae": True}
    with pytest.warns(IgnoredOptionWarning, match="log_mae"):
        kept, problems = without_reference_keys(
            training, {"num_workers"}, "architecture.training"
        )
    assert kept == {"num_workers": -1} and problems == []
