"""Calling a model the way metatomic engines call it, for the conformance checks.

A :class:`Probe` holds a model (eager or TorchScript), the neighbour lists it requests
and the dtype to run in, and evaluates targets on :class:`~atomtrain.data.structure.
Structure` objects, optionally through autograd leaves for positions and strain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from metatensor.torch import Labels, TensorMap
from metatomic.torch import ModelOutput, NeighborListOptions

from ..data.info import TargetInfo
from ..data.neighbors import requested_neighbor_lists
from ..data.structure import Structure
from .systems import Leaves, make_leaves, to_system


class ConformanceError(AssertionError):
    """A conformance check failed; the message says what the architecture must
    change."""


def fail(found: str, fix: str) -> ConformanceError:
    """A :class:`ConformanceError` saying what was found and what to change."""
    return ConformanceError(f"{found}\n  What to change: {fix}")


@dataclass
class Probe:
    """Evaluates ``model`` on structures, as a metatomic engine would.

    ``targets`` describe the outputs (name → :class:`TargetInfo`); ``options`` default
    to the neighbour lists that ``model`` and its submodules request.
    """

    model: torch.nn.Module
    targets: Dict[str, TargetInfo]
    dtype: torch.dtype = torch.float64
    options: Optional[List[NeighborListOptions]] = None

    def __post_init__(self) -> None:
        if self.options is None:
            self.options = requested_neighbor_lists(self.model)

    @property
    def neighbor_options(self) -> List[NeighborListOptions]:
        return list(self.options or [])

    def outputs(self, names: Optional[Sequence[str]] = None) -> Dict[str, ModelOutput]:
        chosen = list(self.targets) if names is None else list(names)
        return {name: self.targets[name].model_output() for name in chosen}

    def run(
        self,
        structures: Sequence[Structure],
        names: Optional[Sequence[str]] = None,
        selected_atoms: Optional[Labels] = None,
        leaves: Optional[Sequence[Leaves]] = None,
    ) -> Dict[str, TensorMap]:
        """The model's outputs ``names`` (default: every target) for ``structures``."""
        systems = [
            to_system(
                s,
                self.neighbor_options,
                self.dtype,
                None if leaves is None else leaves[i],
            )
            for i, s in enumerate(structures)
        ]
        return self.model(systems, self.outputs(names), selected_atoms)

    def values(
        self,
        structures: Sequence[Structure],
        name: str,
        leaves: Optional[Sequence[Leaves]] = None,
    ) -> torch.Tensor:
        """The values of the single block of target ``name``, rows in sample order."""
        tensor = self.run(structures, [name], leaves=leaves)[name]
        return tensor.block().values

    def energy(
        self, structures: Sequence[Structure], name: str = "energy"
    ) -> torch.Tensor:
        """``[n_structures]`` float64 values of the per-structure scalar ``name``."""
        with torch.no_grad():
            return self.values(structures, name)[:, 0].to(torch.float64)

    def energy_and_gradients(
        self, structure: Structure, name: str = "energy"
    ) -> Tuple[torch.Tensor, Leaves]:
        """The energy of one structure and its leaves, with ``.grad`` filled:
        ``leaves.positions.grad`` is dE/dr (minus the forces), ``leaves.strain.grad``
        is dE/dε (minus the virial)."""
        leaves = make_leaves(structure, self.dtype)
        energy = self.values([structure], name, leaves=[leaves])[:, 0].sum()
        if energy.requires_grad:
            energy.backward()
        for leaf in (leaves.positions, leaves.strain):
            if leaf.grad is None:
                leaf.grad = torch.zeros_like(leaf)
        return energy.detach(), leaves
