"""Padding of neighbour edges per atom and the reverse-edge mapping, against direct
construction on real periodic and molecular structures."""

from __future__ import annotations

import ase.io
import pytest
import torch
from pet_helpers import frame_structure

from atomtrain.data.neighbors import compute_topology
from atomtrain.pet.neighbors import padding_slots, reverse_edges


@pytest.mark.parametrize(
    ("name", "index"), [("carbon_reduced_100.xyz", 1), ("ethanol_reduced_100.xyz", 0)]
)
def test_reverse_edges_and_slots(resources, name, index):
    atoms = ase.io.read(resources / name, index)
    topology = compute_topology(frame_structure(atoms, {}), 4.0, full_list=True).long()
    centers, neighbors, shifts = topology[:, 0], topology[:, 1], topology[:, 2:]
    n_atoms = len(atoms)

    reverse = reverse_edges(centers, neighbors, shifts, n_atoms)
    assert torch.equal(centers[reverse], neighbors)
    assert torch.equal(neighbors[reverse], centers)
    assert torch.equal(shifts[reverse], -shifts)
    assert torch.equal(reverse[reverse], torch.arange(len(centers)))

    slots, max_neighbors = padding_slots(centers, n_atoms)
    counts = torch.bincount(centers, minlength=n_atoms)
    assert max_neighbors == int(counts.max())
    assert len(set(slots.tolist())) == len(slots)  # one slot per edge
    torch.testing.assert_close(slots // max_neighbors, centers)
    assert torch.all(slots % max_neighbors < counts[centers])


def test_a_half_list_is_refused(resources):
    atoms = ase.io.read(resources / "ethanol_reduced_100.xyz", 0)
    topology = compute_topology(frame_structure(atoms, {}), 4.0, full_list=False)
    topology = topology.long()
    with pytest.raises(ValueError, match="full neighbour list"):
        reverse_edges(topology[:, 0], topology[:, 1], topology[:, 2:], len(atoms))
