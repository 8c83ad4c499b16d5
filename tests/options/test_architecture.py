"""The ``architecture`` section, validated against real architectures' hypers.

The engine's test architecture (``atomtrain.testing.dummy``, whose trainer has the
shared hypers such as ``num_epochs``) is registered here the way an external package
registers one: a distribution with an ``atomtrain.architectures`` entry point.
"""

from pathlib import Path

import pytest

from atomtrain.errors import OptionsError
from atomtrain.options.architecture import validate_architecture
from atomtrain.options.base import validate_options

FILE = "options.yaml"


@pytest.fixture
def dummy_architecture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Register ``atomtrain.testing.dummy`` as the external architecture 'dummy'."""
    site = tmp_path / "site"
    info = site / "atomtrain_dummy_registration-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: atomtrain-dummy-registration\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[atomtrain.architectures]\ndummy = atomtrain.testing.dummy\n"
    )
    monkeypatch.syspath_prepend(str(site))
    return "dummy"


def test_misspelt_and_mistyped_hypers_are_reported_together(
    dummy_architecture, ethanol_gfn2, tmp_path
):
    raw = {
        "architecture": {
            "name": dummy_architecture,
            "training": {"num_epoch": 1, "num_epochs": "five"},
        },
        "training_set": str(ethanol_gfn2),
        "seed": -1,
    }
    workdir = tmp_path / "work"
    workdir.mkdir()
    with pytest.raises(OptionsError) as error:
        validate_options(raw, FILE, workdir)
    message = str(error.value)
    assert message.startswith(f"3 problems in the options in {FILE}:")
    assert "architecture.training.num_epoch" in message
    assert "did you mean 'num_epochs'" in message
    assert "architecture.training.num_epochs" in message
    assert "'five'" in message
    assert "seed: expected an integer between 0 and 2**32 - 1 (got -1)" in message
    assert list(workdir.iterdir()) == []


def test_hypers_are_merged_over_the_defaults(
    dummy_architecture, ethanol_gfn2, tmp_path
):
    raw = {
        "architecture": {
            "name": dummy_architecture,
            "atomic_types": [1, 6, 8],
            "model": {"cutoff": 5},
            "training": {"num_epochs": 3},
        },
        "training_set": str(ethanol_gfn2),
    }
    architecture = validate_options(raw, FILE, tmp_path)["architecture"]
    assert architecture["name"] == "dummy"
    assert architecture["atomic_types"] == [1, 6, 8]
    assert architecture["model"]["cutoff"] == 5
    assert architecture["model"]["num_radial"] == 8
    assert architecture["training"]["num_epochs"] == 3
    assert "log_interval" in architecture["training"]


def test_support_comes_from_the_model_class(dummy_architecture):
    expanded, problems, support = validate_architecture({"name": dummy_architecture})
    assert problems == []
    assert support is not None
    assert support.devices == ("cuda", "cpu")
    assert support.precisions == (64, 32)
    assert set(expanded) == {"name", "model", "training"}


def test_unknown_key_in_the_architecture_section():
    _, problems, _ = validate_architecture(
        {"name": "composition", "trainig": {}, "atomic_types": [1, 1]}
    )
    messages = [str(problem) for problem in problems]
    assert any(
        m.startswith("architecture.trainig") and "did you mean 'training'" in m
        for m in messages
    ), messages
    assert (
        "architecture.atomic_types: an atomic type is listed more than once "
        "(got [1, 1])" in messages
    )
