"""NaN or infinite labels and overlapping atoms: found by check, refused on reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import ase.io
import numpy as np
import pytest
import torch

from atomtrain.data.loading import load_section
from atomtrain.data.readers import FileCache
from atomtrain.data.structure import TargetData
from atomtrain.data.validity import nonfinite_entries, nonfinite_labels
from atomtrain.errors import DataError
from atomtrain.options.datasets import expand_dataset_section

NAN = float("nan")


def test_nonfinite_entries_allow_an_absent_label_only_where_asked():
    tensors = [
        torch.zeros(2, 3),
        torch.full((2, 3), NAN),
        torch.tensor([[0.0, float("inf")]]),
        torch.tensor([[NAN, 1.0]]),
        torch.zeros(0, 3),
    ]
    assert nonfinite_entries(tensors, absent_nan=False) == [1, 2, 3]
    assert nonfinite_entries(tensors, absent_nan=True) == [2, 3]
    assert nonfinite_entries([], absent_nan=True) == []


def test_nonfinite_labels_by_part():
    def data(value: float, forces: float, strain: Any) -> TargetData:
        gradients = {"positions": torch.full((3, 3, 1), forces)}
        if strain is not None:
            gradients["strain"] = strain
        return TargetData([torch.tensor([[value]])], gradients)

    some_nan = torch.zeros(3, 3, 1)
    some_nan[0, 1] = NAN
    labels = [
        data(1.0, 0.0, torch.full((3, 3, 1), NAN)),  # no stress: allowed
        data(NAN, 0.0, None),
        data(1.0, float("-inf"), torch.zeros(3, 3, 1)),
        data(1.0, 0.0, some_nan),
    ]
    assert nonfinite_labels(labels) == {
        "values": [1],
        "positions": [2],
        "strain": [3],
    }


def _section(file: Path, targets: Dict[str, Any]) -> Dict[str, Any]:
    sections, problems = expand_dataset_section(
        {"systems": str(file), "targets": targets}, "training_set", file.parent
    )
    assert problems == []
    return sections[0]


@pytest.fixture
def frames(resources):
    return ase.io.read(resources / "ethanol_reduced_100.xyz", ":")


def test_a_nan_energy_is_refused_naming_file_key_and_structure(frames, tmp_path):
    for index in (7, 12):
        frames[index].calc.results["energy"] = NAN
    file = tmp_path / "ethanol.xyz"
    ase.io.write(file, frames, format="extxyz")
    targets = {"energy": {"unit": "kcal/mol", "key": "energy"}}
    with pytest.raises(DataError) as error:
        load_section(_section(file, targets), FileCache())
    assert str(error.value) == (
        f"file '{file}', structure 7, key 'energy': NaN or infinite labels of "
        "'energy' in 2 structures (7, 12): nothing can be learned from or compared "
        "with them; fix them, or leave these structures out with the section's "
        "indices"
    )
    # left out by the section's indices, they are no longer read
    section = _section(file, targets)
    section["indices"] = [0, 1, 2]
    assert len(load_section(section, FileCache())) == 3
    # check reads them all, to report each
    assert len(load_section(_section(file, targets), FileCache(), False)) == 100


def test_infinite_forces_are_refused_with_the_forces_key(frames, tmp_path):
    forces = frames[4].get_forces()
    forces[2, 1] = np.inf
    frames[4].calc.results["forces"] = forces
    file = tmp_path / "ethanol.xyz"
    ase.io.write(file, frames, format="extxyz")
    with pytest.raises(DataError, match=r"structure 4, key 'forces': NaN or infinite "):
        load_section(_section(file, {"energy": {"unit": "kcal/mol"}}), FileCache())


def test_overlapping_atoms_are_refused_naming_the_pair(frames, tmp_path):
    frames[3].positions[5] = frames[3].positions[2] + [0.1, 0.0, 0.0]
    file = tmp_path / "ethanol.xyz"
    ase.io.write(file, frames, format="extxyz")
    with pytest.raises(DataError) as error:
        load_section(_section(file, {"energy": {"unit": "kcal/mol"}}), FileCache())
    assert str(error.value) == (
        f"file '{file}', structure 3: atoms 2 and 5 are 0.1 Å apart, closer than "
        "0.5 Å (duplicated atoms, or positions in another unit than length_unit "
        "'angstrom'); overlapping atoms in 1 structure (3)"
    )


def test_the_overlap_distance_follows_the_length_unit(frames, tmp_path):
    # 0.8 apart: no overlap in Å, but 0.8 bohr is 0.42 Å
    frames[3].positions[5] = frames[3].positions[2] + [0.8, 0.0, 0.0]
    file = tmp_path / "ethanol.xyz"
    ase.io.write(file, frames, format="extxyz")
    section = _section(file, {"energy": {"unit": "kcal/mol"}})
    assert len(load_section(section, FileCache())) == 100
    section["systems"]["length_unit"] = "bohr"
    with pytest.raises(DataError, match=r"structure 3: atoms 2 and 5 are 0\.423 Å"):
        load_section(section, FileCache())
