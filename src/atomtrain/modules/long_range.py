"""Long-range electrostatics on learned charges, through torch-pme.

A short-range model sees ``cutoff`` (times its message-passing layers) around each
atom; two ions 10 Å apart interact by ``q₁q₂/r`` all the same. :class:`LongRange`
gives every atom ``num_charges`` learned charges ``q_ic`` (a linear map of its
short-range features) and the potential each set of charges creates at the atom,

``φ_ic = Σ_j q_jc v(r_ij) (1 - f(r_ij))``,

summed over every other atom of the structure and, for a periodic structure, all
their periodic images. ``v(r) = erf(r / (√2 σ)) / r`` is the potential of a Gaussian
charge of width ``σ`` (``smearing``), which is ``1/r`` beyond a few ``σ`` and finite
at ``r = 0``; ``f`` is 1 at ``r = 0`` and goes smoothly to 0 at the short-range
``cutoff``, so that the pairs the short-range model already sees are left to it.
The features ``[φ_ic, q_ic φ_ic]`` (the potential and the electrostatic energy of
each channel) go through a linear layer and are added to the atom's features: the
heads read a Coulomb energy as easily as anything else.

How the sum is done (all from ``torch-pme``, autograd gives forces and stress):

- a structure without periodic boundaries: directly over all its pairs (time and
  memory grow as the square of its atoms: fine up to a few thousand);
- a periodic one: Ewald summation (``EwaldCalculator``), or particle-particle
  particle-mesh (``P3MCalculator``) for cells of more than
  :data:`LARGEST_EWALD_CELL` atoms unless ``use_ewald``; the real-space part runs
  over the full neighbour list at ``cutoff``, the reciprocal part over the cell;
- a structure periodic in one or two directions is refused: metatomic gives it no
  cell vector along the others, and a slab's sum would depend on the vacuum added
  there.

A model with ``enable: false`` holds :class:`NoLongRange`, which has no weights and
adds nothing, so its checkpoints are those of a model without the section.
"""

from typing import Any, List, Mapping

import torch
from metatomic.torch import NeighborListOptions, System

from atomtrain.errors import UserError

#: Periodic structures with more atoms use particle-mesh summation (unless
#: ``use_ewald``): measured with 16 charges on rattled NaCl, Ewald then P3M took
#: 33 / 62 ms at 216 atoms, 294 / 631 ms at 512 and 1450 / 706 ms at 1000, forward
#: and backward on one CPU thread.
LARGEST_EWALD_CELL = 500


class LongRange(torch.nn.Module):
    """Features ``[n_atoms, output_dim]`` of the electrostatics of learned charges
    (see the module's description), from short-range features
    ``[n_atoms, feature_dim]`` of the atoms of a list of systems."""

    def __init__(
        self,
        hypers: Mapping[str, Any],
        cutoff: float,
        feature_dim: int,
        output_dim: int,
    ) -> None:
        super().__init__()
        try:
            import torchpme
        except ImportError as error:
            raise UserError(
                "long_range.enable needs torch-pme: pip install torch-pme "
                "(or atomtrain[long-range])"
            ) from error

        self.use_ewald = bool(hypers["use_ewald"])
        self.largest_ewald_cell = LARGEST_EWALD_CELL
        num_charges = int(hypers["num_charges"])
        self.charges = torch.nn.Linear(feature_dim, num_charges)
        self.readout = torch.nn.Linear(2 * num_charges, output_dim)
        potential = torchpme.CoulombPotential(
            smearing=float(hypers["smearing"]), exclusion_radius=cutoff
        )
        resolution = float(hypers["kspace_resolution"])
        self.potential = potential
        self.ewald = torchpme.EwaldCalculator(
            potential, lr_wavelength=resolution, full_neighbor_list=True
        )
        self.mesh = torchpme.P3MCalculator(
            potential,
            mesh_spacing=resolution,
            interpolation_nodes=int(hypers["interpolation_nodes"]),
            full_neighbor_list=True,
        )
        self.neighbors = NeighborListOptions(cutoff, full_list=True, strict=True)

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [self.neighbors]

    def forward(self, systems: List[System], features: torch.Tensor) -> torch.Tensor:
        charges = self.charges(features)
        potentials: List[torch.Tensor] = []
        start = 0
        for system in systems:
            n_atoms = len(system)
            system_charges = charges[start : start + n_atoms]
            potentials.append(self._potential(system, system_charges))
            start += n_atoms
        potential = torch.cat(potentials)
        return self.readout(torch.cat([potential, charges * potential], dim=1))

    def _potential(self, system: System, charges: torch.Tensor) -> torch.Tensor:
        """The potential ``[n_atoms, num_charges]`` of ``charges`` at each atom of
        ``system``."""
        periodic = int(system.pbc.sum())
        if periodic == 0:
            return self._direct(system.positions, charges)
        if periodic != 3:
            raise ValueError(
                "long-range electrostatics need a structure periodic in all three "
                f"directions or in none; this one is periodic in {periodic}"
            )
        pairs = system.get_neighbor_list(self.neighbors)
        indices = pairs.samples.values[:, :2].to(torch.long)
        distances = torch.linalg.vector_norm(pairs.values.reshape(-1, 3), dim=1)
        if self.use_ewald or len(system) <= self.largest_ewald_cell:
            return self.ewald(
                charges,
                system.cell,
                system.positions,
                indices,
                distances,
            )
        return self.mesh(
            charges,
            system.cell,
            system.positions,
            indices.to(torch.long),
            distances,
            periodic=system.pbc,
        )

    def _direct(self, positions: torch.Tensor, charges: torch.Tensor) -> torch.Tensor:
        """The potential summed directly over every pair of atoms (no periodic
        images)."""
        n_atoms = positions.shape[0]
        pairs = torch.triu_indices(n_atoms, n_atoms, 1, device=positions.device)
        first, second = pairs[0], pairs[1]
        distances = torch.linalg.vector_norm(
            positions.index_select(0, second) - positions.index_select(0, first),
            dim=1,
        )
        kernel = self.potential.lr_from_dist(distances) * (
            1.0 - self.potential.f_cutoff(distances)
        )
        kernel = kernel.unsqueeze(1)
        potential = torch.zeros_like(charges)
        potential = potential.index_add(0, first, kernel * charges[second])
        return potential.index_add(0, second, kernel * charges[first])


class NoLongRange(torch.nn.Module):
    """The long-range part of a model without one: no weights, adds nothing."""

    def forward(self, systems: List[System], features: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(features[:, :0])


def build_long_range(
    hypers: Mapping[str, Any], cutoff: float, feature_dim: int, output_dim: int
) -> torch.nn.Module:
    """:class:`LongRange` for a ``long_range`` section with ``enable: true``,
    :class:`NoLongRange` otherwise."""
    if not bool(hypers["enable"]):
        return NoLongRange()
    return LongRange(hypers, cutoff, feature_dim, output_dim)
