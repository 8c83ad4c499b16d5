"""Validation and expansion of the base options, tested by their messages."""

import os
from pathlib import Path
from typing import Any, Dict

import pytest

from atomtrain.errors import OptionsError
from atomtrain.options.base import SEED_LIMIT, validate_options

FILE = "options.yaml"


@pytest.fixture
def options(ethanol_gfn2: Path) -> Dict[str, Any]:
    return {
        "architecture": {"name": "composition"},
        "training_set": str(ethanol_gfn2),
        "seed": 12,
    }


def problems_of(raw: Dict[str, Any], base_dir: Path) -> str:
    with pytest.raises(OptionsError) as error:
        validate_options(raw, FILE, base_dir)
    assert error.value.file == FILE
    return str(error.value)


def test_defaults_are_filled_in(options, tmp_path):
    del options["seed"]
    expanded = validate_options(options, FILE, tmp_path)
    assert expanded["device"] == "auto"
    assert expanded["base_precision"] == 64  # composition prefers float64
    assert 0 <= expanded["seed"] < SEED_LIMIT
    assert expanded["validation_set"] == 0.1
    assert expanded["test_set"] == 0.0
    assert expanded["loggers"] == {"tensorboard": False, "wandb": None}
    assert expanded["print_stats"] == "auto"
    assert expanded["final_eval"] is True
    assert expanded["architecture"]["name"] == "composition"
    assert expanded["architecture"]["training"]["atomic_baseline"] == {}
    assert set(expanded["architecture"]) >= {"name", "model", "training"}


def test_random_seeds_differ_and_given_seed_is_kept(options, tmp_path):
    assert validate_options(options, FILE, tmp_path)["seed"] == 12
    del options["seed"]
    seeds = {validate_options(options, FILE, tmp_path)["seed"] for _ in range(5)}
    assert len(seeds) > 1


def test_misspelt_top_level_key(options, tmp_path):
    options["trainig_set"] = options.pop("training_set")
    message = problems_of(options, tmp_path)
    assert "trainig_set: unknown option (did you mean 'training_set'?)" in message
    assert "training_set: required: the data to train on" in message


@pytest.mark.parametrize("value", [8, "8", 32.0, True, "float32"])
def test_invalid_base_precision(options, tmp_path, value):
    options["base_precision"] = value
    message = problems_of(options, tmp_path)
    assert f"base_precision: expected 16, 32 or 64 (got {value!r})" in message


@pytest.mark.parametrize(("value", "bits"), [(32, 32), ("64", 64)])
def test_base_precision_accepts_ints_and_strings(options, tmp_path, value, bits):
    options["base_precision"] = value
    assert validate_options(options, FILE, tmp_path)["base_precision"] == bits


def test_precision_the_architecture_does_not_support(options, tmp_path):
    options["base_precision"] = 16
    message = problems_of(options, tmp_path)
    assert "base_precision: not supported by the architecture (64, 32) (got 16)" in (
        message
    )


@pytest.mark.parametrize("value", [-1, "five", True, 1.5, SEED_LIMIT])
def test_invalid_seed(options, tmp_path, value):
    options["seed"] = value
    message = problems_of(options, tmp_path)
    assert f"seed: expected an integer between 0 and 2**32 - 1 (got {value!r})" in (
        message
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tpu", "device: expected 'auto', 'cpu', 'cuda', 'cuda:N', 'mps', 'gpu'"),
        (["cuda:0", "cuda:0"], "device: a device is listed more than once"),
        (["cuda:0", 3], "device[1]: expected 'cpu', 'cuda', 'cuda:N' or 'mps' (got 3)"),
        ([], "device: the list of devices is empty"),
        ("mps", "device: not supported by the architecture (cuda, cpu) (got 'mps')"),
    ],
)
def test_invalid_device(options, tmp_path, value, message):
    options["device"] = value
    assert message in problems_of(options, tmp_path)


@pytest.mark.parametrize(
    ("value", "expected"), [("CPU", "cpu"), ("cuda:1", "cuda:1"), ("gpu", "gpu")]
)
def test_device_spelling_is_normalized(options, tmp_path, value, expected):
    options["device"] = value
    assert validate_options(options, FILE, tmp_path)["device"] == expected


def test_fractions(options, tmp_path):
    options["validation_set"] = 1.5
    options["test_set"] = True
    message = problems_of(options, tmp_path)
    assert "validation_set: a fraction of the training set must be in [0, 1)" in message
    assert "test_set: expected a fraction of the training set or a dataset" in message

    options["validation_set"], options["test_set"] = 0.5, 0.5
    message = problems_of(options, tmp_path)
    assert "validation_set (0.5) and test_set (0.5) together take the whole" in message


def test_a_fraction_in_quotes_is_refused_unless_it_names_a_file(
    options, tmp_path, ethanol_gfn2
):
    options["validation_set"] = "0.1"
    options["test_set"] = "1e-1"
    message = problems_of(options, tmp_path)
    assert (
        "validation_set: a fraction of the training set is a number: write "
        "validation_set: 0.1 without quotes (no file '0.1' exists) (got '0.1')"
    ) in message
    assert "test_set: a fraction of the training set is a number" in message

    (tmp_path / "0.1").write_bytes(ethanol_gfn2.read_bytes())
    del options["test_set"]
    expanded = validate_options(options, FILE, tmp_path)
    assert expanded["validation_set"][0]["systems"]["read_from"] == str(
        tmp_path / "0.1"
    )


def test_wandb_moves_into_loggers(options, tmp_path):
    options["wandb"] = {"project": "ethanol"}
    expanded = validate_options(options, FILE, tmp_path)
    assert "wandb" not in expanded
    assert expanded["loggers"]["wandb"] == {"project": "ethanol"}

    options["loggers"] = {"wandb": {"project": "other"}, "tensorbord": True}
    message = problems_of(options, tmp_path)
    assert "wandb: given twice: here and as loggers.wandb; keep one" in message
    assert "loggers.tensorbord: unknown logger (did you mean 'tensorboard'?)" in message


def test_every_problem_is_reported_at_once(options, tmp_path):
    options.update(
        {"base_precision": 8, "seed": -3, "devise": "cpu", "final_eval": "maybe"}
    )
    options["architecture"]["atomic_types"] = [1, "C"]
    message = problems_of(options, tmp_path)
    assert message.startswith(f"5 problems in the options in {FILE}:")
    for line in [
        "devise: unknown option (did you mean 'device'?)",
        "architecture.atomic_types: expected a list of atomic numbers",
        "base_precision: expected 16, 32 or 64 (got 8)",
        "seed: expected an integer between 0 and 2**32 - 1 (got -3)",
        "final_eval: expected true or false (got 'maybe')",
    ]:
        assert f"  - {line}" in message


def test_architecture_section(tmp_path, ethanol_gfn2):
    message = problems_of({"training_set": str(ethanol_gfn2)}, tmp_path)
    assert "architecture: required: the architecture to train" in message
    message = problems_of({"architecture": "composition"}, tmp_path)
    assert "architecture: expected a mapping with at least 'name'" in message
    message = problems_of({"architecture": {"model": {}}}, tmp_path)
    assert "architecture.name: required: the name of the architecture" in message


def test_unknown_architecture_name(options, tmp_path):
    options["architecture"]["name"] = "compositon"
    message = problems_of(options, tmp_path)
    assert "architecture.name:" in message
    assert "did you mean 'composition'?" in message


def test_validation_touches_no_file(options, tmp_path, monkeypatch):
    """An invalid (or valid) options file leaves nothing behind."""
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    validate_options(options, FILE, tmp_path)
    options["seed"] = "x"
    problems_of(options, tmp_path)
    assert sorted(os.listdir(tmp_path)) == before == []


def test_units_must_agree_between_sets(resources, tmp_path):
    raw = {
        "architecture": {"name": "composition"},
        "training_set": {
            "systems": str(resources / "qm9_reduced_100.xyz"),
            "targets": {"mtt::U0": {"unit": "Hartree"}},
        },
        "validation_set": {
            "systems": str(resources / "qm9_reduced_100.xyz"),
            "targets": {"mtt::U0": {"unit": "eV"}},
        },
    }
    assert "validation_set.targets.mtt::U0.unit" in problems_of(raw, tmp_path)
