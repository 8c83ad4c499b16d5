"""The neighbour density of each atom expanded on radial functions and spherical
harmonics, one channel per neighbour type.

For a centre ``i``, the coefficients are

``c[i, a, n, l, m] = Σ_{j ∈ N(i), t_j = a} f_c(r_ij) R_nl(r_ij) Y_lm(r̂_ij)``

with :class:`~atomtrain.soap_bpnn.radial.LaplacianEigenstates` ``R_nl``, the smooth
cutoff ``f_c`` and real spherical harmonics ``Y_lm`` from sphericart. All pairs of a
batch are expanded at once and summed into their centres with one ``index_add``.
"""

from typing import List

import torch

from ..utils.extensions import import_extension_package
from .radial import LaplacianEigenstates, ShiftedCosineCutoff


class SphericalExpansion(torch.nn.Module):
    """Density coefficients per angular channel.

    ``forward(vectors [P, 3], centers [P], neighbor_types [P], n_atoms)`` returns one
    tensor per ``l = 0 .. max_angular`` of shape ``[n_atoms, n_types * n_l, 2l + 1]``,
    rows ordered ``(neighbour type, n)``; ``neighbor_types`` holds the index of each
    neighbour's type among the model's types (0 .. n_types - 1).
    """

    def __init__(
        self,
        n_types: int,
        radius: float,
        width: float,
        max_radial: int,
        max_angular: int,
    ) -> None:
        sphericart = import_extension_package("sphericart.torch")

        super().__init__()
        self.n_types = n_types
        self.max_angular = max_angular
        self.radial = LaplacianEigenstates(radius, max_radial, max_angular)
        self.cutoff_function = ShiftedCosineCutoff(radius, width)
        self.harmonics = sphericart.SphericalHarmonics(max_angular)
        self.n_per_l: List[int] = list(self.radial.n_per_l)
        radial_offsets: List[int] = []
        density_offsets: List[int] = []
        radial_offset = 0
        density_offset = 0
        for ell, n in enumerate(self.n_per_l):
            radial_offsets.append(radial_offset)
            density_offsets.append(density_offset)
            radial_offset += n
            density_offset += n * (2 * ell + 1)
        self.radial_offsets = radial_offsets
        self.density_offsets = density_offsets
        self.density_size = density_offset

    def forward(
        self,
        vectors: torch.Tensor,
        centers: torch.Tensor,
        neighbor_types: torch.Tensor,
        n_atoms: int,
    ) -> List[torch.Tensor]:
        distances = torch.linalg.vector_norm(vectors, dim=1)
        radial = self.radial(distances) * self.cutoff_function(distances).unsqueeze(1)
        harmonics = self._harmonics(vectors)
        n_pairs = vectors.shape[0]
        products: List[torch.Tensor] = []
        for ell, n in enumerate(self.n_per_l):
            r = radial[:, self.radial_offsets[ell] : self.radial_offsets[ell] + n]
            y = harmonics[:, ell * ell : (ell + 1) * (ell + 1)]
            product = r.unsqueeze(2) * y.unsqueeze(1)
            products.append(product.reshape(n_pairs, n * (2 * ell + 1)))
        slots = centers * self.n_types + neighbor_types
        density = torch.zeros(
            (n_atoms * self.n_types, self.density_size),
            dtype=vectors.dtype,
            device=vectors.device,
        ).index_add(0, slots, torch.cat(products, dim=1))
        density = density.reshape(n_atoms, self.n_types, self.density_size)
        coefficients: List[torch.Tensor] = []
        for ell, n in enumerate(self.n_per_l):
            start = self.density_offsets[ell]
            block = density[:, :, start : start + n * (2 * ell + 1)]
            coefficients.append(block.reshape(n_atoms, self.n_types * n, 2 * ell + 1))
        return coefficients

    def _harmonics(self, vectors: torch.Tensor) -> torch.Tensor:
        """``Y_lm`` of every pair ``[P, (max_angular + 1)²]``, with their first and
        second derivatives exact wherever the model runs.

        sphericart-torch registers the derivatives of its operator from Python
        (``torch.library.register_autograd``): an exported model run where that
        Python package is not imported (LAMMPS, i-PI's driver, an ASE script that
        imports only metatomic) would take ``Y_lm`` as constants, dropping the
        angular part of the forces and stress without a word. The derivatives come
        instead from sphericart's ``compute_with_hessians``, entering autograd as
        the second-order expansion around the evaluated vectors: its value, gradient
        and Hessian there are sphericart's, so forces, stress and training on them
        (which differentiates the forces once more) are exact.
        """
        if not vectors.requires_grad:
            return self.harmonics(vectors)
        values, gradients, hessians = self.harmonics.compute_with_hessians(
            vectors.detach()
        )
        step = vectors - vectors.detach()  # zero, but carries the graph
        first = torch.einsum("pa,pal->pl", step, gradients)
        second = torch.einsum("pa,pb,pabl->pl", step, step, hessians)
        return values + first + 0.5 * second
