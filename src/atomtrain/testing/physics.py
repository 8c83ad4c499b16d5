"""Suite: physics of the energy (forces, stress, symmetry, locality, smoothness)."""

from __future__ import annotations

from typing import Any, List

import pytest

from ..data.neighbors import requested_neighbor_lists
from ..data.structure import Structure
from ..utils.abc import ModelInterface
from . import physics_checks as checks
from .base import ArchitectureFixtures
from .probe import Probe
from .systems import cluster, crystal


class PhysicsTests(ArchitectureFixtures):
    """Forces and stress are exact derivatives; the energy is invariant, local,
    extensive and smooth."""

    def test_forces_match_finite_differences(
        self, probe: Probe, molecule: Structure, periodic: Structure
    ) -> None:
        if not self.depends_on_positions:
            checks.check_zero_forces(probe, molecule)
            checks.check_zero_forces(probe, periodic)
            return
        checks.check_forces_are_not_zero(probe, molecule)
        checks.check_forces(probe, molecule)
        checks.check_forces(probe, periodic)

    def test_stress_matches_finite_strain(
        self, probe: Probe, periodic: Structure
    ) -> None:
        if not self.supports_stress:
            pytest.skip("the architecture declares supports_stress = False")
        if not self.depends_on_positions:
            checks.check_zero_forces(probe, periodic)
            return
        checks.check_stress(probe, periodic)

    def test_gradcheck_and_gradgradcheck(self, probe: Probe) -> None:
        if not self.depends_on_positions:
            pytest.skip("the outputs do not depend on positions (forces checked zero)")
        tiny = cluster(self.atomic_types, 3, seed=9, size=2.5)
        checks.check_gradcheck(probe, tiny)

    def test_rotation_and_reflection_invariance(
        self, probe: Probe, structures: List[Structure]
    ) -> None:
        checks.check_rotation_invariance(probe, structures, self.rotation_tolerance)

    def test_permutation_invariance(self, probe: Probe, periodic: Structure) -> None:
        checks.check_permutation_invariance(probe, periodic)
        checks.check_permutation_invariance(probe, cluster(self.atomic_types, 6, 10))

    def test_no_coupling_between_structures_of_a_batch(
        self, probe: Probe, molecule: Structure, periodic: Structure
    ) -> None:
        checks.check_batch_independence(probe, molecule, periodic)
        checks.check_batch_independence(probe, periodic, molecule)

    def test_two_far_apart_copies_have_twice_the_energy(
        self, probe: Probe, molecule: Structure
    ) -> None:
        checks.check_far_apart_copies(probe, molecule)

    def test_supercells_have_proportional_energies(
        self, probe: Probe, model: ModelInterface[Any], periodic: Structure
    ) -> None:
        checks.check_supercell(probe, periodic, (2, 1, 1))
        # a cell smaller than the cutoff: atoms are neighbours of their own images
        cutoff = max((o.cutoff for o in requested_neighbor_lists(model)), default=4.0)
        small = crystal(self.atomic_types, 2, seed=11, size=max(2.4, 0.6 * cutoff))
        checks.check_supercell(probe, small, (1, 2, 1))

    def test_energy_is_continuous_at_the_cutoff(
        self, probe: Probe, model: ModelInterface[Any]
    ) -> None:
        """The energy of two atoms and its derivative, the force, for every pair of
        types, on both sides of every cutoff the model requests."""
        cutoffs = [o.cutoff for o in requested_neighbor_lists(model)]
        if not cutoffs:
            pytest.skip("the model requests no neighbour list: it has no cutoff")
        for cutoff in sorted(set(cutoffs)):
            checks.check_cutoff_continuity(probe, list(self.atomic_types), cutoff)
