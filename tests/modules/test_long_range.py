"""Long-range electrostatics of PET and SOAP-BPNN: the energy is that of a smooth,
translation- and image-invariant function of the positions whose forces and stress are
its derivatives, periodic or not; it sees beyond the cutoff, and exports."""

from __future__ import annotations

from typing import Any, Dict

import pytest
import torch

from atomtrain.architectures.hypers import get_defaults
from atomtrain.data.info import DatasetInfo
from atomtrain.data.structure import Structure
from atomtrain.errors import UserError
from atomtrain.modules.long_range import LongRange, NoLongRange
from atomtrain.pet import PET
from atomtrain.soap_bpnn import SoapBpnn
from atomtrain.testing import physics_checks as checks
from atomtrain.testing.base import ENERGY
from atomtrain.testing.probe import Probe
from atomtrain.testing.systems import cluster, crystal, supercell, translated
from atomtrain.testing.torchscript import check_exported_predictions

TYPES = [1, 8]
INFO = DatasetInfo(atomic_types=TYPES, targets={"energy": ENERGY})


def pet_hypers(**long_range: Any) -> Dict[str, Any]:
    hypers = get_defaults("pet")["model"]
    hypers.update(
        d_pet=8, d_head=8, d_node=8, d_feedforward=8, num_heads=2, num_radial=4
    )
    hypers.update(cutoff=3.0, num_gnn_layers=1)
    hypers["long_range"].update(enable=True, num_charges=4, **long_range)
    return hypers


def soap_hypers(**long_range: Any) -> Dict[str, Any]:
    hypers = get_defaults("soap_bpnn")["model"]
    hypers["soap"].update(max_angular=2, max_radial=2)
    hypers["soap"]["cutoff"]["radius"] = 3.0
    hypers["bpnn"]["num_neurons_per_layer"] = 8
    hypers["long_range"].update(enable=True, num_charges=4, **long_range)
    return hypers


def model_of(architecture: str, **long_range: Any) -> torch.nn.Module:
    torch.manual_seed(0)
    if architecture == "pet":
        model: torch.nn.Module = PET(pet_hypers(**long_range), INFO)
    else:
        model = SoapBpnn(soap_hypers(**long_range), INFO)
    return model.to(torch.float64).eval()


@pytest.fixture(params=["pet", "soap_bpnn"])
def probe(request: pytest.FixtureRequest) -> Probe:
    return Probe(model_of(request.param), {"energy": ENERGY})


def ion_pair(distance: float) -> Structure:
    """A hydrogen and an oxygen ``distance`` apart along x, no periodic boundaries."""
    positions = torch.tensor([[0.0, 0.0, 0.0], [distance, 0.0, 0.0]])
    return Structure(
        types=torch.tensor([1, 8], dtype=torch.int32),
        positions=positions.double(),
        cell=torch.zeros((3, 3), dtype=torch.float64),
        pbc=torch.zeros(3, dtype=torch.bool),
    )


def test_a_disabled_section_adds_no_weights():
    hypers = get_defaults("pet")["model"]
    model = PET(hypers, INFO)
    assert isinstance(model.long_range, NoLongRange)
    assert not [k for k in model.state_dict() if k.startswith("long_range")]
    assert isinstance(model_of("pet").long_range, LongRange)


def test_the_energy_sees_beyond_the_cutoff(probe):
    # a short-range model of one message-passing layer at 3 Å gives two atoms 5 and
    # 9 Å apart the same energy; the long-range part does not
    energies = probe.energy([ion_pair(5.0), ion_pair(9.0), ion_pair(13.0)])
    assert float((energies[0] - energies[1]).abs()) > 1e-6
    assert float((energies[1] - energies[2]).abs()) > 1e-7


def test_forces_and_stress_are_derivatives_of_the_energy(probe):
    molecule = cluster(TYPES, 6, seed=1, size=6.0)
    periodic = crystal(TYPES, 6, seed=2, size=5.0)
    checks.check_forces(probe, molecule)
    checks.check_forces(probe, periodic)
    checks.check_stress(probe, periodic)
    checks.check_gradcheck(probe, cluster(TYPES, 3, seed=9, size=4.0))


def test_the_energy_is_invariant_by_translation_rotation_and_images(probe):
    periodic = crystal(TYPES, 6, seed=2, size=5.0)
    molecule = cluster(TYPES, 6, seed=1, size=6.0)
    shift = torch.tensor([0.7, -1.3, 2.9], dtype=torch.float64)
    # one atom moved by a lattice vector: the same periodic structure
    imaged = translated(periodic, torch.zeros(3, dtype=torch.float64))
    imaged.positions[0] += periodic.cell[0] - 2 * periodic.cell[2]
    moved = [translated(periodic, shift), imaged, translated(molecule, shift)]
    energies = probe.energy([periodic, moved[0], moved[1], molecule, moved[2]])
    assert torch.allclose(energies[1:3], energies[0].expand(2), rtol=1e-10)
    assert torch.allclose(energies[4], energies[3], rtol=1e-10)
    if isinstance(probe.model, SoapBpnn):  # PET learns its rotational invariance
        checks.check_rotation_invariance(probe, [molecule, periodic], 1e-8)
    checks.check_permutation_invariance(probe, periodic)
    checks.check_batch_independence(probe, molecule, periodic)


def test_supercells_have_proportional_energies(probe):
    periodic = crystal(TYPES, 4, seed=3, size=4.0)
    checks.check_supercell(probe, periodic, (2, 1, 1))


def test_particle_mesh_and_ewald_give_the_same_energies_and_forces():
    ewald, mesh = model_of("pet", use_ewald=True), model_of("pet")
    mesh.long_range.largest_ewald_cell = 0  # type: ignore[union-attr]
    periodic = supercell(crystal(TYPES, 8, seed=4, size=5.0), (2, 2, 1))
    results = []
    for model in (ewald, mesh):
        energy, leaves = Probe(model, {"energy": ENERGY}).energy_and_gradients(periodic)
        results.append((energy.detach(), leaves.positions.grad))
    assert float(results[0][0]) == pytest.approx(float(results[1][0]), rel=1e-4)
    difference = (results[0][1] - results[1][1]).abs().max()
    assert float(difference / results[0][1].abs().max()) < 1e-3


def test_a_partly_periodic_structure_is_refused():
    probe = Probe(model_of("soap_bpnn"), {"energy": ENERGY})
    slab = crystal(TYPES, 6, seed=5, size=5.0)
    slab.cell[2] = 0.0
    slab.pbc = torch.tensor([True, True, False])
    with pytest.raises(Exception, match="periodic in all three directions or in"):
        probe.energy([slab])


@pytest.mark.parametrize("architecture", ["pet", "soap_bpnn"])
def test_an_exported_model_predicts_its_energies(architecture, tmp_path):
    model = model_of(architecture)
    structures = [cluster(TYPES, 5, seed=6, size=6.0), crystal(TYPES, 4, 7, 4.5)]
    exported = check_exported_predictions(model, structures, tmp_path / "model.pt")
    assert exported.capabilities().interaction_range == float("inf")


def test_without_torch_pme_the_error_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torchpme", None)
    with pytest.raises(UserError, match="pip install torch-pme"):
        model_of("pet")


@pytest.mark.parametrize("architecture", ["pet", "soap_bpnn"])
def test_ase_gives_the_energy_forces_and_stress_of_the_model(architecture, tmp_path):
    import ase
    import numpy as np
    from metatomic_ase import MetatomicCalculator

    from atomtrain.testing.torchscript import export_and_save

    model = model_of(architecture)
    probe = Probe(model, {"energy": ENERGY})
    export_and_save(model, tmp_path / "model.pt")
    calculator = MetatomicCalculator(str(tmp_path / "model.pt"))
    for structure in (cluster(TYPES, 5, seed=6, size=6.0), crystal(TYPES, 4, 7, 4.5)):
        atoms = ase.Atoms(
            numbers=structure.types.numpy(),
            positions=structure.positions.numpy(),
            cell=structure.cell.numpy(),
            pbc=structure.pbc.numpy(),
        )
        atoms.calc = calculator
        energy, leaves = probe.energy_and_gradients(structure)
        assert leaves.positions.grad is not None
        assert atoms.get_potential_energy() == pytest.approx(float(energy), rel=1e-9)
        np.testing.assert_allclose(
            atoms.get_forces(), -leaves.positions.grad.numpy(), rtol=1e-7, atol=1e-9
        )
        if structure.pbc.all():
            assert leaves.strain.grad is not None
            volume = abs(float(torch.linalg.det(structure.cell)))
            stress = leaves.strain.grad.numpy() / volume
            stress = (stress + stress.T) / 2  # PET's is symmetric only as learned
            np.testing.assert_allclose(
                atoms.get_stress(voigt=False), stress, rtol=1e-7, atol=1e-9
            )
