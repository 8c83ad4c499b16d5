"""Elements a model does not know: found in a dataset, reported with their structures.

A model predicts only for the atomic types it was built with (its training set's, plus
``architecture.atomic_types``); a structure holding any other element is refused up
front, naming the element, the file and the structures, rather than failing deep in a
model's embedding or baseline.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

import torch
from ase.data import chemical_symbols

from ..errors import DataError
from .dataset import Dataset

#: How many structure indices an error lists before "and N more".
LISTED_STRUCTURES = 5


def element_name(atomic_type: int) -> str:
    """``"N (atomic number 7)"``; the number alone for types that are not elements."""
    if 0 < atomic_type < len(chemical_symbols):
        return f"{chemical_symbols[atomic_type]} (atomic number {atomic_type})"
    return f"atomic type {atomic_type}"


def format_types(atomic_types: Sequence[int]) -> str:
    """``"H, C, O (1, 6, 8)"``."""
    types = sorted(int(t) for t in atomic_types)
    symbols = [
        chemical_symbols[t] if 0 < t < len(chemical_symbols) else str(t) for t in types
    ]
    return f"{', '.join(symbols)} ({', '.join(str(t) for t in types)})"


def unseen_elements(
    dataset: Dataset, known: Sequence[int]
) -> Dict[int, List[Tuple[str, int]]]:
    """Every atomic type of ``dataset`` not in ``known``, with the origins
    (``(file, index in file)``) of the structures holding it, in dataset order."""
    allowed = set(int(t) for t in known)
    declared = set(int(t) for t in dataset.info.atomic_types)
    if declared and declared <= allowed:
        return {}
    unseen: Dict[int, List[Tuple[str, int]]] = {}
    for index in range(len(dataset)):
        for atomic_type in torch.unique(dataset[index].types).tolist():
            if int(atomic_type) not in allowed:
                unseen.setdefault(int(atomic_type), []).append(dataset.origin(index))
    return dict(sorted(unseen.items()))


def unseen_elements_error(
    dataset: Dataset,
    known: Sequence[int],
    known_as: str,
    advice: str,
    split: Optional[str] = None,
) -> Optional[DataError]:
    """A :class:`DataError` for the first element of ``dataset`` (of the options'
    ``split``, if given) not in ``known`` (described as ``known_as``, e.g. "the
    model's atomic types"), naming its file and structures and ending with
    ``advice``; ``None`` when every element is known."""
    unseen = unseen_elements(dataset, known)
    if not unseen:
        return None
    atomic_type, origins = next(iter(unseen.items()))
    file = origins[0][0]
    positions = [position for origin, position in origins if origin == file]
    listed = ", ".join(str(p) for p in positions[:LISTED_STRUCTURES])
    more = len(positions) - LISTED_STRUCTURES
    structures = f"structure{'s' if len(positions) > 1 else ''} {listed}"
    if more > 0:
        structures += f" (and {more} more)"
    if split is not None:
        structures += f" of the {split}"
    others = [element_name(t) for t in unseen if t != atomic_type]
    also = f" (also {', '.join(others)})" if others else ""
    return DataError(
        f"{structures}: element {element_name(atomic_type)}{also} is not among "
        f"{known_as}: {format_types(known)}; {advice}",
        file=file,
    )
