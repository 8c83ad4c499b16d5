"""Outputs made of per-atom values, for the ``forward`` of any architecture: which atoms
to output (``selected_atoms``), sums per system, and one-block TensorMaps.

These are TorchScript functions: vectorised index arithmetic over the whole batch, no
loop over atoms.
"""

from typing import List, Optional, Tuple

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import System


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


def features_map(
    features: torch.Tensor,
    system: torch.Tensor,
    atom: torch.Tensor,
    n_systems: int,
    per_atom: bool,
) -> TensorMap:
    """Per-atom ``features`` ``[n_atoms, n_features]`` as an output (properties
    ``feature``), summed per system unless ``per_atom``."""
    return single_block_map(
        reduce_atoms(features, system, n_systems, per_atom),
        atom_samples(system, atom, n_systems, per_atom),
        [],
        "feature",
    )


def spherical_map(
    values: List[torch.Tensor], keys: Labels, samples: Labels, property_name: str
) -> TensorMap:
    """A TensorMap of one block per key ``(o3_lambda, o3_sigma)``, each of ``values``
    ``[n_samples, 2λ + 1, n_properties]`` with its ``o3_mu`` component."""
    blocks: List[TensorBlock] = []
    for block_values in values:
        device = block_values.device
        lam = (int(block_values.shape[1]) - 1) // 2
        mu = torch.arange(-lam, lam + 1, dtype=torch.int32, device=device)
        count = torch.arange(block_values.shape[-1], dtype=torch.int32, device=device)
        blocks.append(
            TensorBlock(
                block_values,
                samples,
                [Labels(["o3_mu"], mu.reshape(-1, 1))],
                Labels([property_name], count.reshape(-1, 1)),
            )
        )
    return TensorMap(keys.to(values[0].device), blocks)
