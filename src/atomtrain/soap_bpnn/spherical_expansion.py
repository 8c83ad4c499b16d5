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

    radial_index: torch.Tensor
    harmonic_index: torch.Tensor

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
        # the radial function and the harmonic of each density column (l, n, m):
        # the products of all channels are one multiplication of two gathers, whose
        # derivatives (scatters and gathers) cost far less than per-l slices joined
        # by a concatenation, which the double backward of training on forces
        # fills with zeros for every l
        radial_index: List[int] = []
        harmonic_index: List[int] = []
        for ell, n in enumerate(self.n_per_l):
            for radial_function in range(n):
                for m in range(2 * ell + 1):
                    radial_index.append(radial_offsets[ell] + radial_function)
                    harmonic_index.append(ell * ell + m)
        self.register_buffer(
            "radial_index", torch.tensor(radial_index), persistent=False
        )
        self.register_buffer(
            "harmonic_index", torch.tensor(harmonic_index), persistent=False
        )

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
        products = radial.index_select(1, self.radial_index) * harmonics.index_select(
            1, self.harmonic_index
        )
        slots = centers * self.n_types + neighbor_types
        density = torch.zeros(
            (n_atoms * self.n_types, self.density_size),
            dtype=vectors.dtype,
            device=vectors.device,
        ).index_add(0, slots, products)
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
        (which differentiates the forces once more) are exact. In Python (training,
        the eager model) sphericart's own derivatives are used: the same, faster.
        """
        if not vectors.requires_grad or not torch.jit.is_scripting():
            # in Python, sphericart's registered derivatives are there (and faster)
            return self.harmonics(vectors)
        values, gradients, hessians = self.harmonics.compute_with_hessians(
            vectors.detach()
        )
        step = vectors - vectors.detach()  # zero, but carries the graph
        first = torch.einsum("pa,pal->pl", step, gradients)
        second = torch.einsum("pa,pb,pabl->pl", step, step, hessians)
        return values + first + 0.5 * second
