"""Screened nuclear repulsion (Ziegler-Biersack-Littmark) with a smooth switch-off.

Two nuclei of charges ``Z_i``, ``Z_j`` at distance ``r`` repel with

    V(r) = k_e Z_i Z_j / r · φ(r / a),   a = 0.46850 Å / (Z_i^0.23 + Z_j^0.23),

``k_e = e² / (4π ε₀) = 14.399645 eV·Å`` and the universal screening function
``φ(x) = 0.18175 e^{-3.1998 x} + 0.50986 e^{-0.94229 x} + 0.28022 e^{-0.4029 x}
+ 0.028171 e^{-0.20162 x}`` (Ziegler, Biersack and Littmark, *The Stopping and Range
of Ions in Solids*, 1985). The repulsion only matters at short range: it is multiplied
by a switch ``s(r)`` equal to 1 below ``r_on``, 0 above ``r_off`` and the quintic
``1 - 10t³ + 15t⁴ - 6t⁵`` of ``t = (r - r_on) / (r_off - r_on)`` in between, so energy,
forces and their derivatives stay continuous. ``r_off`` is ``outer_scale`` times the
sum of the two covalent radii (ASE's table) and ``r_on = inner_scale · r_off``.

An architecture enables it with a model hyper ``zbl: true``: it holds an
:class:`EnergyRepulsion`, registers its targets with it, adds its neighbour lists to its
own, and adds :meth:`EnergyRepulsion.forward` (per-atom energies in eV, converted to
each energy target's unit) to its per-atom energies. The dummy architecture
(:mod:`atomtrain.testing.dummy`), PET and SOAP-BPNN are the worked examples.
"""

from typing import Dict, List, Sequence

import torch
from ase.data import covalent_radii
from metatomic.torch import (
    ModelOutput,
    NeighborListOptions,
    System,
    unit_conversion_factor,
)

#: Coulomb constant e²/(4πε₀) in eV·Å.
COULOMB_EV_ANGSTROM = 14.399645478425668
#: The ZBL screening length prefactor 0.8854 a₀, in Å.
SCREENING_LENGTH_ANGSTROM = 0.46850
#: Coefficients and exponents of the universal screening function φ.
SCREENING_COEFFICIENTS = (0.18175, 0.50986, 0.28022, 0.028171)
SCREENING_EXPONENTS = (3.1998, 0.94229, 0.40290, 0.20162)


def energy_conversion(unit: str) -> float:
    """Factor from eV (the unit of :meth:`ZBL.forward`) to the energy ``unit``."""
    return float(unit_conversion_factor("eV", unit))


class ZBL(torch.nn.Module):
    """ZBL repulsion between the atoms of ``atomic_types`` (atomic numbers), for
    positions in ``length_unit``. TorchScript-compatible; holds no parameters."""

    charges: torch.Tensor
    radii: torch.Tensor
    type_to_index: torch.Tensor
    coefficients: torch.Tensor
    exponents: torch.Tensor

    def __init__(
        self,
        atomic_types: Sequence[int],
        length_unit: str,
        inner_scale: float = 0.5,
        outer_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= inner_scale < 1.0 or outer_scale <= 0.0:
            raise ValueError(
                "the ZBL switch needs 0 <= inner_scale < 1 and outer_scale > 0, got "
                f"{inner_scale} and {outer_scale}"
            )
        types = sorted({int(t) for t in atomic_types})
        unknown = [t for t in types if not 0 < t < len(covalent_radii)]
        if unknown:
            raise ValueError(f"ZBL needs atomic numbers, got types {unknown}")
        self.inner_scale = float(inner_scale)
        self.outer_scale = float(outer_scale)
        self.to_angstrom = float(unit_conversion_factor(length_unit, "angstrom"))
        lookup = torch.full((max(types, default=0) + 1,), -1, dtype=torch.long)
        lookup[types] = torch.arange(len(types))
        self.register_buffer("type_to_index", lookup, persistent=False)
        charges = torch.tensor(types, dtype=torch.float64)
        self.register_buffer("charges", charges, persistent=False)
        radii = torch.tensor([float(covalent_radii[t]) for t in types])
        self.register_buffer("radii", radii.to(torch.float64), persistent=False)
        self.coulomb = COULOMB_EV_ANGSTROM
        self.screening_length = SCREENING_LENGTH_ANGSTROM
        for name, values in (
            ("coefficients", SCREENING_COEFFICIENTS),
            ("exponents", SCREENING_EXPONENTS),
        ):
            tensor = torch.tensor(values, dtype=torch.float64)
            self.register_buffer(name, tensor, persistent=False)
        largest = 2.0 * max((float(r) for r in radii), default=0.0) * outer_scale
        self.neighbors = NeighborListOptions(
            cutoff=largest / self.to_angstrom, full_list=False, strict=False
        )

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        """A half neighbour list up to the largest switch-off distance."""
        return [self.neighbors]

    def forward(self, systems: List[System]) -> torch.Tensor:
        """Per-atom repulsion energies in eV, ``[total number of atoms]`` in the
        order of ``systems`` (each pair's energy shared equally by its two atoms)."""
        dtype = systems[0].positions.dtype
        device = systems[0].positions.device
        firsts: List[torch.Tensor] = []
        seconds: List[torch.Tensor] = []
        vectors: List[torch.Tensor] = []
        types: List[torch.Tensor] = []
        offset = 0
        for system in systems:
            pairs = system.get_neighbor_list(self.neighbors)
            firsts.append(pairs.samples.column("first_atom").to(torch.long) + offset)
            seconds.append(pairs.samples.column("second_atom").to(torch.long) + offset)
            vectors.append(pairs.values.reshape(-1, 3))
            types.append(system.types)
            offset += len(system)
        first = torch.cat(firsts)
        second = torch.cat(seconds)
        index = self.type_to_index[torch.cat(types).to(torch.long)]
        distances = torch.linalg.vector_norm(torch.cat(vectors), dim=1)
        pair_energy = self.pair_energy(
            distances * self.to_angstrom, index[first], index[second]
        ).to(dtype)
        energies = torch.zeros(offset, dtype=dtype, device=device)
        energies = energies.index_add(0, first, 0.5 * pair_energy)
        return energies.index_add(0, second, 0.5 * pair_energy)

    def pair_energy(
        self, distances: torch.Tensor, first: torch.Tensor, second: torch.Tensor
    ) -> torch.Tensor:
        """Switched ZBL energy in eV of pairs at ``distances`` in Å, between atoms of
        type rows ``first`` and ``second`` (0 beyond the switch-off distance)."""
        z_i = self.charges[first]
        z_j = self.charges[second]
        r = distances.to(torch.float64)
        screening = self.screening_length / (z_i**0.23 + z_j**0.23)
        x = (r / screening).unsqueeze(1)
        phi = (self.coefficients * torch.exp(-self.exponents * x)).sum(dim=1)
        r_off = self.outer_scale * (self.radii[first] + self.radii[second])
        r_on = self.inner_scale * r_off
        t = ((r - r_on) / (r_off - r_on)).clamp(0.0, 1.0)
        switch = 1.0 - t**3 * (10.0 - 15.0 * t + 6.0 * t**2)
        return self.coulomb * z_i * z_j / r * phi * switch


class EnergyRepulsion(torch.nn.Module):
    """What an architecture with a ``zbl`` hyper holds: nothing when off; when on, a
    :class:`ZBL` whose per-atom energies are added to every energy target, in the
    target's unit. TorchScript-compatible."""

    factors: Dict[str, float]

    def __init__(
        self, enabled: bool, atomic_types: Sequence[int], length_unit: str
    ) -> None:
        super().__init__()
        self.factors = {}
        # zero or one ZBL module: TorchScript cannot branch on an optional module
        self.potential = torch.nn.ModuleList()
        if enabled:
            self.potential.append(ZBL(atomic_types, length_unit))

    @torch.jit.unused
    def add_target(self, name: str, is_energy: bool, unit: str) -> None:
        """Register target ``name``: an energy gets the repulsion when it is on."""
        if is_energy and len(self.potential) > 0:
            self.factors[name] = energy_conversion(unit)

    @torch.jit.unused
    def neighbor_lists(self) -> List[NeighborListOptions]:
        """The neighbour lists the repulsion needs (none when off)."""
        lists: List[NeighborListOptions] = []
        for zbl in self.potential:
            lists.extend(zbl.requested_neighbor_lists())  # type: ignore[operator]
        return lists

    def forward(
        self, systems: List[System], outputs: Dict[str, ModelOutput], rows: torch.Tensor
    ) -> torch.Tensor:
        """The repulsion in eV of the atoms ``rows`` (indices into the atoms of
        ``systems``, in order) when an energy that gets it is among ``outputs``,
        else an empty tensor: nothing is computed."""
        repulsion = torch.zeros(0, device=rows.device)
        requested = False
        for name in self.factors:
            requested = requested or name in outputs
        if requested:
            for zbl in self.potential:
                repulsion = zbl(systems).index_select(0, rows)
        return repulsion

    def add(
        self, name: str, values: torch.Tensor, repulsion: torch.Tensor
    ) -> torch.Tensor:
        """``values`` ``[rows, ...]`` of target ``name`` plus its ``repulsion`` from
        :meth:`forward`, converted, when the target gets it."""
        if name in self.factors:
            return values + self.factors[name] * repulsion.unsqueeze(1)
        return values
