from pathlib import Path
from typing import Any, Dict

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk, molecule

from atomtrain.data.loading import load_section
from atomtrain.data.readers import FileCache
from atomtrain.errors import DataError
from atomtrain.options.datasets import expand_dataset_section


def section(value: Any, base: Path) -> Dict[str, Any]:
    (expanded,), problems = expand_dataset_section(value, "training_set", base)
    assert problems == []
    return expanded


def test_each_file_is_parsed_once(resources: Path) -> None:
    cache = FileCache()
    value = {
        "systems": "ethanol_reduced_100.xyz",
        "targets": {
            "energy": {"forces": True},
            "mtt::e": {"key": "energy"},
            "mtt::f": {
                "key": "forces",
                "per_atom": True,
                "type": {"cartesian": {"rank": 1}},
            },
        },
    }
    load_section(section(value, resources), cache)
    load_section(section(value, resources), cache)
    assert cache.misses == 1 and cache.hits > 5
    qm9 = {"systems": "qm9_reduced_100.xyz", "targets": {"mtt::U0": {}}}
    load_section(section(qm9, resources), cache)
    assert cache.misses == 2


def test_explicit_missing_forces_key_names_key_and_file(resources: Path) -> None:
    value = {
        "systems": "ethanol_reduced_100.xyz",
        "targets": {"energy": {"forces": {"key": "forcez"}}},
    }
    with pytest.raises(DataError) as error:
        load_section(section(value, resources), FileCache())
    message = str(error.value)
    assert "key 'forcez'" in message and "ethanol_reduced_100.xyz" in message
    assert "structure 0" in message and "found in 0 of 100" in message


def test_forces_missing_in_some_structures(resources: Path, tmp_path: Path) -> None:
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", index=":8")
    for atoms in frames:
        atoms.arrays["f"] = atoms.get_forces()
    del frames[5].arrays["f"]
    ase.io.write(tmp_path / "gaps.xyz", frames)
    for forces in ({"key": "f"}, {"key": "f", "required": False}):
        value = {"systems": "gaps.xyz", "targets": {"energy": {"forces": forces}}}
        with pytest.raises(DataError, match="structure 5") as error:
            load_section(section(value, tmp_path), FileCache())
        assert "found in 7 of 8" in str(error.value)


def test_implicit_gradients_absent_from_the_file_are_skipped(resources: Path) -> None:
    dataset = load_section(section("ethanol_reduced_100.xyz", resources), FileCache())
    assert dataset.info.targets["energy"].gradients == ("positions",)
    assert set(dataset[0].targets["energy"].gradients) == {"positions"}


def test_implicit_stress_is_nan_on_molecules(tmp_path: Path) -> None:
    crystal = bulk("Si")
    crystal.info.update({"energy": 1.0, "stress": np.ones(6)})
    water = molecule("H2O")
    water.info["energy"] = 2.0
    ase.io.write(tmp_path / "mixed.xyz", [crystal, water])
    dataset = load_section(section("mixed.xyz", tmp_path), FileCache())
    strain = [s.targets["energy"].gradients["strain"] for s in dataset]
    volume = crystal.get_volume()
    torch.testing.assert_close(
        strain[0][..., 0], torch.full((3, 3), volume, dtype=torch.float64)
    )
    assert torch.isnan(strain[1]).all()
    # an explicit stress must be in every structure
    value = {"systems": "mixed.xyz", "targets": {"energy": {"stress": True}}}
    with pytest.raises(DataError, match="structure 1"):
        load_section(section(value, tmp_path), FileCache())


def test_unreadable_file_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "broken.xyz").write_text("3\nnot a header\nH 0 0\n")
    with pytest.raises(DataError, match="ASE cannot read") as error:
        load_section(section("broken.xyz", tmp_path), FileCache())
    assert "broken.xyz" in str(error.value)
