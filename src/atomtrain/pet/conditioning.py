"""PET's conditioning on the electronic state of each structure: its total charge
and spin multiplicity, read from the systems' data (metatomic's standard inputs
``charge`` and ``spin_multiplicity``) and embedded into every message-passing layer.

Each allowed charge (an integer in ``[-max_charge, max_charge]``) and spin
multiplicity (``2S + 1``, an integer in ``[1, max_spin_multiplicity]``) has a
learned vector per layer; their sum is added to the node features of every atom of
the structure before the layer. The vectors start at random (standard normal, as
the species embeddings), so that from the first step each state gives the atoms
distinct features to learn from; started at zero they move by about the learning
rate per step, and the states stay confused for epochs. A structure
without the data is neutral and a singlet (charge 0, multiplicity 1), the defaults
of metatomic's ASE calculator.
"""

from typing import Dict, List

import torch
from metatomic.torch import ModelOutput, System


class SystemConditioning(torch.nn.Module):
    """Per-layer embeddings of the total charge and spin multiplicity."""

    def __init__(
        self,
        enabled: bool,
        max_charge: int,
        max_spin_multiplicity: int,
        d_node: int,
        num_layers: int,
    ) -> None:
        super().__init__()
        self.enabled = enabled
        self.max_charge = max_charge
        self.max_spin_multiplicity = max_spin_multiplicity
        self.d_node = d_node
        width = d_node * num_layers if enabled else 0
        self.charge = torch.nn.Embedding(2 * max_charge + 1 if enabled else 0, width)
        self.spin = torch.nn.Embedding(max_spin_multiplicity if enabled else 0, width)

    def requested_inputs(self) -> Dict[str, ModelOutput]:
        """The per-system inputs the model needs (collected by metatomic at export,
        and by the engine for training batches)."""
        if not self.enabled:
            return {}
        return {
            "charge": ModelOutput(
                unit="e", sample_kind="system", description="total charge"
            ),
            "spin_multiplicity": ModelOutput(
                unit="", sample_kind="system", description="spin multiplicity 2S + 1"
            ),
        }

    def forward(self, systems: List[System]) -> List[torch.Tensor]:
        """The embedding ``[n_atoms, d_node]`` to add before each layer (an empty
        list when conditioning is off)."""
        if not self.enabled:
            return []
        charges = self._values(systems, "charge", 0.0)
        spins = self._values(systems, "spin_multiplicity", 1.0)
        self._check(charges, "charge", -self.max_charge, self.max_charge)
        self._check(spins, "spin_multiplicity", 1, self.max_spin_multiplicity)
        charge_index = charges.round().long() + self.max_charge
        spin_index = spins.round().long() - 1
        per_system = self.charge(charge_index) + self.spin(spin_index)
        counts = torch.tensor([len(s) for s in systems], device=per_system.device)
        per_atom = per_system.repeat_interleave(counts, dim=0)
        return list(per_atom.split(self.d_node, dim=1))

    def _values(self, systems: List[System], name: str, default: float) -> torch.Tensor:
        values: List[torch.Tensor] = []
        for system in systems:
            if name in system.known_data():
                data = system.get_data(name).block().values
                values.append(data.reshape(-1)[:1].to(torch.float64))
            else:
                values.append(
                    torch.full(
                        (1,),
                        default,
                        dtype=torch.float64,
                        device=system.positions.device,
                    )
                )
        return torch.cat(values)

    def _check(self, values: torch.Tensor, name: str, low: int, high: int) -> None:
        outside = (values < low) | (values > high) | (values != values.round())
        if bool(outside.any()):
            bad = float(values[outside][0])
            raise ValueError(
                f"the model was trained for integer values of '{name}' from {low} to "
                f"{high} (system_conditioning), got {bad}"
            )
