"""metatrain's trainer options that have no effect in atomtrain: accepted at harmless
values with a warning naming them, refused otherwise by name."""

import pytest

from atomtrain.options.architecture import validate_architecture
from atomtrain.options.reference_keys import (
    IgnoredOptionWarning,
    without_reference_keys,
)

HARMLESS = {
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
    training = {"min_atoms_per_batch": -1, "log_mae": True}
    with pytest.warns(IgnoredOptionWarning, match="log_mae"):
        kept, problems = without_reference_keys(
            training, {"min_atoms_per_batch"}, "architecture.training"
        )
    assert kept == {"min_atoms_per_batch": -1} and problems == []


@pytest.mark.parametrize("value", [0, 3, None])
def test_num_workers_is_a_hyperparameter_of_every_engine_trainer(value):
    section = {"name": "pet", "training": {"num_workers": value}}
    expanded, problems, _ = validate_architecture(section)
    assert problems == [] and expanded["training"]["num_workers"] == value
    _, problems, _ = validate_architecture(
        {"name": "pet", "training": {"num_workers": -1}}
    )
    assert [p.path for p in problems] == ["architecture.training.num_workers"]


#: As metatrain writes them in the expanded options of a SOAP-BPNN run.
OFF_MODEL_OPTIONS = {"legacy": True, "add_lambda_basis": True}


def test_model_options_of_features_left_off_are_ignored():
    section = {"name": "soap_bpnn", "model": dict(OFF_MODEL_OPTIONS)}
    with pytest.warns(IgnoredOptionWarning) as caught:
        expanded, problems, _ = validate_architecture(section)
    assert problems == []
    message = str(caught[0].message)
    for key in OFF_MODEL_OPTIONS:
        assert f"architecture.model.{key} (" in message
        assert key not in expanded["model"]


@pytest.mark.parametrize("architecture", ["pet", "soap_bpnn"])
def test_the_long_range_section_is_read_as_the_architectures_own(architecture):
    # metatrain's expanded section, with atomtrain's own key at its default
    section = {
        "enable": True,
        "use_ewald": True,
        "smearing": 1.2,
        "kspace_resolution": 1.0,
        "interpolation_nodes": 4,
    }
    model = {"long_range": section}
    expanded, problems, _ = validate_architecture(
        {"name": architecture, "model": model}
    )
    assert problems == []
    assert expanded["model"]["long_range"] == {**section, "num_charges": 16}
    _, problems, _ = validate_architecture(
        {"name": architecture, "model": {"long_range": {"interpolation_nodes": 7}}}
    )
    assert [p.path for p in problems] == [
        "architecture.model.long_range.interpolation_nodes"
    ]


def test_model_options_of_another_architecture_stay_unknown():
    section = {"name": "soap_bpnn", "model": {"num_neighbors_adaptive": None}}
    _, problems, _ = validate_architecture(section)
    assert [p.path for p in problems] == ["architecture.model.num_neighbors_adaptive"]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("legacy", False, "chemical embedding is not available"),
        ("add_lambda_basis", False, "always holds the expansion"),
    ],
)
def test_model_options_asking_for_missing_features_are_problems(key, value, expected):
    _, problems, _ = validate_architecture({"name": "soap_bpnn", "model": {key: value}})
    (problem,) = problems
    assert problem.path == f"architecture.model.{key}"
    assert expected in str(problem)


def test_pet_reads_the_adaptive_cutoff_options_as_its_own():
    model = {
        "num_neighbors_adaptive": 16,
        "adaptive_cutoff_method": "grid",
        "cutoff_width_adaptive": 0.5,
    }
    expanded, problems, _ = validate_architecture({"name": "pet", "model": model})
    assert problems == []
    assert {k: expanded["model"][k] for k in model} == model
