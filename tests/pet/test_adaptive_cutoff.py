"""PET's adaptive cutoff: each atom's radius gives it about the requested number of
neighbours, both methods agree, the radius moves smoothly with the atoms, and a
model using it keeps forces the exact derivatives of its energy."""

from __future__ import annotations

import pytest
import torch
from pet_helpers import ENERGY, systems_of, tiny_hypers

from atomtrain.data.info import DatasetInfo
from atomtrain.pet import PET
from atomtrain.pet.adaptive_cutoff import AdaptiveCutoff

INFO = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": ENERGY})


def edges(positions: torch.Tensor, cutoff: float):
    """Every ordered pair within ``cutoff``: distances and centres."""
    vectors = positions[None, :, :] - positions[:, None, :]
    distances = torch.linalg.vector_norm(vectors, dim=-1)
    centers, neighbors = torch.nonzero((distances < cutoff) & (distances > 0)).T
    return distances[centers, neighbors], centers


def radii_of(method: str, positions: torch.Tensor, count: int = 6) -> torch.Tensor:
    cutoff = AdaptiveCutoff(count, 6.0, 0.5, 0.5, method)
    distances, centers = edges(positions, 6.0)
    per_edge = cutoff(distances, centers, positions.shape[0])
    radii = torch.full((positions.shape[0],), float("nan"), dtype=positions.dtype)
    return radii.index_put((centers,), per_edge)


def cloud(seed: int = 0, n: int = 40) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 6.0 * torch.rand((n, 3), generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("method", ["solver", "grid"])
def test_each_atom_gets_about_the_requested_neighbours(method):
    positions = cloud()
    radii = radii_of(method, positions)
    distances = torch.cdist(positions, positions)
    inside = ((distances < radii[:, None]) & (distances > 0)).sum(dim=1).double()
    assert radii.max() < 6.0  # dense enough: every atom below the cutoff
    assert abs(float(inside.mean()) - 6.0) < 1.0


def test_the_two_methods_agree_and_sparse_atoms_keep_the_cutoff():
    positions = cloud()
    solver, grid = radii_of("solver", positions), radii_of("grid", positions)
    assert float((solver - grid).abs().max()) < 0.3
    # two atoms alone: fewer neighbours than asked, the full cutoff
    pair = torch.tensor([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(radii_of("solver", pair), torch.tensor([6.0, 6.0]).double())


@pytest.mark.parametrize("method", ["solver", "grid"])
def test_the_radius_is_a_smooth_function_of_the_positions(method):
    positions = cloud(1, 30).requires_grad_(True)

    def radius_of_atom_0(moved: torch.Tensor) -> torch.Tensor:
        distances, centers = edges(moved, 6.0)
        cutoff = AdaptiveCutoff(6, 6.0, 0.5, 0.5, method)
        per_edge = cutoff(distances, centers, moved.shape[0])
        return per_edge[centers == 0][0]

    assert torch.autograd.gradcheck(radius_of_atom_0, (positions,), atol=1e-5)


@pytest.mark.parametrize("method", ["solver", "grid"])
def test_forces_of_a_model_with_an_adaptive_cutoff_are_energy_derivatives(
    ethanol, method
):
    torch.manual_seed(0)
    hypers = tiny_hypers(num_neighbors_adaptive=4, adaptive_cutoff_method=method)
    model = PET(hypers, INFO).to(torch.float64).eval()
    plain = PET(tiny_hypers(), INFO).to(torch.float64).eval()
    plain.load_state_dict(model.state_dict())
    structure = ethanol[0]
    systems = systems_of([structure], model.neighbors, requires_grad=True)
    energy = model(systems, {"energy": ENERGY.model_output()})["energy"]
    (gradient,) = torch.autograd.grad(energy.block().values.sum(), systems[0].positions)
    step = 1e-5
    for atom, axis in ((0, 0), (3, 2)):
        moved = []
        for sign in (1.0, -1.0):
            shifted = systems_of([structure], model.neighbors)[0]
            positions = shifted.positions.detach().clone()
            positions[atom, axis] += sign * step
            copy = type(structure)(
                structure.types, positions, structure.cell, structure.pbc
            )
            system = systems_of([copy], model.neighbors)
            out = model(system, {"energy": ENERGY.model_output()})["energy"]
            moved.append(float(out.block().values.sum().detach()))
        numeric = (moved[0] - moved[1]) / (2 * step)
        assert float(gradient[atom, axis]) == pytest.approx(numeric, rel=1e-5, abs=1e-7)
    # ethanol's 9 atoms have 8 neighbours each within 4 Å: asking for 4 changes it
    reference = plain(
        systems_of([structure], plain.neighbors), {"energy": ENERGY.model_output()}
    )
    assert float(reference["energy"].block().values.sum().detach()) != pytest.approx(
        float(energy.block().values.sum().detach())
    )


@pytest.mark.parametrize("method", ["solver", "grid"])
def test_a_model_with_an_adaptive_cutoff_exports_with_its_energies(
    ethanol, method, tmp_path
):
    from atomtrain.testing.base import ENERGY as SUITE_ENERGY
    from atomtrain.testing.torchscript import check_exported_predictions

    # the suite's check reads energies in eV: a model of eV energies
    info = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": SUITE_ENERGY})
    torch.manual_seed(0)
    hypers = tiny_hypers(
        num_neighbors_adaptive=4,
        adaptive_cutoff_method=method,
        featurizer_type="feedforward",
        system_conditioning=True,
    )
    model = PET(hypers, info).to(torch.float64).eval()
    check_exported_predictions(model, list(ethanol)[:2], tmp_path / "model.pt")
