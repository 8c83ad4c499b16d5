"""The neighbour edges of a batch of systems: flat, padded per atom, and reversed.

PET needs, once per batch,

- every edge ``e = (i, j, S)`` of the full neighbour lists of all systems, with atom
  indices into the concatenated atoms of the batch (:func:`batch_edges`);
- the slot of each edge in a dense ``[n_atoms, max_neighbors]`` layout, so that the
  neighbours of each atom become one padded sequence (:func:`padding_slots`);
- the index of the reverse edge ``(j, i, -S)`` of each edge, through which the message
  that atom ``j`` sends to ``i`` is read (:func:`reverse_edges`).

All three are vectorised index arithmetic: no loop over atoms or pairs. They are
TorchScript functions called from the model's ``forward``.
"""

from typing import List, Tuple

import torch
from metatomic.torch import NeighborListOptions, System


def batch_edges(
    systems: List[System], options: NeighborListOptions
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Edges of every system's neighbour list ``options``, concatenated.

    Returns ``(vectors [E, 3], centers [E], neighbors [E], shifts [E, 3])``: the pair
    vectors ``r_j - r_i + S·cell`` (differentiable with respect to positions and cell),
    and the int64 indices of the central and neighbour atoms among all the atoms of
    the batch, and the integer cell shifts.
    """
    vectors: List[torch.Tensor] = []
    centers: List[torch.Tensor] = []
    neighbors: List[torch.Tensor] = []
    shifts: List[torch.Tensor] = []
    offset = 0
    for system in systems:
        pairs = system.get_neighbor_list(options)
        samples = pairs.samples.values.to(torch.long)
        vectors.append(pairs.values.reshape(-1, 3))
        centers.append(samples[:, 0] + offset)
        neighbors.append(samples[:, 1] + offset)
        shifts.append(samples[:, 2:5])
        offset += len(system)
    return (
        torch.cat(vectors),
        torch.cat(centers),
        torch.cat(neighbors),
        torch.cat(shifts),
    )


def padding_slots(centers: torch.Tensor, n_atoms: int) -> Tuple[torch.Tensor, int]:
    """The slot ``centers[e] * max_neighbors + rank`` of each edge in the flattened
    dense layout ``[n_atoms * max_neighbors]``, where ``rank`` numbers the edges of
    each center in their order of appearance; and ``max_neighbors``."""
    counts = torch.bincount(centers, minlength=n_atoms)
    max_neighbors = int(counts.max()) if n_atoms > 0 and centers.shape[0] > 0 else 0
    order = torch.argsort(centers, stable=True)
    first_edge = torch.cumsum(counts, 0) - counts
    sorted_centers = centers[order]
    rank = torch.empty_like(centers)
    rank[order] = (
        torch.arange(centers.shape[0], device=centers.device)
        - first_edge[sorted_centers]
    )
    return centers * max_neighbors + rank, max_neighbors


def reverse_edges(
    centers: torch.Tensor,
    neighbors: torch.Tensor,
    shifts: torch.Tensor,
    n_atoms: int,
) -> torch.Tensor:
    """For each edge ``(i, j, S)``, the index of the edge ``(j, i, -S)``.

    Every edge of a full neighbour list has its reverse; a missing one (a half list,
    or a list cut differently for both directions) raises an error.
    """
    if centers.shape[0] == 0:
        return centers
    reach = int(shifts.abs().max()) if shifts.numel() > 0 else 0
    base = 2 * reach + 1
    forward_key = _edge_key(centers, neighbors, shifts, n_atoms, reach, base)
    backward_key = _edge_key(neighbors, centers, -shifts, n_atoms, reach, base)
    sorted_keys, order = torch.sort(forward_key)
    position = torch.searchsorted(sorted_keys, backward_key)
    position = position.clamp_max(sorted_keys.shape[0] - 1)
    if not bool(torch.all(sorted_keys[position] == backward_key)):
        raise ValueError(
            "PET needs a full neighbour list in which every pair (i, j, S) has its "
            "reverse (j, i, -S)"
        )
    return order[position]


def _edge_key(
    first: torch.Tensor,
    second: torch.Tensor,
    shifts: torch.Tensor,
    n_atoms: int,
    reach: int,
    base: int,
) -> torch.Tensor:
    """A unique int64 per ``(first, second, shift)`` with shifts in ``[-reach,
    reach]``."""
    key = first * n_atoms + second
    for axis in range(3):
        key = key * base + (shifts[:, axis] + reach)
    return key
