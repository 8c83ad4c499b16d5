"""Labels and geometries that no model should be trained or evaluated on.

NaN or infinite label values, and atoms closer than :data:`OVERLAP_DISTANCE_ANGSTROM`
(a duplicated atom, or positions in another unit than the declared one). ``atomtrain
check`` lists them among its findings (:mod:`.lint`); ``train`` and ``eval`` refuse
them as they read the data (:func:`require_valid`), naming the file, the key and the
structure index in that file.

An absent label is not a NaN one: a structure without stress (not periodic, or written
with NaN in all nine components) has a strain gradient entirely NaN, which is allowed;
a structure from a dataset without forces has no positions gradient at all; masked
losses leave entries out through a ``<target>_mask`` extra-data entry, not through NaN.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import vesin
from metatomic.torch import unit_conversion_factor

from ..errors import DataError
from .dataset import Dataset
from .structure import Structure, TargetData
from .targets import GRADIENTS, sections_of

#: Atoms closer than this (in Å) are taken to overlap.
OVERLAP_DISTANCE_ANGSTROM = 0.5
#: Atoms of a non-periodic structure up to which overlaps are found from all the
#: distances rather than a neighbour list.
SMALL_MOLECULE = 64
#: How many structures an error lists before saying how many more there are.
MAX_LISTED = 5


def nonfinite_entries(tensors: Sequence[torch.Tensor], absent_nan: bool) -> List[int]:
    """Positions in ``tensors`` of those holding a NaN or infinite value; with
    ``absent_nan``, a tensor entirely NaN (an absent label) does not count."""
    if not tensors:
        return []
    sizes = torch.tensor([t.numel() for t in tensors])
    flat = torch.cat([t.reshape(-1) for t in tensors])
    owner = torch.repeat_interleave(torch.arange(len(tensors)), sizes)
    bad = torch.zeros(len(tensors), dtype=torch.long)
    bad.index_add_(0, owner, (~torch.isfinite(flat)).long())
    keep = bad > 0
    if absent_nan:
        nan = torch.zeros(len(tensors), dtype=torch.long)
        nan.index_add_(0, owner, torch.isnan(flat).long())
        keep &= nan != sizes
    return torch.nonzero(keep).reshape(-1).tolist()


def nonfinite_labels(data: Sequence[TargetData]) -> Dict[str, List[int]]:
    """Which entries of ``data`` (the labels of one target, one entry per structure)
    hold NaN or infinite values: ``{"values" | "positions" | "strain": positions in
    data}``, leaving out the parts where none does."""
    found: Dict[str, set] = {}
    for k in range(len(data[0].blocks) if data else 0):
        bad = nonfinite_entries([d.blocks[k] for d in data], absent_nan=False)
        found.setdefault("values", set()).update(bad)
    for gradient in GRADIENTS:
        present = [i for i, d in enumerate(data) if gradient in d.gradients]
        tensors = [data[i].gradients[gradient] for i in present]
        bad = nonfinite_entries(tensors, absent_nan=gradient == "strain")
        found.setdefault(gradient, set()).update(present[i] for i in bad)
    return {part: sorted(bad) for part, bad in found.items() if bad}


def pairs_within(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float
) -> Tuple[np.ndarray, np.ndarray]:
    """Pairs ``i, j`` (full list) closer than ``cutoff``, and their distances."""
    calculator = vesin.NeighborList(cutoff=cutoff, full_list=True)
    box = cell if pbc.any() else np.zeros((3, 3))
    periodic = pbc if pbc.any() else False
    pairs, distances = calculator.compute(positions, box, periodic, "Pd")
    return pairs, distances


def overlapping_atoms(dataset: Dataset) -> Dict[int, Tuple[int, int, float]]:
    """``{structure: (atom i, atom j, distance in Å)}``: the closest pair of atoms of
    every structure of ``dataset`` with atoms closer than
    :data:`OVERLAP_DISTANCE_ANGSTROM`."""
    found = {}
    for index in range(len(dataset)):
        closest = closest_overlap(dataset[index], dataset.info.length_unit)
        if closest is not None:
            found[index] = closest
    return found


def closest_overlap(
    structure: Structure, length_unit: str
) -> Optional[Tuple[int, int, float]]:
    """The closest pair of atoms ``(i, j, distance in Å)`` of ``structure``
    (positions in ``length_unit``) when they are closer than
    :data:`OVERLAP_DISTANCE_ANGSTROM`, else None."""
    to_angstrom = float(unit_conversion_factor(length_unit, "angstrom"))
    cutoff = OVERLAP_DISTANCE_ANGSTROM / to_angstrom
    positions = structure.positions.numpy()
    if not structure.pbc.any() and len(positions) <= SMALL_MOLECULE:
        pairs, distances = _pairs_within_molecule(positions, cutoff)
    else:
        pairs, distances = pairs_within(
            positions, structure.cell.numpy(), structure.pbc.numpy(), cutoff
        )
    if len(pairs) == 0:
        return None
    closest = int(np.argmin(distances))
    i, j = (int(atom) for atom in pairs[closest])
    return i, j, float(distances[closest]) * to_angstrom


def _pairs_within_molecule(
    positions: np.ndarray, cutoff: float
) -> Tuple[np.ndarray, np.ndarray]:
    """:func:`pairs_within` for a small non-periodic structure, from every
    distance (faster than a neighbour list on a few atoms)."""
    distances = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    i, j = np.nonzero(distances < cutoff)
    distinct = i != j
    return np.stack([i[distinct], j[distinct]], axis=1), distances[i, j][distinct]


def overlap_message(i: int, j: int, distance: float, length_unit: str) -> str:
    """Why atoms ``i`` and ``j``, ``distance`` Å apart, make a structure unusable."""
    return (
        f"atoms {i} and {j} are {distance:.3g} Å apart, closer than "
        f"{OVERLAP_DISTANCE_ANGSTROM} Å (duplicated atoms, or positions in another "
        f"unit than length_unit '{length_unit}')"
    )


def require_valid(dataset: Dataset, section: Dict[str, Any]) -> None:
    """Refuse NaN or infinite labels and overlapping atoms in ``dataset``, read from
    the expanded dataset ``section``: a :class:`DataError` naming the file, the key
    and the first structure concerned, with how many there are."""
    for group in ("targets", "extra_data"):
        for name, spec in section.get(group, {}).items():
            data = [getattr(dataset[i], group)[name] for i in range(len(dataset))]
            for part, bad in nonfinite_labels(data).items():
                what, source = _label_source(spec, part)
                raise DataError(
                    f"NaN or infinite {what} of '{name}' in "
                    f"{_listed(dataset, bad)}: nothing can be learned from or "
                    f"compared with them; fix them, or leave these structures out "
                    f"with the section's indices{_absent_hint(part)}",
                    file=source["read_from"],
                    key=source["key"],
                    structure=dataset.origin(bad[0])[1],
                )
    overlapping = overlapping_atoms(dataset)
    if overlapping:
        first = min(overlapping)
        i, j, distance = overlapping[first]
        raise DataError(
            f"{overlap_message(i, j, distance, dataset.info.length_unit)}; "
            f"overlapping atoms in {_listed(dataset, sorted(overlapping))}",
            file=dataset.origin(first)[0],
            structure=dataset.origin(first)[1],
        )


def _label_source(spec: Dict[str, Any], part: str) -> Tuple[str, Dict[str, Any]]:
    """What ``part`` of a target is called, and the section it was read from."""
    if part == "values":
        return "labels", spec
    name = next(n for n in sections_of(part) if isinstance(spec.get(n), dict))
    return name, spec[name]


def _absent_hint(part: str) -> str:
    if part != "strain":
        return ""
    return " (a structure without stress has NaN in all nine components)"


def _listed(dataset: Dataset, indices: Sequence[int]) -> str:
    """``"3 structures (7, 12, 40)"``: indices in the file, the first few."""
    positions = [str(dataset.origin(i)[1]) for i in indices[:MAX_LISTED]]
    more = (
        f", and {len(indices) - MAX_LISTED} more" if len(indices) > MAX_LISTED else ""
    )
    plural = "s" if len(indices) != 1 else ""
    return f"{len(indices)} structure{plural} ({', '.join(positions)}{more})"
