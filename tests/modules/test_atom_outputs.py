"""Per-atom outputs shared by PET and MACE: the atoms to output, sums per system and
one-block TensorMaps, eagerly and through TorchScript."""

from __future__ import annotations

import pytest
import torch
from metatensor.torch import Labels
from metatomic.torch import System

from atomtrain.modules.atom_outputs import atom_indices, features_map


def _systems(*sizes: int):
    return [
        System(
            types=torch.ones(n, dtype=torch.int32),
            positions=torch.zeros((n, 3), dtype=torch.float64),
            cell=torch.zeros((3, 3), dtype=torch.float64),
            pbc=torch.zeros(3, dtype=torch.bool),
        )
        for n in sizes
    ]


def test_selected_atoms_are_found_among_all_atoms_of_the_batch():
    selected = Labels(["system", "atom"], torch.tensor([[1, 0], [0, 2], [1, 1]]))
    system, atom, keep = atom_indices(_systems(3, 2), selected, torch.device("cpu"))
    # rows in the batch's order, whatever the order of the selection
    assert keep.tolist() == [2, 3, 4]
    assert system.tolist() == [0, 1, 1] and atom.tolist() == [2, 0, 1]
    system, atom, keep = atom_indices(_systems(3, 2), None, torch.device("cpu"))
    assert keep.tolist() == [0, 1, 2, 3, 4] and atom.tolist() == [0, 1, 2, 0, 1]


@pytest.mark.parametrize("scripted", [False, True])
def test_features_are_summed_per_system_unless_per_atom(scripted):
    build = torch.jit.script(features_map) if scripted else features_map
    features = torch.arange(10, dtype=torch.float64).reshape(5, 2)
    system, atom = torch.tensor([0, 0, 0, 1, 1]), torch.tensor([0, 1, 2, 0, 1])
    summed = build(features, system, atom, 2, False).block()
    assert summed.samples.names == ["system"] and summed.properties.names == ["feature"]
    assert summed.values.tolist() == [[6.0, 9.0], [14.0, 16.0]]
    per_atom = build(features, system, atom, 2, True).block()
    assert per_atom.samples.names == ["system", "atom"]
    torch.testing.assert_close(per_atom.values, features)
