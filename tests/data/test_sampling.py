"""Batch plans: caps, errors, determinism, rank shares and the DataLoader path."""

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
    EpochBatchSampler,
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
    edges = NeighborCache().num_edges(dataset, options)
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


@pytest.mark.parametrize("replicas", [2, 3, 4])
def test_ranks_share_equal_numbers_of_batches(carbon_atoms, replicas):
    plan = BatchPlan(batch_size=7, max_atoms=150, seed=1)
    shares = [
        plan_epoch(plan, carbon_atoms, 5, num_replicas=replicas, rank=r)
        for r in range(replicas)
    ]
    assert len({len(share) for share in shares}) == 1
    assert flatten([b for share in shares for b in share]) == list(range(100))
    for step in zip(*shares):
        loads = [sum(carbon_atoms[i] for i in batch) for batch in step]
        assert max(loads) - min(loads) <= 2 * max(carbon_atoms)


def test_single_structure_batches_padded_for_ranks():
    shares = [
        plan_epoch(BatchPlan(batch_size=1), [5] * 5, 0, num_replicas=2, rank=r)
        for r in range(2)
    ]
    assert len(shares[0]) == len(shares[1]) == 3
    assert set(flatten(shares[0] + shares[1])) == set(range(5))
    with pytest.raises(BatchingError, match="2 structures cannot be shared between 3"):
        plan_epoch(BatchPlan(batch_size=1), [5, 5], 0, num_replicas=3, rank=0)


@pytest.mark.parametrize("workers", [0, 1])
def test_data_loader_path_matches_in_process(resources, workers):
    dataset = carbon(resources / "carbon_reduced_100.xyz").subset(range(24))
    options = NeighborListOptions(cutoff=4.0, full_list=True, strict=True)
    builder = BatchBuilder([options], {}, cache=NeighborCache())
    sampler = EpochBatchSampler(BatchPlan(batch_size=6, seed=2), dataset.num_atoms())
    loader = batch_loader(dataset, builder, sampler, num_workers=workers)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        expected = plan_epoch(
            BatchPlan(batch_size=6, seed=2), dataset.num_atoms(), epoch
        )
        for indices, collated in zip(expected, loader):
            batch = builder.finalize(collated)
            direct = builder(dataset, indices)
            assert batch.indices.tolist() == indices
            for a, b in zip(batch.systems, direct.systems):
                torch.testing.assert_close(
                    a.get_neighbor_list(options).values,
                    b.get_neighbor_list(options).values,
                )
