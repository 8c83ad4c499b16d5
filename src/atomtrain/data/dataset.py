"""Datasets: indexable collections of :class:`Structure` with a :class:`DatasetInfo`.

A dataset knows where each structure came from, so errors about data can name the file
and the structure index in that file.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterator, Sequence, Tuple

from .info import DatasetInfo
from .structure import Structure


class Dataset(ABC):
    """An indexable collection of structures, in memory or on disk."""

    info: DatasetInfo

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __getitem__(self, index: int) -> Structure: ...

    def geometry(self, index: int) -> Structure:
        """Structure ``index`` without its labels, for what needs only atoms and
        cell (neighbour lists): datasets on disk read less."""
        structure = self[index]
        return Structure(
            structure.types, structure.positions, structure.cell, structure.pbc
        )

    @abstractmethod
    def origin(self, index: int) -> Tuple[str, int]:
        """``(file, index in that file)`` of structure ``index``."""

    @abstractmethod
    def subset(self, indices: Sequence[int]) -> Dataset:
        """The structures at ``indices``, in that order."""

    def describe(self, index: int) -> str:
        """``"structure 7 of 'ethanol.xyz'"``: for error messages."""
        file, position = self.origin(index)
        return f"structure {position} of '{file}'"

    def num_atoms(self) -> Sequence[int]:
        """Number of atoms of every structure (datasets on disk override this to
        answer without reading the structures)."""
        return [len(self[i]) for i in range(len(self))]

    def __iter__(self) -> Iterator[Structure]:
        for i in range(len(self)):
            yield self[i]


class InMemoryDataset(Dataset):
    """Structures held in memory. ``origins[i]`` is ``(file, index in file)``."""

    def __init__(
        self,
        structures: Sequence[Structure],
        info: DatasetInfo,
        origins: Sequence[Tuple[str, int]],
    ) -> None:
        if len(structures) != len(origins):
            raise ValueError("one origin is needed per structure")
        self.structures = list(structures)
        self.info = info
        self.origins = list(origins)

    def __len__(self) -> int:
        return len(self.structures)

    def __getitem__(self, index: int) -> Structure:
        return self.structures[index]

    def origin(self, index: int) -> Tuple[str, int]:
        return self.origins[index]

    def num_atoms(self) -> Sequence[int]:
        return [len(s) for s in self.structures]

    def subset(self, indices: Sequence[int]) -> InMemoryDataset:
        """The structures at ``indices``, in that order."""
        return InMemoryDataset(
            [self.structures[i] for i in indices],
            self.info,
            [self.origins[i] for i in indices],
        )
