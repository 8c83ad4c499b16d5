r"""PET's heads of spherical targets: invariant weights of an equivariant basis built
from the edges.

For every atom :math:`i`, PET's last edge tokens :math:`h_{ij}` give, through a
learned linear map, ``spherical_channels`` weights per degree :math:`l \le 2`, and
the atom's equivariant "densities" are

.. math::

    A^{i}_{klm} = \sum_{j} w_{kl}(h_{ij})\, f_c(r_{ij})\, Y_{lm}(\hat r_{ij}).

The basis of each block (λ, σ) is built from them as for SOAP-BPNN
(:mod:`atomtrain.modules.equivariant`: the densities of degree λ, and the
Clebsch–Gordan products of pairs of degrees for the improper blocks and further
proper ones), and the target's readout (the same node and edge networks as for any
PET target) predicts one weight per basis vector and subtarget.

The basis transforms exactly as the block asks, parity included; the weights are as
invariant as PET's features, which PET learns from rotated training structures
(``rotational_augmentation``), so the outputs are as equivariant as PET's energies
are invariant. Degrees up to 2 cover dipoles, polarizabilities and quadrupoles; the
harmonics are closed forms (:mod:`atomtrain.modules.harmonics`), so exported models
need no extension for them.
"""

from typing import List, Tuple

import torch

from atomtrain.modules.equivariant import (
    CARTESIAN_IRREPS,
    CartesianOutput,
    EquivariantBasis,
    basis_size,
    combine,
)
from atomtrain.modules.harmonics import MAX_DEGREE, low_harmonics

from .heads import TargetHead


def unsupported_irreps(irreps: List[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """The irreps PET's spherical heads cannot give: degree above 2, or a
    pseudoscalar."""
    channels = [1] * (MAX_DEGREE + 1)
    return [
        (lam, sigma)
        for lam, sigma in irreps
        if lam > MAX_DEGREE or basis_size(channels, 1, lam, sigma) == 0
    ]


class SphericalHead(torch.nn.Module):
    """The readout of one spherical target."""

    def __init__(
        self,
        num_layers: int,
        d_node: int,
        d_pet: int,
        d_head: int,
        irreps: List[Tuple[int, int]],
        n_properties: int,
        channels: int,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.max_degree = MAX_DEGREE
        self.n_properties = n_properties
        self.densities = torch.nn.Linear(d_pet, channels * (MAX_DEGREE + 1))
        bases = [
            EquivariantBasis([channels] * (MAX_DEGREE + 1), channels, lam, sigma)
            for lam, sigma in irreps
        ]
        self.sizes = [basis.size * n_properties for basis in bases]
        self.bases = torch.nn.ModuleList(bases)
        self.readout = TargetHead(num_layers, d_node, d_pet, d_head, sum(self.sizes))

    def equivariant_densities(
        self,
        edges: List[torch.Tensor],
        cutoff_weights: torch.Tensor,
        centers: torch.Tensor,
        vectors: torch.Tensor,
        n_atoms: int,
    ) -> List[torch.Tensor]:
        """The equivariant densities ``[n_atoms, channels, 2l + 1]`` of every degree
        ``l``, from the last edge tokens."""
        harmonics = low_harmonics(vectors, self.max_degree)
        weights = self.densities(edges[-1]) * cutoff_weights.unsqueeze(1)
        densities: List[torch.Tensor] = []
        for ell, y in enumerate(harmonics):
            part = weights[:, ell * self.channels : (ell + 1) * self.channels]
            pairs = part.unsqueeze(2) * y.unsqueeze(1)
            total = pairs.new_zeros((n_atoms, self.channels, 2 * ell + 1))
            densities.append(total.index_add(0, centers, pairs))
        return densities

    def blocks(
        self, features: torch.Tensor, densities: List[torch.Tensor]
    ) -> List[torch.Tensor]:
        """The values ``[n, 2λ + 1, P]`` of every block from the readout's
        last-layer ``features`` and the ``densities`` of the same atoms."""
        all_weights = self.readout.linear(features)
        values: List[torch.Tensor] = []
        start = 0
        for index, basis in enumerate(self.bases):
            size = self.sizes[index]
            block_weights = all_weights[:, start : start + size]
            values.append(combine(block_weights, basis(densities), self.n_properties))
            start += size
        return values

    def forward(
        self,
        nodes: List[torch.Tensor],
        edges: List[torch.Tensor],
        cutoff_weights: torch.Tensor,
        centers: torch.Tensor,
        vectors: torch.Tensor,
    ) -> List[torch.Tensor]:
        """The atomic values ``[n_atoms, 2λ + 1, P]`` of every block."""
        n_atoms = nodes[0].shape[0]
        densities = self.equivariant_densities(
            edges, cutoff_weights, centers, vectors, n_atoms
        )
        features = self.readout.last_layer_features(
            nodes, edges, cutoff_weights, centers
        )
        return self.blocks(features, densities)


class CartesianHead(SphericalHead):
    """The readout of a Cartesian vector or rank-2 tensor, learned as its spherical
    parts (:data:`~atomtrain.modules.equivariant.CARTESIAN_IRREPS`: λ = 1 for a
    vector; the trace, the antisymmetric part and the symmetric traceless part of a
    rank-2 tensor) and turned into Cartesian components by the exact change of
    basis. It has the interface of :class:`~atomtrain.pet.heads.TargetHead`:
    last-layer features, then the per-atom values."""

    def __init__(
        self,
        num_layers: int,
        d_node: int,
        d_pet: int,
        d_head: int,
        rank: int,
        n_properties: int,
        channels: int,
    ) -> None:
        irreps = CARTESIAN_IRREPS[rank]
        super().__init__(
            num_layers, d_node, d_pet, d_head, irreps, n_properties, channels
        )
        self.to_cartesian = CartesianOutput(rank)

    def last_layer_features(
        self,
        nodes: List[torch.Tensor],
        edges: List[torch.Tensor],
        cutoff_weights: torch.Tensor,
        centers: torch.Tensor,
    ) -> torch.Tensor:
        return self.readout.last_layer_features(nodes, edges, cutoff_weights, centers)

    def values(
        self,
        features: torch.Tensor,
        nodes: List[torch.Tensor],
        edges: List[torch.Tensor],
        cutoff_weights: torch.Tensor,
        centers: torch.Tensor,
        vectors: torch.Tensor,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        """The per-atom values ``[n_kept, 3^rank · P]`` of the kept atoms, whose
        last-layer ``features`` are given."""
        n_atoms = nodes[0].shape[0]
        densities = self.equivariant_densities(
            edges, cutoff_weights, centers, vectors, n_atoms
        )
        kept = [density.index_select(0, keep) for density in densities]
        cartesian = self.to_cartesian(self.blocks(features, kept))
        return cartesian.reshape(cartesian.shape[0], -1)
