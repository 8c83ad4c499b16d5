"""Dataset sections: the shorthand and long forms, indices, shapes, split values and
units shared across sections."""

from pathlib import Path

from options_helpers import expand, messages, standalone_messages

from atomtrain.options.datasets import expand_dataset_section, expand_split_value


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


def test_units_must_agree_across_sections(resources: Path) -> None:
    value = [
        {"systems": "ethanol_reduced_100.xyz", "targets": {"energy": {"unit": "eV"}}},
        {"systems": "ethanol_reduced_100.xyz", "targets": {"energy": {"unit": "meV"}}},
    ]
    # within an options file, sets_agree checks them (test_set_agreement.py)
    assert messages(value, resources) == {}
    found = standalone_messages(value, resources)
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
