"""PET's spherical heads: the basis built from the edges transforms exactly as each
irrep asks when the features it is given are invariant (Cartesian heads as vectors
and rank-2 tensors do), and a PET model returns spherical targets in their layout;
checkpoints of version 5 keep their Cartesian heads of independent components."""

from __future__ import annotations

import pytest
import torch
from metatomic.torch import ModelOutput
from metatomic.torch.o3 import random_transformations

from atomtrain.modules.spherical import wigner_d
from atomtrain.pet.spherical import CartesianHead, SphericalHead, unsupported_irreps

IRREPS = [(0, 1), (1, 1), (1, -1), (2, 1), (2, -1)]


def test_only_degrees_up_to_two_and_no_pseudoscalar():
    assert unsupported_irreps(IRREPS) == []
    assert unsupported_irreps([(3, 1), (0, -1), (2, 1)]) == [(3, 1), (0, -1)]


def invariant_inputs(n_atoms: int = 4, n_edges: int = 12):
    """Stand-ins for PET's node and edge features of 2 layers (widths 6 and 8),
    independent of the orientation, with cutoff weights, edge centres and random
    edge vectors."""
    centers = torch.arange(n_edges) % n_atoms
    vectors = torch.randn(n_edges, 3, dtype=torch.float64)
    nodes = [torch.randn(n_atoms, 6, dtype=torch.float64) for _ in range(2)]
    edges = [torch.randn(n_edges, 8, dtype=torch.float64) for _ in range(2)]
    weights = torch.rand(n_edges, dtype=torch.float64)
    return nodes, edges, weights, centers, vectors


def test_the_head_is_exactly_equivariant_on_invariant_features():
    torch.manual_seed(0)
    head = SphericalHead(2, 6, 8, 5, IRREPS, 2, 3).to(torch.float64)
    nodes, edges, weights, centers, vectors = invariant_inputs()
    n_atoms = nodes[0].shape[0]
    before = head(nodes, edges, weights, centers, vectors)
    rotation = random_transformations(
        1,
        2,
        device=torch.device("cpu"),
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(1),
    ).matrices[0]
    for matrix in (rotation, -rotation):
        after = head(nodes, edges, weights, centers, vectors @ matrix.T)
        for (lam, sigma), old, new in zip(IRREPS, before, after):
            assert old.shape == (n_atoms, 2 * lam + 1, 2)
            expected = torch.einsum("mn,anp->amp", wigner_d(lam, matrix), old)
            if torch.det(matrix) < 0:
                expected = sigma * expected
            assert old.abs().max() > 1e-6
            torch.testing.assert_close(new, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rank", [1, 2])
def test_a_cartesian_head_rotates_its_tensors_on_invariant_features(rank):
    torch.manual_seed(0)
    head = CartesianHead(2, 6, 8, 5, rank, 2, 3).to(torch.float64)
    nodes, edges, weights, centers, vectors = invariant_inputs()
    keep = torch.tensor([3, 0, 2])
    features = head.last_layer_features(nodes, edges, weights, centers)[keep]

    def tensors(moved: torch.Tensor) -> torch.Tensor:
        flat = head.values(features, nodes, edges, weights, centers, moved, keep)
        return flat.reshape([3] + [3] * rank + [2])

    before = tensors(vectors)
    matrix = -random_transformations(
        1,
        2,
        device=torch.device("cpu"),
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(1),
    ).matrices[0]
    after = tensors(vectors @ matrix.T)
    if rank == 1:
        expected = torch.einsum("ij,ajp->aip", matrix, before)
    else:
        expected = torch.einsum("ij,kl,ajlp->aikp", matrix, matrix, before)
        # the learned antisymmetric part is there, not only the symmetric one
        assert (before - before.transpose(1, 2)).abs().max() > 1e-6
    assert before.abs().max() > 1e-6
    torch.testing.assert_close(after, expected, rtol=1e-10, atol=1e-12)


def test_a_version_5_checkpoint_keeps_its_cartesian_heads_of_components(resources):
    from pet_helpers import read_ethanol, systems_of

    from atomtrain.checkpoints import read_checkpoint_file
    from atomtrain.pet import PET
    from atomtrain.pet.heads import TargetHead

    # written by version 5 (Cartesian heads of 3 and 9 independent components),
    # with the outputs it computed for two ethanol structures
    stored = resources / "checkpoints" / "pet-cartesian-model-v5.ckpt"
    expected = torch.load(stored.with_suffix(".expected.pt"))
    checkpoint = PET.upgrade_checkpoint(read_checkpoint_file(stored))
    assert checkpoint["model"]["hypers"]["cartesian_heads"] == "components"
    model = PET.load_checkpoint(checkpoint, context="export").to(torch.float64)
    assert isinstance(model.heads["mtt::polarizability"], TargetHead)
    ethanol = read_ethanol(resources / "ethanol_reduced_100.xyz", 2)
    systems = systems_of(list(ethanol), model.neighbors)
    outputs = {name: ModelOutput() for name in expected}
    results = model.eval()(systems, outputs)
    for name, values in expected.items():
        torch.testing.assert_close(results[name].block().values, values)


def test_a_pet_with_spherical_targets_scripts_and_keeps_its_outputs(
    tmp_path, resources
):
    from pet_helpers import read_ethanol, systems_of, tiny_hypers

    from atomtrain.data.info import DatasetInfo, TargetInfo
    from atomtrain.pet import PET

    targets = {
        "mtt::tensor": TargetInfo(kind="spherical", irreps=tuple(IRREPS)),
        "mtt::atomic": TargetInfo(
            kind="spherical", irreps=((1, 1),), sample_kind="atom"
        ),
    }
    info = DatasetInfo(atomic_types=[1, 6, 8], targets=targets)
    torch.manual_seed(0)
    model = PET(tiny_hypers(), info).to(torch.float64).eval()
    ethanol = read_ethanol(resources / "ethanol_reduced_100.xyz", 2)
    systems = systems_of(list(ethanol), model.requested_neighbor_lists()[0])
    outputs = {name: t.model_output() for name, t in targets.items()}
    eager = model(systems, outputs, None)
    assert [tuple(k) for k in eager["mtt::tensor"].keys.values.tolist()] == IRREPS
    assert eager["mtt::atomic"].block().values.shape[1:] == (3, 1)
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, tmp_path / "model.pt")
    again = torch.jit.load(tmp_path / "model.pt")(systems, outputs, None)
    for name in targets:
        for a, b in zip(eager[name].blocks(), again[name].blocks()):
            torch.testing.assert_close(a.values, b.values)
    assert "mtt::aux::tensor_last_layer_features" not in model.supported_outputs()
