"""The solves behind the composition baseline's fit: least squares on atom counts for
per-structure targets, means per type for per-atom targets. Pure float64 tensor math;
``fixed_mask``/``fixed_weights`` ``[n_types]`` keep the user's per-type values."""

from typing import List

import torch


def fit_per_structure(
    types: List[torch.Tensor],
    labels: List[torch.Tensor],
    n_types: int,
    fixed_mask: torch.Tensor,
    fixed_weights: torch.Tensor,
) -> torch.Tensor:
    """Least squares on atom counts ``[n_structures, n_types]``, one property at a
    time so that a NaN label only drops its own property."""
    n_properties = labels[0].shape[-1] if labels else 1
    weights = fixed_weights.unsqueeze(1).repeat(1, n_properties)
    if not labels:
        return weights
    counts = torch.stack([torch.bincount(t, minlength=n_types) for t in types]).to(
        torch.float64
    )
    targets = torch.cat([label.reshape(1, -1) for label in labels])
    targets = targets - counts @ weights
    for p in range(n_properties):
        rows = torch.isfinite(targets[:, p])
        free = ~fixed_mask & (counts[rows].sum(dim=0) > 0)
        if not bool(rows.any()) or not bool(free.any()):
            continue
        solution = torch.linalg.lstsq(
            counts[rows][:, free], targets[rows, p : p + 1], driver="gelsd"
        ).solution
        weights[free, p] = solution[:, 0]
    return weights


def fit_per_atom(
    types: List[torch.Tensor],
    labels: List[torch.Tensor],
    n_types: int,
    fixed_mask: torch.Tensor,
    fixed_weights: torch.Tensor,
) -> torch.Tensor:
    """Mean of each property over the atoms of each type."""
    n_properties = labels[0].shape[-1] if labels else 1
    weights = fixed_weights.unsqueeze(1).repeat(1, n_properties)
    if not labels:
        return weights
    index = torch.cat(types)
    values = torch.cat([label.reshape(label.shape[0], -1) for label in labels])
    for p in range(n_properties):
        rows = torch.isfinite(values[:, p])
        sums = torch.zeros(n_types, dtype=torch.float64).index_add(
            0, index[rows], values[rows, p]
        )
        counts = torch.bincount(index[rows], minlength=n_types)
        free = ~fixed_mask & (counts > 0)
        weights[free, p] = sums[free] / counts[free]
    return weights
