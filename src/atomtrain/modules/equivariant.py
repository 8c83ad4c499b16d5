r"""Equivariant outputs from invariant weights: the building blocks of the spherical
and Cartesian targets of every architecture.

An architecture gives each atom :math:`i` per-``l`` equivariant "densities"
:math:`c^{i}_{klm}` (``k`` a channel, ``m = −l … l``): SOAP-BPNN its density
coefficients, PET sums over neighbours of spherical harmonics weighted by learned
edge features. :class:`EquivariantBasis` turns them into the basis vectors
:math:`B^{i}_{q\mu}` of one block (λ, σ):

- order one (σ = +1, λ within the densities' ``l``): the densities of channel λ;
- order two: the channels of each ``l`` mixed into ``channels`` combinations by a
  learned linear map, and every pair ``l1 ≤ l2`` coupled to λ with Clebsch–Gordan
  coefficients when its parity :math:`(-1)^{l_1+l_2+\lambda}` is σ. These give the
  improper tensors (σ = −1, a pseudovector such as a cross product) and further
  proper ones.

The architecture predicts one invariant weight per basis vector and subtarget from
the atom's features, and :func:`combine` gives the atomic value
:math:`y^{i}_{\mu p} = \sum_q w^{i}_{qp} B^{i}_{q\mu}`: it rotates exactly as the
block asks when the weights are invariant. An invariant block (λ = 0, σ = +1) has the
constant basis; a pseudoscalar (λ = 0, σ = −1) has none at order two.

Cartesian vectors and rank-2 tensors are learned as their spherical parts
(:data:`CARTESIAN_IRREPS`) and mapped back exactly by :class:`CartesianOutput`.
"""

from typing import Dict, List, Tuple

import torch

from .spherical import clebsch_gordan, coupling_parity


def couplings(max_angular: int, lam: int, sigma: int) -> List[Tuple[int, int]]:
    """The ``(l1, l2)`` pairs, ``l1 ≤ l2 ≤ max_angular``, that couple to λ with
    parity σ."""
    return [
        (l1, l2)
        for l1 in range(max_angular + 1)
        for l2 in range(l1, max_angular + 1)
        if abs(l1 - l2) <= lam <= l1 + l2 and coupling_parity(l1, l2, lam) == sigma
    ]


def basis_size(channels_per_l: List[int], channels: int, lam: int, sigma: int) -> int:
    """The number of basis vectors of block (λ, σ); 0 when none can be built."""
    if lam == 0 and sigma == 1:
        return 1
    max_angular = len(channels_per_l) - 1
    first = channels_per_l[lam] if sigma == 1 and lam <= max_angular else 0
    pairs = couplings(max_angular, lam, sigma)
    return first + channels * channels * len(pairs)


class Coupling(torch.nn.Module):
    """The Clebsch–Gordan product of two mixed channels ``l1`` and ``l2`` into λ."""

    coefficients: torch.Tensor

    def __init__(self, l1: int, l2: int, lam: int) -> None:
        super().__init__()
        self.l1 = l1
        self.l2 = l2
        self.register_buffer("coefficients", clebsch_gordan(l1, l2, lam))

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """``first [n, k, 2 l1 + 1]``, ``second [n, k, 2 l2 + 1]`` →
        ``[n, k * k, 2λ + 1]``."""
        cg = self.coefficients.to(first.dtype)
        coupled = torch.einsum("npa,nqb,abm->npqm", first, second, cg)
        return coupled.reshape(first.shape[0], -1, cg.shape[2])


class EquivariantBasis(torch.nn.Module):
    """The basis vectors ``[n_atoms, Q, 2λ + 1]`` of one block (λ, σ) from the
    density coefficients (one ``[n_atoms, K_l, 2l + 1]`` tensor per ``l``)."""

    def __init__(
        self, channels_per_l: List[int], channels: int, lam: int, sigma: int
    ) -> None:
        super().__init__()
        max_angular = len(channels_per_l) - 1
        self.lam = lam
        self.constant = lam == 0 and sigma == 1
        self.first_order = (not self.constant) and sigma == 1 and lam <= max_angular
        pairs = [] if self.constant else couplings(max_angular, lam, sigma)
        used = sorted({ell for pair in pairs for ell in pair})
        # one mixing per angular channel (an identity for the unused ones keeps
        # the module list indexable by l in TorchScript)
        self.mixers = torch.nn.ModuleList(
            [
                torch.nn.Linear(k, channels, bias=False)
                if ell in used
                else torch.nn.Identity()
                for ell, k in enumerate(channels_per_l)
            ]
        )
        self.couplings = torch.nn.ModuleList([Coupling(a, b, lam) for a, b in pairs])
        self.size = basis_size(channels_per_l, channels, lam, sigma)

    def forward(self, coefficients: List[torch.Tensor]) -> torch.Tensor:
        n_atoms = coefficients[0].shape[0]
        if self.constant:
            return torch.ones(
                (n_atoms, 1, 1),
                dtype=coefficients[0].dtype,
                device=coefficients[0].device,
            )
        mixed: List[torch.Tensor] = []
        for ell, mixer in enumerate(self.mixers):
            # mix the channels (the middle axis) of every component alike
            mixed.append(mixer(coefficients[ell].transpose(1, 2)).transpose(1, 2))
        parts: List[torch.Tensor] = []
        if self.first_order:
            parts.append(coefficients[self.lam])
        for coupling in self.couplings:
            first, second = int(coupling.l1), int(coupling.l2)  # type: ignore[arg-type]
            parts.append(coupling(mixed[first], mixed[second]))
        return torch.cat(parts, dim=1)


def combine(
    weights: torch.Tensor, basis: torch.Tensor, n_properties: int
) -> torch.Tensor:
    """Atomic values ``[n_atoms, 2λ + 1, P]`` from the invariant ``weights
    [n_atoms, Q * P]`` and the ``basis [n_atoms, Q, 2λ + 1]``."""
    shaped = weights.reshape(weights.shape[0], basis.shape[1], n_properties)
    return torch.einsum("nqp,nqm->nmp", shaped, basis)


#: The irreps a Cartesian tensor of rank 1 or 2 is learned as: a vector is λ = 1;
#: a rank-2 tensor is its trace (λ = 0), its antisymmetric part (a pseudovector,
#: λ = 1, σ = −1) and its symmetric traceless part (λ = 2).
CARTESIAN_IRREPS: Dict[int, List[Tuple[int, int]]] = {
    1: [(1, 1)],
    2: [(0, 1), (1, -1), (2, 1)],
}

#: The position of x, y and z among the components o3_mu = −1, 0, 1 of λ = 1.
_XYZ = [2, 0, 1]


def cartesian_matrix(rank: int) -> torch.Tensor:
    """The linear map ``[3**rank, Σ (2λ + 1)]`` from the spherical components of
    :data:`CARTESIAN_IRREPS` (concatenated) to the Cartesian ones (row-major): the
    transpose of the orthonormal Clebsch–Gordan decomposition, so it is exact and
    invertible."""
    if rank == 0:
        return torch.zeros((0, 0), dtype=torch.float64)
    if rank == 1:
        return torch.eye(3, dtype=torch.float64)[_XYZ]
    columns = [
        clebsch_gordan(1, 1, lam)[_XYZ][:, _XYZ].reshape(9, 2 * lam + 1)
        for lam, _ in CARTESIAN_IRREPS[2]
    ]
    return torch.cat(columns, dim=1)


class CartesianOutput(torch.nn.Module):
    """Cartesian values ``[n, 3, (3,) P]`` from the values of the spherical blocks
    of :data:`CARTESIAN_IRREPS` (each ``[n, 2λ + 1, P]``); rank 0: unused (the head
    of a spherical target)."""

    matrix: torch.Tensor

    def __init__(self, rank: int) -> None:
        super().__init__()
        self.rank = rank
        self.register_buffer("matrix", cartesian_matrix(rank))

    def forward(self, values: List[torch.Tensor]) -> torch.Tensor:
        spherical = torch.cat(values, dim=1)
        cartesian = torch.einsum(
            "cs,nsp->ncp", self.matrix.to(spherical.dtype), spherical
        )
        if self.rank == 1:
            return cartesian
        return cartesian.reshape(cartesian.shape[0], 3, 3, cartesian.shape[2])
