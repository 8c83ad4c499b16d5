"""MACE's readouts, one set per target, and the invariant channels they read.

A target's :class:`ReadoutHead` has mace-torch's ``LinearReadoutBlock`` on the
features of every layer but the last, and its ``NonLinearReadoutBlock`` (linear map to
``MLP_irreps``, activation, linear map) on the last layer (a single-layer model has
one linear readout). Their sum is each atom's contribution ``[n, n_properties]``.

Each readout ends in a linear map of invariant inputs: the scalar (``0e``) channels of
a layer's features for the linear readouts — e3nn's linear maps only connect ``0e``
inputs to ``0e`` outputs — and the hidden activations of the non-linear one. These
inputs, concatenated, are the target's *last-layer features*.
"""

from typing import Callable, List, Optional, Sequence

import torch

from .dependencies import modules, o3, quiet_construction


def scalar_columns(layer_irreps: Sequence[str]) -> torch.Tensor:
    """The columns of the ``0e`` channels in the features of ``layer_irreps``
    concatenated along the last dimension."""
    columns: List[torch.Tensor] = []
    offset = 0
    for irreps_text in layer_irreps:
        irreps = o3.Irreps(irreps_text)
        for (_, irrep), part in zip(irreps, irreps.slices()):
            if irrep == o3.Irrep("0e"):
                columns.append(torch.arange(part.start, part.stop) + offset)
        offset += irreps.dim
    if not columns:
        return torch.zeros(0, dtype=torch.long)
    return torch.cat(columns)


class ReadoutHead(torch.nn.Module):
    """The readouts of one target from the features of every layer."""

    scalars: torch.Tensor

    def __init__(
        self,
        layer_irreps: List[str],
        mlp_irreps: str,
        gate: Optional[Callable[[torch.Tensor], torch.Tensor]],
        n_outputs: int,
    ) -> None:
        super().__init__()
        output = o3.Irreps(f"{n_outputs}x0e")
        linear_layers = layer_irreps[:-1] if len(layer_irreps) > 1 else layer_irreps
        self.num_linear = len(linear_layers)
        with quiet_construction():
            self.linear_readouts = torch.nn.ModuleList(
                modules.LinearReadoutBlock(o3.Irreps(irreps), output)
                for irreps in linear_layers
            )
            self.nonlinear_readouts = torch.nn.ModuleList(
                modules.NonLinearReadoutBlock(
                    o3.Irreps(layer_irreps[-1]), o3.Irreps(mlp_irreps), gate, output
                )
                for _ in layer_irreps[len(linear_layers) :]
            )
        self.register_buffer("scalars", scalar_columns(linear_layers), persistent=False)

    def forward(self, features: List[torch.Tensor]) -> torch.Tensor:
        """``[n, n_outputs]``: the contribution of each atom."""
        values = torch.zeros(0)
        for i, readout in enumerate(self.linear_readouts):
            contribution = readout(features[i])
            values = contribution if i == 0 else values + contribution
        for readout in self.nonlinear_readouts:
            values = values + readout(features[-1])
        return values

    def last_layer_features(self, features: List[torch.Tensor]) -> torch.Tensor:
        """``[n, F]``: the scalar channels of the layers with a linear readout,
        then the hidden activations of the non-linear readout."""
        linear_inputs = torch.cat(features[: self.num_linear], dim=1)
        parts = [linear_inputs.index_select(1, self.scalars)]
        for readout in self.nonlinear_readouts:
            parts.append(
                readout.non_linearity(  # type: ignore[operator]
                    readout.linear_1(features[-1])  # type: ignore[operator]
                )
            )
        return torch.cat(parts, dim=1)
