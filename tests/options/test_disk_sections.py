"""Dataset sections on on-disk datasets: targets, units and gradients from the header,
and a problem naming the key and what the header holds for anything it lacks."""

from pathlib import Path

import pytest
from options_helpers import expand, messages, standalone_messages

from atomtrain.data.info import TargetInfo
from atomtrain.data.ondisk_convert import ConvertTarget, convert

ENERGY = TargetInfo(quantity="energy", unit="eV")
RESOURCES = Path(__file__).parent.parent / "resources"


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Path:
    """``carbon`` (energy in eV with forces and virial, and a per-atom vector) and
    ``ethanol`` (energy in kcal/mol, no gradient) converted side by side."""
    root = tmp_path_factory.mktemp("disk")
    resources = RESOURCES
    carbon = ConvertTarget(
        "energy", "energy", ENERGY, forces_key="force", virial_key="virial"
    )
    vector = TargetInfo(sample_kind="atom", kind="cartesian", rank=1)
    convert(
        [resources / "carbon_reduced_100.xyz"],
        root / "carbon",
        [carbon, ConvertTarget("mtt::force", "force", vector)],
    )
    ethanol = TargetInfo(quantity="energy", unit="kcal/mol")
    convert(
        [resources / "ethanol_reduced_100.xyz"],
        root / "ethanol",
        [ConvertTarget("energy", "energy", ethanol)],
    )
    return root


def test_a_directory_alone_reads_every_stored_target(datasets):
    (section,) = expand("carbon", datasets)
    root = str(datasets / "carbon")
    assert section["systems"] == {
        "read_from": root,
        "reader": "disk",
        "length_unit": "angstrom",
    }
    energy = section["targets"]["energy"]
    assert (energy["unit"], energy["reader"], energy["read_from"]) == (
        "eV",
        "disk",
        root,
    )
    assert energy["forces"] == {
        "read_from": root,
        "reader": "disk",
        "key": "positions",
        "required": True,
    }
    assert energy["stress"]["key"] == "strain" and energy["virial"] is False
    dos = section["targets"]["mtt::force"]
    assert dos["sample_kind"] == "atom" and dos["type"] == {"cartesian": {"rank": 1}}
    assert dos["forces"] is False
    assert expand({"systems": "carbon"}, datasets) == [section]
    assert expand([section], datasets) == [section]


def test_targets_named_renamed_and_gradients_switched(datasets):
    (section,) = expand(
        {
            "systems": {"read_from": "carbon", "length_unit": "angstrom"},
            "targets": {
                "energy/pbe": {"key": "energy", "unit": "eV", "forces": "off"},
                "energy": {"virial": True, "description": "DFT"},
            },
            "indices": [0, 5, 99],
        },
        datasets,
    )
    assert list(section["targets"]) == ["energy/pbe", "energy"]
    renamed, energy = section["targets"]["energy/pbe"], section["targets"]["energy"]
    assert renamed["key"] == "energy" and renamed["forces"] is False
    assert renamed["stress"]["key"] == "strain"
    assert energy["virial"]["key"] == "strain" and energy["stress"] is False
    assert energy["description"] == "DFT" and section["indices"] == [0, 5, 99]


def test_what_the_header_lacks_is_a_problem_naming_the_key(datasets):
    found = messages(
        {
            "systems": {"read_from": "ethanol", "length_unit": "bohr"},
            "targets": {
                "energy": {
                    "unit": "eV",
                    "forces": "on",
                    "type": {"cartesian": {"rank": 1}},
                },
                "mtt::gap": {},
            },
            "indices": [3, 100],
        },
        datasets,
    )
    assert set(found) == {
        "training_set.systems.length_unit",
        "training_set.targets.energy.unit",
        "training_set.targets.energy.type",
        "training_set.targets.energy.forces",
        "training_set.targets.mtt::gap",
        "training_set.indices",
    }
    assert "positions are in 'angstrom'" in found["training_set.systems.length_unit"]
    unit = found["training_set.targets.energy.unit"]
    assert "holds 'energy' with unit 'kcal/mol'" in unit and "remove unit" in unit
    assert (
        "holds no forces for 'energy' (stored gradients: none)"
        in (found["training_set.targets.energy.forces"])
    )
    gap = found["training_set.targets.mtt::gap"]
    assert "has no target 'mtt::gap'; it holds energy (kcal/mol)" in gap
    assert "holds 100 structures (0 to 99)" in found["training_set.indices"]


def test_labels_from_other_files_and_other_readers_are_refused(datasets, resources):
    found = messages(
        {
            "systems": {"read_from": "carbon", "reader": "ase"},
            "targets": {
                "energy": {"read_from": str(resources / "carbon_reduced_100.xyz")},
                "mtt::force": {"reader": "metatensor"},
            },
        },
        datasets,
    )
    assert "read by the 'disk' reader" in found["training_set.systems.reader"]
    assert "are read from the dataset" in found["training_set.targets.energy.read_from"]
    assert (
        "read by the 'disk' reader" in found["training_set.targets.mtt::force.reader"]
    )
    found = messages(
        {
            "systems": "carbon",
            "targets": {"energy": {"forces": {"key": "f", "reader": "ase"}}},
        },
        datasets,
    )
    assert "write on or off" in found["training_set.targets.energy.forces"]


def test_a_dataset_named_as_a_file_or_a_plain_directory(datasets, resources):
    found = messages(
        {
            "systems": str(resources / "ethanol_reduced_100.xyz"),
            "targets": {"energy": {"read_from": str(datasets / "ethanol")}},
        },
        datasets,
    )
    assert (
        "is an on-disk dataset: name it in systems.read_from"
        in (found["training_set.targets.energy.read_from"])
    )
    (datasets / "plain").mkdir(exist_ok=True)
    found = messages({"systems": "plain", "targets": {"energy": {}}}, datasets)
    assert (
        "is a directory, not a file (nor an on-disk dataset"
        in (found["training_set.systems.read_from"])
    )


def test_mixed_with_files_and_units_checked_across(datasets, resources):
    sections = expand(
        [
            {"systems": "carbon"},
            {
                "systems": str(resources / "carbon_reduced_100.xyz"),
                "targets": {"energy": {"unit": "eV", "forces": "force"}},
            },
        ],
        datasets,
    )
    assert [s["systems"]["reader"] for s in sections] == ["disk", "ase"]
    mixed = [{"systems": "carbon"}, {"systems": "ethanol"}]
    found = standalone_messages(mixed, datasets)
    assert "differs from 'eV'" in found["training_set[1].targets.energy.unit"]
