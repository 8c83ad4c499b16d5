"""What is read from documentation.py: title, description, typed and plain entries."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from archbuilder import BARE, EXPERIMENTAL, write_architecture

from atomtrain.architectures.discovery import InvalidArchitectureError
from atomtrain.architectures.docsource import read_architecture_doc
from atomtrain.architectures.typeinfo import NO_DEFAULT


def test_typed_documentation(fake_root: str, tmp_path: Path) -> None:
    write_architecture(tmp_path, f"{fake_root}.typed")
    doc = read_architecture_doc("typed")
    assert doc.title == "Typed"
    assert doc.description == "A typed test architecture with TypedDict hypers."
    assert doc.level == "typed"
    model = {entry.name: entry for entry in doc.model}
    assert list(model) == [
        "cutoff",
        "cutoff.radius",
        "cutoff.width",
        "activation",
        "layer_widths",
        "head",
        "head.radius",
        "head.width",
    ]
    assert model["cutoff"].nested
    assert model["cutoff"].default == {"radius": 4.0, "width": 0.5}
    assert model["cutoff.radius"].type == "float"
    assert model["cutoff.radius"].default == 5.0
    assert model["cutoff.radius"].description == "Cutoff radius (Å)."
    assert model["activation"].type == "'silu' | 'tanh' | 'relu'"
    assert model["layer_widths"].type == "list[int]"
    assert model["head"].type == "CutoffHypers | None"
    assert model["head"].default is None
    training = {entry.name: entry for entry in doc.training}
    assert list(training)[:2] == ["num_epochs", "learning_rate"]
    assert (
        training["num_epochs"].description == "Number of passes over the training set."
    )
    assert training["scheduler"].type == "int | 'auto'"
    assert training["loss_weights"].type == "dict[str, float]"
    assert training["seed_offset"].default is NO_DEFAULT
    assert not training["seed_offset"].required
    assert f"{fake_root}.typed" not in sys.modules


def test_experimental_documentation(fake_root: str, tmp_path: Path) -> None:
    write_architecture(tmp_path, f"{fake_root}.experimental.tiny", EXPERIMENTAL)
    doc = read_architecture_doc("experimental.tiny")
    assert doc.title == "Tiny"
    assert doc.description.startswith("A tiny test architecture, one line.\n")
    assert doc.description.endswith("More text after the first paragraph.")
    assert doc.level == "plain"
    model = {entry.name: entry for entry in doc.model}
    assert model["width"].type == "int"
    assert model["width"].description == "Number of hidden features."
    assert model["layers"].type == "dict"
    assert model["layers"].default == {"depth": 2, "activation": "silu"}
    assert [entry.description for entry in doc.training] == [
        "Number of passes over the training set.",
        "Step size of the optimiser.",
    ]


def test_bare_documentation(fake_root: str, tmp_path: Path) -> None:
    write_architecture(tmp_path, f"{fake_root}.bare", BARE)
    doc = read_architecture_doc("bare")
    assert doc.title == "bare"
    assert doc.description == ""
    assert [(e.name, e.type, e.default) for e in doc.training] == [
        ("num_epochs", "int", 10),
        ("learning_rate", "float", 0.001),
    ]
    assert all(entry.description == "" for entry in doc.model + doc.training)


def test_missing_hypers_class(fake_root: str, tmp_path: Path) -> None:
    write_architecture(
        tmp_path, f"{fake_root}.nohypers", "class ModelHypers:\n    a = 1\n"
    )
    with pytest.raises(InvalidArchitectureError) as error:
        read_architecture_doc("nohypers")
    assert str(error.value) == (
        f"{fake_root}.nohypers.documentation.TrainerHypers must be a class declaring "
        "the training hyperparameters, got None"
    )


def test_documentation_needing_optional_dependency(
    fake_root: str, tmp_path: Path
) -> None:
    write_architecture(tmp_path, f"{fake_root}.heavy", "import not_installed_xyz\n")
    with pytest.raises(InvalidArchitectureError) as error:
        read_architecture_doc("heavy")
    assert str(error.value).endswith(
        "documentation.py must import without the optional dependencies of the "
        "architecture 'heavy', but it failed with: No module named 'not_installed_xyz'"
    )
