"""The options-file JSON schema against jsonschema: the repository's options files and
options in metatrain's grammar pass, misspelt keys and wrong values fail, and every
file it accepts here is accepted by atomtrain's own validation."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Dict, List

import jsonschema
import pytest

from atomtrain.errors import OptionsError
from atomtrain.options import validate_options
from atomtrain.options.loading import parse_yaml
from atomtrain.schema import options_schema, write_schema

ROOT = Path(__file__).parent.parent.parent
RESOURCES = ROOT / "tests" / "resources"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = options_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def as_editor_sees(text: str) -> Dict[str, Any]:
    """YAML read as atomtrain reads it (``1e-3`` is a float), then as JSON data:
    an editor's schema sees integer mapping keys as strings."""
    return json.loads(json.dumps(parse_yaml(text)))


def errors(validator: jsonschema.Draft202012Validator, data: Any) -> List[str]:
    """Every error as ``dotted.path: message``, the alternatives of a union
    included (an editor shows the one that fits the value best)."""
    found: List[str] = []
    stack = list(validator.iter_errors(data))
    while stack:
        error = stack.pop()
        where = ".".join(str(part) for part in error.absolute_path)
        found.append(f"{where}: {error.message}")
        stack.extend(error.context or [])
    return found


def repository_options() -> List[Path]:
    return sorted(ROOT.glob("examples/**/options*.yaml"))


def test_repository_options_files_exist() -> None:
    assert repository_options(), "the examples hold no options file"


@pytest.fixture
def example_architectures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the architectures of the example packages (``examples/*`` with a
    pyproject.toml declaring ``atomtrain.architectures`` entry points) as if they were
    installed: a distribution's metadata in a folder on ``sys.path``."""
    import tomllib

    for pyproject in sorted(ROOT.glob("examples/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        points = project.get("entry-points", {}).get("atomtrain.architectures", {})
        if not points:
            continue
        info = tmp_path / f"{project['name'].replace('-', '_')}-0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: 0\n"
        )
        lines = [f"{name} = {module}" for name, module in points.items()]
        (info / "entry_points.txt").write_text(
            "[atomtrain.architectures]\n" + "\n".join(lines) + "\n"
        )
        monkeypatch.syspath_prepend(str(pyproject.parent / "src"))
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.parametrize("path", repository_options(), ids=lambda p: p.parent.name)
def test_repository_options_files_are_valid(example_architectures, path: Path) -> None:
    validator = jsonschema.Draft202012Validator(options_schema())
    data = as_editor_sees(path.read_text())
    assert errors(validator, data) == []


VALID = {
    "shorthand": """
        architecture: {name: composition}
        training_set: ethanol_reduced_100.xyz
    """,
    "energy_forces_virial": """
        architecture:
          name: soap_bpnn
          model:
            soap: {cutoff: {radius: 4.5}, max_angular: 3}
            bpnn: {num_hidden_layers: 1}
          training:
            num_epochs: 3
            learning_rate: 1e-3
            loss: {energy: {type: mse, weight: 1.0, virial: {weight: 0.1}}}
            atomic_baseline: {energy: {6: -150.0}}
            early_stopping_patience: null
        device: cpu
        base_precision: 64
        seed: 0
        training_set:
          systems: {read_from: carbon_reduced_100.xyz, length_unit: angstrom}
          targets:
            energy:
              key: energy
              unit: eV
              forces: {key: force}
              stress: off
              virial: {read_from: carbon_reduced_100.xyz, key: virial}
        validation_set: 0.1
        test_set: 0.1
    """,
    "generic_targets_and_lists": """
        architecture: {name: pet, atomic_types: [1, 6, 7, 8], training: {loss: mae}}
        device: [cpu]
        base_precision: "32"
        training_set:
          - systems: qm7x_reduced_100.xyz
            targets:
              mtt::polarizability:
                key: polarizability
                type: {cartesian: {rank: 2}}
                description: static polarizability
            indices: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
          - systems: qm7x_reduced_100.xyz
            targets:
              mtt::polarizability:
                key: polarizability
                type: {cartesian: {rank: 2}}
                description: static polarizability
            indices: [10, 11, 12, 13, 14, 15]
        validation_set:
          systems: qm7x_reduced_100.xyz
          targets:
            mtt::polarizability:
              key: polarizability
              type: {cartesian: {rank: 2}}
              description: static polarizability
          indices: [20, 21, 22]
        loggers: {tensorboard: true}
        print_stats: false
        final_eval: false
    """,
    "per_atom_and_spherical": """
        architecture: {name: composition, model: null}
        training_set:
          systems: {read_from: qm9_reduced_100.xyz}
          targets:
            mtt::U0: {key: U0, unit: Hartree, per_atom: false}
            energy/pbe: {key: U0, quantity: energy, unit: Hartree, forces: off}
    """,
}


@pytest.mark.parametrize("name", VALID)
def test_valid_options_pass_the_schema_and_atomtrain(validator, name: str) -> None:
    data = as_editor_sees(textwrap.dedent(VALID[name]))
    assert errors(validator, data) == []
    validate_options(parse_yaml(textwrap.dedent(VALID[name])), "o.yaml", RESOURCES)


INVALID = {
    "misspelt trainer key": (
        "architecture: {name: soap_bpnn, training: {num_epoch: 10}}",
        "architecture.training.num_epoch",
        "'num_epoch' was unexpected",
    ),
    "misspelt model key": (
        "architecture: {name: pet, model: {cutof: 4.0}}",
        "architecture.model.cutof",
        "'cutof' was unexpected",
    ),
    "misspelt top-level key": (
        "architecture: {name: composition}\ntrainig_set: data.xyz",
        "trainig_set",
        "'trainig_set' was unexpected",
    ),
    "unknown architecture": (
        "architecture: {name: soap-bpnn}",
        "architecture.name",
        "is not one of",
    ),
    "literal choice": (
        "architecture: {name: pet, model: {normalization: BatchNorm}}",
        "architecture.model.normalization",
        "is not one of",
    ),
    "integer expected": (
        "architecture: {name: pet, training: {num_epochs: 1.5}}",
        "architecture.training.num_epochs",
        "is not of type 'integer'",
    ),
    "misspelt forces key": (
        "architecture: {name: pet}\n"
        "training_set: {systems: a.xyz, targets: {energy: {forcs: on}}}",
        "training_set.targets.energy.forcs",
        "'forcs' was unexpected",
    ),
    "fraction out of range": (
        "architecture: {name: pet}\nvalidation_set: 1.5",
        "validation_set",
        "1.5 is not valid",
    ),
    "bad device": (
        "architecture: {name: pet}\ndevice: tpu",
        "device",
        "'tpu' is not valid",
    ),
    "bad irrep parity": (
        "architecture: {name: pet}\ntraining_set: {systems: a.xyz, targets: "
        "{mtt::d: {type: {spherical: {irreps: [{o3_lambda: 1, o3_sigma: 2}]}}}}}",
        "training_set.targets.mtt::d.type",
        "is not valid",
    ),
}


@pytest.mark.parametrize("name", INVALID)
def test_invalid_options_are_rejected(validator, name: str) -> None:
    text, where, message = INVALID[name]
    if "training_set" not in text:
        text += "\ntraining_set: data.xyz"
    found = errors(validator, as_editor_sees(text))
    parent, _, key = where.rpartition(".")
    assert any(
        (line.startswith(f"{where}: ") and message in line)
        or (line.startswith(f"{parent}: ") and f"'{key}'" in line and message in line)
        for line in found
    ), found


def test_missing_architecture_and_training_set(validator) -> None:
    found = errors(validator, {"seed": 1})
    assert ": 'architecture' is a required property" in found
    assert ": 'training_set' is a required property" in found


def test_every_installed_architecture_has_a_rule() -> None:
    from atomtrain.architectures import list_architectures

    section = options_schema()["$defs"]["ArchitectureSection"]
    names = [entry.name for entry in list_architectures()]
    assert section["properties"]["name"]["enum"] == names
    rules = [rule["if"]["properties"]["name"]["const"] for rule in section["allOf"]]
    assert rules == names


def test_defaults_and_descriptions_come_from_documentation() -> None:
    defs = options_schema()["$defs"]
    epochs = defs["soap_bpnn.TrainerHypers"]["properties"]["num_epochs"]
    assert epochs["type"] == "integer"
    assert epochs["description"] == "Number of passes over the training set."
    from atomtrain.architectures import get_defaults

    assert epochs["default"] == get_defaults("soap_bpnn")["training"]["num_epochs"]
    baseline = defs["composition.TrainerHypers"]["properties"]["atomic_baseline"]
    assert baseline["additionalProperties"]["propertyNames"] == {
        "pattern": "^-?[0-9]+$"
    }


def test_plain_hypers_refuse_unknown_keys(dummy_architecture: str) -> None:
    schema = options_schema()
    names = schema["$defs"]["ArchitectureSection"]["properties"]["name"]["enum"]
    assert dummy_architecture in names
    validator = jsonschema.Draft202012Validator(schema)
    good = {"architecture": {"name": "dummy", "model": {"cutoff": 3.0}}}
    bad = {"architecture": {"name": "dummy", "model": {"cutof": 3.0}}}
    good["training_set"] = bad["training_set"] = "data.xyz"
    assert errors(validator, good) == []
    assert any("'cutof' was unexpected" in line for line in errors(validator, bad))


def test_write_schema(tmp_path: Path) -> None:
    path = write_schema(tmp_path / "sub" / "options.schema.json")
    written = json.loads(path.read_text())
    assert written["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert written == json.loads(json.dumps(options_schema()))


def test_rejected_by_schema_is_rejected_by_atomtrain(validator) -> None:
    text = "architecture: {name: soap_bpnn, training: {num_epoch: 10}}\n"
    text += f"training_set: {RESOURCES / 'carbon_reduced_100.xyz'}\n"
    assert errors(validator, as_editor_sees(text))
    with pytest.raises(OptionsError, match="num_epoch"):
        validate_options(parse_yaml(text), "o.yaml", RESOURCES)
