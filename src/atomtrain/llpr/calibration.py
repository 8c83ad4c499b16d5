"""The LLPR linear algebra: covariance, regularised inverse, calibration.

All in float64. Features ``Φ [n, F]`` of the training structures give ``C = ΦᵀΦ``;
with ``C = U diag(e) Uᵀ``, ``(C + λ I)⁻¹ = U diag(1 / (e + λ)) Uᵀ`` for every ``λ`` at
the cost of one eigendecomposition, so the regulariser is chosen on a grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

#: Regularisers tried, relative to the mean eigenvalue of the covariance.
RELATIVE_REGULARIZERS = [10.0**k for k in range(-12, 3)]


@dataclass(frozen=True)
class Calibration:
    """The fitted inverse covariance ``[F, F]``, scale ``α²`` and regulariser."""

    inverse: torch.Tensor
    scale: float
    regularizer: float


def _likelihood(errors: torch.Tensor, variances: torch.Tensor) -> float:
    """Mean Gaussian log-likelihood (without the constant) of ``errors``."""
    return float(-0.5 * (torch.log(variances) + errors**2 / variances).mean())


def calibrate(
    covariance: torch.Tensor,
    features: torch.Tensor,
    errors: torch.Tensor,
    regularizer: Optional[float] = None,
) -> Calibration:
    """Fit ``λ`` (unless given) and ``α²`` by the likelihood of the validation
    ``errors [n]`` with features ``[n, F]``."""
    covariance = covariance.to(torch.float64)
    eigenvalues, vectors = torch.linalg.eigh(covariance)
    eigenvalues = eigenvalues.clamp(min=0.0)
    projected = (features.to(torch.float64) @ vectors) ** 2
    errors = errors.to(torch.float64)
    mean = float(eigenvalues.mean()) if eigenvalues.numel() else 1.0
    grid = (
        [regularizer]
        if regularizer is not None
        else [r * max(mean, 1e-300) for r in RELATIVE_REGULARIZERS]
    )
    best: Optional[Calibration] = None
    best_score = -math.inf
    for value in grid:
        quadratic = (projected / (eigenvalues + value)).sum(dim=1).clamp(min=1e-300)
        scale = float((errors**2 / quadratic).mean())
        score = _likelihood(errors, scale * quadratic)
        if best is None or score > best_score:
            inverse = (vectors / (eigenvalues + value)) @ vectors.T
            best, best_score = Calibration(inverse, scale, value), score
    assert best is not None
    return best


def variances(features: torch.Tensor, calibration: Calibration) -> torch.Tensor:
    """``α² φᵀ (C + λ I)⁻¹ φ`` for each row of ``features``."""
    features = features.to(torch.float64)
    return calibration.scale * ((features @ calibration.inverse) * features).sum(dim=1)
