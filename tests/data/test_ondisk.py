"""The on-disk dataset: round trips against the in-memory structures for every target
kind, streaming conversion errors, and the format's safeguards."""

import json

import ase.io
import numpy as np
import pytest
import torch

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.ondisk import DiskDataset, DiskFormatError, StoredEntry
from atomtrain.data.ondisk_convert import ConvertTarget, convert, frame_to_structure
from atomtrain.data.ondisk_writer import DiskDatasetWriter
from atomtrain.data.structure import Structure
from atomtrain.errors import DataError, UserError
from atomtrain.files import OutputError

ENERGY = TargetInfo(quantity="energy", unit="eV")


def assert_same(first: Structure, second: Structure) -> None:
    for name in ("types", "positions", "cell", "pbc"):
        assert torch.equal(getattr(first, name), getattr(second, name)), name
    assert first.targets.keys() == second.targets.keys()
    for name, data in first.targets.items():
        other = second.targets[name]
        assert len(data.blocks) == len(other.blocks)
        for a, b in zip(data.blocks, other.blocks):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert data.gradients.keys() == other.gradients.keys()
        for key, values in data.gradients.items():
            torch.testing.assert_close(values, other.gradients[key], rtol=0, atol=0)


def round_trip(tmp_path, path, targets, count=None):
    output = tmp_path / "converted"
    written = convert([path], output, targets, chunk_size=7)
    dataset = DiskDataset(output)
    frames = list(ase.io.iread(path, ":"))
    assert written == len(dataset) == len(frames)
    for i in range(len(frames) if count is None else count):
        expected = frame_to_structure(frames[i], targets, str(path), i)
        assert_same(dataset[i], expected)
        assert dataset.origin(i) == (str(path), i)
    assert list(dataset.num_atoms()) == [len(f) for f in frames]
    return dataset


def test_energy_forces_virial_round_trip(tmp_path, resources):
    path = resources / "carbon_reduced_100.xyz"
    target = ConvertTarget(
        "energy", "energy", ENERGY, forces_key="force", virial_key="virial"
    )
    dataset = round_trip(tmp_path, path, [target])
    frame = ase.io.read(path, 4)
    gradients = dataset[4].targets["energy"].gradients
    torch.testing.assert_close(
        gradients["strain"][..., 0], -torch.tensor(frame.info["virial"])
    )
    torch.testing.assert_close(
        gradients["positions"][..., 0], -torch.tensor(frame.arrays["force"])
    )
    assert dataset.info.targets["energy"].gradients == ("positions", "strain")
    assert dataset.info.atomic_types == [6]


def test_stress_stored_as_volume_times_stress(tmp_path, resources):
    frames = ase.io.read(resources / "carbon_reduced_100.xyz", ":5")
    for atoms in frames:
        atoms.info["my_stress"] = -atoms.info["virial"] / atoms.get_volume()
    path = tmp_path / "stress.xyz"
    ase.io.write(path, frames)
    target = ConvertTarget("energy", "energy", ENERGY, stress_key="my_stress")
    dataset = round_trip(tmp_path, path, [target])
    torch.testing.assert_close(
        dataset[2].targets["energy"].gradients["strain"][..., 0],
        -torch.tensor(frames[2].info["virial"]),
    )


def test_scalar_and_cartesian_targets_round_trip(tmp_path, resources):
    targets = [
        ConvertTarget(
            "mtt::alpha", "polarizability", TargetInfo(kind="cartesian", rank=2)
        )
    ]
    round_trip(tmp_path, resources / "qm7x_reduced_100.xyz", targets)
    qm9 = [
        ConvertTarget("energy", "U0", TargetInfo(quantity="energy", unit="Hartree")),
        ConvertTarget("mtt::gap", "epsgap", TargetInfo()),
    ]
    round_trip(tmp_path / "qm9", resources / "qm9_reduced_100.xyz", qm9)


def test_per_atom_vector_target_round_trip(tmp_path, resources):
    per_atom = TargetInfo(sample_kind="atom", kind="cartesian", rank=1)
    targets = [ConvertTarget("mtt::force", "force", per_atom)]
    dataset = round_trip(tmp_path, resources / "carbon_reduced_100.xyz", targets)
    assert dataset[7].targets["mtt::force"].blocks[0].shape == (len(dataset[7]), 3, 1)


def test_missing_key_names_file_frame_and_key(tmp_path, resources):
    path = resources / "ethanol_reduced_100.xyz"
    target = ConvertTarget("energy", "energy", ENERGY, forces_key="forcez")
    with pytest.raises(
        DataError, match=r"ethanol_reduced_100.xyz', structure 0, key 'forcez'"
    ):
        convert([path], tmp_path / "out", [target])
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_wrong_shape_and_stress_without_cell(tmp_path, resources):
    path = resources / "qm7x_reduced_100.xyz"
    vector = ConvertTarget(
        "alpha", "polarizability", TargetInfo(kind="cartesian", rank=1)
    )
    with pytest.raises(DataError, match="expected 3 numbers for target 'alpha'"):
        convert([path], tmp_path / "a", [vector])
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":2")
    for atoms in frames:
        atoms.info["stress"] = np.ones((3, 3))
    molecules = tmp_path / "molecules.xyz"
    ase.io.write(molecules, frames)
    stress = ConvertTarget("energy", "energy", ENERGY, stress_key="stress")
    with pytest.raises(DataError, match="structure 0, key 'stress': a stress needs"):
        convert([molecules], tmp_path / "b", [stress])
    with pytest.raises(UserError, match="either a stress or a virial"):
        ConvertTarget("energy", "energy", ENERGY, stress_key="s", virial_key="v")


def test_several_input_files_and_in_memory_writer(tmp_path, resources):
    files = [resources / "ethanol_reduced_100.xyz", resources / "qm9_reduced_100.xyz"]
    output = tmp_path / "both"
    assert convert(files, output, []) == 200
    dataset = DiskDataset(output)
    assert dataset.describe(150) == (
        f"structure 50 of '{files[1]}' (structure 150 of the dataset '{output}')"
    )
    assert dataset.info.atomic_types == [1, 6, 7, 8]
    memory = InMemoryDataset(
        [dataset[i] for i in range(3)], dataset.info, [("x", 0)] * 3
    )
    with DiskDatasetWriter(tmp_path / "copy", memory.info) as writer:
        for i, structure in enumerate(memory):
            writer.append(structure, ("x", i))
    copy = DiskDataset(tmp_path / "copy")
    for i in range(3):
        assert_same(copy[i], memory[i])
    with pytest.raises(OutputError, match="exists already"):
        DiskDatasetWriter(tmp_path / "copy", memory.info)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["both", "copy"]


def test_newer_format_refused_and_pickling(tmp_path, resources):
    import pickle

    output = tmp_path / "data"
    convert([resources / "ethanol_reduced_100.xyz"], output, [])
    restored = pickle.loads(pickle.dumps(DiskDataset(output)))
    assert_same(restored[3], DiskDataset(output)[3])
    header = json.loads((output / "header.json").read_text())
    header["version"] = 99
    (output / "header.json").write_text(json.dumps(header))
    with pytest.raises(DiskFormatError, match=r"version 99.*upgrade atomtrain"):
        DiskDataset(output)
    with pytest.raises(DiskFormatError, match="not an atomtrain on-disk dataset"):
        DiskDataset(tmp_path)


def test_info_survives_round_trip(tmp_path, resources):
    info = DatasetInfo(length_unit="nm", targets={"energy": ENERGY})
    structure = frame_to_structure(
        ase.io.read(resources / "ethanol_reduced_100.xyz", 0),
        [ConvertTarget("energy", "energy", ENERGY)],
        "e.xyz",
        0,
    )
    with DiskDatasetWriter(tmp_path / "d", info) as writer:
        writer.append(structure, ("e.xyz", 0))
    assert (
        DiskDataset(tmp_path / "d").info.to_dict()
        == DatasetInfo(
            length_unit="nm", atomic_types=[1, 6, 8], targets={"energy": ENERGY}
        ).to_dict()
    )


def test_periodic_frame_without_cell_is_refused(tmp_path):
    frames = [ase.Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]]) for _ in range(3)]
    frames[2].pbc = True
    ase.io.write(tmp_path / "h2.xyz", frames)
    with pytest.raises(DataError, match="but has no cell") as error:
        convert([tmp_path / "h2.xyz"], tmp_path / "data", [])
    assert "h2.xyz" in str(error.value) and "structure 2" in str(error.value)
    assert not (tmp_path / "data").exists()


def test_truncated_input_names_the_frame(tmp_path, resources):
    lines = (resources / "ethanol_reduced_100.xyz").read_text().splitlines(True)
    # ethanol frames are 11 lines: the file stops within frame 5
    (tmp_path / "cut.xyz").write_text("".join(lines[:60]))
    with pytest.raises(DataError) as error:
        convert([tmp_path / "cut.xyz"], tmp_path / "data", [])
    assert f"file '{tmp_path / 'cut.xyz'}', structure 5: ASE cannot read" in str(
        error.value
    )
    assert "after 5 structures read" in str(error.value)
    assert not (tmp_path / "data").exists()


def test_selected_targets_gradients_and_rows(tmp_path, resources):
    path = resources / "carbon_reduced_100.xyz"
    output = tmp_path / "carbon"
    energy = ConvertTarget(
        "energy", "energy", ENERGY, forces_key="force", virial_key="virial"
    )
    convert([path], output, [energy])
    full = DiskDataset(output)
    forces_only = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))
    renamed = DiskDataset(output, {"energy/pbe": StoredEntry("energy", forces_only)})
    assert list(renamed.info.targets) == ["energy/pbe"]
    data = renamed[3].targets["energy/pbe"]
    assert list(data.gradients) == ["positions"]
    torch.testing.assert_close(
        data.gradients["positions"], full[3].targets["energy"].gradients["positions"]
    )
    view = full.subset([7, 2, 9]).subset([2, 0])
    assert len(view) == 2 and list(view.num_atoms()) == [
        full.num_atoms()[i] for i in (9, 7)
    ]
    assert_same(view[0], full[9])
    assert view.origin(1) == (str(path), 7)
    assert view.describe(0).endswith(f"(structure 9 of the dataset '{output}')")
    with pytest.raises(IndexError, match="out of range for 3"):
        full.subset([7, 2, 9]).subset([3])
    with pytest.raises(DiskFormatError, match="has no target 'dipole'"):
        DiskDataset(output, {"dipole": StoredEntry("dipole", ENERGY)})
    stress = TargetInfo(quantity="energy", unit="eV", gradients=("strain",))
    convert([path], tmp_path / "plain", [ConvertTarget("energy", "energy", ENERGY)])
    with pytest.raises(DiskFormatError, match="has no target 'energy' described"):
        DiskDataset(tmp_path / "plain", {"energy": StoredEntry("energy", stress)})


def test_unusable_structures_are_refused_when_converted(tmp_path, resources):
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":4")
    frames[2].calc.results["energy"] = float("nan")
    ase.io.write(tmp_path / "nan.xyz", frames)
    energy = [ConvertTarget("energy", "energy", ENERGY, forces_key="forces")]
    with pytest.raises(DataError, match="structure 2, key 'energy': NaN or infinite"):
        convert([tmp_path / "nan.xyz"], tmp_path / "a", energy)
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":4")
    frames[1].calc.results["forces"][0, 0] = float("inf")
    frames[3].positions[4] = frames[3].positions[0] + 0.1  # 0.173 Å along (1, 1, 1)
    ase.io.write(tmp_path / "bad.xyz", frames)
    with pytest.raises(DataError, match="structure 1, key 'forces': NaN or infinite"):
        convert([tmp_path / "bad.xyz"], tmp_path / "a", energy)
    with pytest.raises(
        DataError, match=r"structure 3: atoms 0 and 4 are 0.173 Å apart"
    ):
        convert([tmp_path / "bad.xyz"], tmp_path / "a", [])
    assert not (tmp_path / "a").exists()


def test_a_truncated_array_is_reported_when_read(tmp_path, resources):
    output = tmp_path / "ethanol"
    convert([resources / "ethanol_reduced_100.xyz"], output, [])
    positions = output / "positions.bin"
    positions.write_bytes(positions.read_bytes()[: 24 * 9 * 50])
    dataset = DiskDataset(output)
    assert len(dataset[49]) == 9
    with pytest.raises(DiskFormatError, match=r"positions\.bin' is shorter than its"):
        dataset[50]
