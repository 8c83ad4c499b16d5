"""Physics of the SOAP-BPNN energy: forces and stress are exact derivatives, the
energy is smooth at the cutoff, and structures do not interact within a batch."""

import torch
from soap_helpers import batch_of, energies, tiny_model

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo
from atomtrain.data.structure import Structure


def single(structure: Structure, info: DatasetInfo) -> InMemoryDataset:
    return InMemoryDataset([structure], info, [("generated", 0)])


def energy_of(model, structure: Structure, info: DatasetInfo) -> float:
    batch = batch_of(model, single(structure, info), [0], labels=False)
    with torch.no_grad():
        return float(energies(model, batch)[0])


def moved(structure: Structure, positions: torch.Tensor, cell=None) -> Structure:
    cell = structure.cell if cell is None else cell
    return Structure(structure.types, positions, cell, structure.pbc)


def test_forces_are_the_derivative_of_the_energy(ethanol):
    model = tiny_model(ethanol)
    batch = batch_of(model, ethanol, [4], ["positions"])
    (gradient,) = torch.autograd.grad(energies(model, batch).sum(), batch.positions)
    assert gradient.abs().max() > 1e-3
    structure = ethanol[4]
    step = 1e-5
    for atom, axis in ((0, 0), (3, 1), (8, 2)):
        shift = torch.zeros_like(structure.positions)
        shift[atom, axis] = step
        plus = energy_of(
            model, moved(structure, structure.positions + shift), ethanol.info
        )
        minus = energy_of(
            model, moved(structure, structure.positions - shift), ethanol.info
        )
        expected = (plus - minus) / (2 * step)
        assert abs(float(gradient[atom, axis]) - expected) < 1e-7 * max(
            1.0, abs(expected)
        )


def test_strain_derivative_matches_finite_strain_on_carbon(carbon):
    model = tiny_model(carbon)
    index = 7  # 4 atoms in a small periodic cell: most neighbours are images
    structure = carbon[index]
    batch = batch_of(model, carbon, [index], ["positions", "strain"])
    (gradient,) = torch.autograd.grad(energies(model, batch).sum(), batch.strains)
    assert gradient.abs().max() > 1e-3
    step = 1e-5
    for i, j in ((0, 0), (1, 2), (2, 1)):
        strain = torch.zeros((3, 3), dtype=torch.float64)
        strain[i, j] = step
        values = []
        for sign in (1.0, -1.0):
            deformation = torch.eye(3, dtype=torch.float64) + sign * strain
            values.append(
                energy_of(
                    model,
                    moved(
                        structure,
                        structure.positions @ deformation,
                        structure.cell @ deformation,
                    ),
                    carbon.info,
                )
            )
        expected = (values[0] - values[1]) / (2 * step)
        assert abs(float(gradient[i, j]) - expected) < 1e-6 * max(1.0, abs(expected))


def test_energy_and_forces_go_smoothly_to_zero_at_the_cutoff(ethanol):
    model = tiny_model(ethanol)
    radius = 4.0
    cell = torch.zeros((3, 3), dtype=torch.float64)
    pbc = torch.zeros(3, dtype=torch.bool)
    types = torch.tensor([6, 8], dtype=torch.int32)

    def dimer(distance: float) -> Structure:
        positions = torch.tensor([[0.0, 0.0, 0.0], [distance, 0.0, 0.0]])
        return Structure(types, positions.to(torch.float64), cell, pbc)

    apart = energy_of(model, dimer(radius + 1.0), ethanol.info)
    previous = None
    for gap in (1e-1, 1e-2, 1e-3):
        difference = abs(energy_of(model, dimer(radius - gap), ethanol.info) - apart)
        if previous is not None:
            # the switching function is quadratic near its end: ~gap² → 0
            assert difference < 0.05 * previous
        previous = difference
    assert previous is not None and previous < 1e-6
    batch = batch_of(
        model,
        single(dimer(radius - 1e-4), ethanol.info),
        [0],
        ["positions"],
        labels=False,
    )
    (gradient,) = torch.autograd.grad(energies(model, batch).sum(), batch.positions)
    assert gradient.abs().max() < 1e-5


def test_structures_of_a_batch_do_not_interact(carbon):
    model = tiny_model(carbon)
    together = energies(model, batch_of(model, carbon, [3, 7, 12]))
    alone = torch.cat(
        [energies(model, batch_of(model, carbon, [i])) for i in (3, 7, 12)]
    )
    torch.testing.assert_close(together, alone)
    batch = batch_of(model, carbon, [3, 7], ["positions"])
    (gradient,) = torch.autograd.grad(energies(model, batch)[0], batch.positions[1])
    assert torch.all(gradient == 0)
