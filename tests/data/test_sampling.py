"""Batch plans: caps, errors, determinism, and batches built by DataLoader workers."""

from pathlib import Path

import ase.io
import pytest
import torch
from metatomic.torch import NeighborListOptions

from atomtrain.data.batching import BatchBuilder
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo
from atomtrain.data.neighbors import NeighborCache
from atomtrain.data.sampling import (
    BatchingError,
    BatchPlan,
    BatchRequests,
    CollatedBatches,
    batch_loader,
    plan_epoch,
)
from atomtrain.data.structure import Structure


def carbon(path: Path) -> InMemoryDataset:
    structures = []
    for atoms in ase.io.read(path, ":"):
        structures.append(
            Structure(
                types=torch.tensor(atoms.numbers, dtype=torch.int32),
                positions=torch.tensor(atoms.positions),
                cell=torch.tensor(atoms.cell.array),
                pbc=torch.tensor(atoms.pbc),
            )
        )
    origins = [(path.name, i) for i in range(len(structures))]
    return InMemoryDataset(structures, DatasetInfo(), origins)


@pytest.fixture
def carbon_atoms(resources) -> list:
    return carbon(resources / "carbon_reduced_100.xyz").num_atoms()


def flatten(batches):
    return sorted(i for batch in batches for i in batch)


def test_every_structure_once_within_batch_size(carbon_atoms):
    batches = plan_epoch(BatchPlan(batch_size=8), carbon_atoms, epoch=0)
    assert flatten(batches) == list(range(len(carbon_atoms)))
    assert max(len(b) for b in batches) <= 8
    assert len(batches) == 13


def test_atom_cap_respected_and_balanced(carbon_atoms):
    plan = BatchPlan(batch_size=50, max_atoms=200)
    batches = plan_epoch(plan, carbon_atoms, epoch=0)
    loads = [sum(carbon_atoms[i] for i in batch) for batch in batches]
    assert max(loads) <= 200
    assert flatten(batches) == list(range(len(carbon_atoms)))
    # least-loaded packing: sizes differ by about one structure at most
    assert max(loads) - min(loads) <= 2 * max(carbon_atoms)


def test_edge_cap_respected(resources):
    dataset = carbon(resources / "carbon_reduced_100.xyz")
    options = NeighborListOptions(cutoff=4.5, full_list=True, strict=True)
    cache = NeighborCache()
    edges = [len(cache.topology(dataset, i, options)) for i in range(len(dataset))]
    plan = BatchPlan(batch_size=100, max_edges=20000)
    batches = plan_epoch(plan, dataset.num_atoms(), 0, num_edges=edges)
    assert max(sum(edges[i] for i in batch) for batch in batches) <= 20000
    assert flatten(batches) == list(range(len(dataset)))


def test_structure_above_a_cap_is_named(resources, carbon_atoms):
    dataset = carbon(resources / "carbon_reduced_100.xyz")
    largest = max(range(len(carbon_atoms)), key=carbon_atoms.__getitem__)
    plan = BatchPlan(batch_size=4, max_atoms=carbon_atoms[largest] - 1)
    with pytest.raises(
        BatchingError,
        match=rf"structure {largest} of 'carbon_reduced_100.xyz' has "
        rf"{carbon_atoms[largest]} atoms, more than max_atoms_per_batch",
    ):
        plan_epoch(plan, carbon_atoms, 0, describe=dataset.describe)
    with pytest.raises(BatchingError, match="structure 0 has 10 neighbour pairs"):
        plan_epoch(BatchPlan(4, max_edges=9), [3, 3], 0, num_edges=[10, 5])


def test_shuffle_deterministic_per_epoch(carbon_atoms):
    plan = BatchPlan(batch_size=10, seed=4)
    assert plan_epoch(plan, carbon_atoms, 1) == plan_epoch(plan, carbon_atoms, 1)
    assert plan_epoch(plan, carbon_atoms, 1) != plan_epoch(plan, carbon_atoms, 2)
    other_seed = BatchPlan(batch_size=10, seed=5)
    assert plan_epoch(plan, carbon_atoms, 1) != plan_epoch(other_seed, carbon_atoms, 1)
    ordered = plan_epoch(BatchPlan(batch_size=10, shuffle=False), carbon_atoms, 3)
    assert ordered[0] == list(range(0, 100, 10))


@pytest.mark.parametrize("workers", [1, 2])
def test_batches_built_by_workers_match_those_built_here(resources, workers):
    dataset = carbon(resources / "carbon_reduced_100.xyz").subset(range(24))
    other = carbon(resources / "carbon_reduced_100.xyz").subset(range(50, 60))
    options = NeighborListOptions(cutoff=4.0, full_list=True, strict=True)
    builder = BatchBuilder([options], {}, cache=NeighborCache())
    requests = BatchRequests()
    loader = batch_loader(
        CollatedBatches([dataset, other], builder, builder), requests, workers
    )
    for epoch in (0, 1):
        expected = plan_epoch(
            BatchPlan(batch_size=6, seed=2), dataset.num_atoms(), epoch
        )
        requests.set(
            [(0, epoch, indices, True) for indices in expected]
            + [(1, epoch, [3, 1], False), (1, epoch, [], False)]
        )
        collated = list(loader)
        assert collated[-1] is None and len(collated) == len(expected) + 2
        pairs = [(dataset, i) for i in expected] + [(other, [3, 1])]
        for (source, indices), first_stage in zip(pairs, collated):
            batch = builder.finalize(first_stage)
            direct = builder(source, indices)
            assert batch.indices.tolist() == indices
            for a, b in zip(batch.systems, direct.systems):
                torch.testing.assert_close(a.positions, b.positions)
                torch.testing.assert_close(
                    a.get_neighbor_list(options).values,
                    b.get_neighbor_list(options).values,
                )
