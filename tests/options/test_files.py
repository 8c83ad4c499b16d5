"""File names, readers and unknown keys of dataset sections."""

from pathlib import Path

from options_helpers import expand, messages

from atomtrain.options.files import infer_reader


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
