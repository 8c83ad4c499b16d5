from pathlib import Path
from typing import Any

import ase.db
import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk, molecule
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.loading import load_section
from atomtrain.data.readers import FileCache
from atomtrain.data.readers.ase import lookup, parse, read_frames
from atomtrain.errors import DataError
from atomtrain.options.datasets import expand_dataset_section


def load(value: Any, base: Path) -> InMemoryDataset:
    (section,), problems = expand_dataset_section(value, "training_set", base)
    assert problems == []
    return load_section(section, FileCache())


def test_carbon_forces_and_virial_signs(resources: Path) -> None:
    dataset = load(
        {
            "systems": "carbon_reduced_100.xyz",
            "targets": {
                "energy": {"unit": "eV", "forces": {"key": "force"}, "virial": "virial"}
            },
        },
        resources,
    )
    frames = ase.io.read(resources / "carbon_reduced_100.xyz", index=":")
    assert dataset.info.targets["energy"].gradients == ("positions", "strain")
    for structure, atoms in zip(dataset, frames):
        energy = structure.targets["energy"]
        assert energy.blocks[0].shape == (1, 1)
        assert float(energy.blocks[0]) == atoms.get_potential_energy()
        forces = torch.tensor(atoms.arrays["force"])
        torch.testing.assert_close(energy.gradients["positions"][..., 0], -forces)
        virial = torch.tensor(atoms.info["virial"])
        torch.testing.assert_close(energy.gradients["strain"][..., 0], -virial)
        torch.testing.assert_close(structure.cell, torch.tensor(atoms.cell.array))
        assert structure.types.dtype == torch.int32
        assert structure.positions.dtype == torch.float64


def _emt_frames(path: Path) -> list:
    """Rattled copper cells labelled by ASE's EMT calculator, written as extxyz (ASE
    stores energy, forces and stress in a single-point calculator)."""
    frames = []
    for seed in range(3):
        atoms = bulk("Cu", cubic=True) * (2, 1, 1)
        atoms.rattle(0.05, seed=seed)
        atoms.calc = EMT()
        results = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(),
            "stress": atoms.get_stress(),
        }
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    ase.io.write(path, frames)
    return frames


def _strained_energy(atoms: Any, strain: np.ndarray) -> float:
    copy = atoms.copy()
    deformation = np.eye(3) + strain
    copy.set_cell(atoms.cell.array @ deformation, scale_atoms=True)
    copy.calc = EMT()
    return float(copy.get_potential_energy())


def test_stress_from_the_calculator_is_the_strain_derivative(tmp_path: Path) -> None:
    frames = _emt_frames(tmp_path / "cu.xyz")
    dataset = load("cu.xyz", tmp_path)
    assert dataset.info.targets["energy"].gradients == ("positions", "strain")
    h = 1e-5
    for structure, atoms in zip(dataset, frames):
        strain_gradient = structure.targets["energy"].gradients["strain"][..., 0]
        for i, j in ((0, 0), (1, 2), (0, 1)):
            step = np.zeros((3, 3))
            step[i, j] = step[j, i] = h / (1 if i == j else 2)
            numeric = (
                _strained_energy(atoms, step) - _strained_energy(atoms, -step)
            ) / (2 * h)
            # a symmetric step probes the symmetric part of dE/dε (symmetric here)
            assert float(strain_gradient[i, j]) == pytest.approx(
                numeric, rel=1e-4, abs=1e-6
            )
        forces = torch.tensor(atoms.get_forces())
        torch.testing.assert_close(
            structure.targets["energy"].gradients["positions"][..., 0], -forces
        )


def test_stress_on_a_structure_without_volume(tmp_path: Path) -> None:
    water = molecule("H2O")
    water.info["stress"] = np.ones(9)
    water.info["n"] = 1.0
    value = {
        "systems": "water.xyz",
        "targets": {"energy": {"key": "n", "stress": True, "forces": False}},
    }
    ase.io.write(tmp_path / "water.xyz", [water])
    with pytest.raises(DataError, match="non-zero cell volume") as error:
        load(value, tmp_path)
    assert "structure 0" in str(error.value) and "water.xyz" in str(error.value)
    water.info["stress"] = np.full(9, np.nan)
    ase.io.write(tmp_path / "water.xyz", [water])
    strain = load(value, tmp_path)[0].targets["energy"].gradients["strain"]
    assert torch.isnan(strain).all() and strain.shape == (3, 3, 1)


def test_periodic_structure_without_cell(tmp_path: Path) -> None:
    frames = [molecule("H2O"), molecule("H2O")]
    frames[1].pbc = True
    ase.io.write(tmp_path / "water.xyz", frames)
    with pytest.raises(DataError, match=r"periodic .* but has no cell") as error:
        load("water.xyz", tmp_path)
    assert "water.xyz" in str(error.value) and "structure 1" in str(error.value)


def _truncated(source: Path, target: Path, lines: int) -> Path:
    target.write_text("".join(source.read_text().splitlines(True)[:lines]))
    return target


def test_truncated_file_names_the_frame(resources: Path, tmp_path: Path) -> None:
    # ethanol frames are 11 lines: cut in the middle of the fourth one (index 3)
    path = _truncated(resources / "ethanol_reduced_100.xyz", tmp_path / "cut.xyz", 38)
    with pytest.raises(DataError) as error:
        parse(str(path))
    assert str(error.value).startswith(
        f"file '{path}', structure 3: ASE cannot read this structure ("
    )
    assert str(error.value).endswith(
        "); the file is truncated or damaged here, after 3 structures read"
    )
    frames = read_frames(str(path))
    assert [len(next(frames)) for _ in range(3)] == [9, 9, 9]
    with pytest.raises(DataError, match="structure 3: ASE cannot read"):
        next(frames)


def test_a_file_of_unknown_format_is_named_without_a_frame(tmp_path: Path) -> None:
    (tmp_path / "notes.unknownformat").write_text("hello\n")
    with pytest.raises(DataError) as error:
        parse(str(tmp_path / "notes.unknownformat"))
    assert "structure" not in str(error.value)
    assert "ASE cannot read this file" in str(error.value)


def test_qm7x_polarizability_is_a_rank_2_tensor(resources: Path) -> None:
    dataset = load(
        {
            "systems": "qm7x_reduced_100.xyz",
            "targets": {
                "mtt::polarizability": {
                    "key": "polarizability",
                    "unit": "bohr^3",
                    "type": {"cartesian": {"rank": 2}},
                }
            },
        },
        resources,
    )
    atoms = ase.io.read(resources / "qm7x_reduced_100.xyz", index="5")
    block = dataset[5].targets["mtt::polarizability"].blocks[0]
    assert block.shape == (1, 3, 3, 1)
    expected = torch.tensor(atoms.info["polarizability"]).reshape(3, 3)
    torch.testing.assert_close(block[0, :, :, 0], expected)
    info = dataset.info.targets["mtt::polarizability"]
    assert (info.kind, info.rank, info.unit) == ("cartesian", 2, "bohr^3")


def test_qm9_scalars(resources: Path) -> None:
    dataset = load(
        {
            "systems": "qm9_reduced_100.xyz",
            "targets": {"energy": {"key": "U0", "unit": "Hartree"}, "mtt::mu": {}},
        },
        resources,
    )
    frames = ase.io.read(resources / "qm9_reduced_100.xyz", index=":")
    assert dataset.info.targets["energy"].gradients == ()
    for structure, atoms in zip(dataset, frames):
        assert float(structure.targets["energy"].blocks[0]) == atoms.info["U0"]
        assert float(structure.targets["mtt::mu"].blocks[0]) == atoms.info["mu"]


def test_per_atom_vectors_and_wrong_shapes(resources: Path) -> None:
    value = {
        "systems": "ethanol_reduced_100.xyz",
        "targets": {
            "mtt::f": {
                "key": "forces",
                "per_atom": True,
                "type": {"cartesian": {"rank": 1}},
            }
        },
    }
    dataset = load(value, resources)
    atoms = ase.io.read(resources / "ethanol_reduced_100.xyz", index="0")
    block = dataset[0].targets["mtt::f"].blocks[0]
    torch.testing.assert_close(block[..., 0], torch.tensor(atoms.get_forces()))
    value["targets"]["mtt::f"]["type"] = {"cartesian": {"rank": 2}}
    with pytest.raises(
        DataError, match="expected 9 atoms x 9 numbers per atom"
    ) as error:
        load(value, resources)
    assert "structure 0" in str(error.value) and "key 'forces'" in str(error.value)


def test_missing_key_lists_the_keys_there_are(resources: Path) -> None:
    value = {"systems": "qm9_reduced_100.xyz", "targets": {"mtt::U1": {}}}
    with pytest.raises(DataError) as error:
        load(value, resources)
    message = str(error.value)
    assert "qm9_reduced_100.xyz" in message and "structure 0" in message
    assert "key 'U1'" in message and "U0" in message


def test_lookup_searches_info_arrays_and_calculator(resources: Path) -> None:
    atoms = ase.io.read(resources / "ethanol_reduced_100.xyz", index="0")
    assert atoms.info == {} and lookup(atoms, "energy") is not None
    assert lookup(atoms, "forces").shape == (9, 3)
    assert lookup(atoms, "nothing") is None


def test_database_rows_carry_their_key_value_pairs_and_data(tmp_path, resources):
    from atomtrain.data.readers.ase import count_frames

    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":3")
    database = ase.db.connect(tmp_path / "e.db")
    for k, atoms in enumerate(frames):
        database.write(atoms, gap=0.5 * k, data={"charges": np.full(len(atoms), k)})
    read = list(read_frames(str(tmp_path / "e.db")))
    assert [a.info["gap"] for a in read] == [0.0, 0.5, 1.0]
    assert read[2].arrays["charges"].tolist() == [2] * 9
    assert read[1].get_potential_energy() == frames[1].get_potential_energy()
    assert [a.info["gap"] for a in parse(str(tmp_path / "e.db"))] == [0.0, 0.5, 1.0]
    assert count_frames(str(tmp_path / "e.db")) == 3
    assert count_frames(str(resources / "carbon_reduced_100.xyz")) == 100
