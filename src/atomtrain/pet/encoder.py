"""PET's message-passing network: from neighbour edges to per-layer node features and
edge tokens.

Shapes: ``n`` atoms in the batch, ``E`` edges (full neighbour lists), ``K`` the largest
number of neighbours of an atom, ``d = d_pet``. Edges are kept flat (``[E, d]``) for
the per-edge networks and scattered into the dense ``[n, K + 1, d]`` token layout (the
central token first) only for the transformer.
"""

from typing import Any, List, Mapping, Optional, Tuple

import torch

from .adaptive_cutoff import AdaptiveCutoff
from .modules import Transformer, log_cutoff, mlp
from .neighbors import padding_slots, reverse_edges


class GNNLayer(torch.nn.Module):
    """One message-passing layer: edge tokens and a central token per atom, a
    transformer over each neighbourhood, updated node features and output tokens."""

    def __init__(
        self,
        num_types: int,
        d_pet: int,
        d_node: int,
        d_feedforward: int,
        num_heads: int,
        num_attention_layers: int,
        num_radial: int,
        norm: str,
        activation: str,
        temperature: float,
        pre_norm: bool,
        first: bool,
        mix_messages: bool = False,
    ) -> None:
        super().__init__()
        self.first = first
        self.mix_messages = mix_messages
        # feedforward featurizer: the message into the next layer at edge i ← j
        # mixes this layer's output tokens at i ← j and at j ← i
        self.combination = (
            torch.nn.Sequential(
                torch.nn.LayerNorm(2 * d_pet),
                torch.nn.Linear(2 * d_pet, 2 * d_pet),
                torch.nn.SiLU(),
                torch.nn.Linear(2 * d_pet, d_pet),
            )
            if mix_messages
            else torch.nn.Sequential()
        )
        self.geometry = torch.nn.Linear(3 + num_radial, d_pet)
        self.neighbor_species = torch.nn.Embedding(num_types, d_pet)
        inputs = 2 if first else 3
        self.compress = torch.nn.Sequential(
            torch.nn.Linear(inputs * d_pet, d_pet),
            torch.nn.SiLU(),
            torch.nn.Linear(d_pet, d_pet),
        )
        self.node_to_token = torch.nn.Linear(d_node, d_pet)
        self.transformer = Transformer(
            num_attention_layers,
            d_pet,
            num_heads,
            d_feedforward,
            norm,
            activation,
            temperature,
            pre_norm,
        )
        self.token_to_node = mlp([d_pet, d_node])
        self.node_update = torch.nn.Linear(d_node, d_node)

    def forward(
        self,
        geometry: torch.Tensor,
        neighbor_species: torch.Tensor,
        messages: torch.Tensor,
        nodes: torch.Tensor,
        slots: torch.Tensor,
        bias: torch.Tensor,
        fused: bool,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """New node features ``[n, d_node]`` and output edge tokens ``[E, d_pet]``.

        ``geometry`` ``[E, 3 + num_radial]``, ``neighbor_species`` ``[E]``,
        ``messages`` ``[E, d_pet]`` (ignored in the first layer), ``nodes``
        ``[n, d_node]``, ``slots`` ``[E]`` (see :func:`padding_slots`) and the
        attention ``bias`` ``[n, 1, 1, K + 1]``.
        """
        edge_tokens = self.compress[2](
            self.compress[1](self._mix_inputs(geometry, neighbor_species, messages))
        )
        n_atoms = nodes.shape[0]
        max_neighbors = bias.shape[-1] - 1
        width = edge_tokens.shape[1]
        dense = edge_tokens.new_zeros((n_atoms * max_neighbors, width))
        dense = dense.index_copy(0, slots, edge_tokens)
        tokens = torch.cat(
            [
                self.node_to_token(nodes).unsqueeze(1),
                dense.reshape(n_atoms, max_neighbors, width),
            ],
            dim=1,
        )
        # split, not indexed: the derivative of a split is one concatenation, that
        # of an index a zero tensor of the full size per index
        central, neighbors = self.transformer(tokens, bias, fused).split(
            [1, max_neighbors], dim=1
        )
        nodes = nodes + self.node_update(self.token_to_node(central.squeeze(1)))
        edges = neighbors.reshape(n_atoms * max_neighbors, width)
        return nodes, edges.index_select(0, slots)

    def messages(self, edges: torch.Tensor, reverse: torch.Tensor) -> torch.Tensor:
        """The messages ``[E, d_pet]`` into the next layer from this layer's output
        tokens ``edges``: the token of the reverse edge, mixed with the edge's own
        when ``mix_messages``."""
        reversed_tokens = edges.index_select(0, reverse)
        if self.mix_messages:
            return self.combination(torch.cat([edges, reversed_tokens], dim=1))
        return reversed_tokens

    def _mix_inputs(
        self,
        geometry: torch.Tensor,
        neighbor_species: torch.Tensor,
        messages: torch.Tensor,
    ) -> torch.Tensor:
        """The first layer of ``compress`` on the concatenated geometry embedding,
        neighbour-species embedding and message of each edge, computed as a sum of
        three products: the embeddings' weights are folded into ``compress``'s
        (tiny products of weights), so no ``[E, inputs · d_pet]`` concatenation is
        built, and its slices are not multiplied as strided matrices in the
        backward passes."""
        weight: torch.Tensor = self.compress[0].weight  # type: ignore[assignment]
        bias: torch.Tensor = self.compress[0].bias  # type: ignore[assignment]
        width = self.geometry.weight.shape[0]
        on_geometry = weight[:, :width]
        on_species = weight[:, width : 2 * width]
        mixed = torch.nn.functional.linear(
            geometry,
            on_geometry @ self.geometry.weight,
            bias + on_geometry @ self.geometry.bias,
        )
        species_table = self.neighbor_species.weight @ on_species.t()
        mixed = mixed + species_table.index_select(0, neighbor_species)
        if not self.first:
            on_messages = weight[:, 2 * width :]
            mixed = mixed + torch.nn.functional.linear(messages, on_messages)
        return mixed


class Encoder(torch.nn.Module):
    """``num_gnn_layers`` :class:`GNNLayer`; the messages into layer ``l + 1`` at
    edge ``i ← j`` are the output tokens of layer ``l`` at the reverse edge
    ``j ← i`` (the ``residual`` featurizer, whose every layer is read out), or,
    with ``feedforward``, a learned mix of the tokens at both ``i ← j`` and
    ``j ← i``, and only the last layer is read out."""

    radial_centers: torch.Tensor

    def __init__(
        self,
        num_types: int,
        cutoff: float,
        cutoff_width: float,
        bump: bool,
        d_pet: int,
        d_node: int,
        d_feedforward: int,
        num_heads: int,
        num_attention_layers: int,
        num_gnn_layers: int,
        num_radial: int,
        norm: str,
        activation: str,
        temperature: float,
        pre_norm: bool,
        feedforward: bool = False,
        adaptive_cutoff: Optional[AdaptiveCutoff] = None,
    ) -> None:
        super().__init__()
        self.feedforward = feedforward
        self.adaptive_cutoff = (
            adaptive_cutoff
            if adaptive_cutoff is not None
            else AdaptiveCutoff(0, cutoff, cutoff_width, 1.0, "solver")
        )
        self.cutoff = cutoff
        self.cutoff_width = cutoff_width
        self.bump = bump
        self.species = torch.nn.Embedding(num_types, d_node)
        # Gaussian centres follow the model's dtype: a buffer, not saved
        self.register_buffer(
            "radial_centers", torch.linspace(0.0, cutoff, num_radial), persistent=False
        )
        self.radial_width = cutoff / num_radial
        self.layers = torch.nn.ModuleList(
            GNNLayer(
                num_types,
                d_pet,
                d_node,
                d_feedforward,
                num_heads,
                num_attention_layers,
                num_radial,
                norm,
                activation,
                temperature,
                pre_norm,
                first=(layer == 0),
                mix_messages=feedforward and layer < num_gnn_layers - 1,
            )
            for layer in range(num_gnn_layers)
        )

    def forward(
        self,
        vectors: torch.Tensor,
        centers: torch.Tensor,
        neighbors: torch.Tensor,
        shifts: torch.Tensor,
        species: torch.Tensor,
        fused: bool,
        conditioning: List[torch.Tensor],
    ) -> Tuple[List[torch.Tensor], List[torch.Tensor], torch.Tensor]:
        """Node features ``[n, d_node]`` and edge tokens ``[E, d_pet]`` of every
        layer, and the cutoff weights ``f_c`` ``[E]`` of the edges.

        ``species`` ``[n]`` are the atoms' indices among the model's atomic types;
        ``vectors``, ``centers``, ``neighbors`` and ``shifts`` come from
        :func:`~atomtrain.pet.neighbors.batch_edges`; ``conditioning``: ``[n,
        d_node]`` added to the node features before each layer, or empty
        (:mod:`atomtrain.pet.conditioning`).
        """
        n_atoms = species.shape[0]
        slots, max_neighbors = padding_slots(centers, n_atoms)
        reverse = reverse_edges(centers, neighbors, shifts, n_atoms)
        distances = torch.linalg.vector_norm(vectors, dim=1)
        cutoffs = self.adaptive_cutoff(distances, centers, n_atoms)
        log_fc = log_cutoff(distances, cutoffs, self.cutoff_width, self.bump)
        exponent = (
            (distances.unsqueeze(1) - self.radial_centers) / self.radial_width
        ) ** 2
        # Gaussians below e^-60 are set to 0: their float32 values would be
        # subnormal numbers, on which CPUs compute up to a hundred times slower
        radial = torch.where(exponent < 60.0, torch.exp(-exponent), 0.0)
        geometry = torch.cat([vectors, radial], dim=1)
        bias = attention_bias(log_fc, slots, n_atoms, max_neighbors)
        nodes = self.species(species)
        neighbor_species = species.index_select(0, neighbors)
        messages = torch.zeros(0, dtype=vectors.dtype, device=vectors.device)
        all_nodes: List[torch.Tensor] = []
        all_edges: List[torch.Tensor] = []
        for index, layer in enumerate(self.layers):
            if len(conditioning) > 0:
                nodes = nodes + conditioning[index]
            nodes, edges = layer(
                geometry,
                neighbor_species,
                messages,
                nodes,
                slots,
                bias,
                fused,
            )
            messages = layer.messages(edges, reverse)  # type: ignore[operator]
            all_nodes.append(nodes)
            all_edges.append(edges)
        if self.feedforward:
            return all_nodes[-1:], all_edges[-1:], torch.exp(log_fc)
        return all_nodes, all_edges, torch.exp(log_fc)


def build_encoder(hypers: Mapping[str, Any], num_types: int) -> Encoder:
    """The encoder of a PET of model ``hypers`` for ``num_types`` atomic types."""
    return Encoder(
        num_types=num_types,
        cutoff=float(hypers["cutoff"]),
        cutoff_width=float(hypers["cutoff_width"]),
        bump=hypers["cutoff_function"] == "Bump",
        d_pet=int(hypers["d_pet"]),
        d_node=int(hypers["d_node"]),
        d_feedforward=int(hypers["d_feedforward"]),
        num_heads=int(hypers["num_heads"]),
        num_attention_layers=int(hypers["num_attention_layers"]),
        num_gnn_layers=int(hypers["num_gnn_layers"]),
        num_radial=int(hypers["num_radial"]),
        norm=hypers["normalization"],
        activation=hypers["activation"],
        temperature=float(hypers["attention_temperature"]),
        pre_norm=hypers["transformer_type"] == "PreLN",
        feedforward=hypers["featurizer_type"] == "feedforward",
        adaptive_cutoff=AdaptiveCutoff(
            int(hypers["num_neighbors_adaptive"] or 0),
            float(hypers["cutoff"]),
            float(hypers["cutoff_width"]),
            float(hypers["cutoff_width_adaptive"]),
            hypers["adaptive_cutoff_method"],
        ),
    )


def attention_bias(
    log_fc: torch.Tensor, slots: torch.Tensor, n_atoms: int, max_neighbors: int
) -> torch.Tensor:
    """The bias of the attention ``[n_atoms, 1, 1, max_neighbors + 1]``: 0 for the
    central token, ``log f_c`` of each edge at its slot (see :func:`padding_slots`),
    and -inf for the padding, so that an edge fades out smoothly at the cutoff."""
    padded = torch.full(
        (n_atoms * max_neighbors,),
        float("-inf"),
        dtype=log_fc.dtype,
        device=log_fc.device,
    ).index_copy(0, slots, log_fc)
    central = torch.zeros((n_atoms, 1), dtype=log_fc.dtype, device=log_fc.device)
    return torch.cat([central, padded.reshape(n_atoms, max_neighbors)], dim=1).reshape(
        n_atoms, 1, 1, max_neighbors + 1
    )
