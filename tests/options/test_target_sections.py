"""Targets and their gradients in dataset sections: files and keys, which gradients
are required, energies only, sample kinds, types and units."""

from pathlib import Path

import pytest
from options_helpers import expand, messages

from atomtrain.options.datasets import located_sections
from atomtrain.options.target_sections import (
    UnitWarning,
    metric_names,
    unit_warnings,
    warn_about_units,
)


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


@pytest.mark.parametrize("gradient", ["forces", "stress", "virial"])
def test_gradient_values_must_be_sections(resources: Path, gradient: str) -> None:
    value = {"systems": "carbon_reduced_100.xyz", "targets": {"energy": {gradient: 3}}}
    assert (
        "on/off"
        in messages(value, resources)[f"training_set.targets.energy.{gradient}"]
    )


def test_metric_names_of_the_targets(resources: Path) -> None:
    sections = expand(
        {
            "systems": "qm9_reduced_100.xyz",
            "targets": {"energy": {"key": "U0"}, "mtt::gap": {"key": "gap"}},
        },
        resources,
    )
    names = metric_names(sections)
    assert names[:3] == ["loss", "rmse_prod", "mae_prod"]
    assert "energy.forces.mae" in names and "energy.stress.rmse" in names
    assert "mtt::gap.rmse" in names and "mtt::gap.forces.rmse" not in names
    assert "energy.virial.rmse" not in names  # virial is off unless asked for


def test_units_warned_about(resources: Path) -> None:
    sections = expand(
        [
            {
                "systems": "ethanol_reduced_100.xyz",
                "targets": {"energy": {"unit": "kcal"}, "mtt::charge": {"key": "q"}},
            },
            {
                "systems": "ethanol_reduced_100.xyz",
                "targets": {"energy": {"unit": "kcal"}},
            },
        ],
        resources,
    )
    assert unit_warnings(located_sections(sections, "training_set")) == [
        "training_set[0].targets.energy.unit: 'kcal' is the energy of a macroscopic "
        "amount, not of one structure; you probably meant 'kcal/mol'",
        "training_set[0].targets.mtt::charge has no unit: its predictions will carry "
        "no unit, and no conversion to another unit is possible (in ASE, LAMMPS or "
        "eval); declare it with training_set[0].targets.mtt::charge.unit",
    ]


def test_an_energy_without_unit_is_warned_about_with_examples(resources: Path) -> None:
    sections = expand("ethanol_reduced_100.xyz", resources)
    with pytest.warns(UnitWarning) as caught:
        warn_about_units(located_sections(sections, ""))
    assert [str(w.message) for w in caught] == [
        "targets.energy has no unit: its predictions will carry no unit, and no "
        "conversion to another unit is possible (in ASE, LAMMPS or eval); declare it "
        "with targets.energy.unit (for example 'eV' or 'kcal/mol')"
    ]


def test_units_of_molecular_scale_are_not_warned_about(resources: Path) -> None:
    sections = expand(
        {
            "systems": "ethanol_reduced_100.xyz",
            "targets": {"energy": {"unit": "kcal/mol"}},
        },
        resources,
    )
    assert unit_warnings(located_sections(sections, "training_set")) == []
