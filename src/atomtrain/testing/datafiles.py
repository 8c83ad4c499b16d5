"""Labelled data for the suite's training runs: EMT clusters written as extended XYZ,
and the same frames as an in-memory dataset.

Labels come from ASE's EMT calculator, a real (if crude) potential defined for H, C,
N, O and several metals, so that training has something consistent to learn: energies
and forces are exact derivatives of each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import ase
import ase.io
import torch

from ..data.dataset import InMemoryDataset
from ..data.info import DatasetInfo, TargetInfo
from ..data.structure import Structure, TargetData
from .systems import cluster

#: The target of :func:`emt_dataset`: energy in eV with forces.
EMT_ENERGY = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))


def emt_frames(atomic_types: Sequence[int], count: int) -> List[ase.Atoms]:
    """``count`` clusters of 3 to 6 atoms of ``atomic_types`` with EMT energies and
    forces attached (as a single-point calculator, so that writing keeps them)."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    frames = []
    for index in range(count):
        structure = cluster(atomic_types, 3 + index % 4, seed=100 + index)
        atoms = ase.Atoms(
            numbers=structure.types.numpy(), positions=structure.positions.numpy()
        )
        atoms.calc = EMT()
        energy = atoms.get_potential_energy()
        forces = atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        frames.append(atoms)
    return frames


def write_emt_clusters(path: Path, atomic_types: Sequence[int], count: int) -> None:
    """Write :func:`emt_frames` to ``path`` (extended XYZ: ``energy``, ``forces``)."""
    ase.io.write(path, emt_frames(atomic_types, count), format="extxyz")


def emt_dataset(atomic_types: Sequence[int], count: int) -> InMemoryDataset:
    """:func:`emt_frames` as an in-memory dataset with the target ``energy``."""
    structures = []
    for atoms in emt_frames(atomic_types, count):
        energy = torch.tensor([[atoms.get_potential_energy()]], dtype=torch.float64)
        forces = torch.tensor(atoms.get_forces(), dtype=torch.float64)
        structures.append(
            Structure(
                types=torch.tensor(atoms.numbers, dtype=torch.int32),
                positions=torch.tensor(atoms.positions, dtype=torch.float64),
                cell=torch.zeros((3, 3), dtype=torch.float64),
                pbc=torch.zeros(3, dtype=torch.bool),
                targets={
                    "energy": TargetData(
                        blocks=[energy], gradients={"positions": -forces[:, :, None]}
                    )
                },
            )
        )
    info = DatasetInfo(
        length_unit="angstrom",
        atomic_types=sorted(atomic_types),
        targets={"energy": EMT_ENERGY},
    )
    return InMemoryDataset(
        structures, info, [("emt-clusters", i) for i in range(len(structures))]
    )


def write_golden_checkpoint(
    model_class: Any,
    trainer_class: Any,
    hypers: Dict[str, Dict[str, Any]],
    atomic_types: Sequence[int],
    directory: Path,
) -> Tuple[Any, Any, Path]:
    """Train a fresh model of :data:`EMT_ENERGY` (float64, seeded) with
    ``hypers['training']`` on 12 EMT clusters, and write its checkpoint to
    ``directory / 'model.ckpt'``: the checkpoint of the suite's round trips and golden
    files. Returns the model, the trainer and the path."""
    dataset = emt_dataset(atomic_types, 12)
    torch.manual_seed(0)
    info = DatasetInfo(
        length_unit="angstrom",
        atomic_types=list(atomic_types),
        targets={"energy": EMT_ENERGY},
    )
    model = model_class(dict(hypers["model"]), info).to(torch.float64)
    trainer = trainer_class(dict(hypers["training"]))
    cpu = [torch.device("cpu")]
    trainer.train(model, torch.float64, cpu, [dataset], [dataset], directory)
    path = directory / "model.ckpt"
    trainer.save_checkpoint(model, path)
    return model.eval(), trainer, path
