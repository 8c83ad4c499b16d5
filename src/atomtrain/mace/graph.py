"""From metatomic systems to MACE's graph.

These are TorchScript functions called by the model's ``forward``: vectorised index
arithmetic over the whole batch, no loop over atoms or pairs.
"""

from typing import List, Tuple

import torch
from metatomic.torch import NeighborListOptions, System


def batch_graph(
    systems: List[System],
    options: NeighborListOptions,
    type_to_index: torch.Tensor,
    num_types: int,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pairs of every system's neighbour list ``options`` and the atoms' types.

    Returns the pair vectors ``[E, 3]`` (``r_j - r_i + S·cell`` for the pair
    ``(i, j, S)``, differentiable with respect to positions and cell), MACE's
    ``edge_index`` ``[2, E]`` with ``i`` as sender and ``j`` as receiver (indices
    among all atoms of the batch), and the one-hot types ``[n, num_types]`` in the
    vectors' dtype.
    """
    vectors: List[torch.Tensor] = []
    senders: List[torch.Tensor] = []
    receivers: List[torch.Tensor] = []
    offset = 0
    for system in systems:
        pairs = system.get_neighbor_list(options)
        samples = pairs.samples.values.to(torch.long)
        vectors.append(pairs.values.reshape(-1, 3))
        senders.append(samples[:, 0] + offset)
        receivers.append(samples[:, 1] + offset)
        offset += len(system)
    pair_vectors = torch.cat(vectors)
    types = torch.cat([system.types for system in systems]).to(torch.long)
    one_hot = torch.nn.functional.one_hot(type_to_index[types], num_types)
    edge_index = torch.stack([torch.cat(senders), torch.cat(receivers)])
    return pair_vectors, edge_index, one_hot.to(pair_vectors.dtype)
