from pathlib import Path
from typing import Any, List

import ase.io
import metatensor.torch
import pytest
import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.loading import load_section
from atomtrain.data.readers import FileCache
from atomtrain.errors import DataError
from atomtrain.options.datasets import expand_dataset_section


def load(value: Any, base: Path) -> InMemoryDataset:
    (section,), problems = expand_dataset_section(value, "training_set", base)
    assert problems == []
    return load_section(section, FileCache())


def _system_samples(count: int) -> Labels:
    return Labels(["system"], torch.arange(count, dtype=torch.int32).reshape(-1, 1))


def _energy_tensor(frames: List[Any]) -> TensorMap:
    """Energies with their positions gradients (dE/dr = -forces), as metatensor
    stores them."""
    energies = torch.tensor([[a.get_potential_energy()] for a in frames])
    block = TensorBlock(
        energies, _system_samples(len(frames)), [], Labels.range("energy", 1)
    )
    rows, values = [], []
    for system, atoms in enumerate(frames):
        for atom in range(len(atoms)):
            rows.append([system, system, atom])
        values.append(-torch.tensor(atoms.get_forces()))
    block.add_gradient(
        "positions",
        TensorBlock(
            torch.cat(values).reshape(-1, 3, 1),
            Labels(["sample", "system", "atom"], torch.tensor(rows, dtype=torch.int32)),
            [Labels.range("xyz", 3)],
            Labels.range("energy", 1),
        ),
    )
    return TensorMap(Labels.single(), [block])


def test_energy_and_forces_round_trip(resources: Path, tmp_path: Path) -> None:
    file = resources / "ethanol_reduced_100.xyz"
    frames = ase.io.read(file, index=":")
    metatensor.torch.save(tmp_path / "energy.mts", _energy_tensor(frames))
    from_mts = load(
        {
            "systems": str(file),
            "targets": {
                "energy": {
                    "read_from": "energy.mts",
                    "forces": True,
                    "stress": False,
                }
            },
        },
        tmp_path,
    )
    from_xyz = load(str(file), tmp_path)
    assert from_mts.info.targets == from_xyz.info.targets
    for a, b in zip(from_mts, from_xyz):
        torch.testing.assert_close(
            a.targets["energy"].blocks, b.targets["energy"].blocks
        )
        torch.testing.assert_close(
            a.targets["energy"].gradients["positions"],
            b.targets["energy"].gradients["positions"],
        )


def test_spherical_per_atom_round_trip(resources: Path, tmp_path: Path) -> None:
    frames = ase.io.read(resources / "qm9_reduced_100.xyz", index=":10")
    rows = [[s, a] for s, atoms in enumerate(frames) for a in range(len(atoms))]
    samples = Labels(["system", "atom"], torch.tensor(rows, dtype=torch.int32))
    generator = torch.Generator().manual_seed(0)
    irreps = [(0, 1), (2, 1)]
    values = [
        torch.randn(
            (len(rows), 2 * lam + 1, 2), generator=generator, dtype=torch.float64
        )
        for lam, _ in irreps
    ]
    blocks = [
        TensorBlock(
            v,
            samples,
            [Labels.range("o3_mu", v.shape[1])],
            Labels.range("properties", 2),
        )
        for v in values
    ]
    keys = Labels(["o3_lambda", "o3_sigma"], torch.tensor(irreps, dtype=torch.int32))
    metatensor.torch.save(tmp_path / "shifts.mts", TensorMap(keys, blocks))
    ase.io.write(tmp_path / "mols.xyz", frames)
    spherical = {"irreps": [{"o3_lambda": lam, "o3_sigma": s} for lam, s in irreps]}
    dataset = load(
        {
            "systems": "mols.xyz",
            "targets": {
                "mtt::shifts": {
                    "read_from": "shifts.mts",
                    "per_atom": True,
                    "num_subtargets": 2,
                    "type": {"spherical": spherical},
                }
            },
        },
        tmp_path,
    )
    start = 0
    for structure in dataset:
        stop = start + len(structure)
        for mine, expected in zip(structure.targets["mtt::shifts"].blocks, values):
            torch.testing.assert_close(mine, expected[start:stop])
        start = stop
    assert dataset.info.targets["mtt::shifts"].irreps == ((0, 1), (2, 1))


def test_layout_mismatch_names_the_file(resources: Path, tmp_path: Path) -> None:
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", index=":")
    metatensor.torch.save(tmp_path / "energy.mts", _energy_tensor(frames))
    value = {
        "systems": str(resources / "ethanol_reduced_100.xyz"),
        "targets": {
            "mtt::e": {"read_from": "energy.mts", "type": {"cartesian": {"rank": 1}}}
        },
    }
    with pytest.raises(DataError, match="expected blocks of shape") as error:
        load(value, tmp_path)
    assert "energy.mts" in str(error.value)
    ase.io.write(tmp_path / "half.xyz", frames[:50])
    value["systems"] = "half.xyz"
    del value["targets"]["mtt::e"]["type"]
    with pytest.raises(DataError, match="refer to structure 99") as error:
        load(value, tmp_path)
    assert "holds 50 structures" in str(error.value)
