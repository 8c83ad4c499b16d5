"""The SOAP power spectrum: rotation-invariant products of density coefficients.

For each centre ``i`` and angular channel ``l``,

``p[i, (a, n), (b, n'), l] = (2l + 1)^{-1/2} Σ_m c[i, a, n, l, m] c[i, b, n', l, m]``

is invariant under rotations (the ``Y_lm`` of one ``l`` rotate by an orthogonal
matrix). The matrix over ``(a, n), (b, n')`` is symmetric, so only its upper triangle
is kept, off-diagonal entries multiplied by √2 so that the feature vector has the norm
of the full matrix: half the features of the full product for the same information.
"""

import math
from typing import List

import torch

from .radial import ExactBuffers


class PowerSpectrum(ExactBuffers):
    """``forward(coefficients) -> [n_atoms, size]`` from the per-``l`` coefficients
    ``[n_atoms, K_l, 2l + 1]`` of :class:`SphericalExpansion` (``K_l = channels[l]``).

    The products of all ``l`` are flattened side by side and the kept entries taken
    with one ``index_select``.
    """

    index: torch.Tensor
    weights: torch.Tensor

    def __init__(self, channels: List[int]) -> None:
        super().__init__()
        indices: List[torch.Tensor] = []
        weights: List[torch.Tensor] = []
        offset = 0
        for ell, k in enumerate(channels):
            rows, cols = torch.triu_indices(k, k)
            indices.append(offset + rows * k + cols)
            off_diagonal = torch.where(rows == cols, 1.0, math.sqrt(2.0))
            weights.append(off_diagonal.to(torch.float64) / math.sqrt(2 * ell + 1))
            offset += k * k
        self.register_buffer("index", torch.cat(indices), persistent=False)
        self.register_buffer("weights", torch.cat(weights), persistent=False)
        self.size = int(self.index.shape[0])

    def forward(self, coefficients: List[torch.Tensor]) -> torch.Tensor:
        products: List[torch.Tensor] = []
        for c in coefficients:
            products.append(torch.bmm(c, c.transpose(1, 2)).flatten(1))
        flat = torch.cat(products, dim=1)
        return flat.index_select(1, self.index) * self.weights.to(flat.dtype)
