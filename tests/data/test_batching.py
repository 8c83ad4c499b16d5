"""Batches: TensorMap layouts and values from real files, exact autograd gradients
through the position and strain leaves, and the random rotation."""

from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from metatomic.torch import NeighborListOptions

from atomtrain.data.augmentation import random_rotation
from atomtrain.data.batching import Batch, BatchBuilder
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure, TargetData
from atomtrain.errors import DataError

CUTOFF = 3.5
OPTIONS = NeighborListOptions(cutoff=CUTOFF, full_list=False, strict=True)
ENERGY = TargetInfo(quantity="energy", unit="eV", gradients=("positions", "strain"))


def read_dataset(path: Path, forces_key: str, count: int = 100) -> InMemoryDataset:
    """Energy with forces (and the virial when present) from an extxyz file."""
    structures = []
    for atoms in ase.io.read(path, f":{count}"):
        pbc = torch.tensor(atoms.pbc)
        energy = TargetData(
            blocks=[torch.tensor([[atoms.get_potential_energy()]])],
            gradients={"positions": -torch.tensor(atoms.arrays[forces_key])[..., None]}
            if forces_key in atoms.arrays
            else {"positions": -torch.tensor(atoms.get_forces())[..., None]},
        )
        if "virial" in atoms.info:
            energy.gradients["strain"] = -torch.tensor(atoms.info["virial"])[..., None]
        structures.append(
            Structure(
                types=torch.tensor(atoms.numbers, dtype=torch.int32),
                positions=torch.tensor(atoms.positions),
                cell=torch.tensor(atoms.cell.array) * pbc.reshape(3, 1),
                pbc=pbc,
                targets={"energy": energy},
            )
        )
    origins = [(str(path), i) for i in range(len(structures))]
    return InMemoryDataset(structures, DatasetInfo(targets={"energy": ENERGY}), origins)


def pair_energy(batch: Batch) -> torch.Tensor:
    """Smooth pair energy per system: sum over pairs of (rc² - r²)² exp(-r)."""
    energies = []
    for system in batch.systems:
        vectors = system.get_neighbor_list(OPTIONS).values.reshape(-1, 3)
        r2 = (vectors**2).sum(dim=1)
        energies.append(((CUTOFF**2 - r2) ** 2 * torch.exp(-r2.sqrt())).sum())
    return torch.stack(energies)


def test_ethanol_batch_layout_and_labels(ethanol_gfn2):
    dataset = read_dataset(ethanol_gfn2, "forces", 20)
    builder = BatchBuilder([OPTIONS], {"energy": ENERGY}, dtype=torch.float32)
    batch = builder(dataset, [3, 7, 11], gradients=("positions",))
    energy = batch.targets["energy"]
    layout = ENERGY.layout("energy")
    assert energy.keys == layout.keys
    block, reference = energy.block(), layout.block()
    assert block.properties == reference.properties
    assert block.samples.names == ["system"]
    assert block.values.dtype == torch.float32
    assert block.gradients_list() == ["positions"]
    frames = ase.io.read(ethanol_gfn2, "3:12:4")
    expected = torch.tensor([[a.get_potential_energy()] for a in frames])
    torch.testing.assert_close(block.values, expected.float())
    gradient = block.gradient("positions")
    assert gradient.samples.names == ["sample", "system", "atom"]
    assert gradient.samples.values[10].tolist() == [1, 1, 1]
    forces = np.concatenate([a.get_forces() for a in frames])
    torch.testing.assert_close(gradient.values[:, :, 0], -torch.tensor(forces).float())
    assert batch.indices.tolist() == [3, 7, 11]
    assert batch.indices.dtype == torch.int64
    assert [len(s) for s in batch.systems] == [9, 9, 9]
    assert batch.systems[0].positions.dtype == torch.float32


def test_carbon_batch_has_virial_as_strain_gradient(resources):
    dataset = read_dataset(resources / "carbon_reduced_100.xyz", "force", 10)
    batch = BatchBuilder([OPTIONS], {"energy": ENERGY})(
        dataset, [0, 5], gradients=("positions", "strain")
    )
    strain = batch.targets["energy"].block().gradient("strain")
    assert strain.samples.names == ["sample"]
    assert strain.values.shape == (2, 3, 3, 1)
    virial = ase.io.read(resources / "carbon_reduced_100.xyz", 5).info["virial"]
    torch.testing.assert_close(strain.values[1, :, :, 0], -torch.tensor(virial))
    layout = ENERGY.layout("energy").block()
    block = batch.targets["energy"].block()
    assert block.properties == layout.properties
    assert block.gradients_list() == layout.gradients_list()
    for name in ("positions", "strain"):
        assert block.gradient(name).components == layout.gradient(name).components
        assert block.gradient(name).samples.names == layout.gradient(name).samples.names


def test_positions_and_strain_leaves_give_exact_gradients(resources):
    dataset = read_dataset(resources / "carbon_reduced_100.xyz", "force", 4)
    generator = torch.Generator().manual_seed(0)
    for structure in dataset:
        # off the crystal's symmetric sites, where forces vanish
        noise = torch.randn(structure.positions.shape, generator=generator)
        structure.positions += 0.1 * noise.double()
    builder = BatchBuilder([OPTIONS], {})
    batch = builder(dataset, [1, 2], gradients=("positions", "strain"))
    energy = pair_energy(batch).sum()
    grads = torch.autograd.grad(energy, batch.positions + batch.strains)
    positions_grad, strain_grad = grads[1], grads[3]

    structure = dataset[2]
    delta = 1e-5

    def energy_of(positions: torch.Tensor, cell: torch.Tensor) -> float:
        moved = Structure(structure.types, positions, cell, structure.pbc)
        single = InMemoryDataset([moved], DatasetInfo(), [("x", 0)])
        # the pair energy and its slope vanish at the cutoff: a new topology is fine
        return float(pair_energy(BatchBuilder([OPTIONS], {})(single, [0])).sum())

    for atom, axis in [(0, 0), (3, 2)]:
        step = torch.zeros_like(structure.positions)
        step[atom, axis] = delta
        finite = (
            energy_of(structure.positions + step, structure.cell)
            - energy_of(structure.positions - step, structure.cell)
        ) / (2 * delta)
        assert positions_grad[atom, axis].item() == pytest.approx(finite, rel=1e-6)
    for a, b in [(0, 0), (0, 1), (2, 1)]:
        strain = torch.eye(3, dtype=torch.float64)
        strain[a, b] += delta
        plus = energy_of(structure.positions @ strain, structure.cell @ strain)
        strain[a, b] -= 2 * delta
        minus = energy_of(structure.positions @ strain, structure.cell @ strain)
        assert strain_grad[a, b].item() == pytest.approx(
            (plus - minus) / (2 * delta), rel=1e-6
        )


def test_no_gradient_across_structures(ethanol_gfn2):
    dataset = read_dataset(ethanol_gfn2, "forces", 3)
    batch = BatchBuilder([OPTIONS], {})(dataset, [0, 1], gradients=("positions",))
    first = pair_energy(batch)[0]
    grads = torch.autograd.grad(first, batch.positions, allow_unused=True)
    assert grads[1] is None or float(grads[1].abs().max()) == 0.0
    assert float(grads[0].abs().max()) > 0.0


def test_per_atom_and_cartesian_entries(resources):
    path = resources / "qm7x_reduced_100.xyz"
    alpha = TargetInfo(quantity="polarizability", kind="cartesian", rank=2)
    charges = TargetInfo(sample_kind="atom", kind="cartesian", rank=1)
    structures = []
    for atoms in ase.io.read(path, ":4"):
        positions = torch.tensor(atoms.positions)
        structures.append(
            Structure(
                types=torch.tensor(atoms.numbers, dtype=torch.int32),
                positions=positions,
                cell=torch.zeros(3, 3, dtype=torch.float64),
                pbc=torch.zeros(3, dtype=torch.bool),
                targets={
                    "mtt::alpha": TargetData(
                        [torch.tensor(atoms.info["polarizability"]).reshape(1, 3, 3, 1)]
                    )
                },
                extra_data={"mtt::r": TargetData([positions[:, :, None]])},
            )
        )
    dataset = InMemoryDataset(
        structures, DatasetInfo(), [(str(path), i) for i in range(4)]
    )
    builder = BatchBuilder([], {"mtt::alpha": alpha}, {"mtt::r": charges})
    batch = builder(dataset, [2, 0])
    block = batch.targets["mtt::alpha"].block()
    assert [c.names for c in block.components] == [["xyz_1"], ["xyz_2"]]
    assert block.values.shape == (2, 3, 3, 1)
    per_atom = batch.extra_data["mtt::r"].block()
    assert per_atom.samples.names == ["system", "atom"]
    n2 = len(structures[2])
    assert per_atom.samples.values[n2].tolist() == [1, 0]
    torch.testing.assert_close(per_atom.values[:n2, :, 0], structures[2].positions)
    assert batch.positions == [] and batch.strains == []


def test_missing_target_names_the_structure(ethanol_gfn2):
    dataset = read_dataset(ethanol_gfn2, "forces", 3)
    del dataset[1].targets["energy"]
    with pytest.raises(DataError, match=r"structure 1 of '.*ethanol_gfn2_1000.xyz'"):
        BatchBuilder([], {"energy": ENERGY})(dataset, [0, 1])


def _analytic_labels(structure: Structure) -> Structure:
    """The structure labelled with the pair energy and its exact gradients, and a
    dipole-like vector (rank 1 and its l=1 spherical form)."""
    dataset = InMemoryDataset([structure], DatasetInfo(), [("x", 0)])
    batch = BatchBuilder([OPTIONS], {})(dataset, [0], gradients=("positions", "strain"))
    energy = pair_energy(batch).sum()
    dr, de = torch.autograd.grad(energy, batch.positions + batch.strains)
    dipole = (structure.positions * structure.types[:, None]).sum(0)
    return Structure(
        structure.types,
        structure.positions,
        structure.cell,
        structure.pbc,
        targets={
            "energy": TargetData(
                [energy.detach().reshape(1, 1)],
                {"positions": dr[..., None], "strain": de[..., None]},
            ),
            "dipole": TargetData([dipole.reshape(1, 3, 1)]),
            "spherical": TargetData([dipole[[1, 2, 0]].reshape(1, 3, 1)]),
        },
    )


def test_random_rotation_rotates_labels_consistently(resources):
    structure = read_dataset(resources / "carbon_reduced_100.xyz", "force", 3)[2]
    labelled = _analytic_labels(structure)
    infos = {
        "energy": ENERGY,
        "dipole": TargetInfo(kind="cartesian", rank=1),
        "spherical": TargetInfo(kind="spherical", irreps=((1, 1),)),
    }
    generator = torch.Generator().manual_seed(3)
    rotated = random_rotation(labelled, generator, infos)
    assert not torch.allclose(rotated.positions, structure.positions)
    expected = _analytic_labels(rotated)
    for name in infos:
        torch.testing.assert_close(
            rotated.targets[name].blocks[0], expected.targets[name].blocks[0]
        )
    for gradient in ("positions", "strain"):
        torch.testing.assert_close(
            rotated.targets["energy"].gradients[gradient],
            expected.targets["energy"].gradients[gradient],
        )


def test_transform_called_with_reproducible_generator(ethanol_gfn2):
    dataset = read_dataset(ethanol_gfn2, "forces", 4)
    infos = {"energy": ENERGY}
    builder = BatchBuilder(
        [OPTIONS],
        infos,
        transform=lambda s, g: random_rotation(s, g, infos),
        seed=11,
    )
    first = builder(dataset, [0, 1], epoch=2).systems[1].positions
    again = builder(dataset, [1], epoch=2).systems[0].positions
    other_epoch = builder(dataset, [1], epoch=3).systems[0].positions
    torch.testing.assert_close(first, again)
    assert not torch.allclose(first, other_epoch)
    assert builder.cache.misses == 2


def test_uniform_rotation_is_the_rotation_metatomic_draws_from_the_same_state():
    from metatomic.torch.o3 import random_transformations

    from atomtrain.data.augmentation import uniform_rotation

    for seed in range(5):
        ours = uniform_rotation(torch.Generator().manual_seed(seed))
        theirs = random_transformations(
            1,
            0,
            device=torch.device("cpu"),
            dtype=torch.float64,
            generator=torch.Generator().manual_seed(seed),
        ).matrices[0]
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-14)
        torch.testing.assert_close(
            ours @ ours.T, torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-14
        )
        assert torch.linalg.det(ours) == pytest.approx(1.0, abs=1e-14)
