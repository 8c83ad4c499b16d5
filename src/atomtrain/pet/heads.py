"""Readouts of PET: one head per target, and the TensorMaps of the outputs.

A target's head has, for every message-passing layer, a network on the node features
and one on the edge tokens (weighted by the cutoff function and summed over each
atom's neighbours). Their last hidden features, concatenated over layers, are the
target's *last-layer features* ``[n_atoms, 2 · num_gnn_layers · d_head]``; one linear
layer maps them to the per-atom contributions ``[n_atoms, 3^rank · n_properties]``.
"""

from typing import List

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from .modules import mlp


class TargetHead(torch.nn.Module):
    """The readout of one target from the features of every layer."""

    def __init__(
        self, num_layers: int, d_node: int, d_pet: int, d_head: int, n_outputs: int
    ) -> None:
        super().__init__()
        self.d_head = d_head
        self.node_heads = torch.nn.ModuleList(
            mlp([d_node, d_head, d_head]) for _ in range(num_layers)
        )
        self.edge_heads = torch.nn.ModuleList(
            mlp([d_pet, d_head, d_head]) for _ in range(num_layers)
        )
        self.linear = torch.nn.Linear(2 * num_layers * d_head, n_outputs)

    def last_layer_features(
        self,
        nodes: List[torch.Tensor],
        edges: List[torch.Tensor],
        cutoff_weights: torch.Tensor,
        centers: torch.Tensor,
    ) -> torch.Tensor:
        """``[n_atoms, 2 · num_layers · d_head]``: node readouts of each layer, then
        the cutoff-weighted sums of the edge readouts of each layer."""
        parts: List[torch.Tensor] = []
        for layer, head in enumerate(self.node_heads):
            parts.append(head(nodes[layer]))
        n_atoms = nodes[0].shape[0]
        weights = cutoff_weights.unsqueeze(1)
        for layer, head in enumerate(self.edge_heads):
            per_edge = head(edges[layer]) * weights
            summed = per_edge.new_zeros((n_atoms, self.d_head))
            parts.append(summed.index_add(0, centers, per_edge))
        return torch.cat(parts, dim=1)


def atom_samples(
    system: torch.Tensor, atom: torch.Tensor, n_systems: int, per_atom: bool
) -> Labels:
    """Samples ``system, atom`` of the given atoms, or ``system`` of every system."""
    if per_atom:
        values = torch.stack([system, atom], dim=1).to(torch.int32)
        return Labels(["system", "atom"], values)
    indices = torch.arange(n_systems, dtype=torch.int32, device=system.device)
    return Labels(["system"], indices.reshape(-1, 1))


def reduce_atoms(
    values: torch.Tensor, system: torch.Tensor, n_systems: int, per_atom: bool
) -> torch.Tensor:
    """``values`` ``[n_atoms, ...]`` as they are, or summed per system."""
    if per_atom:
        return values
    shape = list(values.shape)
    shape[0] = n_systems
    return values.new_zeros(shape).index_add(0, system, values)


def single_block_map(
    values: torch.Tensor,
    samples: Labels,
    component_names: List[str],
    property_name: str,
) -> TensorMap:
    """A one-block TensorMap of ``values`` ``[n_samples, 3, ..., n_properties]`` with
    one ``[0, 1, 2]`` component per name in ``component_names``."""
    device = values.device
    xyz = torch.arange(3, dtype=torch.int32, device=device).reshape(-1, 1)
    components = [Labels([name], xyz) for name in component_names]
    count = torch.arange(values.shape[-1], dtype=torch.int32, device=device)
    block = TensorBlock(
        values=values,
        samples=samples,
        components=components,
        properties=Labels([property_name], count.reshape(-1, 1)),
    )
    keys = Labels(["_"], torch.zeros((1, 1), dtype=torch.int32, device=device))
    return TensorMap(keys, [block])
