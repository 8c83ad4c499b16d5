import torch
from ase.build import bulk

from atomtrain.data.structure import cell_problem

NO_PBC = torch.tensor([False, False, False])
ALL_PBC = torch.tensor([True, True, True])


def test_a_molecule_needs_no_cell() -> None:
    assert cell_problem(torch.zeros(3, 3), NO_PBC) is None


def test_a_crystal_with_its_cell_is_fine() -> None:
    cell = torch.tensor(bulk("Cu", cubic=True).cell.array)
    assert cell_problem(cell, ALL_PBC) is None


def test_a_slab_needs_cell_vectors_only_along_periodic_directions() -> None:
    cell = torch.tensor([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    assert cell_problem(cell, torch.tensor([True, True, False])) is None


def test_periodic_without_a_cell() -> None:
    problem = cell_problem(torch.zeros(3, 3), ALL_PBC)
    assert problem is not None
    assert "periodic (pbc [True, True, True]) but has no cell" in problem
    assert 'pbc="F F F"' in problem


def test_periodic_with_a_flat_cell() -> None:
    cell = torch.tensor([[3.0, 0.0, 0.0], [0.0, 4.0, 0.0], [6.0, 8.0, 0.0]])
    problem = cell_problem(cell, ALL_PBC)
    assert problem is not None and "linearly dependent" in problem
    one_direction = torch.tensor([False, True, False])
    problem = cell_problem(torch.eye(3) * torch.tensor([1.0, 0.0, 1.0]), one_direction)
    assert problem is not None and "has no cell" in problem
