"""Per-element networks: one small module per element, applied to the atoms of that
element.

The atoms of a batch are sorted by element once per forward pass; every per-element
module then maps a list of chunks (one ``[n_atoms_of_element, width]`` tensor per
element, in the model's type order) to a list of chunks, with one matrix product per
element and no loop over atoms.
"""

from typing import Any, List, Mapping, Tuple

import torch


def element_network(
    n_inputs: int, n_hidden_layers: int, width: int, layernorm: bool
) -> torch.nn.Sequential:
    """Optional layer normalisation, then ``n_hidden_layers`` bias-free linear
    layers of ``width`` with SiLU activations."""
    layers: List[torch.nn.Module] = []
    if layernorm:
        layers.append(torch.nn.LayerNorm(n_inputs))
    size = n_inputs
    for _ in range(n_hidden_layers):
        layers.append(torch.nn.Linear(size, width, bias=False))
        layers.append(torch.nn.SiLU())
        size = width
    return torch.nn.Sequential(*layers)


class PerElement(torch.nn.Module):
    """One :class:`torch.nn.Sequential` per element applied to its chunk."""

    def __init__(self, networks: List[torch.nn.Sequential]) -> None:
        super().__init__()
        self.networks = torch.nn.ModuleList(networks)

    def forward(self, chunks: List[torch.Tensor]) -> List[torch.Tensor]:
        results: List[torch.Tensor] = []
        for i, network in enumerate(self.networks):
            results.append(network(chunks[i]))
        return results


class PerElementLinear(torch.nn.Module):
    """The last layer of a target: one bias-free linear map per element, stored as a
    single ``Linear(n_elements * width, n_properties)`` so that its input, the
    last-layer features, is the per-element features placed in the block of the
    atom's element (zeros elsewhere)."""

    def __init__(self, n_elements: int, width: int, n_properties: int) -> None:
        super().__init__()
        self.n_elements = n_elements
        self.width = width
        self.linear = torch.nn.Linear(n_elements * width, n_properties, bias=False)

    def forward(self, chunks: List[torch.Tensor]) -> List[torch.Tensor]:
        weight = self.linear.weight
        results: List[torch.Tensor] = []
        for i, chunk in enumerate(chunks):
            block = weight[:, i * self.width : (i + 1) * self.width]
            results.append(torch.nn.functional.linear(chunk, block))
        return results

    def padded_features(self, chunks: List[torch.Tensor]) -> List[torch.Tensor]:
        """The input of :attr:`linear` for each chunk: ``[n, n_elements * width]``."""
        results: List[torch.Tensor] = []
        for i, chunk in enumerate(chunks):
            padded = torch.zeros(
                (chunk.shape[0], self.n_elements * self.width),
                dtype=chunk.dtype,
                device=chunk.device,
            )
            padded[:, i * self.width : (i + 1) * self.width] = chunk
            results.append(padded)
        return results


def element_networks(
    hypers: Mapping[str, Any], n_inputs: int, n_types: int
) -> Tuple[PerElement, int]:
    """The network of each of ``n_types`` elements from the ``bpnn`` hypers, and the
    width of their outputs (``n_inputs`` when they have no hidden layer)."""
    n_layers = int(hypers["num_hidden_layers"])
    n_neurons = int(hypers["num_neurons_per_layer"])
    networks = PerElement(
        [
            element_network(n_inputs, n_layers, n_neurons, bool(hypers["layernorm"]))
            for _ in range(n_types)
        ]
    )
    return networks, n_neurons if n_layers > 0 else n_inputs
