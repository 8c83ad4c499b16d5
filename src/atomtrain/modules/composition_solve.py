"""The solves behind the composition baseline's fit: least squares on atom counts for
per-structure targets, means per type for per-atom targets. Pure float64 tensor math
on what a pass over the data gathers (compact: a row of atom counts and the labels per
structure, or sums and counts per type); ``fixed_mask``/``fixed_weights``
``[n_types]`` keep the user's per-type values."""

import torch


def fit_per_structure(
    counts: torch.Tensor,
    labels: torch.Tensor,
    fixed_mask: torch.Tensor,
    fixed_weights: torch.Tensor,
) -> torch.Tensor:
    """Least squares on atom counts ``[n_structures, n_types]`` against labels
    ``[n_structures, n_properties]``, one property at a time so that a NaN label
    only drops its own property."""
    n_properties = labels.shape[1]
    weights = fixed_weights.unsqueeze(1).repeat(1, n_properties)
    if len(labels) == 0:
        return weights
    targets = labels - counts @ weights
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
    sums: torch.Tensor,
    counts: torch.Tensor,
    fixed_mask: torch.Tensor,
    fixed_weights: torch.Tensor,
) -> torch.Tensor:
    """Mean of each property over the atoms of each type, from the ``sums`` and
    ``counts`` ``[n_types, n_properties]`` of the finite labels."""
    weights = fixed_weights.unsqueeze(1).repeat(1, sums.shape[1])
    free = ~fixed_mask.unsqueeze(1) & (counts > 0)
    weights[free] = sums[free] / counts[free]
    return weights
