"""Physics checks of a model's energy-like output, as plain functions.

Each check evaluates a :class:`~.probe.Probe` on generated structures and raises a
:class:`~.probe.ConformanceError` saying what the architecture must change. The suite's
test classes call them; an architecture's own tests may call them directly.
"""

from __future__ import annotations

import math
from typing import Callable, List, Sequence, Tuple

import torch
from metatomic.torch.o3 import random_transformations

from ..data.structure import Structure
from .probe import Probe, fail
from .systems import (
    joined,
    make_leaves,
    permuted,
    supercell,
    transformed,
    translated,
)

#: Step of the central finite differences, in Å (and unit strain).
STEP = 1e-5


def _max_relative(a: torch.Tensor, b: torch.Tensor) -> float:
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-12)
    return float((a - b).abs().max()) / scale


def check_forces(probe: Probe, structure: Structure, tolerance: float = 1e-6) -> None:
    """dE/dr by autograd agrees with central finite differences (float64)."""
    _, leaves = probe.energy_and_gradients(structure)
    analytic = leaves.positions.grad
    assert analytic is not None
    numeric = torch.zeros_like(structure.positions)
    for atom in range(len(structure)):
        for axis in range(3):
            shifted = []
            for sign in (1.0, -1.0):
                moved = translated(structure, torch.zeros(3, dtype=torch.float64))
                moved.positions[atom, axis] += sign * STEP
                shifted.append(probe.energy([moved])[0])
            numeric[atom, axis] = (shifted[0] - shifted[1]) / (2 * STEP)
    error = _max_relative(analytic.to(torch.float64), numeric)
    if error > tolerance:
        raise fail(
            f"dE/dpositions from autograd differs from finite differences by "
            f"{error:.2e} (relative; tolerance {tolerance:.0e}).\n  autograd: "
            f"{analytic[0].tolist()}\n  finite differences: {numeric[0].tolist()}",
            "compute the energy from positions (and the neighbour-list vectors) with "
            "differentiable operations only: no .detach(), no in-place edits of "
            "inputs, no custom autograd.Function with a wrong backward; forces are "
            "-dE/dr",
        )


def check_stress(probe: Probe, structure: Structure, tolerance: float = 1e-6) -> None:
    """dE/dε by autograd agrees with finite strains of a periodic structure."""
    _, leaves = probe.energy_and_gradients(structure)
    analytic = leaves.strain.grad
    assert analytic is not None
    numeric = torch.zeros((3, 3), dtype=torch.float64)
    for i in range(3):
        for j in range(3):
            shifted = []
            for sign in (1.0, -1.0):
                deformation = torch.eye(3, dtype=torch.float64)
                deformation[i, j] += sign * STEP
                strained = translated(structure, torch.zeros(3, dtype=torch.float64))
                strained.positions = structure.positions @ deformation
                strained.cell = structure.cell @ deformation
                shifted.append(probe.energy([strained])[0])
            numeric[i, j] = (shifted[0] - shifted[1]) / (2 * STEP)
    error = _max_relative(analytic.to(torch.float64), numeric)
    if error > tolerance:
        raise fail(
            f"dE/dstrain from autograd differs from finite strains by {error:.2e} "
            f"(relative).\n  autograd: {analytic.tolist()}\n  finite: "
            f"{numeric.tolist()}",
            "use the neighbour-list vectors given in the systems (they carry the cell "
            "and its strain); never recompute pair vectors from positions alone or "
            "use cell shifts without the cell",
        )


def check_gradcheck(probe: Probe, structure: Structure) -> None:
    """``torch.autograd.gradcheck`` and ``gradgradcheck`` on positions and strain
    (float64): first and second derivatives are consistent."""
    leaves = make_leaves(structure, torch.float64)

    def energy(positions: torch.Tensor, strain: torch.Tensor) -> torch.Tensor:
        from .systems import Leaves

        values = probe.values([structure], "energy", [Leaves(positions, strain)])
        return values[:, 0].sum()

    inputs = (leaves.positions, leaves.strain)
    for check, what in (
        (torch.autograd.gradcheck, "first"),
        (torch.autograd.gradgradcheck, "second"),
    ):
        try:
            check(energy, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, raise_exception=True)
        except RuntimeError as error:
            raise fail(
                f"torch.autograd.{check.__name__} failed on positions and strain: "
                f"{str(error).splitlines()[0]}",
                f"make the {what} derivatives of the energy correct: training on "
                "forces back-propagates through dE/dr (create_graph=True), so every "
                "operation must be twice differentiable",
            ) from error


def check_zero_forces(probe: Probe, structure: Structure) -> None:
    """For a model whose outputs do not depend on positions: dE/dr and dE/dε are 0."""
    _, leaves = probe.energy_and_gradients(structure)
    for name, leaf in (("positions", leaves.positions), ("strain", leaves.strain)):
        assert leaf.grad is not None
        if bool((leaf.grad != 0).any()):
            raise fail(
                f"the energy depends on {name} (dE/d{name} max "
                f"{float(leaf.grad.abs().max()):.2e}) although the suite was told "
                "depends_on_positions = False",
                "set depends_on_positions = True in the test class, or remove the "
                "dependence",
            )


def check_forces_are_not_zero(probe: Probe, structure: Structure) -> None:
    """A position-dependent model has non-zero forces (else the other checks pass
    for nothing)."""
    _, leaves = probe.energy_and_gradients(structure)
    assert leaves.positions.grad is not None
    if not bool((leaves.positions.grad != 0).any()):
        raise fail(
            "dE/dr is exactly zero for a structure with atoms within the cutoff",
            "initialise the model so that a fresh one depends on positions (no "
            "zero-initialised output layer), or set depends_on_positions = False",
        )


Transform = Callable[[Structure], Structure]


def check_rotation_invariance(
    probe: Probe, structures: List[Structure], tolerance: float, seed: int = 0
) -> None:
    """Per-structure scalars are invariant under random rotations and reflections."""
    generator = torch.Generator().manual_seed(seed)
    rotations = random_transformations(
        2, device=torch.device("cpu"), dtype=torch.float64, generator=generator
    ).matrices
    operations = torch.cat([rotations, -rotations])
    reference = probe.energy(structures)
    for matrix in operations:
        moved = probe.energy([transformed(s, matrix) for s in structures])
        error = _max_relative(moved, reference)
        if error > tolerance:
            kind = "reflection" if float(torch.det(matrix)) < 0 else "rotation"
            raise fail(
                f"the energy changes by {error:.2e} (relative; tolerance "
                f"{tolerance:.0e}) under a {kind} of the structures",
                "build features from rotation-invariant quantities only (distances, "
                "angles, invariant contractions of equivariant features); if the "
                "architecture is only approximately invariant, raise "
                "rotation_tolerance in its test class",
            )


def check_permutation_invariance(
    probe: Probe, structure: Structure, tolerance: float = 1e-10
) -> None:
    """The energy does not depend on the order of the atoms."""
    order = torch.randperm(len(structure), generator=torch.Generator().manual_seed(3))
    reference = probe.energy([structure])
    moved = probe.energy([permuted(structure, order)])
    error = _max_relative(moved, reference)
    if error > tolerance:
        raise fail(
            f"listing the atoms in another order changes the energy by {error:.2e}",
            "aggregate over atoms and neighbours with sums or other symmetric "
            "reductions; never use an atom's index as a feature",
        )


def check_batch_independence(
    probe: Probe, first: Structure, second: Structure, tolerance: float = 1e-10
) -> None:
    """A structure's energy does not depend on the other structures of its batch,
    and has no gradient with respect to their positions."""
    alone = probe.energy([first])[0]
    leaves = [make_leaves(first, probe.dtype), make_leaves(second, probe.dtype)]
    values = probe.values([first, second], "energy", leaves=leaves)[:, 0]
    together = float(values[0].detach())
    if abs(together - float(alone)) > tolerance * max(1.0, abs(float(alone))):
        raise fail(
            f"the energy of a structure is {float(alone):.10g} alone and "
            f"{together:.10g} in a batch with another structure",
            "compute every structure independently: no normalisation or statistics "
            "over the whole batch (batch norm, means over all atoms), no mixing of "
            "atoms of different systems",
        )
    if not values.requires_grad:
        return
    (gradient,) = torch.autograd.grad(
        values[0], [leaves[1].positions], allow_unused=True
    )
    if gradient is not None and bool((gradient != 0).any()):
        raise fail(
            "the energy of the first structure of a batch has a non-zero gradient "
            f"(max {float(gradient.abs().max()):.2e}) with respect to the positions "
            "of the second",
            "keep the structures of a batch separate in the computation graph: no "
            "batch-wide normalisation, no neighbour pairs across systems",
        )


def check_far_apart_copies(probe: Probe, structure: Structure) -> None:
    """A non-periodic structure next to a copy of itself 100 Å away has twice the
    energy of one."""
    far = translated(structure, torch.tensor([100.0, 0.0, 0.0], dtype=torch.float64))
    single = float(probe.energy([structure])[0])
    double = float(probe.energy([joined(structure, far)])[0])
    if not math.isclose(double, 2 * single, rel_tol=1e-8, abs_tol=1e-10):
        raise fail(
            f"two far-apart copies of a structure have energy {double!r}, "
            f"{double - 2 * single:+.3e} from twice the energy of one ({2 * single!r})",
            "make the energy a sum of local contributions: no dependence on the "
            "number of atoms or on atoms beyond the interaction range",
        )


def check_supercell(
    probe: Probe, structure: Structure, repeats: Sequence[int] = (2, 1, 1)
) -> None:
    """A periodic structure repeated along its cell vectors has its energy times the
    number of copies: the model sees the same periodic environments."""
    copies = int(torch.tensor(list(repeats)).prod())
    single = float(probe.energy([structure])[0])
    repeated = float(probe.energy([supercell(structure, repeats)])[0])
    if not math.isfinite(single) or not math.isclose(
        repeated, copies * single, rel_tol=1e-8, abs_tol=1e-10
    ):
        raise fail(
            f"a periodic cell of {len(structure)} atoms has energy {single!r}, and "
            f"its {'x'.join(str(n) for n in repeats)} supercell {repeated!r}, "
            f"{repeated - copies * single:+.3e} from {copies} times the cell's",
            "use the pair vectors of the neighbour lists (they include the cell "
            "shifts, r_j - r_i + S @ cell) rather than differences of positions; "
            "pairs of an atom with its own periodic images (i == j, S != 0) are "
            "neighbours too",
        )


def _pair(first: int, second: int, distance: float) -> Structure:
    return Structure(
        types=torch.tensor([first, second], dtype=torch.int32),
        positions=torch.tensor(
            [[0.0, 0.0, 0.0], [distance, 0.0, 0.0]], dtype=torch.float64
        ),
        cell=torch.zeros((3, 3), dtype=torch.float64),
        pbc=torch.zeros(3, dtype=torch.bool),
    )


def _pair_energy_and_force(probe: Probe, pair: Structure) -> Tuple[float, float]:
    """Energy of two atoms on the x axis and dE/dx of the second (dE/dr)."""
    energy, leaves = probe.energy_and_gradients(pair)
    assert leaves.positions.grad is not None
    return float(energy), float(leaves.positions.grad[1, 0])


def check_cutoff_continuity(
    probe: Probe, types: List[int], cutoff: float, tolerance: float = 1e-6
) -> None:
    """The energy of two atoms and its derivative (the force) are continuous when
    their distance crosses the cutoff, for every pair of types: a jump of the force
    makes molecular dynamics gain or lose energy at every crossing."""
    for first in types:
        for second in types:
            inside, outside = (
                _pair_energy_and_force(probe, _pair(first, second, distance))
                for distance in (cutoff - 1e-7, cutoff + 1e-7)
            )
            jump = abs(inside[0] - outside[0])
            if jump > tolerance * max(1.0, abs(outside[0])):
                raise fail(
                    f"the energy of atoms of types {first} and {second} jumps by "
                    f"{jump:.2e} when their distance crosses the cutoff {cutoff}",
                    "multiply every pair contribution by a smooth cutoff function "
                    "that goes to zero (with its derivative) at the cutoff",
                )
            # the force scale: dE/dr of the same pair well inside the cutoff
            scale = max(
                abs(_pair_energy_and_force(probe, _pair(first, second, d * cutoff))[1])
                for d in (0.6, 0.8)
            )
            force_jump = abs(inside[1] - outside[1])
            if force_jump > 1e-4 * scale + 1e-9:
                raise fail(
                    f"the force between atoms of types {first} and {second} jumps by "
                    f"{force_jump:.2e} (dE/dr {inside[1]:.3e} just inside, "
                    f"{outside[1]:.3e} just outside) when their distance crosses the "
                    f"cutoff {cutoff}, although the energy is continuous",
                    "use a cutoff function whose derivative is zero at the cutoff too "
                    "(e.g. (1 + cos(pi r / r_c)) / 2, or a polynomial with zero slope "
                    "at r_c), not one that only reaches zero (such as 1 - r / r_c)",
                )
