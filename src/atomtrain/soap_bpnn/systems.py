"""The atoms and neighbour pairs of a batch of systems, stacked for SOAP-BPNN, and
the mask of the atoms an evaluation selects."""

from typing import List, Optional

import torch
from metatensor.torch import Labels
from metatomic.torch import NeighborListOptions, System


def stack_systems(
    systems: List[System], options: NeighborListOptions, type_index: torch.Tensor
) -> List[torch.Tensor]:
    """``species, system, atom`` of the stacked atoms, and ``centers, neighbors,
    vectors`` of the stacked pairs of the neighbour list ``options`` (indices into
    the stacked atoms); ``type_index`` maps atomic types to the model's species."""
    device = systems[0].positions.device
    centers: List[torch.Tensor] = []
    neighbors: List[torch.Tensor] = []
    vectors: List[torch.Tensor] = []
    types: List[torch.Tensor] = []
    offset = 0
    for system in systems:
        pairs = system.get_neighbor_list(options)
        samples = pairs.samples.values
        centers.append(samples[:, 0].to(torch.long) + offset)
        neighbors.append(samples[:, 1].to(torch.long) + offset)
        vectors.append(pairs.values.reshape(-1, 3))
        types.append(system.types)
        offset += len(system)
    counts = torch.tensor([len(s) for s in systems], device=device)
    system_index = torch.repeat_interleave(
        torch.arange(len(systems), device=device), counts
    )
    atom_index = torch.arange(offset, device=device) - torch.repeat_interleave(
        torch.cumsum(counts, 0) - counts, counts
    )
    species = type_index.index_select(0, torch.cat(types).to(torch.long))
    return [
        species,
        system_index,
        atom_index,
        torch.cat(centers),
        torch.cat(neighbors),
        torch.cat(vectors),
    ]


def selected_mask(
    system: torch.Tensor, atom: torch.Tensor, selected: Optional[Labels]
) -> torch.Tensor:
    """Mask of the atoms in ``selected`` (all atoms when None)."""
    if selected is None:
        return torch.ones_like(system, dtype=torch.bool)
    stride = int(atom.max()) + 1 if atom.numel() > 0 else 1
    wanted = selected.column("system").to(system.device) * stride + selected.column(
        "atom"
    ).to(system.device)
    return torch.isin(system * stride + atom, wanted)
