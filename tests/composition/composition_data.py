"""Datasets for the composition tests (the composition baseline in `modules` and the
`composition` architecture), read from the real xyz files with ASE."""

from pathlib import Path
from typing import Callable, Dict, List

import ase
import ase.io
import numpy as np
import pytest
import torch

from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import Structure, TargetData

#: A function ``atoms -> label block`` ([1, P] or [n_atoms, P], float64).
LabelReader = Callable[[ase.Atoms], np.ndarray]


def energy(atoms: ase.Atoms) -> np.ndarray:
    return np.array([[atoms.get_potential_energy()]])


def structure(atoms: ase.Atoms, labels: Dict[str, LabelReader]) -> Structure:
    cell = torch.tensor(np.asarray(atoms.cell), dtype=torch.float64)
    targets = {}
    for name, read in labels.items():
        block = torch.tensor(read(atoms), dtype=torch.float64)
        targets[name] = TargetData(blocks=[block])
    return Structure(
        types=torch.tensor(atoms.numbers, dtype=torch.int32),
        positions=torch.tensor(atoms.positions, dtype=torch.float64),
        cell=cell,
        pbc=torch.tensor(atoms.pbc),
        targets=targets,
    )


def xyz_dataset(
    path: Path,
    labels: Dict[str, LabelReader],
    targets: Dict[str, TargetInfo],
    frames: List[ase.Atoms] | None = None,
) -> InMemoryDataset:
    """Every frame of ``path`` (or the given ``frames`` read from it) with labels."""
    if frames is None:
        frames = ase.io.read(path, ":")
    types = sorted({int(z) for atoms in frames for z in atoms.numbers})
    info = DatasetInfo(length_unit="angstrom", atomic_types=types, targets=targets)
    return InMemoryDataset(
        [structure(atoms, labels) for atoms in frames],
        info,
        [(str(path), i) for i in range(len(frames))],
    )


ENERGY_KCAL = TargetInfo(quantity="energy", unit="kcal/mol", gradients=("positions",))


@pytest.fixture
def make_dataset() -> Callable[..., InMemoryDataset]:
    """:func:`xyz_dataset`: ``make_dataset(path, labels, targets, frames=None)``."""
    return xyz_dataset


@pytest.fixture
def energy_kcal() -> TargetInfo:
    return ENERGY_KCAL


@pytest.fixture
def ethanol(resources: Path) -> InMemoryDataset:
    """The 100 ethanol conformers, energy in kcal/mol."""
    return xyz_dataset(
        resources / "ethanol_reduced_100.xyz",
        {"energy": energy},
        {"energy": ENERGY_KCAL},
    )


@pytest.fixture
def qm9_frames(resources: Path) -> List[ase.Atoms]:
    return ase.io.read(resources / "qm9_reduced_100.xyz", ":")
