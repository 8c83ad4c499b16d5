"""The algebra of real spherical harmonics, in the convention of the targets and of
sphericart: Wigner matrices of rotations and Clebsch–Gordan coefficients.

Spherical targets (``o3_lambda`` λ, ``o3_mu`` μ = −λ … λ) are components on the real
spherical harmonics ``Y_λμ`` of sphericart (for λ = 1: ``(y, z, x)``, the
convention of metatensor and of the reference implementation). Under a rotation ``R``
such components transform as ``a → D^λ(R) a``, with ``D^λ`` defined by
``Y_λ(R r̂) = D^λ(R) Y_λ(r̂)``; under the inversion ``r → −r`` a block with
``o3_sigma`` σ picks up ``σ (−1)^λ``.

:func:`wigner_d` computes ``D^λ(R)`` from sphericart's harmonics themselves (a least
squares fit over points where they are evaluated, exact to rounding), so that it
holds for the convention the models use whatever it is. :func:`clebsch_gordan`
gives the real coefficients that couple two sets of components ``a`` (``l1``) and
``b`` (``l2``) into an equivariant of order λ,
``c_μ = Σ C[m1, m2, μ] a_m1 b_m2``: the complex Clebsch–Gordan coefficients (Racah's
formula) carried over to the real basis. The result has parity ``(−1)^(l1+l2)``, so
``σ = (−1)^(l1+l2+λ)``.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ..utils.extensions import import_extension_package


def real_harmonics(max_ell: int, vectors: torch.Tensor) -> torch.Tensor:
    """sphericart's real spherical harmonics of the directions of ``vectors [N, 3]``:
    ``[N, (max_ell + 1)²]``, ``l`` by ``l`` and ``m = −l … l`` within each."""
    sphericart = import_extension_package("sphericart.torch")
    harmonics = sphericart.SphericalHarmonics(max_ell)
    directions = vectors / torch.linalg.vector_norm(vectors, dim=1, keepdim=True)
    return harmonics(directions.to(torch.float64))


@functools.cache
def _fit_points(count: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(20261205 + count)
    return torch.randn(count, 3, generator=generator, dtype=torch.float64)


def wigner_d(ell: int, rotation: torch.Tensor) -> torch.Tensor:
    """``D^ell(R)`` for the rotation matrix ``rotation [3, 3]`` (float64, proper or
    improper): ``Y_ell(R r̂) = D Y_ell(r̂)`` for every direction ``r̂``."""
    rotation = rotation.to(torch.float64)
    points = _fit_points(4 * (2 * ell + 1))
    start, stop = ell * ell, (ell + 1) * (ell + 1)
    before = real_harmonics(ell, points)[:, start:stop]
    after = real_harmonics(ell, points @ rotation.T)[:, start:stop]
    transposed = torch.linalg.lstsq(before, after).solution
    return transposed.T.contiguous()


def random_rotation(generator: torch.Generator) -> torch.Tensor:
    """A uniformly random proper rotation matrix (float64)."""
    matrix, upper = torch.linalg.qr(
        torch.randn(3, 3, generator=generator, dtype=torch.float64)
    )
    matrix = matrix * torch.sign(torch.diagonal(upper)).unsqueeze(0)
    if torch.det(matrix) < 0:
        matrix[:, 0] = -matrix[:, 0]
    return matrix


def _complex_cg(l1: int, m1: int, l2: int, m2: int, lam: int, mu: int) -> float:
    """⟨l1 m1; l2 m2 | λ μ⟩ by Racah's formula (Condon–Shortley phases)."""
    if m1 + m2 != mu or not abs(l1 - l2) <= lam <= l1 + l2:
        return 0.0
    if abs(m1) > l1 or abs(m2) > l2 or abs(mu) > lam:
        return 0.0
    f = math.factorial
    prefactor = math.sqrt(
        (2 * lam + 1)
        * f(lam + l1 - l2)
        * f(lam - l1 + l2)
        * f(l1 + l2 - lam)
        / f(l1 + l2 + lam + 1)
    ) * math.sqrt(
        f(lam + mu) * f(lam - mu) * f(l1 - m1) * f(l1 + m1) * f(l2 - m2) * f(l2 + m2)
    )
    total = 0.0
    for k in range(0, l1 + l2 - lam + 1):
        denominators = (
            k,
            l1 + l2 - lam - k,
            l1 - m1 - k,
            l2 + m2 - k,
            lam - l2 + m1 + k,
            lam - l1 - m2 + k,
        )
        if min(denominators) < 0:
            continue
        term = 1.0
        for d in denominators:
            term /= f(d)
        total += (-1) ** k * term
    return prefactor * total


def _complex_to_real(ell: int) -> np.ndarray:
    """``U`` with ``Y_real = U Y_complex`` (rows: real ``m``, columns: complex ``m``,
    both −ell … ell), for the real harmonics
    ``√2 (−1)^m Re Y_l^m`` (m > 0), ``Y_l^0`` and ``√2 (−1)^m Im Y_l^|m|`` (m < 0)."""
    size = 2 * ell + 1
    u = np.zeros((size, size), dtype=np.complex128)
    for m in range(-ell, ell + 1):
        row = m + ell
        if m == 0:
            u[row, ell] = 1.0
        elif m > 0:
            # Re Y^m = (Y^m + (-1)^m Y^-m) / 2
            u[row, m + ell] = (-1) ** m / math.sqrt(2)
            u[row, -m + ell] = 1.0 / math.sqrt(2)
        else:
            a = -m
            # Im Y^a = (Y^a - (-1)^a Y^-a) / 2i
            u[row, a + ell] = (-1) ** a / (math.sqrt(2) * 1j)
            u[row, -a + ell] = -1.0 / (math.sqrt(2) * 1j)
    return u


@functools.cache
def _real_cg(l1: int, l2: int, lam: int) -> np.ndarray:
    complex_cg = np.zeros((2 * l1 + 1, 2 * l2 + 1, 2 * lam + 1))
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            mu = m1 + m2
            if abs(mu) <= lam:
                complex_cg[m1 + l1, m2 + l2, mu + lam] = _complex_cg(
                    l1, m1, l2, m2, lam, mu
                )
    u1, u2, u3 = _complex_to_real(l1), _complex_to_real(l2), _complex_to_real(lam)
    # a_complex = U^† a_real for each input, and the output goes back with U
    real = np.einsum(
        "pa,qb,abc,mc->pqm", u1.conj(), u2.conj(), complex_cg, u3, optimize=True
    )
    # the coefficients are all real or all imaginary (odd l1 + l2 + λ)
    if np.abs(real.real).max() >= np.abs(real.imag).max():
        return np.ascontiguousarray(real.real)
    return np.ascontiguousarray(real.imag)


def clebsch_gordan(l1: int, l2: int, lam: int) -> torch.Tensor:
    """Real coupling coefficients ``[2 l1 + 1, 2 l2 + 1, 2 λ + 1]`` (float64):
    ``c_μ = Σ C[m1, m2, μ] a_m1 b_m2`` is an equivariant of order λ for ``a`` and
    ``b`` of orders ``l1`` and ``l2``; ``|l1 − l2| ≤ λ ≤ l1 + l2``."""
    if not abs(l1 - l2) <= lam <= l1 + l2:
        raise ValueError(f"cannot couple l1={l1} and l2={l2} to λ={lam}")
    return torch.tensor(_real_cg(l1, l2, lam), dtype=torch.float64)  # a copy


def coupling_parity(l1: int, l2: int, lam: int) -> int:
    """The ``o3_sigma`` of the coupling of orders ``l1`` and ``l2`` into λ."""
    return 1 if (l1 + l2 + lam) % 2 == 0 else -1
