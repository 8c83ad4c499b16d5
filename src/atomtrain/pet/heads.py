"""Readouts of PET: one head per target.

A target's head has, for every message-passing layer, a network on the node features
and one on the edge tokens (weighted by the cutoff function and summed over each
atom's neighbours). Their last hidden features, concatenated over layers, are the
target's *last-layer features* ``[n_atoms, 2 · num_gnn_layers · d_head]``; one linear
layer maps them to the per-atom contributions ``[n_atoms, 3^rank · n_properties]``.
"""

from typing import List

import torch

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

    def values(
        self,
        features: torch.Tensor,
        nodes: List[torch.Tensor],
        edges: List[torch.Tensor],
        cutoff_weights: torch.Tensor,
        centers: torch.Tensor,
        vectors: torch.Tensor,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        """The per-atom values ``[n_kept, 3^rank · n_properties]`` of the kept atoms
        from their last-layer ``features`` (the other arguments serve heads that
        build an equivariant basis, :class:`~atomtrain.pet.spherical.CartesianHead`)."""
        return self.linear(features)
