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

from atomtrain.modules.equivariant import EquivariantBasis, basis_size, combine
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
        harmonics = low_harmonics(vectors, self.max_degree)
        weights = self.densities(edges[-1]) * cutoff_weights.unsqueeze(1)
        densities: List[torch.Tensor] = []
        for ell, y in enumerate(harmonics):
            part = weights[:, ell * self.channels : (ell + 1) * self.channels]
            pairs = part.unsqueeze(2) * y.unsqueeze(1)
            total = pairs.new_zeros((n_atoms, self.channels, 2 * ell + 1))
            densities.append(total.index_add(0, centers, pairs))
        features = self.readout.last_layer_features(
            nodes, edges, cutoff_weights, centers
        )
        all_weights = self.readout.linear(features)
        values: List[torch.Tensor] = []
        start = 0
        for index, basis in enumerate(self.bases):
            size = self.sizes[index]
            block_weights = all_weights[:, start : start + size]
            values.append(combine(block_weights, basis(densities), self.n_properties))
            start += size
        return values
