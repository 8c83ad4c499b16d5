"""Streaming conversion of ASE-readable files into the on-disk format.

:func:`convert` reads one frame at a time (:func:`ase.io.iread`, or the rows of an ASE
database) and appends it to a :class:`~atomtrain.data.ondisk_writer.DiskDatasetWriter`,
so a file of any size converts in bounded memory; on-disk datasets among the inputs
are merged structure by structure, and structures may be appended to an existing
dataset. Values come from ``atoms.info`` / ``atoms.arrays`` or, for the keys ASE
moves there (``energy``, ``forces``, ``stress``), from the frame's calculator.

Every structure is checked as it is converted, as ``train`` checks the structures it
reads from files: NaN or infinite labels (a stress entirely NaN is an absent one) and
atoms closer than 0.5 Å are refused, naming the file, the key and the frame, so that a
dataset on disk holds only usable structures and training need not check it again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import DataError, UserError
from .info import DatasetInfo, TargetInfo
from .ondisk import DiskDataset, StoredEntry, is_disk_dataset
from .ondisk_writer import DiskDatasetWriter
from .readers.ase import read_frames
from .structure import Structure, TargetData, cell_problem
from .validity import closest_overlap, overlap_message


@dataclass(frozen=True)
class ConvertTarget:
    """Where to read one target: ``key`` for the values and, for energies, the keys of
    the forces and of the stress (``(1/V) dE/dε``, 3x3, 9 or 6 Voigt numbers) or the
    virial (``-dE/dε``, 3x3 or 9 numbers). ``info`` gives its layout; its gradients are
    derived from the keys."""

    name: str
    key: str
    info: TargetInfo
    forces_key: Optional[str] = None
    stress_key: Optional[str] = None
    virial_key: Optional[str] = None

    def __post_init__(self) -> None:
        if self.stress_key is not None and self.virial_key is not None:
            raise UserError(
                f"target '{self.name}': give either a stress or a virial key, not both"
            )
        if self.info.kind == "spherical":
            raise UserError(
                f"target '{self.name}': spherical targets are not read by convert"
            )

    def target_info(self) -> TargetInfo:
        gradients = []
        if self.forces_key is not None:
            gradients.append("positions")
        if self.stress_key is not None or self.virial_key is not None:
            gradients.append("strain")
        return replace(self.info, gradients=tuple(gradients))


def convert(
    sources: Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    targets: Optional[Sequence[ConvertTarget]] = None,
    length_unit: Optional[str] = None,
    chunk_size: int = 4096,
    append: bool = False,
    progress: Optional[Callable[[int], None]] = None,
) -> int:
    """Stream every structure of ``sources`` (files ASE reads, ASE databases, or
    on-disk datasets to merge) into the on-disk dataset ``output_dir``: a new one, or
    the existing one with ``append``. Returns the number of structures written;
    ``progress(1)`` is called after each.

    ``targets`` say what to read from files (and which targets of datasets to keep);
    None keeps the targets of the dataset appended to, or else of the first dataset
    among ``sources``. ``length_unit`` is the unit of the positions in the files
    (default: that of the dataset appended to or merged, else angstrom). A missing
    or malformed value, or a frame ASE cannot read, raises :class:`DataError` naming
    the file, the key and the frame."""
    names = [str(source) for source in sources]
    for name in names:
        if not Path(name).is_file() and not is_disk_dataset(name):
            raise UserError(f"input '{name}' is neither a file nor an on-disk dataset")
    info = _output_info(names, output_dir, targets, length_unit, append)
    if targets is None and info.targets and not all(map(is_disk_dataset, names)):
        raise UserError(
            "structure files need the labels to read from them (--energy, --target): "
            f"the dataset holds {', '.join(info.targets)}"
        )
    read = _reader(list(targets or []), info)
    count = 0
    with DiskDatasetWriter(output_dir, info, chunk_size, append) as writer:
        for name in names:
            for structure, origin in read(name):
                writer.append(structure, origin)
                count += 1
                if progress is not None:
                    progress(1)
    return count


def _output_info(
    names: Sequence[str],
    output_dir: str | os.PathLike[str],
    targets: Optional[Sequence[ConvertTarget]],
    length_unit: Optional[str],
    append: bool,
) -> DatasetInfo:
    """What the output dataset holds (see :func:`convert`)."""
    described = [str(output_dir)] if append else []
    described += [name for name in names if is_disk_dataset(name)]
    stored = DiskDataset(described[0]).info if described else None
    if length_unit is None:
        length_unit = stored.length_unit if stored is not None else "angstrom"
    if targets is not None:
        return DatasetInfo(
            length_unit=length_unit,
            targets={t.name: t.target_info() for t in targets},
        )
    if stored is None:
        return DatasetInfo(length_unit=length_unit)
    return DatasetInfo(
        length_unit=length_unit, targets=stored.targets, extra_data=stored.extra_data
    )


def _reader(
    targets: List[ConvertTarget], info: DatasetInfo
) -> Callable[[str], Iterator[Tuple[Structure, Tuple[str, int]]]]:
    """The structures of one source with their origins: frames of a file read
    for ``targets``, or the structures of a dataset with the targets of ``info``."""

    def read(name: str) -> Iterator[Tuple[Structure, Tuple[str, int]]]:
        if is_disk_dataset(name):
            dataset = _merged(name, info)
            for index in range(len(dataset)):
                yield dataset[index], dataset.origin(index)
            return
        for position, atoms in enumerate(read_frames(name)):
            structure = frame_to_structure(
                atoms, targets, name, position, info.length_unit
            )
            yield structure, (name, position)

    return read


def _merged(name: str, info: DatasetInfo) -> DiskDataset:
    """The dataset ``name`` reading the targets and extra data of ``info``."""
    dataset = DiskDataset(
        name,
        {n: StoredEntry(n, i) for n, i in info.targets.items()},
        {n: StoredEntry(n, i) for n, i in info.extra_data.items()},
    )
    if dataset.info.length_unit != info.length_unit:
        raise UserError(
            f"the dataset '{name}' has positions in '{dataset.info.length_unit}', "
            f"not '{info.length_unit}': datasets are merged in one length unit"
        )
    return dataset


def frame_to_structure(
    atoms: Any,
    targets: Sequence[ConvertTarget],
    file: str,
    position: int,
    length_unit: str = "angstrom",
) -> Structure:
    """One ASE frame as a :class:`Structure` with the requested labels; a frame no
    model should see (see the module docstring) is a :class:`DataError`."""
    pbc = torch.tensor(np.asarray(atoms.pbc, dtype=bool))
    cell = torch.tensor(np.asarray(atoms.cell.array, dtype=np.float64))
    cell = cell * pbc.reshape(3, 1)
    problem = cell_problem(cell, pbc)
    if problem is not None:
        raise DataError(problem, file=file, structure=position)
    structure = Structure(
        types=torch.tensor(atoms.numbers, dtype=torch.int32),
        positions=torch.tensor(np.asarray(atoms.positions, dtype=np.float64)),
        cell=cell,
        pbc=pbc,
    )
    overlap = closest_overlap(structure, length_unit)
    if overlap is not None:
        raise DataError(
            overlap_message(*overlap, length_unit), file=file, structure=position
        )
    for target in targets:
        read = _FrameReader(atoms, file, position)
        structure.targets[target.name] = _target_data(read, target, structure)
    return structure


class _FrameReader:
    def __init__(self, atoms: Any, file: str, position: int) -> None:
        self.atoms = atoms
        self.file = file
        self.position = position

    def __call__(self, key: str, per_atom: bool) -> np.ndarray:
        atoms = self.atoms
        results = atoms.calc.results if atoms.calc is not None else {}
        source: Dict[str, Any] = atoms.arrays if per_atom else atoms.info
        if key in source:
            value = source[key]
        elif key in results:
            value = results[key]
        else:
            where = "arrays" if per_atom else "info"
            raise DataError(
                f"no '{key}' in the frame's {where} or calculator results",
                file=self.file,
                key=key,
                structure=self.position,
            )
        return np.asarray(value, dtype=np.float64)

    def error(self, key: str, message: str) -> DataError:
        return DataError(message, file=self.file, key=key, structure=self.position)

    def require_finite(self, key: str, values: np.ndarray, absent_nan: bool) -> None:
        """Refuse NaN or infinite ``values`` (all NaN is allowed with
        ``absent_nan``: an absent stress)."""
        if np.isfinite(values).all() or (absent_nan and np.isnan(values).all()):
            return
        raise self.error(
            key,
            "NaN or infinite value: nothing can be learned from or compared with it; "
            "fix it, or leave the structure out of the input",
        )


def _target_data(
    read: _FrameReader, target: ConvertTarget, structure: Structure
) -> TargetData:
    info = target.info
    n_samples = len(structure) if info.per_atom else 1
    shape = [n_samples] + [3] * info.rank + [info.num_subtargets]
    values = read(target.key, info.per_atom)
    if values.size != int(np.prod(shape)):
        raise read.error(
            target.key,
            f"expected {int(np.prod(shape))} numbers for target '{target.name}' "
            f"(shape {shape}), found {values.size}",
        )
    read.require_finite(target.key, values, absent_nan=False)
    data = TargetData(blocks=[torch.from_numpy(values.reshape(shape).copy())])
    if target.forces_key is not None:
        forces = read(target.forces_key, per_atom=True)
        if forces.shape != (len(structure), 3):
            raise read.error(
                target.forces_key, f"expected forces of shape ({len(structure)}, 3)"
            )
        read.require_finite(target.forces_key, forces, absent_nan=False)
        data.gradients["positions"] = -torch.from_numpy(forces.copy()).unsqueeze(-1)
    strain = _strain_gradient(read, target, structure)
    if strain is not None:
        data.gradients["strain"] = strain.unsqueeze(-1)
    return data


def _strain_gradient(
    read: _FrameReader, target: ConvertTarget, structure: Structure
) -> Optional[torch.Tensor]:
    """dE/dε from the stress (times the volume) or the virial (negated)."""
    key = target.stress_key or target.virial_key
    if key is None:
        return None
    values = read(key, per_atom=False).reshape(-1)
    if values.size == 6 and target.stress_key is not None:
        xx, yy, zz, yz, xz, xy = values
        values = np.array([xx, xy, xz, xy, yy, yz, xz, yz, zz])
    if values.size != 9:
        raise read.error(key, f"expected 9 (or 6 Voigt) numbers, found {values.size}")
    read.require_finite(key, values, absent_nan=True)
    tensor = torch.from_numpy(values.reshape(3, 3).copy())
    if target.virial_key is not None:
        return -tensor
    volume = abs(float(torch.linalg.det(structure.cell)))
    if volume == 0.0:
        if torch.isnan(tensor).all():
            return tensor
        raise read.error(key, "a stress needs a periodic cell with non-zero volume")
    return tensor * volume
