"""Neighbour topologies against a brute-force reference; the cache; vector maths."""

import pickle
from pathlib import Path
from typing import List, Set, Tuple

import ase.io
import numpy as np
import pytest
import torch
from metatomic.torch import NeighborListOptions, register_autograd_neighbors

from atomtrain.data.batching import BatchBuilder
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo
from atomtrain.data.neighbors import (
    ENTRY_OVERHEAD,
    NeighborCache,
    compute_topology,
    neighbor_vectors,
    requested_neighbor_lists,
)
from atomtrain.data.structure import Structure

CUTOFF = 4.5
Pair = Tuple[int, int, int, int, int]


def read_structures(path: Path, count: int = 100) -> List[Structure]:
    structures = []
    for atoms in ase.io.read(path, f":{count}"):
        pbc = torch.tensor(atoms.pbc)
        structures.append(
            Structure(
                types=torch.tensor(atoms.numbers, dtype=torch.int32),
                positions=torch.tensor(atoms.positions),
                cell=torch.tensor(atoms.cell.array) * pbc.reshape(3, 1),
                pbc=pbc,
            )
        )
    return structures


def brute_force_pairs(structure: Structure, cutoff: float) -> Set[Pair]:
    """Every (i, j, S) with |r_j - r_i + S·cell| < cutoff, looping over images."""
    cell = structure.cell
    # non-periodic (zero) cell vectors replaced by unit normals, to measure spacings
    complete = cell.clone()
    for axis in range(3):
        if not structure.pbc[axis] and structure.pbc.sum() == 2:
            normal = torch.linalg.cross(cell[(axis + 1) % 3], cell[(axis + 2) % 3])
            complete[axis] = normal / normal.norm()
    ranges = []
    for axis in range(3):
        if not structure.pbc[axis]:
            ranges.append(range(1))
            continue
        others = [complete[(axis + 1) % 3], complete[(axis + 2) % 3]]
        normal = torch.linalg.cross(others[0], others[1])
        spacing = abs(float(torch.dot(complete[axis], normal))) / float(normal.norm())
        n = int(np.ceil(cutoff / spacing))
        ranges.append(range(-n, n + 1))
    positions = structure.positions
    pairs = set()
    for a in ranges[0]:
        for b in ranges[1]:
            for c in ranges[2]:
                shift = torch.tensor([a, b, c], dtype=torch.float64) @ cell
                vectors = positions[None, :, :] - positions[:, None, :] + shift
                distances = vectors.norm(dim=-1)
                for i, j in (distances < cutoff).nonzero().tolist():
                    if (a, b, c) == (0, 0, 0) and i == j:
                        continue
                    pairs.add((i, j, a, b, c))
    return pairs


def as_set(topology: torch.Tensor) -> Set[Pair]:
    return {tuple(row) for row in topology.tolist()}  # type: ignore[misc]


def slab(structure: Structure) -> Structure:
    """The structure periodic along a and b only (zero third cell vector)."""
    cell = structure.cell.clone()
    cell[2] = 0.0
    return Structure(
        structure.types, structure.positions, cell, torch.tensor([True, True, False])
    )


def check_against_brute_force(structure: Structure) -> None:
    full = compute_topology(structure, CUTOFF, full_list=True)
    expected = brute_force_pairs(structure, CUTOFF)
    assert as_set(full) == expected
    assert len(full) == len(expected)

    half = compute_topology(structure, CUTOFF, full_list=False)
    assert 2 * len(half) == len(full)
    mirrored = {(j, i, -a, -b, -c) for i, j, a, b, c in as_set(half)}
    assert as_set(half) | mirrored == expected


def test_periodic_small_cells_match_brute_force(resources):
    structures = read_structures(resources / "carbon_reduced_100.xyz", 30)
    images = [compute_topology(s, CUTOFF, True)[:, 2:].abs().max() for s in structures]
    assert max(images) >= 2, "some cells are smaller than the cutoff (many images)"
    for structure in structures:
        check_against_brute_force(structure)


def test_non_periodic_matches_brute_force(resources):
    for structure in read_structures(resources / "ethanol_reduced_100.xyz", 10):
        check_against_brute_force(structure)


def test_mixed_pbc_slab_matches_brute_force(resources):
    structures = read_structures(resources / "carbon_reduced_100.xyz", 20)
    for structure in structures:
        check_against_brute_force(slab(structure))
    shifts = compute_topology(slab(structures[0]), CUTOFF, True)[:, 2:]
    assert (shifts[:, 2] == 0).all()
    assert (shifts[:, :2] != 0).any()


def test_atom_without_neighbours(resources):
    structure = read_structures(resources / "ethanol_reduced_100.xyz", 1)[0]
    structure.positions[0] += torch.tensor([50.0, 0.0, 0.0])
    topology = compute_topology(structure, CUTOFF, True)
    assert not (topology[:, :2] == 0).any()
    assert as_set(topology) == brute_force_pairs(structure, CUTOFF)


def test_vectors_follow_metatomic_convention(resources):
    """Vectors from the topology pass metatomic's own consistency check."""
    structure = read_structures(resources / "carbon_reduced_100.xyz", 1)[0]
    options = NeighborListOptions(cutoff=CUTOFF, full_list=True, strict=True)
    dataset = InMemoryDataset([structure], DatasetInfo(), [("carbon", 0)])
    batch = BatchBuilder([options], {})(dataset, [0])
    system = batch.systems[0]
    neighbors = system.get_neighbor_list(options)
    register_autograd_neighbors(system, neighbors, check_consistency=True)
    distances = neighbors.values.reshape(-1, 3).norm(dim=1)
    assert distances.max() < CUTOFF
    topology = compute_topology(structure, CUTOFF, True)
    vectors = neighbor_vectors(structure.positions, structure.cell, topology)
    torch.testing.assert_close(vectors.norm(dim=1), distances)


def test_cache_hit_from_second_epoch(resources):
    structures = read_structures(resources / "carbon_reduced_100.xyz", 40)
    dataset = InMemoryDataset(
        structures, DatasetInfo(), [("carbon", i) for i in range(len(structures))]
    )
    options = [
        NeighborListOptions(cutoff=CUTOFF, full_list=True, strict=True),
        NeighborListOptions(cutoff=3.0, full_list=False, strict=True),
    ]
    cache = NeighborCache()
    builder = BatchBuilder(options, {}, cache=cache)
    lookups = len(structures) * len(options)
    for epoch in range(3):
        for start in range(0, len(structures), 8):
            builder(dataset, range(start, start + 8), epoch=epoch)
        assert cache.misses == lookups
        assert cache.hits == epoch * lookups
    # 20 bytes per pair, and the entry's own overhead
    assert cache.nbytes == sum(
        20 * len(compute_topology(s, o.cutoff, o.full_list)) + ENTRY_OVERHEAD
        for s in structures
        for o in options
    )


def test_cache_keys_by_dataset_and_options(resources):
    structures = read_structures(resources / "ethanol_reduced_100.xyz", 2)
    first = InMemoryDataset(structures, DatasetInfo(), [("e", 0), ("e", 1)])
    second = first.subset([1, 0])
    cache = NeighborCache()
    options = NeighborListOptions(cutoff=CUTOFF, full_list=True, strict=True)
    same = NeighborListOptions(cutoff=CUTOFF, full_list=True, strict=True)
    reference = cache.topology(first, 0, options)
    assert torch.equal(cache.topology(first, 0, same), reference)
    assert (cache.hits, cache.misses) == (1, 1)
    assert torch.equal(cache.topology(second, 1, options), reference)
    assert cache.misses == 2
    half = NeighborListOptions(cutoff=CUTOFF, full_list=False, strict=True)
    assert len(cache.topology(first, 0, half)) * 2 == len(reference)


def test_cache_bounded_least_recently_used_evicted(resources):
    structures = read_structures(resources / "ethanol_reduced_100.xyz", 6)
    dataset = InMemoryDataset(structures, DatasetInfo(), [("e", i) for i in range(6)])
    options = NeighborListOptions(cutoff=CUTOFF, full_list=True, strict=True)
    size = 20 * len(compute_topology(structures[0], CUTOFF, True)) + ENTRY_OVERHEAD
    cache = NeighborCache(max_bytes=3 * size)
    for index in (0, 1, 2, 0, 3):  # 3 evicts 1, the least recently used
        cache.topology(dataset, index, options)
    assert (cache.hits, cache.misses, cache.nbytes) == (1, 4, 3 * size)
    cache.topology(dataset, 0, options)
    cache.topology(dataset, 1, options)
    assert (cache.hits, cache.misses) == (2, 5)
    assert cache.nbytes <= cache.max_bytes
    restored = pickle.loads(pickle.dumps(cache))
    assert (restored.max_bytes, restored.nbytes, restored.misses) == (3 * size, 0, 0)


class _Radial(torch.nn.Module):
    def __init__(self, cutoff: float) -> None:
        super().__init__()
        self.cutoff = cutoff

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [NeighborListOptions(cutoff=self.cutoff, full_list=True, strict=True)]


def test_requested_lists_collected_from_submodules():
    model = torch.nn.Sequential(_Radial(4.5), torch.nn.Sequential(_Radial(4.5)))
    model.append(_Radial(3.0))
    requested = requested_neighbor_lists(model, "angstrom")
    assert [(o.cutoff, o.full_list) for o in requested] == [(4.5, True), (3.0, True)]
    assert all(o.length_unit == "angstrom" for o in requested)


def test_cutoff_converted_to_data_length_unit(resources):
    structure = read_structures(resources / "ethanol_reduced_100.xyz", 1)[0]
    dataset = InMemoryDataset([structure], DatasetInfo(), [("e", 0)])
    in_nm = NeighborListOptions(cutoff=0.45, full_list=True, strict=True)
    in_nm.length_unit = "nm"
    cache = NeighborCache()
    expected = brute_force_pairs(structure, 4.5)
    assert as_set(cache.topology(dataset, 0, in_nm)) == expected


@pytest.mark.parametrize("full_list", [True, False])
def test_vectors_differentiable(resources, full_list):
    structure = read_structures(resources / "carbon_reduced_100.xyz", 1)[0]
    topology = compute_topology(structure, CUTOFF, full_list)
    positions = structure.positions.clone().requires_grad_(True)
    cell = structure.cell.clone().requires_grad_(True)
    vectors = neighbor_vectors(positions, cell, topology)
    (vectors**2).sum().backward()
    assert positions.grad is not None and cell.grad is not None
    # moving every atom together changes no vector
    assert float(positions.grad.sum(0).abs().max()) < 1e-9
