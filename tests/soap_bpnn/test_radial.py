"""The splined Laplacian eigenstates against SciPy, and the smooth cutoff."""

import math

import numpy as np
import pytest
import torch
from scipy.special import spherical_jn

from atomtrain.soap_bpnn.radial import (
    LaplacianEigenstates,
    ShiftedCosineCutoff,
    bessel_zeros,
)


def test_zeros_are_truncated_at_a_common_eigenvalue():
    zeros = bessel_zeros(max_radial=7, max_angular=6)
    assert [len(z) for z in zeros] == [8, 7, 7, 6, 6, 5, 5]
    np.testing.assert_allclose(zeros[0], math.pi * np.arange(1, 9), rtol=1e-12)
    for ell, per_l in enumerate(zeros):
        np.testing.assert_allclose(spherical_jn(ell, per_l), 0.0, atol=1e-12)


def test_spline_matches_the_bessel_functions_and_their_derivatives():
    cutoff = 4.5
    basis = LaplacianEigenstates(cutoff, max_radial=5, max_angular=4)
    zeros = bessel_zeros(5, 4)
    r = torch.linspace(0.0, cutoff * 0.999, 1001, dtype=torch.float64)
    r.requires_grad_(True)
    values = basis(r)
    column = 0
    for ell, per_l in enumerate(zeros):
        for z in per_l:
            norm = math.sqrt(2.0 / cutoff**3) / abs(spherical_jn(ell + 1, z))
            x = z * r.detach().numpy() / cutoff
            expected = norm * spherical_jn(ell, x)
            slope = norm * z / cutoff * spherical_jn(ell, x, derivative=True)
            got = values[:, column]
            (gradient,) = torch.autograd.grad(got.sum(), r, retain_graph=True)
            scale = np.abs(expected).max()
            np.testing.assert_allclose(got.detach(), expected, atol=1e-7 * scale)
            np.testing.assert_allclose(gradient, slope, atol=1e-5 * np.abs(slope).max())
            column += 1
    assert column == values.shape[1] == sum(basis.n_per_l)


def test_functions_are_orthonormal_on_the_sphere():
    cutoff = 3.0
    basis = LaplacianEigenstates(cutoff, max_radial=4, max_angular=0)
    r = torch.linspace(0.0, cutoff, 20001, dtype=torch.float64)
    values = basis(r)
    gram = torch.trapezoid(values.T[:, None] * values.T[None] * r**2, r)
    torch.testing.assert_close(
        gram, torch.eye(5, dtype=torch.float64), atol=1e-5, rtol=0
    )


def test_cutoff_function_is_one_inside_zero_outside_and_smooth():
    cutoff = ShiftedCosineCutoff(radius=5.0, width=0.5)
    r = torch.tensor([0.0, 4.4, 4.5, 4.75, 5.0, 6.0], dtype=torch.float64)
    r.requires_grad_(True)
    values = cutoff(r)
    torch.testing.assert_close(
        values.detach(),
        torch.tensor([1.0, 1.0, 1.0, 0.5, 0.0, 0.0], dtype=torch.float64),
    )
    (slope,) = torch.autograd.grad(values.sum(), r)
    assert slope[[0, 1, 2, 4, 5]].abs().max() < 1e-12
    assert slope[3] == pytest.approx(-math.pi / 2 / 0.5)


def test_tables_stay_exact_through_dtype_casts():
    basis = LaplacianEigenstates(4.0, max_radial=3, max_angular=2)
    exact = basis.table.clone()
    basis.to(torch.float32).to(torch.float64)
    assert basis.table.dtype == torch.float64
    assert torch.equal(basis.table, exact)
    r = torch.tensor([1.0, 2.0], dtype=torch.float32)
    assert basis(r).dtype == torch.float32
