from pathlib import Path
from typing import Any, Dict, List

import pytest

from atomtrain.errors import Problem
from atomtrain.options.datasets import (
    expand_dataset_section,
    expand_split_value,
    infer_reader,
)


def expand(value: Any, base: Path) -> List[Dict[str, Any]]:
    sections, problems = expand_dataset_section(value, "training_set", base)
    assert problems == []
    return sections


def problems_of(value: Any, base: Path) -> List[Problem]:
    return expand_dataset_section(value, "training_set", base)[1]


def messages(value: Any, base: Path) -> Dict[str, str]:
    return {p.path: str(p) for p in problems_of(value, base)}


def test_string_shorthand_expands_to_the_long_form(resources: Path) -> None:
    short = expand("ethanol_reduced_100.xyz", resources)
    long = expand(
        {
            "systems": {
                "read_from": "ethanol_reduced_100.xyz",
                "reader": "ase",
                "length_unit": "angstrom",
            },
            "targets": {
                "energy": {
                    "quantity": "energy",
                    "read_from": "ethanol_reduced_100.xyz",
                    "key": "energy",
                    "unit": "",
                    "forces": {"key": "forces", "required": False},
                    "stress": {"key": "stress", "required": False},
                    "virial": False,
                }
            },
        },
        resources,
    )
    assert short == long
    file = str(resources / "ethanol_reduced_100.xyz")
    energy = short[0]["targets"]["energy"]
    assert short[0]["systems"] == {
        "read_from": file,
        "reader": "ase",
        "length_unit": "angstrom",
    }
    assert energy["forces"] == {
        "read_from": file,
        "reader": "ase",
        "key": "forces",
        "required": False,
    }
    assert energy["type"] == "scalar" and energy["sample_kind"] == "system"
    assert short[0]["indices"] is None and short[0]["extra_data"] == {}


def test_expansion_is_idempotent(resources: Path) -> None:
    raw = {
        "systems": "carbon_reduced_100.xyz",
        "targets": {
            "energy": {"unit": "eV", "forces": "force", "virial": {"key": "virial"}},
            "mtt::dos": {"type": {"cartesian": {"rank": 1}}, "per_atom": True},
        },
        "indices": [3, 1, 2],
    }
    once = expand(raw, resources)
    assert expand(once, resources) == once


def test_target_string_is_read_from(resources: Path) -> None:
    (section,) = expand(
        {
            "systems": "qm9_reduced_100.xyz",
            "targets": {"mtt::U0": "qm9_reduced_100.xyz"},
        },
        resources,
    )
    target = section["targets"]["mtt::U0"]
    assert target["read_from"] == str(resources / "qm9_reduced_100.xyz")
    # the key defaults to the name without its prefix; a generic target is no energy
    assert target["key"] == "U0" and target["quantity"] == ""
    assert (target["forces"], target["stress"], target["virial"]) == (False,) * 3


def test_explicit_gradients_are_required_implicit_ones_are_not(resources: Path) -> None:
    (section,) = expand(
        {
            "systems": "carbon_reduced_100.xyz",
            "targets": {"energy": {"forces": {"key": "force"}, "virial": "virial"}},
        },
        resources,
    )
    energy = section["targets"]["energy"]
    assert energy["forces"]["key"] == "force" and energy["forces"]["required"]
    assert energy["virial"]["key"] == "virial" and energy["virial"]["required"]
    # an explicit virial replaces the implicit stress
    assert energy["stress"] is False
    (section,) = expand(
        {"systems": "ethanol_reduced_100.xyz", "targets": {"energy": {"forces": True}}},
        resources,
    )
    assert section["targets"]["energy"]["forces"]["required"] is True
    assert section["targets"]["energy"]["stress"]["required"] is False


def test_gradient_string_naming_a_file_is_read_from(resources: Path) -> None:
    (section,) = expand(
        {
            "systems": "ethanol_reduced_100.xyz",
            "targets": {
                "energy": {"forces": "ethanol_reduced_100.xyz", "stress": "off"}
            },
        },
        resources,
    )
    forces = section["targets"]["energy"]["forces"]
    assert forces["read_from"] == str(resources / "ethanol_reduced_100.xyz")
    assert forces["key"] == "forces"


def test_stress_and_virial_together_is_a_problem(resources: Path) -> None:
    found = messages(
        {
            "systems": "carbon_reduced_100.xyz",
            "targets": {
                "energy": {"stress": {"key": "s"}, "virial": {"key": "virial"}}
            },
        },
        resources,
    )
    assert "stress or virial, not both" in found["training_set.targets.energy"]


def test_generic_target_cannot_have_forces(resources: Path) -> None:
    found = messages(
        {
            "systems": "qm9_reduced_100.xyz",
            "targets": {"mtt::U0": {"forces": True, "stress": "off"}},
        },
        resources,
    )
    assert list(found) == ["training_set.targets.mtt::U0.forces"]
    assert "only energies" in found["training_set.targets.mtt::U0.forces"]
    # an energy quantity per atom is no energy either
    found = messages(
        {
            "systems": "qm9_reduced_100.xyz",
            "targets": {
                "mtt::e": {"quantity": "energy", "per_atom": True, "virial": True}
            },
        },
        resources,
    )
    assert list(found) == ["training_set.targets.mtt::e.virial"]


def test_unprefixed_custom_name_suggests_the_prefix(resources: Path) -> None:
    found = messages(
        {"systems": "qm9_reduced_100.xyz", "targets": {"U0": {}, "enregy": {}}},
        resources,
    )
    assert "'mtt::U0'" in found["training_set.targets.U0"]
    assert "did you mean 'energy'" in found["training_set.targets.enregy"]


def test_standard_names_and_variants_are_accepted(resources: Path) -> None:
    (section,) = expand(
        {
            "systems": "qm9_reduced_100.xyz",
            "targets": {
                "energy/pbe": {"key": "U0"},
                "mtt::gap/b3lyp": {"key": "gap"},
                "non_conservative_force": {"per_atom": True, "key": "forces"},
            },
        },
        resources,
    )
    assert section["targets"]["energy/pbe"]["quantity"] == "energy"
    assert section["targets"]["mtt::gap/b3lyp"]["quantity"] == ""


def test_unknown_keys_get_did_you_mean(resources: Path) -> None:
    found = messages(
        {
            "system": "ethanol_reduced_100.xyz",
            "targets": {"energy": {"forces": {"kye": "forces"}, "unti": "eV"}},
        },
        resources,
    )
    assert "did you mean 'systems'" in found["training_set.system"]
    assert "required" in found["training_set.systems"]
    assert "did you mean 'key'" in found["training_set.targets.energy.forces.kye"]
    assert "did you mean 'unit'" in found["training_set.targets.energy.unti"]


def test_relative_paths_and_missing_files(resources: Path, tmp_path: Path) -> None:
    found = messages({"systems": "nowhere.xyz", "targets": {"energy": {}}}, tmp_path)
    assert (
        f"'{tmp_path / 'nowhere.xyz'}' does not exist"
        in found["training_set.systems.read_from"]
    )
    absolute = str(resources / "qm9_reduced_100.xyz")
    (section,) = expand(absolute, tmp_path)
    assert section["systems"]["read_from"] == absolute


def test_sample_kind_and_per_atom(resources: Path) -> None:
    value = {"systems": "ethanol_reduced_100.xyz", "targets": {"mtt::f": {}}}
    value["targets"]["mtt::f"] = {"per_atom": True, "type": {"cartesian": {"rank": 1}}}
    (section,) = expand(value, resources)
    assert section["targets"]["mtt::f"]["sample_kind"] == "atom"
    assert "per_atom" not in section["targets"]["mtt::f"]
    value["targets"]["mtt::f"] = {"per_atom": True, "sample_kind": "system"}
    assert (
        "contradicts"
        in messages(value, resources)["training_set.targets.mtt::f.per_atom"]
    )


def test_target_types(resources: Path) -> None:
    irreps = [{"o3_lambda": 0, "o3_sigma": 1}, {"o3_lambda": 2, "o3_sigma": 1}]
    value = {
        "systems": "qm7x_reduced_100.xyz",
        "targets": {
            "mtt::a": {"type": {"cartesian": {"rank": 2}}},
            "mtt::b": {"type": {"spherical": {"irreps": irreps}}, "num_subtargets": 2},
        },
    }
    (section,) = expand(value, resources)
    assert section["targets"]["mtt::a"]["type"] == {"cartesian": {"rank": 2}}
    assert section["targets"]["mtt::b"]["type"] == {"spherical": {"irreps": irreps}}
    value["targets"] = {
        "mtt::a": {"type": {"cartesian": {"rank": 0}}},
        "mtt::b": {
            "type": {"spherical": {"irreps": [{"o3_lambda": 1, "o3_sigma": 2}]}}
        },
        "mtt::c": {"type": "vector", "num_subtargets": 0},
    }
    found = messages(value, resources)
    assert "at least 1" in found["training_set.targets.mtt::a.type.cartesian.rank"]
    path = "training_set.targets.mtt::b.type.spherical.irreps[0].o3_sigma"
    assert "1 or -1" in found[path]
    assert "'scalar'" in found["training_set.targets.mtt::c.type"]
    assert "≥ 1" in found["training_set.targets.mtt::c.num_subtargets"]


def test_units_are_checked_against_metatomic(resources: Path) -> None:
    value = {
        "systems": {"read_from": "ethanol_reduced_100.xyz", "length_unit": "eV"},
        "targets": {"energy": {"unit": "angstrom"}, "mtt::x": {"unit": "parsecs"}},
    }
    found = messages(value, resources)
    assert "unit of length" in found["training_set.systems.length_unit"]
    assert "unit of energy" in found["training_set.targets.energy.unit"]
    assert "unknown unit 'parsecs'" in found["training_set.targets.mtt::x.unit"]
    value = {
        "systems": {"read_from": "ethanol_reduced_100.xyz", "length_unit": "bohr"},
        "targets": {"energy": {"unit": "kcal/mol"}},
    }
    assert expand(value, resources)[0]["systems"]["length_unit"] == "bohr"


def test_units_must_agree_across_sections(resources: Path) -> None:
    value = [
        {"systems": "ethanol_reduced_100.xyz", "targets": {"energy": {"unit": "eV"}}},
        {"systems": "ethanol_reduced_100.xyz", "targets": {"energy": {"unit": "meV"}}},
    ]
    found = messages(value, resources)
    assert (
        "differs from 'eV' in training_set[0]"
        in found["training_set[1].targets.energy.unit"]
    )


def test_indices_from_a_list_or_a_file(resources: Path, tmp_path: Path) -> None:
    (tmp_path / "data.xyz").write_text((resources / "qm9_reduced_100.xyz").read_text())
    (tmp_path / "picked.txt").write_text("# chosen\n4\n\n2\n")
    value = {"systems": "data.xyz", "targets": {"mtt::U0": {}}, "indices": "picked.txt"}
    assert expand(value, tmp_path)[0]["indices"] == [4, 2]
    (tmp_path / "picked.txt").write_text("4\nfive\n")
    assert "line 2 of" in messages(value, tmp_path)["training_set.indices"]
    value["indices"] = [1, -1]
    assert "≥ 0" in messages(value, tmp_path)["training_set.indices"]
    value["indices"] = [1, 1]
    assert "listed twice" in messages(value, tmp_path)["training_set.indices"]


def test_readers(resources: Path) -> None:
    assert infer_reader("a/b.MTS") == "metatensor" and infer_reader("a.extxyz") == "ase"
    found = messages(
        {
            "systems": {"read_from": "qm9_reduced_100.xyz", "reader": "metatensor"},
            "targets": {"mtt::U0": {"reader": "asse"}},
        },
        resources,
    )
    assert "hold targets, not structures" in found["training_set.systems.reader"]
    assert "did you mean 'ase'" in found["training_set.targets.mtt::U0.reader"]


def test_bad_shapes_of_sections(resources: Path) -> None:
    assert "non-empty list" in messages([], resources)["training_set"]
    assert "expected a dataset section" in messages([3], resources)["training_set[0]"]
    value = {"systems": "qm9_reduced_100.xyz"}
    assert "required" in messages(value, resources)["training_set.targets"]
    sections, problems = expand_dataset_section(
        value, "test_set", resources, require_targets=False
    )
    assert problems == [] and sections[0]["targets"] == {}


def test_split_values(resources: Path) -> None:
    assert expand_split_value(0.2, "validation_set", resources) == (0.2, [])
    _, found = expand_split_value(1.5, "validation_set", resources)
    assert "[0, 1)" in str(found[0])
    sections, found = expand_split_value("qm9_reduced_100.xyz", "test_set", resources)
    assert found == [] and sections[0]["targets"]["energy"]["key"] == "energy"


@pytest.mark.parametrize("gradient", ["forces", "stress", "virial"])
def test_gradient_values_must_be_sections(resources: Path, gradient: str) -> None:
    value = {"systems": "carbon_reduced_100.xyz", "targets": {"energy": {gradient: 3}}}
    assert (
        "on/off"
        in messages(value, resources)[f"training_set.targets.energy.{gradient}"]
    )
