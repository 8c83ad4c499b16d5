"""The descriptor: invariant under rotations, reflections and permutations, local,
and the same as the full (untriangulated) power spectrum."""

import math

import torch
from soap_helpers import batch_of, tiny_model

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.structure import Structure
from atomtrain.soap_bpnn.power_spectrum import PowerSpectrum


def transformed(dataset, index, matrix=None, permutation=None) -> InMemoryDataset:
    """Structure ``index`` of ``dataset`` with positions and cell multiplied by
    ``matrix`` (``x -> M x``) and atoms reordered by ``permutation``."""
    s = dataset[index]
    matrix = torch.eye(3, dtype=torch.float64) if matrix is None else matrix
    order = torch.arange(len(s)) if permutation is None else permutation
    moved = Structure(
        s.types[order], s.positions[order] @ matrix.T, s.cell @ matrix.T, s.pbc
    )
    return InMemoryDataset([moved], dataset.info, [dataset.origin(index)])


def descriptor(model, dataset) -> torch.Tensor:
    return model.descriptor(batch_of(model, dataset, [0], labels=False).systems)


def orthogonal(seed: int, reflect: bool) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    if torch.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return -q if reflect else q


def test_rotations_and_reflections_leave_the_descriptor_unchanged(ethanol, carbon):
    for dataset, index in ((ethanol, 5), (carbon, 7)):
        model = tiny_model(dataset)
        reference = descriptor(model, transformed(dataset, index))
        for seed, reflect in ((1, False), (2, True)):
            moved = transformed(dataset, index, orthogonal(seed, reflect))
            torch.testing.assert_close(
                descriptor(model, moved), reference, atol=1e-10, rtol=1e-10
            )


def test_permuting_atoms_permutes_the_descriptor(ethanol, carbon):
    for dataset, index in ((ethanol, 3), (carbon, 11)):
        model = tiny_model(dataset)
        reference = descriptor(model, transformed(dataset, index))
        permutation = torch.randperm(
            len(dataset[index]), generator=torch.Generator().manual_seed(0)
        )
        permuted = descriptor(
            model, transformed(dataset, index, permutation=permutation)
        )
        torch.testing.assert_close(
            permuted, reference[permutation], atol=1e-12, rtol=1e-12
        )


def test_descriptor_has_the_norm_of_the_full_power_spectrum():
    generator = torch.Generator().manual_seed(0)
    channels = [4, 3, 2]
    coefficients = [
        torch.randn(5, k, 2 * ell + 1, generator=generator, dtype=torch.float64)
        for ell, k in enumerate(channels)
    ]
    features = PowerSpectrum(channels)(coefficients)
    assert features.shape == (5, 10 + 6 + 3)
    full = torch.cat(
        [
            (c @ c.transpose(1, 2)).flatten(1) / math.sqrt(2 * ell + 1)
            for ell, c in enumerate(coefficients)
        ],
        dim=1,
    )
    torch.testing.assert_close(features.norm(dim=1), full.norm(dim=1))
