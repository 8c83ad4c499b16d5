"""Defaults, merging and validation of hypers at the three levels of documentation."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, List

import pytest
from archbuilder import BARE, EXPERIMENTAL, write_architecture

from atomtrain.architectures import hypers
from atomtrain.architectures.hypers import (
    UncheckedHypersWarning,
    get_defaults,
    merge_hypers,
    validate_hypers,
)
from atomtrain.errors import Problem

TYPED_DEFAULTS = {
    "model": {
        "cutoff": {"radius": 4.0, "width": 0.5},
        "activation": "silu",
        "layer_widths": [32, 32],
        "head": None,
    },
    "training": {
        "num_epochs": 100,
        "learning_rate": 0.001,
        "batch_size": 8,
        "scheduler": "auto",
        "loss_weights": {},
    },
}


@pytest.fixture
def typed(fake_root: str, tmp_path: Path) -> str:
    write_architecture(tmp_path, f"{fake_root}.typed")
    return "typed"


@pytest.fixture
def plain(fake_root: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    write_architecture(tmp_path, f"{fake_root}.experimental.tiny", EXPERIMENTAL)
    write_architecture(tmp_path, f"{fake_root}.bare", BARE)
    monkeypatch.setattr(hypers, "_WARNED_UNCHECKED", set())
    return "experimental.tiny"


def _messages(problems: List[Problem]) -> Dict[str, str]:
    return {problem.path: str(problem) for problem in problems}


def _validate(name: str, section: Dict[str, Any]) -> Dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UncheckedHypersWarning)
        _, problems = validate_hypers(name, {"name": name, **section})
    return _messages(problems)


def test_typed_defaults_include_nested_and_inherited(typed: str) -> None:
    assert get_defaults(typed) == TYPED_DEFAULTS


def test_plain_defaults(plain: str) -> None:
    assert get_defaults("bare") == {
        "model": {
            "width": 16,
            "layers": {"depth": 2, "activation": "silu"},
            "extra": {},
        },
        "training": {"num_epochs": 10, "learning_rate": 0.001},
    }
    assert get_defaults(plain)["training"] == {"num_epochs": 10, "learning_rate": 0.001}


def test_defaults_are_fresh_copies(typed: str) -> None:
    defaults = get_defaults(typed)
    defaults["model"]["cutoff"]["radius"] = 1.0
    defaults["model"]["layer_widths"].append(3)
    assert get_defaults(typed) == TYPED_DEFAULTS


def test_defaults_do_not_import_the_architecture(typed: str, fake_root: str) -> None:
    import sys

    get_defaults(typed)
    assert f"{fake_root}.typed" not in sys.modules
    assert f"{fake_root}.typed.model" not in sys.modules


def test_merge_is_recursive_and_leaves_its_inputs_alone() -> None:
    defaults = {"a": {"b": 1, "c": [1, 2]}, "d": 3}
    user = {"a": {"b": 5}, "e": {"f": 1}}
    merged = merge_hypers(defaults, user)
    assert merged == {"a": {"b": 5, "c": [1, 2]}, "d": 3, "e": {"f": 1}}
    merged["a"]["c"].append(3)
    merged["e"]["f"] = 2
    assert defaults == {"a": {"b": 1, "c": [1, 2]}, "d": 3}
    assert user == {"a": {"b": 5}, "e": {"f": 1}}


def test_misspelt_key_and_wrong_type_reported_together(typed: str) -> None:
    problems = _validate(typed, {"training": {"num_epoch": 1, "num_epochs": "five"}})
    assert problems == {
        "architecture.training.num_epoch": (
            "architecture.training.num_epoch: unknown key "
            "(did you mean 'num_epochs'?) (got 1)"
        ),
        "architecture.training.num_epochs": (
            "architecture.training.num_epochs: expected an integer (got 'five')"
        ),
    }


def test_valid_hypers_are_merged_over_defaults(typed: str) -> None:
    section = {
        "name": typed,
        "atomic_types": [1, 6],
        "model": {"cutoff": {"width": 1}, "head": {"radius": 3.0}},
        "training": {"learning_rate": 1, "scheduler": 10},
    }
    merged, problems = validate_hypers(typed, section)
    assert problems == []
    assert merged["name"] == typed
    assert merged["atomic_types"] == [1, 6]
    assert merged["model"]["cutoff"] == {"radius": 4.0, "width": 1.0}
    assert merged["model"]["head"] == {"radius": 3.0, "width": 0.5}
    assert merged["training"]["learning_rate"] == 1.0
    assert merged["training"]["scheduler"] == 10
    assert merged["training"]["num_epochs"] == 100


def test_nested_and_literal_problems(typed: str) -> None:
    problems = _validate(
        typed,
        {
            "model": {
                "cutoff": {"radiu": 3.0},
                "activation": "selu",
                "layer_widths": [32, "wide"],
                "head": {"width": "x"},
            },
            "training": {"scheduler": "autom", "loss_weights": {"energy": "high"}},
        },
    )
    assert problems == {
        "architecture.model.cutoff.radiu": "architecture.model.cutoff.radiu: "
        "unknown key (did you mean 'radius'?) (got 3.0)",
        "architecture.model.activation": "architecture.model.activation: expected "
        "one of 'silu', 'tanh', 'relu' (did you mean 'silu'?) (got 'selu')",
        "architecture.model.layer_widths[1]": "architecture.model.layer_widths[1]: "
        "expected an integer (got 'wide')",
        "architecture.model.head.width": "architecture.model.head.width: expected a "
        "number (got 'x')",
        "architecture.training.scheduler": "architecture.training.scheduler: "
        "expected int | 'auto' (got 'autom')",
        "architecture.training.loss_weights.energy": "architecture.training."
        "loss_weights.energy: expected a number (got 'high')",
    }


def test_booleans_are_not_integers(typed: str) -> None:
    problems = _validate(typed, {"training": {"batch_size": True}})
    assert list(problems) == ["architecture.training.batch_size"]


def test_yaml_exponent_without_dot_gets_a_hint(typed: str) -> None:
    problems = _validate(typed, {"training": {"learning_rate": "1e-3"}})
    assert "write 1.0e-3, not 1e-3" in problems["architecture.training.learning_rate"]


def test_architecture_section_keys(typed: str) -> None:
    problems = _validate(typed, {"trainng": {}, "model": 5})
    assert problems == {
        "architecture.trainng": "architecture.trainng: unknown key "
        "(did you mean 'training'?) (got {})",
        "architecture.model": "architecture.model: expected a mapping of "
        "hyperparameters (got 5)",
    }


def test_path_prefix(typed: str) -> None:
    _, problems = validate_hypers(
        typed, {"training": {"batch_size": "x"}}, path_prefix="options.architecture"
    )
    assert [p.path for p in problems] == ["options.architecture.training.batch_size"]


def test_missing_required_key(fake_root: str, tmp_path: Path) -> None:
    documentation = (
        "from typing_extensions import TypedDict\n"
        "class ModelHypers(TypedDict):\n    size: int\n"
        "class TrainerHypers(TypedDict):\n    pass\n"
    )
    write_architecture(tmp_path, f"{fake_root}.needsize", documentation)
    problems = _validate("needsize", {})
    assert problems == {
        "architecture.model.size": "architecture.model.size: required key with no "
        "default value: please give it"
    }


def test_plain_hypers_reject_unknown_keys_without_type_checks(plain: str) -> None:
    with pytest.warns(UncheckedHypersWarning, match="types are not checked"):
        merged, problems = validate_hypers(
            plain,
            {
                "model": {"width": "sixteen", "layrs": {}, "layers": {"dept": 3}},
                "training": {"num_epochs": 3},
            },
        )
    assert _messages(problems) == {
        "architecture.model.layrs": "architecture.model.layrs: unknown key "
        "(did you mean 'layers'?) (got {})",
        "architecture.model.layers.dept": "architecture.model.layers.dept: unknown "
        "key (did you mean 'depth'?) (got 3)",
    }
    assert merged["model"]["width"] == "sixteen"
    assert merged["training"] == {"num_epochs": 3, "learning_rate": 0.001}


def test_plain_hypers_accept_any_key_under_an_empty_mapping(plain: str) -> None:
    assert _validate("bare", {"model": {"extra": {"anything": 1}}}) == {}


def test_unchecked_warning_is_given_once(plain: str) -> None:
    with pytest.warns(UncheckedHypersWarning):
        validate_hypers(plain, {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_hypers(plain, {})


def test_composition_hypers() -> None:
    defaults = get_defaults("composition")
    assert defaults == {"model": {}, "training": {"atomic_baseline": {}}}
    _, problems = validate_hypers(
        "composition",
        {"name": "composition", "training": {"atomic_baselines": {}}},
    )
    assert [str(p) for p in problems] == [
        "architecture.training.atomic_baselines: unknown key "
        "(did you mean 'atomic_baseline'?) (got {})"
    ]
