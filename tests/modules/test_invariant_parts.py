"""The composition baseline of tensor targets' invariant parts: the (0, 1) block of a
spherical polarizability and the isotropic part of a Cartesian one, fitted on QM9
structures with labels made from chosen per-type weights, removed from the labels
by the engine and added back by the models."""

from pathlib import Path
from typing import List

import ase
import numpy as np
import pytest
import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from atomtrain.data.info import TargetInfo
from atomtrain.data.structure import TargetData
from atomtrain.modules.composition import CompositionBaseline
from atomtrain.modules.equivariant import cartesian_matrix
from atomtrain.modules.invariant_parts import add_invariant_baseline, invariant_block
from atomtrain.training.baseline import ResidualDataset

#: Isotropic polarizability per type (bohr³), what the labels are made of.
WEIGHTS = {1: 2.5, 6: 10.0, 7: 8.0, 8: 6.0, 9: 3.5}
SPHERICAL = TargetInfo(kind="spherical", irreps=((0, 1), (2, 1)))
CARTESIAN = TargetInfo(kind="cartesian", rank=2)
DIPOLE = TargetInfo(kind="spherical", irreps=((1, 1),))


def polarizabilities(frames: List[ase.Atoms]) -> List[np.ndarray]:
    """Symmetric 3 by 3 tensors whose isotropic part (a third of the trace) is the
    sum of the per-type weights, plus a random anisotropic part."""
    rng = np.random.default_rng(0)
    tensors = []
    for atoms in frames:
        anisotropic = rng.normal(size=(3, 3))
        anisotropic = anisotropic + anisotropic.T
        anisotropic -= np.trace(anisotropic) / 3 * np.eye(3)
        isotropic = sum(WEIGHTS[int(z)] for z in atoms.numbers)
        tensors.append(isotropic * np.eye(3) + anisotropic)
    return tensors


def spherical_block(tensor: np.ndarray, lam: int) -> np.ndarray:
    spherical = cartesian_matrix(2).numpy().T @ tensor.reshape(9)
    part = spherical[:1] if lam == 0 else spherical[4:]
    return part.reshape(1, -1, 1)


@pytest.fixture
def datasets(qm9_frames, resources: Path, make_dataset):
    tensors = iter(polarizabilities(qm9_frames))
    by_frame = {id(atoms): next(tensors) for atoms in qm9_frames}

    def cartesian(atoms):
        return by_frame[id(atoms)].reshape(1, 3, 3, 1)

    path = resources / "qm9_reduced_100.xyz"
    cartesian_set = make_dataset(
        path, {"alpha": cartesian}, {"alpha": CARTESIAN}, qm9_frames
    )
    spherical_set = make_dataset(
        path, {"alpha": cartesian}, {"alpha": SPHERICAL}, qm9_frames
    )
    # the spherical labels: two blocks, λ = 0 then λ = 2
    for structure, atoms in zip(spherical_set.structures, qm9_frames):
        tensor = by_frame[id(atoms)]
        blocks = [torch.tensor(spherical_block(tensor, lam)) for lam in (0, 2)]
        structure.targets["alpha"] = TargetData(blocks)
    return {"spherical": spherical_set, "cartesian": cartesian_set}


def test_which_block_holds_the_invariant_part():
    assert invariant_block(SPHERICAL) == 0
    assert invariant_block(TargetInfo(kind="spherical", irreps=((2, 1), (0, 1)))) == 1
    assert invariant_block(CARTESIAN) == 0
    assert invariant_block(DIPOLE) == -1
    assert invariant_block(TargetInfo(kind="cartesian", rank=1)) == -1


def test_a_baseline_is_fitted_on_the_invariant_part_only(datasets):
    for form, dataset in datasets.items():
        baseline = CompositionBaseline(
            dataset.info.atomic_types, {"alpha": dataset.info.targets["alpha"]}
        )
        assert baseline.supported_targets == ["alpha"], form
        baseline.fit([dataset])
        weights = baseline.target_weights("alpha")[:, 0]
        # a third of the trace for the Cartesian form, −trace/√3 for λ = 0
        factor = 1.0 if form == "cartesian" else -(3**0.5)
        expected = torch.tensor(
            [factor * WEIGHTS[t] for t in baseline.atomic_types], dtype=torch.float64
        )
        torch.testing.assert_close(weights, expected, rtol=1e-9, atol=1e-9)


def test_residual_labels_keep_only_the_anisotropic_part(datasets):
    spherical = datasets["spherical"]
    baseline = CompositionBaseline(spherical.info.atomic_types, spherical.info.targets)
    baseline.fit([spherical])
    residual = ResidualDataset(spherical, baseline, ["alpha"])
    for index in (0, 17):
        before = spherical[index].targets["alpha"].blocks
        after = residual[index].targets["alpha"].blocks
        assert float(after[0].abs().max()) < 1e-9
        torch.testing.assert_close(after[1], before[1])

    cartesian = datasets["cartesian"]
    baseline = CompositionBaseline(cartesian.info.atomic_types, cartesian.info.targets)
    baseline.fit([cartesian])
    label = ResidualDataset(cartesian, baseline, ["alpha"])[3].targets["alpha"]
    tensor = label.blocks[0][0, :, :, 0]
    assert abs(float(torch.trace(tensor))) < 1e-9
    original = cartesian[3].targets["alpha"].blocks[0][0, :, :, 0]
    off_diagonal = ~torch.eye(3, dtype=torch.bool)
    torch.testing.assert_close(tensor[off_diagonal], original[off_diagonal])


def _spherical_map(n: int) -> TensorMap:
    keys = Labels(["o3_lambda", "o3_sigma"], torch.tensor([[0, 1], [2, 1]]))
    samples = Labels.range("system", n)
    blocks = [
        TensorBlock(
            torch.ones((n, 2 * lam + 1, 1), dtype=torch.float64),
            samples,
            [Labels.range("o3_mu", 2 * lam + 1)],
            Labels.range("properties", 1),
        )
        for lam in (0, 2)
    ]
    return TensorMap(keys, blocks)


def test_models_add_the_baseline_to_the_invariant_block_only():
    baseline = TensorMap(
        Labels.single(),
        [
            TensorBlock(
                torch.tensor([[3.0], [5.0]], dtype=torch.float64),
                Labels.range("system", 2),
                [],
                Labels.range("properties", 1),
            )
        ],
    )
    scripted = torch.jit.script(add_invariant_baseline)
    for add in (add_invariant_baseline, scripted):
        result = add(_spherical_map(2), baseline)
        assert result.block(0).values[:, 0, 0].tolist() == [4.0, 6.0]
        assert bool((result.block(1).values == 1.0).all())

    cartesian = TensorMap(
        Labels.single(),
        [
            TensorBlock(
                torch.zeros((2, 3, 3, 1), dtype=torch.float64),
                Labels.range("system", 2),
                [Labels.range("xyz_1", 3), Labels.range("xyz_2", 3)],
                Labels.range("properties", 1),
            )
        ],
    )
    values = scripted(cartesian, baseline).block().values[..., 0]
    torch.testing.assert_close(values[1], 5.0 * torch.eye(3, dtype=torch.float64))
