"""Checks of the TensorMaps a model returns: layout, samples, selections, symmetry.

Layouts are compared with :meth:`TargetInfo.layout`, the layout of the labels the
training engine builds, so that a model passing these checks trains and exports.
"""

from __future__ import annotations

from typing import List, Sequence

import torch
from metatensor.torch import Labels, TensorMap
from metatomic.torch.o3 import random_transformations

from ..data.info import TargetInfo
from ..data.structure import Structure
from .probe import Probe, fail
from .systems import transformed


def expected_samples(structures: Sequence[Structure], info: TargetInfo) -> torch.Tensor:
    """The sample values of a target over ``structures`` (``[n, 1]`` or ``[n, 2]``)."""
    if not info.per_atom:
        return torch.arange(len(structures), dtype=torch.int32).reshape(-1, 1)
    rows = [
        [s, a] for s, structure in enumerate(structures) for a in range(len(structure))
    ]
    return torch.tensor(rows, dtype=torch.int32).reshape(-1, 2)


def _sorted_rows(values: torch.Tensor) -> torch.Tensor:
    order = sorted(range(values.shape[0]), key=lambda i: values[i].tolist())
    return values[order]


def check_layout(
    tensor: TensorMap,
    name: str,
    info: TargetInfo,
    structures: Sequence[Structure],
    dtype: torch.dtype,
) -> None:
    """``tensor`` has the keys, samples, components, properties and dtype of target
    ``name`` over ``structures``, and finite values."""
    layout = info.layout(name)
    fix = (
        "build the output TensorMap with the keys, components and properties of "
        f"TargetInfo.layout('{name}') (atomtrain.data.info) and one sample per "
        + ("atom ('system', 'atom')" if info.per_atom else "structure ('system')")
    )
    if tensor.keys != layout.keys:
        raise fail(
            f"output '{name}' has keys {tensor.keys}, expected {layout.keys}", fix
        )
    samples = expected_samples(structures, info)
    for key_index in range(len(layout)):
        got, want = tensor.block(key_index), layout.block(key_index)
        where = f"output '{name}', block {key_index}"
        if got.samples.names != want.samples.names:
            raise fail(
                f"{where} has sample names {got.samples.names}, expected "
                f"{want.samples.names}",
                fix,
            )
        if not torch.equal(_sorted_rows(got.samples.values.cpu()), samples):
            raise fail(
                f"{where} has samples {got.samples.values.tolist()[:6]}..., expected "
                f"{samples.tolist()[:6]}... ({samples.shape[0]} in all)",
                fix,
            )
        if [c.names for c in got.components] != [c.names for c in want.components]:
            raise fail(
                f"{where} has components {[c.names for c in got.components]}, "
                f"expected {[c.names for c in want.components]}",
                fix,
            )
        if got.properties != want.properties:
            raise fail(
                f"{where} has properties {got.properties}, expected {want.properties}",
                fix,
            )
        if got.values.dtype != dtype:
            raise fail(
                f"{where} is {got.values.dtype} for systems in {dtype}",
                "compute outputs in the dtype of the systems' positions",
            )
        if not bool(torch.isfinite(got.values).all()):
            raise fail(
                f"{where} has non-finite values",
                "avoid divisions by zero "
                "distances and logarithms of zero; check isolated atoms",
            )


def check_selected_atoms(probe: Probe, structures: List[Structure], name: str) -> None:
    """A per-atom output restricted with ``selected_atoms`` holds exactly the selected
    atoms, with the values they have without selection."""
    full = probe.run(structures, [name])[name].block()
    chosen = [
        [s, a] for s, st in enumerate(structures) for a in range(len(st)) if a % 2 == 0
    ]
    selection = Labels(["system", "atom"], torch.tensor(chosen, dtype=torch.int32))
    part = probe.run(structures, [name], selected_atoms=selection)[name].block()
    fix = (
        "honour selected_atoms: return only the selected atoms (samples 'system', "
        "'atom' as given), computed with the full environment of each atom"
    )
    rows = {tuple(r): i for i, r in enumerate(full.samples.values.tolist())}
    got = [tuple(r) for r in part.samples.values.tolist()]
    if sorted(got) != sorted(tuple(c) for c in chosen):
        raise fail(f"selected_atoms {chosen[:4]}... gave samples {got[:4]}...", fix)
    expected = full.values[[rows[r] for r in got]]
    if not torch.allclose(part.values, expected, rtol=1e-6, atol=1e-8):
        raise fail("selected atoms have other values than without a selection", fix)


def check_selected_atoms_sum(
    probe: Probe, structures: List[Structure], name: str
) -> None:
    """A per-structure output with ``selected_atoms`` sums the contributions of the
    selected atoms only (what LAMMPS relies on to leave out its ghost atoms): the
    outputs of two complementary selections add up to the output without one."""
    full = probe.run(structures, [name])[name].block().values
    halves = []
    for parity in (0, 1):
        chosen = [
            [s, a]
            for s, structure in enumerate(structures)
            for a in range(len(structure))
            if a % 2 == parity
        ]
        selection = Labels(["system", "atom"], torch.tensor(chosen, dtype=torch.int32))
        halves.append(
            probe.run(structures, [name], selected_atoms=selection)[name].block().values
        )
    total = halves[0] + halves[1]
    if not torch.allclose(total, full, rtol=1e-6, atol=1e-8):
        raise fail(
            f"'{name}' of the even-numbered atoms ({halves[0][:, 0].tolist()}) plus "
            f"that of the odd-numbered ones ({halves[1][:, 0].tolist()}) is "
            f"{total[:, 0].tolist()}, not the '{name}' of all atoms "
            f"({full[:, 0].tolist()})",
            "sum per-structure outputs over the atoms of selected_atoms only (the "
            "composition baseline too: pass selected_atoms on to it); atoms outside "
            "the selection still act as neighbours",
        )


def check_selected_all_atoms(
    probe: Probe, structures: List[Structure], name: str
) -> None:
    """Selecting every atom gives the same per-structure output as no selection."""
    everything = expected_samples(structures, TargetInfo(sample_kind="atom"))
    selection = Labels(["system", "atom"], everything)
    full = probe.run(structures, [name])[name].block().values
    part = probe.run(structures, [name], selected_atoms=selection)[name].block().values
    if not torch.allclose(part, full, rtol=1e-6, atol=1e-8):
        raise fail(
            f"'{name}' with every atom in selected_atoms differs from no selection",
            "sum per-structure outputs over the selected atoms only, and over all "
            "atoms when selected_atoms is None",
        )


def _transform_values(
    values: torch.Tensor,
    info: TargetInfo,
    key_index: int,
    operation: torch.nn.Module,
    invert: bool,
) -> torch.Tensor:
    """``values`` of block ``key_index`` transformed by the single ``operation``,
    composed with the inversion when ``invert``."""
    matrix = operation.matrices[0]  # type: ignore[index]
    matrix = -matrix if invert else matrix
    if info.kind == "scalar":
        return values
    if info.kind == "cartesian":
        for axis in range(1, info.rank + 1):
            values = torch.movedim(
                torch.tensordot(values, matrix, dims=([axis], [1])), -1, axis
            )
        return values
    lam, sigma = info.irreps[key_index]
    moved = operation.transform_spherical(  # type: ignore[operator]
        values.transpose(-1, -2), lam, sigma, add_inversion=invert
    )
    return moved.transpose(-1, -2)


def check_equivariance(
    probe: Probe,
    structures: List[Structure],
    name: str,
    info: TargetInfo,
    tolerance: float,
) -> None:
    """Under random rotations ``R`` and improper rotations ``-R``: scalars are
    invariant, Cartesian tensors transform with the matrix on each axis and spherical
    blocks with the Wigner D matrices of their ``(o3_lambda, o3_sigma)``."""
    max_lambda = max((lam for lam, _ in info.irreps), default=0)
    with torch.no_grad():
        reference = probe.run(structures, [name])[name]
        for seed in range(2):
            operation = random_transformations(
                1,
                max_lambda,
                device=torch.device("cpu"),
                dtype=torch.float64,
                generator=torch.Generator().manual_seed(seed),
            )
            for invert in (False, True):
                matrix = operation.matrices[0] * (-1.0 if invert else 1.0)
                moved_structures = [transformed(s, matrix) for s in structures]
                moved = probe.run(moved_structures, [name])[name]
                for key_index in range(len(reference)):
                    expected = _transform_values(
                        reference.block(key_index).values.to(torch.float64),
                        info,
                        key_index,
                        operation,
                        invert,
                    )
                    got = moved.block(key_index).values.to(torch.float64)
                    _compare_transformed(
                        got, expected, name, info, key_index, invert, tolerance
                    )


def _compare_transformed(
    got: torch.Tensor,
    expected: torch.Tensor,
    name: str,
    info: TargetInfo,
    key_index: int,
    inverted: bool,
    tolerance: float,
) -> None:
    scale = max(float(expected.abs().max()), 1e-12)
    error = float((got - expected).abs().max()) / scale
    if error > tolerance:
        raise fail(
            f"output '{name}' ({info.kind}, block {key_index}) is off by {error:.2e} "
            f"(relative; tolerance {tolerance:.0e}) from the "
            f"{'reflected' if inverted else 'rotated'} prediction",
            "make the output transform like the target under O(3) (metatensor's "
            "component order: xyz, and o3_mu from -λ to λ for spherical blocks, with "
            "o3_sigma giving the parity); if the architecture is only approximately "
            "equivariant, raise rotation_tolerance in its test class",
        )
