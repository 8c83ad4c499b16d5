"""Units of lengths and targets, checked against metatomic's unit system.

Units are strings that :func:`metatomic.torch.unit_conversion_factor` understands
(``angstrom``, ``bohr``, ``eV``, ``kcal/mol``, ``eV/angstrom^3``, ...). An empty unit
means "no unit": values are never converted. Labels are stored in the units the user
declares; the units travel into :class:`~atomtrain.data.info.DatasetInfo` and from there
into the exported model's capabilities.

Gradient units are derived, never declared: forces are in ``energy_unit/length_unit``,
the strain gradient (virial) in ``energy_unit`` and the stress in
``energy_unit/length_unit^3``.

metatomic reads ``kcal`` and ``kJ`` as the energy of a macroscopic amount (a kilocalorie
is 2.6e22 eV); an energy of one structure in such a unit is almost always a per-mole
unit without its ``/mol`` (:func:`per_mole_unit_meant`).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from metatomic.torch import unit_conversion_factor

from ..errors import Problem

#: A unit of each physical dimension metatomic knows, to test a unit's dimension by
#: converting to it (metatomic reports a dimension mismatch as an error).
REFERENCE_UNITS: Dict[str, str] = {
    "length": "angstrom",
    "energy": "eV",
    "force": "eV/angstrom",
    "pressure": "eV/angstrom^3",
    "velocity": "angstrom/fs",
    "momentum": "u*angstrom/fs",
    "mass": "u",
    "charge": "e",
}


def unit_problem(
    unit: object, path: str, dimension: Optional[str] = None
) -> List[Problem]:
    """Problems with ``unit`` found at ``path``: not a string, unknown to metatomic,
    or (given a ``dimension`` of :data:`REFERENCE_UNITS`) of another dimension."""
    if not isinstance(unit, str):
        return [Problem(path, "expected a unit as a string", unit)]
    if unit == "":
        return []
    reference = REFERENCE_UNITS.get(dimension or "", unit)
    try:
        unit_conversion_factor(unit, reference)
    except ValueError as error:
        message = str(error)
        if "dimension" in message and dimension is not None:
            return [
                Problem(
                    path, f"expected a unit of {dimension} (like '{reference}')", unit
                )
            ]
        return [Problem(path, f"not a unit metatomic knows: {message}", unit)]
    return []


#: An energy unit larger than this (in eV) measures a macroscopic amount of matter.
MACROSCOPIC_ENERGY_EV = 1e10


def per_mole_unit_meant(unit: str) -> Optional[str]:
    """``"kcal/mol"`` for ``"kcal"``: the per-mole unit probably meant for the energy
    of one structure given in a macroscopic energy unit (kcal, kJ, J); ``None`` for a
    unit of molecular scale, of another dimension or unknown."""
    try:
        factor = unit_conversion_factor(unit, REFERENCE_UNITS["energy"])
    except ValueError:
        return None
    return f"{unit}/mol" if factor > MACROSCOPIC_ENERGY_EV else None


def gradient_unit(energy_unit: str, length_unit: str, gradient: str) -> str:
    """The unit of a gradient of an energy: ``positions`` (dE/dr, minus the forces) in
    ``energy/length``, ``strain`` (dE/dε, minus the virial) in ``energy``, ``stress``
    in ``energy/length^3``. Empty when the energy has no unit."""
    if energy_unit == "":
        return ""
    if gradient == "strain":
        return energy_unit
    if gradient == "positions":
        return f"{energy_unit}/{length_unit}" if length_unit else energy_unit
    if gradient == "stress":
        return f"{energy_unit}/{length_unit}^3" if length_unit else energy_unit
    raise ValueError(f"unknown gradient '{gradient}'")


def units_agree(
    sections: Sequence[Tuple[str, dict]],
) -> List[Problem]:
    """Problems where expanded dataset sections (each with its dotted path) disagree:
    a different ``systems.length_unit``, or a different ``unit`` for the same target or
    extra-data name. The first section to name a unit sets it; messages name the
    files of both sections."""
    problems: List[Problem] = []
    length: Optional[Tuple[str, str]] = None
    seen: Dict[Tuple[str, str], Tuple[str, str]] = {}
    for path, section in sections:
        unit = section["systems"]["length_unit"]
        where = f"{path} ('{section['systems']['read_from']}')"
        if length is None:
            length = (unit, where)
        elif unit != length[0]:
            problems.append(
                Problem(
                    f"{path}.systems.length_unit",
                    f"differs from '{length[0]}' in {length[1]}: every dataset must "
                    "use the same length unit",
                    unit,
                )
            )
        for group in ("targets", "extra_data"):
            for name, target in section.get(group, {}).items():
                first = seen.setdefault((group, name), (target["unit"], where))
                if target["unit"] != first[0]:
                    problems.append(
                        Problem(
                            f"{path}.{group}.{name}.unit",
                            f"differs from '{first[0]}' in {first[1]}: "
                            f"'{name}' must have the same unit in every dataset "
                            f"(here '{section['systems']['read_from']}')",
                            target["unit"],
                        )
                    )
    return problems
