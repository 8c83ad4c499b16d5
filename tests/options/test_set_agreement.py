"""Training, validation and test sets agree on units and targets: problems found on the
expanded options, naming the dotted key and the files of both sets."""

from pathlib import Path

from atomtrain.errors import OptionsError
from atomtrain.options import validate_options

ETHANOL = "ethanol_reduced_100.xyz"
QM9 = "qm9_reduced_100.xyz"


def problems(raw: dict, base: Path) -> dict:
    options = {"architecture": {"name": "composition"}, **raw}
    try:
        validate_options(options, "options.yaml", base)
    except OptionsError as error:
        return {p.path: str(p) for p in error.problems}
    return {}


def test_a_validation_set_lacking_a_trained_target(resources: Path) -> None:
    found = problems(
        {
            "training_set": [
                {"systems": ETHANOL, "targets": {"energy": {"unit": "eV"}}},
                {"systems": QM9, "targets": {"mtt::gap": {"unit": "eV"}}},
            ],
            "validation_set": {
                "systems": QM9,
                "targets": {"energy": {"key": "U0", "unit": "eV"}},
            },
            "test_set": {"systems": QM9, "targets": {"mtt::gap": {"unit": "eV"}}},
        },
        resources,
    )
    assert list(found) == ["validation_set.targets"]
    message = found["validation_set.targets"]
    assert f"'{resources / QM9}' has no target 'mtt::gap'" in message
    assert f"the training set trains on ('{resources / QM9}' (training_set[1]))" in (
        message
    )
    assert "validate on a fraction of the training set" in message


def test_a_target_with_another_layout_in_another_set(resources: Path) -> None:
    found = problems(
        {
            "training_set": {"systems": QM9, "targets": {"mtt::gap": {"unit": "eV"}}},
            "validation_set": 0.1,
            "test_set": {
                "systems": QM9,
                "targets": {"mtt::gap": {"unit": "eV", "per_atom": True}},
            },
        },
        resources,
    )
    message = found["test_set.targets.mtt::gap.sample_kind"]
    assert f"differs from 'system' in the training set ('{resources / QM9}'" in message
    assert "(got 'atom')" in message


def test_unit_problems_name_both_files_once(resources: Path) -> None:
    found = problems(
        {
            "training_set": [
                {"systems": ETHANOL, "targets": {"energy": {"unit": "eV"}}},
                {"systems": QM9, "targets": {"energy": {"key": "U0", "unit": "meV"}}},
            ],
            "validation_set": {
                "systems": ETHANOL,
                "targets": {"energy": {"unit": "kcal/mol"}},
            },
        },
        resources,
    )
    assert sorted(found) == [
        "training_set[1].targets.energy.unit",
        "validation_set.targets.energy.unit",
    ]
    assert found["validation_set.targets.energy.unit"].startswith(
        f"validation_set.targets.energy.unit: differs from 'eV' in training_set[0] "
        f"('{resources / ETHANOL}'): 'energy' must have the same unit in every "
        f"dataset (here '{resources / ETHANOL}')"
    )
