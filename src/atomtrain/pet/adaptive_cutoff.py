r"""PET's adaptive cutoff: a cutoff radius per atom, chosen so that each atom has
about ``num_neighbors_adaptive`` neighbours (metatrain's option of that name).

The neighbours of atom :math:`i` are counted smoothly at a radius :math:`r`,

.. math::

    n_i(r) = \sum_j \sigma\!\left(\frac{4 (r - r_{ij})}{w}\right),

with :math:`\sigma` the logistic function and :math:`w` the
``cutoff_width_adaptive``, so that a neighbour enters the count over about
:math:`w`. The radius :math:`r_i` solves :math:`n_i(r_i) = N` within
``[cutoff_width, cutoff]``:

- ``solver``: bisection, then one Newton step taken with gradients, so that the
  radius's derivatives with respect to the positions are those of the implicit
  function, :math:`\partial r_i = -\partial n_i / n_i'(r_i)` (forces stay exact
  derivatives of the energy);
- ``grid``: the average of probe radii on a grid, each weighted by
  :math:`\exp(-(n_i(r_k) - N)^2 / 2)`: smooth by construction, less sharp.

An atom with fewer than :math:`N` neighbours within ``cutoff`` keeps ``cutoff``.
Each edge ``i ← j`` is then switched off smoothly at :math:`r_i` by PET's cutoff
function, so atoms in dense regions see their nearest neighbours only, and atoms in
sparse ones see further.
"""

from typing import Tuple

import torch

#: Bisection steps of ``solver``: the bracket shrinks below 1e-8 of the cutoff.
_BISECTIONS = 30
#: Probe radii of ``grid``.
_PROBES = 64


class AdaptiveCutoff(torch.nn.Module):
    """The cutoff radius of each atom; ``num_neighbors`` 0 switches it off (every
    atom has ``cutoff``)."""

    def __init__(
        self,
        num_neighbors: int,
        cutoff: float,
        lowest: float,
        width: float,
        method: str,
    ) -> None:
        super().__init__()
        self.num_neighbors = num_neighbors
        self.cutoff = cutoff
        self.lowest = lowest
        self.width = width
        self.grid = method == "grid"
        # attributes, not module constants: TorchScript reads no module globals
        self.bisections = _BISECTIONS
        self.probes = _PROBES

    def forward(
        self, distances: torch.Tensor, centers: torch.Tensor, n_atoms: int
    ) -> torch.Tensor:
        """The cutoff radius ``[E]`` of the centre of each edge, from the edges'
        ``distances`` ``[E]`` and ``centers`` ``[E]``."""
        if self.num_neighbors <= 0:
            return torch.full_like(distances, self.cutoff)
        if self.grid:
            radii = self._grid(distances, centers, n_atoms)
        else:
            radii = self._solver(distances, centers, n_atoms)
        return radii.index_select(0, centers)

    def counts(
        self, radii: torch.Tensor, distances: torch.Tensor, centers: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The smooth neighbour counts ``[n, K]`` of each atom at the radii ``[n,
        K]`` and their derivatives with respect to the radii."""
        steepness = 4.0 / self.width
        argument = steepness * (radii.index_select(0, centers) - distances[:, None])
        step = torch.sigmoid(argument)
        slope = steepness * step * (1.0 - step)
        count = radii.new_zeros(radii.shape).index_add(0, centers, step)
        derivative = radii.new_zeros(radii.shape).index_add(0, centers, slope)
        return count, derivative

    def _grid(
        self, distances: torch.Tensor, centers: torch.Tensor, n_atoms: int
    ) -> torch.Tensor:
        probes = torch.linspace(
            self.lowest,
            self.cutoff,
            self.probes,
            dtype=distances.dtype,
            device=distances.device,
        )
        radii = probes.unsqueeze(0).expand(n_atoms, self.probes)
        count, _ = self.counts(radii, distances, centers)
        weights = torch.softmax(-0.5 * (count - self.num_neighbors) ** 2, dim=1)
        return (weights * probes).sum(dim=1)

    def _solver(
        self, distances: torch.Tensor, centers: torch.Tensor, n_atoms: int
    ) -> torch.Tensor:
        target = float(self.num_neighbors)
        shape = (n_atoms, 1)
        with torch.no_grad():
            low = distances.new_full(shape, self.lowest)
            high = distances.new_full(shape, self.cutoff)
            for _ in range(self.bisections):
                middle = 0.5 * (low + high)
                count, _ = self.counts(middle, distances.detach(), centers)
                below = count < target
                low = torch.where(below, middle, low)
                high = torch.where(below, high, middle)
            root = 0.5 * (low + high)
        count, slope = self.counts(root, distances, centers)
        # one Newton step with gradients: the value stays the root, its derivative
        # becomes that of the implicit function n_i(r_i) = N
        usable = slope > 1e-6
        step = (count - target) / torch.where(usable, slope, torch.ones_like(slope))
        radii = root - torch.where(usable, step, torch.zeros_like(step))
        # too few neighbours even at the cutoff: the cutoff
        reachable = root < self.cutoff - 1e-6
        radii = torch.where(reachable, radii, torch.full_like(radii, self.cutoff))
        return radii.squeeze(1).clamp(self.lowest, self.cutoff)
