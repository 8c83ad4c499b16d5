r"""Equivariant outputs of SOAP-BPNN: spherical targets (``o3_lambda`` λ,
``o3_sigma`` σ) as invariant weights times an equivariant basis.

For every block :math:`(\lambda, \sigma)` of a spherical target, each atom :math:`i`
gets a set of equivariant vectors :math:`B^{i}_{q\mu}` (μ = −λ … λ) from its density
coefficients :math:`c^{i}_{anlm}`:

- order one (:math:`\sigma = +1`, :math:`\lambda \le` ``max_angular``): the
  coefficients of angular channel λ themselves, one vector per neighbour type and
  radial function;
- order two (λ-SOAP): the coefficients of each channel :math:`l` mixed into
  ``channels`` combinations by a learned linear map, then every pair of channels
  :math:`l_1 \le l_2` coupled to λ with Clebsch–Gordan coefficients,
  :math:`\sum_{m_1 m_2} C^{\lambda\mu}_{l_1 m_1 l_2 m_2}\, \tilde c^{i}_{p l_1 m_1}
  \tilde c^{i}_{q l_2 m_2}`, for the pairs whose parity
  :math:`(-1)^{l_1+l_2+\lambda}` is σ. These give the improper tensors
  (σ = −1: pseudovectors such as a cross product) as well as further proper ones.

The target's head (the same per-element networks as for invariant targets) predicts
one weight per basis vector and subtarget, :math:`w^{i}_{qp}`, from the atom's
invariant features, and the atomic value is
:math:`y^{i}_{\mu p} = \sum_q w^{i}_{qp} B^{i}_{q\mu}`: it rotates with the
structure exactly (the weights are invariant, the basis is equivariant), and it
changes sign under inversion as σ (−1)^λ asks. An invariant block (λ = 0, σ = +1)
has the constant basis: its head predicts the value itself. A block that no
coupling of the density can give (a pseudoscalar, λ = 0 and σ = −1) is refused.
The basis and the Cartesian outputs are the shared ones of
:mod:`atomtrain.modules.equivariant`.

Tensor targets have output scales (per irrep for a spherical target of several
irreps, :class:`~atomtrain.modules.scaling.OutputScaler`): their labels can be far
from order one, and nothing else brings the equivariant heads there. Invariant
targets have none, only the loss's target scales.
"""

from typing import Dict, List, Tuple

import torch

from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.modules.equivariant import (
    CARTESIAN_IRREPS,
    CartesianOutput,
    EquivariantBasis,
    combine,
)

from .networks import PerElement, PerElementLinear, element_network


class SphericalBlock(torch.nn.Module):
    """One block (λ, σ) of a spherical target: its basis and the per-element last
    layer that gives the basis weights."""

    def __init__(self, basis: EquivariantBasis, last: PerElementLinear) -> None:
        super().__init__()
        self.basis = basis
        self.last = last


class SphericalHead(torch.nn.Module):
    """The head of a spherical target: an optional per-element hidden layer
    (``mlp``), then per block the weights of its basis vectors."""

    def __init__(
        self,
        n_elements: int,
        width: int,
        n_properties: int,
        mlp: bool,
        channels_per_l: List[int],
        channels: int,
        irreps: List[Tuple[int, int]],
        cartesian_rank: int = 0,
    ) -> None:
        """``cartesian_rank`` 1 or 2: the head of a Cartesian target, learned as the
        irreps of :data:`CARTESIAN_IRREPS` (``irreps`` is then ignored)."""
        super().__init__()
        if cartesian_rank > 0:
            irreps = CARTESIAN_IRREPS[cartesian_rank]
        self.cartesian_rank = cartesian_rank
        self.to_cartesian = CartesianOutput(cartesian_rank)
        self.hidden = PerElement(
            [
                element_network(width, 1 if mlp else 0, width, False)
                for _ in range(n_elements)
            ]
        )
        blocks: List[SphericalBlock] = []
        for lam, sigma in irreps:
            basis = EquivariantBasis(channels_per_l, channels, lam, sigma)
            last = PerElementLinear(n_elements, width, basis.size * n_properties)
            blocks.append(SphericalBlock(basis, last))
        self.blocks = torch.nn.ModuleList(blocks)
        self.n_properties = n_properties

    def forward(
        self, hidden: List[torch.Tensor], coefficients: List[torch.Tensor]
    ) -> List[torch.Tensor]:
        """The atomic values ``[n_atoms, 2λ + 1, P]`` of every block, atoms in the
        element-sorted order of ``hidden`` and ``coefficients``; for a Cartesian
        target, the one tensor ``[n_atoms, 3, (3,) P]``."""
        features = self.hidden(hidden)
        values: List[torch.Tensor] = []
        for block in self.blocks:
            # mypy sees ModuleList items as plain Modules
            weights = torch.cat(block.last(features))  # type: ignore[operator]
            basis = block.basis(coefficients)  # type: ignore[operator]
            values.append(combine(weights, basis, self.n_properties))
        if self.cartesian_rank > 0:
            return [self.to_cartesian(values)]
        return values


def tensor_targets(dataset_info: DatasetInfo) -> Dict[str, TargetInfo]:
    """The spherical and Cartesian targets of ``dataset_info``."""
    return {
        name: info
        for name, info in dataset_info.targets.items()
        if info.kind in ("spherical", "cartesian")
    }
