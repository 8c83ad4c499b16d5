"""MACE's message passing, assembled from mace-torch's own modules.

:func:`build_mace` builds a ``mace.modules.MACE`` from the hypers; :class:`Encoder`
keeps its embedding, spherical harmonics, radial basis, interaction and product
blocks — under the names mace-torch gives them, so that the weights of a MACE model
file load unchanged — and runs them on the pair vectors of atomtrain's neighbour
lists (``mace.modules.MACE.forward`` recomputes the vectors from positions and cell
shifts itself, so it is not called). Its readouts are those of
:mod:`atomtrain.mace.heads`, one per target.

Shapes: ``n`` atoms in the batch, ``E`` pairs of the full neighbour list, ``T`` atomic
types. ``edge_index`` ``[2, E]`` holds MACE's ``(sender, receiver)``: the message of
the pair goes from ``sender`` to ``receiver`` and its vector points from the sender to
the receiver, ``r_receiver - r_sender``.
"""

import math
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from .dependencies import modules, o3, quiet_construction
from .documentation import ModelHypers


def mace_arguments(hypers: ModelHypers, atomic_types: List[int]) -> Dict[str, Any]:
    """The keyword arguments of ``mace.modules.MACE`` for ``hypers``, with one
    (unused) head and zero ``E0s``: atomtrain's composition baseline holds those."""
    avg_num_neighbors = hypers["avg_num_neighbors"]
    return {
        "r_max": float(hypers["r_max"]),
        "num_bessel": int(hypers["num_radial_basis"]),
        "num_polynomial_cutoff": int(hypers["num_cutoff_basis"]),
        "max_ell": int(hypers["max_ell"]),
        "interaction_cls": modules.interaction_classes[hypers["interaction_cls"]],
        "interaction_cls_first": modules.interaction_classes[
            hypers["interaction_cls_first"]
        ],
        "num_interactions": int(hypers["num_interactions"]),
        "num_elements": len(atomic_types),
        "hidden_irreps": o3.Irreps(hypers["hidden_irreps"]),
        "MLP_irreps": o3.Irreps(hypers["MLP_irreps"]),
        "atomic_energies": np.zeros(len(atomic_types)),
        "avg_num_neighbors": (
            1.0 if avg_num_neighbors is None else float(avg_num_neighbors)
        ),
        "atomic_numbers": list(atomic_types),
        "correlation": int(hypers["correlation"]),
        "gate": modules.gate_dict[hypers["gate"]],
        "pair_repulsion": bool(hypers["pair_repulsion"]),
        "distance_transform": hypers["distance_transform"],
        "radial_MLP": [int(width) for width in hypers["radial_MLP"]],
        "radial_type": hypers["radial_type"],
        "use_reduced_cg": bool(hypers["use_reduced_cg"]),
    }


def build_mace(hypers: ModelHypers, atomic_types: List[int]) -> Any:
    """A ``mace.modules.MACE`` network for ``hypers`` and ``atomic_types``."""
    with quiet_construction():
        return modules.MACE(**mace_arguments(hypers, atomic_types))


class Encoder(torch.nn.Module):
    """Node embedding and ``num_interactions`` interaction and product blocks.

    The number dividing the sum of the messages each atom receives is the float64
    buffer ``avg_num_neighbors`` (NaN until known: the interactions then divide by
    1), so that a value computed from the training data travels in checkpoints;
    mace-torch's interactions read it as a plain attribute, set from the buffer
    whenever it changes or is loaded.
    """

    atomic_numbers: torch.Tensor
    avg_num_neighbors: torch.Tensor

    def __init__(self, mace: Any, avg_num_neighbors: Optional[float]) -> None:
        super().__init__()
        self.node_embedding = mace.node_embedding
        self.spherical_harmonics = mace.spherical_harmonics
        self.radial_embedding = mace.radial_embedding
        self.interactions = mace.interactions
        self.products = mace.products
        # read by the radial basis (distance transforms) and the ZBL repulsion;
        # derived from the atomic types, so not stored in checkpoints
        self.register_buffer(
            "atomic_numbers", mace.atomic_numbers.clone(), persistent=False
        )
        known = math.nan if avg_num_neighbors is None else float(avg_num_neighbors)
        self.register_buffer(
            "avg_num_neighbors", torch.tensor(known, dtype=torch.float64)
        )
        self._pass_avg_num_neighbors()

    @torch.jit.unused
    def layer_irreps(self) -> List[str]:
        """The irreps of the features each layer outputs (e3nn notation)."""
        return [str(product.linear.irreps_out) for product in self.products]

    @torch.jit.unused
    def set_avg_num_neighbors(self, value: float) -> None:
        """Divide the sum of the messages of every interaction by ``value``."""
        self.avg_num_neighbors.fill_(float(value))
        self._pass_avg_num_neighbors()

    @torch.jit.unused
    def _pass_avg_num_neighbors(self) -> None:
        value = float(self.avg_num_neighbors)
        for interaction in self.interactions:
            interaction.avg_num_neighbors = 1.0 if math.isnan(value) else value

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._pass_avg_num_neighbors()

    def _apply(self, fn: Any, recurse: bool = True) -> "Encoder":
        # follow device moves but not dtype casts: the count stays exact
        value = self.avg_num_neighbors
        super()._apply(fn, recurse)
        probe = fn(torch.zeros(0, dtype=torch.float64, device=value.device))
        self._buffers["avg_num_neighbors"] = value.to(device=probe.device)
        return self

    def forward(
        self,
        vectors: torch.Tensor,
        edge_index: torch.Tensor,
        node_attrs: torch.Tensor,
    ) -> List[torch.Tensor]:
        """The features of every layer, ``[n, dim(irreps_l)]`` each, from the pair
        ``vectors`` ``[E, 3]``, ``edge_index`` ``[2, E]`` and the one-hot atomic
        types ``node_attrs`` ``[n, T]``."""
        lengths = torch.linalg.norm(vectors, dim=-1, keepdim=True)
        node_feats = self.node_embedding(node_attrs)
        edge_attrs = self.spherical_harmonics(vectors)
        edge_feats, cutoff = self.radial_embedding(
            lengths, node_attrs, edge_index, self.atomic_numbers
        )
        features: List[torch.Tensor] = []
        for i, (interaction, product) in enumerate(
            zip(self.interactions, self.products)
        ):
            node_feats, skip = interaction(
                node_attrs=node_attrs,
                node_feats=node_feats,
                edge_attrs=edge_attrs,
                edge_feats=edge_feats,
                edge_index=edge_index,
                cutoff=cutoff,
                first_layer=(i == 0),
            )
            node_feats = product(node_feats=node_feats, sc=skip, node_attrs=node_attrs)
            features.append(node_feats)
        return features
