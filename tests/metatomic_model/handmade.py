"""A metatomic model written by hand, not by any training code: each atom's
features are Gaussians of its neighbours' distances (times a smooth cutoff and a
per-type weight), a hidden layer turns them into last-layer features, and a linear
map into the atom's energy (eV). Small, exactly invariant and smooth, with
last-layer features for LLPR; exported the way any code exports a model."""

from pathlib import Path
from typing import Dict, List, Optional

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelCapabilities,
    ModelMetadata,
    ModelOutput,
    NeighborListOptions,
    System,
)

LLF = "mtt::aux::energy_last_layer_features"


class GaussianPairModel(torch.nn.Module):
    def __init__(self, types: List[int], cutoff: float = 4.0, width: int = 6) -> None:
        super().__init__()
        lookup = torch.full((max(types) + 1,), -1, dtype=torch.long)
        lookup[types] = torch.arange(len(types))
        self.register_buffer("type_to_index", lookup)
        self.register_buffer("centers", torch.linspace(0.8, cutoff, width))
        self.cutoff = cutoff
        self.neighbors = NeighborListOptions(cutoff, full_list=True, strict=True)
        self.species = torch.nn.Parameter(torch.randn(len(types), width) * 0.5)
        self.hidden = torch.nn.Linear(width, width)
        self.last = torch.nn.Linear(width, 1)
        self.offsets = torch.nn.Parameter(torch.randn(len(types)) * 0.1)

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [self.neighbors]

    def _atoms(self, system: System) -> List[torch.Tensor]:
        """Hidden features and energies of the atoms of ``system``."""
        pairs = system.get_neighbor_list(self.neighbors)
        first = pairs.samples.column("first_atom").to(torch.long)
        second = pairs.samples.column("second_atom").to(torch.long)
        distances = torch.linalg.norm(pairs.values.reshape(-1, 3), dim=1)
        envelope = (1.0 - distances / self.cutoff).clamp(min=0.0) ** 2
        basis = torch.exp(-((distances.unsqueeze(1) - self.centers) ** 2))
        types = self.type_to_index[system.types.to(torch.long)]
        messages = basis * envelope.unsqueeze(1) * self.species[types[second]]
        features = torch.zeros(
            len(system),
            self.centers.shape[0],
            dtype=distances.dtype,
            device=distances.device,
        ).index_add(0, first, messages)
        hidden = torch.tanh(self.hidden(features))
        energies = self.last(hidden).squeeze(1) + self.offsets[types]
        return [hidden, energies]

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        hidden_parts: List[torch.Tensor] = []
        energy_parts: List[torch.Tensor] = []
        system_parts: List[torch.Tensor] = []
        atom_parts: List[torch.Tensor] = []
        for i, system in enumerate(systems):
            hidden, energies = self._atoms(system)
            hidden_parts.append(hidden)
            energy_parts.append(energies)
            atoms = torch.arange(len(system), device=energies.device)
            system_parts.append(torch.full_like(atoms, i))
            atom_parts.append(atoms)
        hidden = torch.cat(hidden_parts)
        energies = torch.cat(energy_parts)
        system_index = torch.cat(system_parts)
        atom_index = torch.cat(atom_parts)
        if selected_atoms is not None:
            wanted = selected_atoms.values.to(torch.long)
            keys = system_index * 1000000 + atom_index
            chosen = wanted[:, 0] * 1000000 + wanted[:, 1]
            keep = torch.isin(keys, chosen)
            hidden, energies = hidden[keep], energies[keep]
            system_index, atom_index = system_index[keep], atom_index[keep]
        results: Dict[str, TensorMap] = {}
        if "energy" in outputs:
            per_atom = outputs["energy"].sample_kind == "atom"
            results["energy"] = self._map(
                energies.unsqueeze(1),
                system_index,
                atom_index,
                len(systems),
                per_atom,
                "energy",
            )
        llf = "mtt::aux::energy_last_layer_features"
        if llf in outputs:
            per_atom = outputs[llf].sample_kind == "atom"
            results[llf] = self._map(
                hidden, system_index, atom_index, len(systems), per_atom, "feature"
            )
        return results

    def _map(
        self,
        values: torch.Tensor,
        system_index: torch.Tensor,
        atom_index: torch.Tensor,
        n_systems: int,
        per_atom: bool,
        property: str,
    ) -> TensorMap:
        device = values.device
        if per_atom:
            samples = Labels(
                ["system", "atom"],
                torch.stack([system_index, atom_index], 1).to(torch.int32),
            )
        else:
            values = torch.zeros(
                n_systems, values.shape[1], dtype=values.dtype, device=device
            ).index_add(0, system_index, values)
            samples = Labels(
                ["system"],
                torch.arange(n_systems, dtype=torch.int32, device=device).reshape(
                    -1, 1
                ),
            )
        properties = Labels(
            [property], torch.arange(values.shape[1], device=device).reshape(-1, 1)
        )
        block = TensorBlock(values, samples, [], properties)
        keys = Labels("_", torch.zeros((1, 1), dtype=torch.int32, device=device))
        return TensorMap(keys, [block])


def export_handmade(
    path: Path,
    types: List[int],
    dtype: torch.dtype = torch.float64,
    outputs: Optional[Dict[str, ModelOutput]] = None,
    seed: int = 0,
) -> Path:
    """Export a :class:`GaussianPairModel` (random weights from ``seed``) to
    ``path``, with ``outputs`` (default: ``energy`` in eV and its last-layer
    features)."""
    torch.manual_seed(seed)
    module = GaussianPairModel(types).to(dtype).eval()
    if outputs is None:
        outputs = {
            "energy": ModelOutput(unit="eV", sample_kind="system"),
            LLF: ModelOutput(sample_kind="atom"),
        }
    capabilities = ModelCapabilities(
        outputs=outputs,
        atomic_types=types,
        interaction_range=4.0,
        length_unit="angstrom",
        supported_devices=["cpu", "cuda"],
        dtype="float64" if dtype == torch.float64 else "float32",
    )
    metadata = ModelMetadata(
        name="gaussian pairs",
        description="a hand-made model of the atomtrain tests",
        authors=["atomtrain tests"],
        references={"model": ["https://example.org/gaussian-pairs"]},
    )
    AtomisticModel(module, metadata, capabilities).save(str(path))
    return path
