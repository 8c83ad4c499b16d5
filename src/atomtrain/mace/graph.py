"""From metatomic systems to MACE's graph, and from per-atom values to outputs.

These are TorchScript functions called by the model's ``forward``: vectorised index
arithmetic over the whole batch, no loop over atoms or pairs.
"""

from typing import List, Optional, Tuple

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
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


def atom_indices(
    systems: List[System], selected_atoms: Optional[Labels], device: torch.device
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The system and atom index of each atom to output, and its row among all the
    atoms of ``systems`` (the ``selected_atoms``, or all)."""
    counts = torch.tensor([len(s) for s in systems], device=device)
    system = torch.repeat_interleave(torch.arange(len(systems), device=device), counts)
    atom = torch.arange(system.shape[0], device=device) - torch.repeat_interleave(
        torch.cumsum(counts, 0) - counts, counts
    )
    keep = torch.arange(system.shape[0], device=device)
    if selected_atoms is not None:
        stride = int(counts.max()) + 1
        wanted = selected_atoms.column("system").to(device) * stride
        wanted = wanted + selected_atoms.column("atom").to(device)
        keep = torch.nonzero(torch.isin(system * stride + atom, wanted))[:, 0]
    return system.index_select(0, keep), atom.index_select(0, keep), keep


def sum_per_system(
    values: torch.Tensor, system: torch.Tensor, n_systems: int, per_atom: bool
) -> torch.Tensor:
    """``values`` ``[n, p]`` as they are, or summed per system."""
    if per_atom:
        return values
    total = values.new_zeros((n_systems, values.shape[1]))
    return total.index_add(0, system, values)


def scalar_map(
    values: torch.Tensor,
    system: torch.Tensor,
    atom: torch.Tensor,
    n_systems: int,
    per_atom: bool,
    property_name: str,
) -> TensorMap:
    """A one-block TensorMap of ``values`` ``[n_samples, p]``: samples ``system,
    atom`` when ``per_atom``, ``system`` otherwise."""
    device = values.device
    if per_atom:
        samples = Labels(
            ["system", "atom"], torch.stack([system, atom], dim=1).to(torch.int32)
        )
    else:
        indices = torch.arange(n_systems, dtype=torch.int32, device=device)
        samples = Labels(["system"], indices.reshape(-1, 1))
    count = torch.arange(values.shape[1], dtype=torch.int32, device=device)
    block = TensorBlock(
        values=values,
        samples=samples,
        components=[],
        properties=Labels([property_name], count.reshape(-1, 1)),
    )
    keys = Labels(["_"], torch.zeros((1, 1), dtype=torch.int32, device=device))
    return TensorMap(keys, [block])
