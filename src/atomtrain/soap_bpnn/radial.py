"""Radial basis of the SOAP expansion: Laplacian eigenstates in a sphere, splined.

The radial functions are the eigenfunctions of the Laplacian inside a sphere of radius
``r_c`` that vanish on its surface, ``R_nl(r) = N_nl j_l(z_nl r / r_c)``, where
``z_nl`` is the n-th positive zero of the spherical Bessel function ``j_l`` and
``N_nl`` normalises ``∫_0^{r_c} R_nl(r)² r² dr = 1``. They are truncated at a common
"energy": every ``(n, l)`` with ``z_nl ≤ z_{max_radial, 0}`` is kept, so that
``l = 0`` has ``max_radial + 1`` functions and higher ``l`` fewer (the same basis as the
reference implementation's ``soap_bpnn``).

Spherical Bessel functions of high order lose all precision in their upward
recurrence at small arguments, so they are tabulated once in float64 with SciPy and
evaluated with a cubic Hermite spline, which has exact first and second derivatives
for autograd (forces, and forces in the loss).
"""

import math
from typing import Callable, List

import numpy as np
import torch

#: Spline knots per unit of the largest ``z_nl r / r_c``: relative errors of the
#: values below 1e-7 and of the derivatives below 1e-5.
KNOTS_PER_UNIT = 20


def _bessel(x: float, ell: int) -> float:
    from scipy.special import spherical_jn

    return float(spherical_jn(ell, x))


def bessel_zeros(max_radial: int, max_angular: int) -> List[List[float]]:
    """The zeros ``z_nl ≤ z_{max_radial, 0} = (max_radial + 1) π`` of ``j_l`` for
    ``l = 0 .. max_angular``, in increasing order for each ``l``."""
    from scipy.optimize import brentq
    from scipy.special import spherical_jn

    limit = (max_radial + 1) * math.pi
    zeros: List[List[float]] = []
    for ell in range(max_angular + 1):
        grid = np.linspace(1e-6, limit + 1e-9, int(limit * 50) + 2)
        values = spherical_jn(ell, grid)
        found = [
            float(brentq(_bessel, grid[i], grid[i + 1], args=(ell,)))
            for i in range(len(grid) - 1)
            if values[i] * values[i + 1] < 0
        ]
        zeros.append([z for z in found if z <= limit + 1e-9])
    return zeros


def spline_table(cutoff: float, zeros: List[List[float]]) -> torch.Tensor:
    """Cubic polynomial coefficients ``[n_knots - 1, 4, n_functions]`` of every
    normalised ``R_nl`` on a uniform grid of ``[0, cutoff]``: on interval ``k`` with
    ``u = r / h - k``, ``R(r) = c0 + c1 u + c2 u² + c3 u³``."""
    from scipy.special import spherical_jn

    z_max = max(z for per_l in zeros for z in per_l)
    n_knots = math.ceil(z_max * KNOTS_PER_UNIT) + 1
    r = np.linspace(0.0, cutoff, n_knots)
    h = cutoff / (n_knots - 1)
    values = []
    slopes = []
    for ell, per_l in enumerate(zeros):
        for z in per_l:
            norm = math.sqrt(2.0 / cutoff**3) / abs(float(spherical_jn(ell + 1, z)))
            x = z * r / cutoff
            values.append(norm * spherical_jn(ell, x))
            slopes.append(norm * z / cutoff * spherical_jn(ell, x, derivative=True))
    y = torch.tensor(np.stack(values, axis=1), dtype=torch.float64)
    dy = torch.tensor(np.stack(slopes, axis=1), dtype=torch.float64) * h
    y0, y1, d0, d1 = y[:-1], y[1:], dy[:-1], dy[1:]
    return torch.stack(
        [y0, d0, 3 * (y1 - y0) - 2 * d0 - d1, 2 * (y0 - y1) + d0 + d1], dim=1
    )


class ExactBuffers(torch.nn.Module):
    """A module whose buffers are tables computed once in float64 and kept so:
    ``.to(dtype)`` moves them between devices but does not round them (a model
    built in float32 and moved to float64 keeps exact tables); ``forward`` casts
    them to the dtype of its input."""

    def _apply(
        self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True
    ) -> "ExactBuffers":
        for name, buffer in self._buffers.items():
            if buffer is not None:
                probe = fn(torch.zeros(0, dtype=torch.float64, device=buffer.device))
                self._buffers[name] = buffer.to(device=probe.device)
        return self


class LaplacianEigenstates(ExactBuffers):
    """``R_nl(r)`` for every kept ``(l, n)``, ``l`` major: ``forward(r [P]) ->
    [P, n_functions]``; :attr:`n_per_l` gives the number of functions of each ``l``.

    The spline table is a non-persistent buffer rebuilt from the hyperparameters, so
    checkpoints do not store it.
    """

    table: torch.Tensor

    def __init__(self, cutoff: float, max_radial: int, max_angular: int) -> None:
        super().__init__()
        zeros = bessel_zeros(max_radial, max_angular)
        self.n_per_l: List[int] = [len(per_l) for per_l in zeros]
        self.cutoff = float(cutoff)
        table = spline_table(cutoff, zeros)
        self.spacing = self.cutoff / table.shape[0]
        self.last_interval = int(table.shape[0]) - 1
        self.register_buffer("table", table, persistent=False)

    def forward(self, distances: torch.Tensor) -> torch.Tensor:
        scaled = distances / self.spacing
        # the interval index carries no gradient; u carries all of it
        interval = torch.clamp(scaled.detach().floor(), 0, self.last_interval)
        u = (scaled - interval).unsqueeze(1)
        table = self.table.to(distances.dtype)
        c = table.index_select(0, interval.to(torch.long))
        return c[:, 0] + u * (c[:, 1] + u * (c[:, 2] + u * c[:, 3]))


class ShiftedCosineCutoff(torch.nn.Module):
    """Smooth cutoff: 1 below ``radius - width``, ``(1 + cos(π x)) / 2`` with
    ``x = (r - radius + width) / width`` up to ``radius``, 0 beyond; continuous with
    its first derivative everywhere."""

    def __init__(self, radius: float, width: float) -> None:
        super().__init__()
        self.radius = float(radius)
        self.width = float(width)

    def forward(self, distances: torch.Tensor) -> torch.Tensor:
        x = (distances - (self.radius - self.width)) / self.width
        x = torch.clamp(x, 0.0, 1.0)
        return 0.5 * (1.0 + torch.cos(math.pi * x))
