"""The validated options as frozen, typed objects: complete, read-only, and the same
data as the expanded options written next to every run."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest

from atomtrain.architectures.typeinfo import field_types
from atomtrain.errors import OptionsError
from atomtrain.options import grammar, validate_options
from atomtrain.options.loading import parse_yaml
from atomtrain.options.run_options import (
    DatasetOptions,
    RunOptions,
    TargetOptions,
    read_run_options,
)

OPTIONS = """
    architecture:
      name: composition
      atomic_types: [1, 6, 8]
    device: cpu
    seed: 3
    training_set:
      - systems: ethanol_reduced_100.xyz
        targets:
          energy: {unit: kcal/mol, forces: forces}
        indices: [0, 1, 2, 3, 4, 5, 6, 7]
      - systems: ethanol_reduced_100.xyz
        targets:
          energy: {unit: kcal/mol}
        extra_data:
          mtt::mask: {key: forces, per_atom: true, type: {cartesian: {rank: 1}}}
    validation_set:
      systems: ethanol_reduced_100.xyz
      targets: {energy: {unit: kcal/mol}}
    loggers: {wandb: {project: p}}
"""


def _options(resources: Path, text: str = OPTIONS) -> RunOptions:
    return read_run_options(parse_yaml(textwrap.dedent(text)), "o.yaml", resources)


def test_every_value_is_typed_and_complete(resources: Path) -> None:
    options = _options(resources)
    assert options.seed == 3 and options.device == "cpu"
    assert options.test_set == 0.0 and options.final_eval is True
    assert options.architecture.atomic_types == (1, 6, 8)
    assert options.architecture.training["atomic_baseline"] == {}
    first, second = options.training_set
    energy = first.targets["energy"]
    assert isinstance(energy, TargetOptions)
    assert energy.forces is not None and energy.forces.key == "forces"
    assert energy.forces.required and energy.virial is None
    assert first.indices == tuple(range(8)) and second.indices is None
    assert second.extra_data["mtt::mask"].sample_kind == "atom"
    assert options.loggers.wandb == {"project": "p"}
    assert isinstance(options.validation_set, tuple)


def test_the_objects_are_read_only(resources: Path) -> None:
    options = _options(resources)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.seed = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        options.architecture.training["num_epochs"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        options.training_set[0].targets["other"] = None  # type: ignore[index]
    # the hypers handed to a model or trainer are fresh dicts of their own
    hypers = options.architecture.hypers()
    hypers["training"]["atomic_baseline"]["energy"] = {1: 0.0}
    assert options.architecture.training["atomic_baseline"] == {}


def test_plain_data_is_the_expanded_options(resources: Path) -> None:
    raw = parse_yaml(textwrap.dedent(OPTIONS))
    expanded = validate_options(raw, "o.yaml", resources)
    assert RunOptions.from_plain(expanded).as_plain() == expanded


def test_invalid_options_raise_every_problem(resources: Path) -> None:
    with pytest.raises(OptionsError) as error:
        _options(resources, "architecture: {name: composition}\nseed: -1\n")
    assert {p.path for p in error.value.problems} == {"seed", "training_set"}


def test_the_fields_are_the_keys_of_the_grammar() -> None:
    def fields(cls: type) -> set:
        return {f.name for f in dataclasses.fields(cls)}

    # wandb is metatrain's spelling of loggers.wandb, moved there on expansion
    assert fields(RunOptions) == set(field_types(grammar.OptionsFile)) - {"wandb"}
    assert fields(DatasetOptions) == set(field_types(grammar.DatasetSection))
    # per_atom is metatrain's spelling of sample_kind
    declared = set(field_types(grammar.TargetSection)) - {"per_atom"}
    assert fields(TargetOptions) == declared
