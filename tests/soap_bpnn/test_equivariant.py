"""Spherical targets of SOAP-BPNN: the equivariant basis of each irrep, the layout
of the outputs, their rotation and inversion, and the exported model."""

from __future__ import annotations

import pytest
import torch
from metatensor.torch import Labels
from metatomic.torch import ModelOutput
from metatomic.torch.o3 import random_transformations
from soap_helpers import TINY, batch_of

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure
from atomtrain.modules.equivariant import basis_size, couplings
from atomtrain.modules.spherical import clebsch_gordan, wigner_d
from atomtrain.soap_bpnn import SoapBpnn
from atomtrain.testing.base import with_baseline_weights

IRREPS = ((0, 1), (1, 1), (1, -1), (2, 1), (2, -1), (3, 1))
TARGETS = {
    "mtt::tensor": TargetInfo(kind="spherical", irreps=IRREPS, num_subtargets=2),
    "mtt::atomic": TargetInfo(kind="spherical", irreps=((1, 1),), sample_kind="atom"),
    "mtt::vector": TargetInfo(kind="cartesian", rank=1),
    "mtt::matrix": TargetInfo(kind="cartesian", rank=2, num_subtargets=2),
}


def _model(ethanol) -> SoapBpnn:
    info = DatasetInfo(atomic_types=[1, 6, 8], targets=TARGETS)
    torch.manual_seed(0)
    return SoapBpnn(TINY, info).to(torch.float64)  # type: ignore[arg-type]


def _run(model, structures, names=tuple(TARGETS)):
    systems = batch_of(model, _dataset(structures), range(len(structures)), False)
    systems = systems.systems
    outputs = {n: TARGETS[n].model_output() for n in names}
    return model(systems, outputs, None)


def _dataset(structures) -> InMemoryDataset:
    info = DatasetInfo(atomic_types=[1, 6, 8])
    return InMemoryDataset(structures, info, [("-", i) for i in range(len(structures))])


def _moved(structure: Structure, matrix: torch.Tensor) -> Structure:
    return Structure(
        types=structure.types,
        positions=structure.positions @ matrix.T,
        cell=structure.cell @ matrix.T,
        pbc=structure.pbc,
    )


def test_the_couplings_have_the_parity_of_the_irrep():
    assert couplings(2, 1, 1) == [(0, 1), (1, 2)]
    assert couplings(2, 1, -1) == [(1, 1), (2, 2)]
    assert couplings(3, 0, -1) == []
    # channels of l = 0 .. 2: 6, 4, 2; 3 mixed channels
    assert basis_size([6, 4, 2], 3, 1, 1) == 4 + 9 * 2
    assert basis_size([6, 4, 2], 3, 1, -1) == 9 * 2
    assert basis_size([6, 4, 2], 3, 0, 1) == 1
    assert basis_size([6, 4, 2], 3, 0, -1) == 0
    assert basis_size([6, 4, 2], 3, 5, 1) == 0


def test_clebsch_gordan_of_two_vectors_is_the_cross_product():
    first, second = (
        torch.randn(3, dtype=torch.float64),
        torch.randn(3, dtype=torch.float64),
    )
    # sphericart's l = 1 components are (y, z, x)
    to_xyz = [2, 0, 1]
    coupled = torch.einsum("abm,a,b->m", clebsch_gordan(1, 1, 1), first, second)
    cross = torch.linalg.cross(first[to_xyz], second[to_xyz])
    ratio = coupled[to_xyz] / cross
    torch.testing.assert_close(ratio, ratio[0].expand(3))
    assert abs(float(ratio[0])) > 0.1


def test_layout_of_the_outputs(ethanol):
    model = _model(ethanol)
    structures = [ethanol[0], ethanol[1]]
    outputs = _run(model, structures)
    tensor = outputs["mtt::tensor"]
    assert tensor.keys.names == ["o3_lambda", "o3_sigma"]
    assert [tuple(k) for k in tensor.keys.values.tolist()] == list(IRREPS)
    for (lam, _), block in zip(IRREPS, tensor.blocks()):
        assert block.values.shape == (2, 2 * lam + 1, 2)
        assert block.components[0].values.flatten().tolist() == list(
            range(-lam, lam + 1)
        )
    atomic = outputs["mtt::atomic"].block()
    assert atomic.values.shape == (18, 3, 1)
    assert atomic.samples.names == ["system", "atom"]


def test_outputs_rotate_with_the_wigner_matrices_and_invert_with_the_parity(
    ethanol,
):
    model = _model(ethanol)
    structures = [ethanol[3], ethanol[7]]
    reference = _run(model, structures)["mtt::tensor"]
    generator = torch.Generator().manual_seed(4)
    rotation = random_transformations(
        1, 3, device=torch.device("cpu"), dtype=torch.float64, generator=generator
    ).matrices[0]
    for matrix in (rotation, -rotation):
        moved = _run(model, [_moved(s, matrix) for s in structures])["mtt::tensor"]
        for (lam, sigma), before, after in zip(
            IRREPS, reference.blocks(), moved.blocks()
        ):
            wigner = wigner_d(lam, matrix)
            expected = torch.einsum("mn,snp->smp", wigner, before.values)
            if torch.det(matrix) < 0:
                expected = expected * sigma
            assert before.values.abs().max() > 1e-6
            torch.testing.assert_close(after.values, expected, atol=1e-10, rtol=1e-8)


def test_improper_blocks_change_sign_under_inversion_only(ethanol):
    model = _model(ethanol)
    structure = ethanol[5]
    reference = _run(model, [structure])["mtt::tensor"]
    inverted = _run(model, [_moved(structure, -torch.eye(3, dtype=torch.float64))])
    for (lam, sigma), before, after in zip(
        IRREPS, reference.blocks(), inverted["mtt::tensor"].blocks()
    ):
        sign = sigma * (-1) ** lam
        torch.testing.assert_close(after.values, sign * before.values)


def test_torchscript_export_gives_the_same_tensors(ethanol, tmp_path):
    model = _model(ethanol).eval()
    structures = [ethanol[0], ethanol[2]]
    eager = _run(model, structures)
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, tmp_path / "model.pt")
    loaded = torch.jit.load(tmp_path / "model.pt")
    systems = batch_of(model, _dataset(structures), [0, 1], labels=False).systems
    outputs = {n: TARGETS[n].model_output() for n in TARGETS}
    again = loaded(systems, outputs, None)
    for name in TARGETS:
        for a, b in zip(eager[name].blocks(), again[name].blocks()):
            torch.testing.assert_close(a.values, b.values)


@pytest.mark.parametrize("name", ["mtt::atomic", "mtt::tensor"])
def test_selected_atoms_restrict_spherical_outputs(ethanol, name):
    model = _model(ethanol)
    systems = batch_of(model, _dataset([ethanol[0]]), [0], labels=False).systems
    as_atoms = {name: ModelOutput(sample_kind="atom")}
    per_atom = model(systems, as_atoms, None)[name]
    selected = Labels(["system", "atom"], torch.tensor([[0, 2], [0, 5]]))
    request = {name: TARGETS[name].model_output()}
    chosen = model(systems, request, selected)[name]
    for atoms, some in zip(per_atom.blocks(), chosen.blocks()):
        if TARGETS[name].per_atom:
            torch.testing.assert_close(some.values, atoms.values[[2, 5]])
        else:
            expected = atoms.values[2] + atoms.values[5]
            torch.testing.assert_close(some.values[0], expected)


def test_cartesian_targets_rotate_as_tensors(ethanol):
    model = _model(ethanol)
    structures = [ethanol[1], ethanol[8]]
    names = ("mtt::vector", "mtt::matrix")
    reference = _run(model, structures, names)
    vector = reference["mtt::vector"].block()
    matrix = reference["mtt::matrix"].block()
    assert vector.values.shape == (2, 3, 1)
    assert [c.names for c in matrix.components] == [["xyz_1"], ["xyz_2"]]
    assert matrix.values.shape == (2, 3, 3, 2)
    # a general rank-2 tensor: its antisymmetric part is learned too
    assert (matrix.values - matrix.values.transpose(1, 2)).abs().max() > 1e-8
    generator = torch.Generator().manual_seed(6)
    rotation = random_transformations(
        1, 1, device=torch.device("cpu"), dtype=torch.float64, generator=generator
    ).matrices[0]
    for r in (rotation, -rotation):
        moved = _run(model, [_moved(s, r) for s in structures], names)
        torch.testing.assert_close(
            moved["mtt::vector"].block().values,
            torch.einsum("ab,sbp->sap", r, vector.values),
        )
        torch.testing.assert_close(
            moved["mtt::matrix"].block().values,
            torch.einsum("ab,cd,sbdp->sacp", r, r, matrix.values),
        )


def test_the_baseline_shifts_the_invariant_parts_only(ethanol):
    model = _model(ethanol)
    structures = [ethanol[3], ethanol[7]]
    before = _run(model, structures)
    assert model.composition_baseline.supported_targets == [
        "mtt::tensor",
        "mtt::matrix",
    ]
    with_baseline_weights(model)
    after = _run(model, structures)
    counts = torch.stack(
        [torch.bincount(s.types.long(), minlength=9)[[1, 6, 8]] for s in structures]
    ).to(torch.float64)
    shift = counts @ model.composition_baseline.target_weights("mtt::tensor")
    for (lam, sigma), old, new in zip(
        IRREPS, before["mtt::tensor"].blocks(), after["mtt::tensor"].blocks()
    ):
        expected = (
            old.values + shift.unsqueeze(1) if (lam, sigma) == (0, 1) else old.values
        )
        torch.testing.assert_close(new.values, expected)
    shift = counts @ model.composition_baseline.target_weights("mtt::matrix")
    eye = torch.eye(3, dtype=torch.float64).reshape(1, 3, 3, 1)
    torch.testing.assert_close(
        after["mtt::matrix"].block().values,
        before["mtt::matrix"].block().values + eye * shift.reshape(2, 1, 1, 2),
    )
    torch.testing.assert_close(
        after["mtt::vector"].block().values, before["mtt::vector"].block().values
    )
