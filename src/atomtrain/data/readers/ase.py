"""Reading structures and labels with ASE (every format ``ase.io.read`` takes).

A value named ``key`` is looked up in ``atoms.info`` (per-structure values), then in
``atoms.arrays`` (per-atom values), then in the results of the frame's calculator: ASE's
extxyz reader moves the keys it knows as calculator properties (``energy``, ``forces``,
``stress``, ``free_energy``, ...) out of ``info``/``arrays`` into a single-point
calculator, where ``stress`` is stored in Voigt order (xx, yy, zz, yz, xz, xy).

Layouts of values with several numbers per sample: subtargets are the outermost axis, so
a per-structure Cartesian rank-2 target with one subtarget is 9 numbers (or a 3x3
array) in row-major order, and a spherical target holds, per sample and subtarget, the
``2λ+1`` components of each irrep one after the other.

Sign and volume conventions of the gradients (``V`` the cell volume):
``positions`` gradient = dE/dr = -forces; ``strain`` gradient = dE/dε = V·stress =
-virial.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional

import numpy as np
import torch

from ...errors import DataError, Interrupted
from ..info import TargetInfo
from ..structure import Structure, cell_problem

#: Voigt order of ASE's 6-number stress: (row, column) of each entry.
VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def parse(file: str) -> List[Any]:
    """Every frame of ``file`` as ``ase.Atoms`` (the rows of an ASE database as
    :func:`read_frames` gives them); a file ASE cannot read is a
    :class:`DataError` naming it, and the frame that could not be read when there is
    one (a truncated or damaged file)."""
    import ase.io

    frames: Any
    if is_database(file):
        frames = list(read_frames(file))
    else:
        try:
            frames = ase.io.read(file, index=":")
        except Exception as error:  # ASE raises many types for unreadable files
            for _ in read_frames(file):  # raises with the index of the frame at fault
                pass
            raise DataError(f"ASE cannot read this file: {error}", file=file) from None
    if not isinstance(frames, list):
        frames = [frames]
    if not frames:
        raise DataError("the file holds no structure", file=file)
    return frames


def read_frames(file: str) -> Iterator[Any]:
    """The frames of ``file`` one at a time (``ase.io.iread``, or the rows of an ASE
    database, so in bounded memory). A frame ASE cannot read is a
    :class:`DataError` naming the file and the frame's index (a file of an unknown
    format names the file only)."""
    import ase.io
    from ase.io.formats import UnknownFileTypeError

    frames = _database_rows(file) if is_database(file) else ase.io.iread(file, ":")
    index = 0
    while True:
        try:
            atoms = next(frames)
        except StopIteration:
            return
        except Interrupted:
            raise  # a signal, not a damaged file
        except UnknownFileTypeError as error:
            raise DataError(f"ASE cannot read this file: {error}", file=file) from None
        except Exception as error:  # ASE raises many types for unreadable frames
            raise DataError(
                f"ASE cannot read this structure ({error}); the file is truncated or "
                f"damaged here, after {index} structure{'s' * (index != 1)} read",
                file=file,
                structure=index,
            ) from None
        yield atoms
        index += 1


def is_database(file: str) -> bool:
    """Whether ``file`` is an ASE database (``.db``, ``.json`` databases aside)."""
    return file.lower().endswith(".db")


def _database_rows(file: str) -> Iterator[Any]:
    """The rows of an ASE database as frames: the calculator's results as written,
    the row's key-value pairs in ``info``, and its data in ``arrays`` (one value
    per atom) or ``info``."""
    import ase.db

    for row in ase.db.connect(file, create_indices=False).select():
        atoms = row.toatoms()
        atoms.info.update(row.key_value_pairs)
        for key, value in (row.get("data") or {}).items():
            value = np.asarray(value)
            if value.ndim > 0 and len(value) == len(atoms):
                atoms.arrays[key] = value
            else:
                atoms.info[key] = value
        yield atoms


def count_frames(file: str) -> Optional[int]:
    """The number of frames of ``file`` when it is cheap to know (an ASE database,
    or an XYZ file, whose atom counts are skipped through), else None."""
    if is_database(file):
        import ase.db

        return int(ase.db.connect(file, create_indices=False).count())
    if not file.lower().endswith((".xyz", ".extxyz")):
        return None
    count = 0
    with open(file, "rb") as lines:
        for first in lines:
            if not first.strip():
                continue
            try:
                atoms = int(first)
            except ValueError:
                return None
            for _ in range(atoms + 1):
                lines.readline()
            count += 1
    return count


def structures(frames: List[Any], file: str) -> List[Structure]:
    """One :class:`Structure` per frame of ``file``: int32 types, float64 positions
    and cell (rows are the cell vectors, zeroed along non-periodic directions), bool
    pbc. A periodic frame without a usable cell is a :class:`DataError` naming it."""
    result = []
    for index, atoms in enumerate(frames):
        pbc = torch.tensor(np.asarray(atoms.pbc, dtype=bool))
        cell = torch.tensor(np.asarray(atoms.cell.array, dtype=np.float64))
        cell[~pbc] = 0.0
        problem = cell_problem(cell, pbc)
        if problem is not None:
            raise DataError(problem, file=file, structure=index)
        result.append(
            Structure(
                types=torch.tensor(np.asarray(atoms.numbers), dtype=torch.int32),
                positions=torch.tensor(np.asarray(atoms.positions, dtype=np.float64)),
                cell=cell,
                pbc=pbc,
            )
        )
    return result


def lookup(atoms: Any, key: str) -> Optional[np.ndarray]:
    """The value named ``key`` in ``info``, ``arrays`` or the calculator's results, as
    a float64 array, or ``None`` when the frame has no such key."""
    for source in (atoms.info, atoms.arrays):
        if key in source:
            return np.asarray(source[key], dtype=np.float64)
    calc = getattr(atoms, "calc", None)
    results = getattr(calc, "results", None) or {}
    if key in results:
        return np.asarray(results[key], dtype=np.float64)
    return None


def _value(atoms: Any, key: str, file: str, index: int) -> np.ndarray:
    value = lookup(atoms, key)
    if value is None:
        results = getattr(getattr(atoms, "calc", None), "results", None) or {}
        keys = set(atoms.info) | set(atoms.arrays) | set(results)
        known = sorted(keys - {"numbers", "positions"})
        raise DataError(
            f"no value with this key; the structure has {', '.join(known) or 'none'}",
            file=file,
            key=key,
            structure=index,
        )
    return value


def _sample_shapes(info: TargetInfo) -> List[List[int]]:
    """Shape of one sample of each block: ``[*components, num_subtargets]``."""
    return [
        [len(c) for c in components] + [info.num_subtargets]
        for components in info.block_components()
    ]


def read_values(
    frames: List[Any], file: str, key: str, info: TargetInfo
) -> List[List[torch.Tensor]]:
    """The blocks (``[n_samples, *components, num_subtargets]``) of the target
    described by ``info`` for every frame; a missing key or a value of the wrong size
    is a :class:`DataError` naming the file, the key and the structure."""
    shapes = _sample_shapes(info)
    per_sample = sum(int(np.prod(s)) for s in shapes)
    result = []
    for index, atoms in enumerate(frames):
        value = _value(atoms, key, file, index)
        samples = len(atoms) if info.per_atom else 1
        if value.size != samples * per_sample:
            what = f"{samples} atoms x " if info.per_atom else ""
            raise DataError(
                f"expected {what}{per_sample} numbers per "
                f"{'atom' if info.per_atom else 'structure'} for this target, "
                f"got an array of shape {list(value.shape)}",
                file=file,
                key=key,
                structure=index,
            )
        # subtargets outermost in the file, innermost in the blocks
        flat = torch.tensor(value.reshape(samples, info.num_subtargets, -1))
        blocks, start = [], 0
        for shape in shapes:
            size = int(np.prod(shape[:-1]))
            part = flat[:, :, start : start + size].transpose(1, 2)
            blocks.append(part.reshape([samples, *shape]).contiguous())
            start += size
        result.append(blocks)
    return result


def read_forces(
    frames: List[Any], file: str, key: str, num_subtargets: int
) -> List[Optional[torch.Tensor]]:
    """dE/dr = -forces (``[n_atoms, 3, num_subtargets]``) of each frame, ``None`` for
    frames without ``key``."""
    result: List[Optional[torch.Tensor]] = []
    for index, atoms in enumerate(frames):
        value = lookup(atoms, key)
        if value is None:
            result.append(None)
            continue
        if value.size != len(atoms) * 3 * num_subtargets:
            raise DataError(
                f"expected forces of shape [{len(atoms)}, 3], got {list(value.shape)}",
                file=file,
                key=key,
                structure=index,
            )
        forces = torch.tensor(value.reshape(len(atoms), 3, num_subtargets))
        result.append(-forces)
    return result


def _tensor_3x3(value: np.ndarray, voigt: bool) -> Optional[np.ndarray]:
    if value.size == 9:
        return value.reshape(3, 3)
    if voigt and value.size == 6:
        full = np.zeros((3, 3))
        for (i, j), number in zip(VOIGT, value.reshape(6)):
            full[i, j] = full[j, i] = number
        return full
    return None


def read_strain(
    frames: List[Any],
    structures: List[Structure],
    file: str,
    key: str,
    kind: str,
) -> List[Optional[torch.Tensor]]:
    """dE/dε (``[3, 3, 1]``) of each frame from its ``stress`` (3x3, 9 or 6 Voigt
    numbers; dE/dε = V·stress) or ``virial`` (3x3 or 9 numbers; dE/dε = -virial);
    ``None`` for frames without ``key``. A stress on a structure without volume is an
    error unless it is NaN."""
    result: List[Optional[torch.Tensor]] = []
    for index, (atoms, structure) in enumerate(zip(frames, structures)):
        value = lookup(atoms, key)
        if value is None:
            result.append(None)
            continue
        matrix = _tensor_3x3(value, voigt=kind == "stress")
        if matrix is None:
            sizes = (
                "3x3, 9 or 6 (Voigt) numbers"
                if kind == "stress"
                else "3x3 or 9 numbers"
            )
            raise DataError(
                f"expected a {kind} of {sizes}, got shape {list(value.shape)}",
                file=file,
                key=key,
                structure=index,
            )
        gradient = torch.tensor(matrix)
        if kind == "stress":
            volume = (
                abs(float(torch.det(structure.cell)))
                if bool(structure.pbc.all())
                else 0.0
            )
            if volume == 0.0 and not bool(torch.isnan(gradient).all()):
                raise DataError(
                    "a stress needs a periodic structure with a non-zero cell volume "
                    "(write NaN for structures without stress)",
                    file=file,
                    key=key,
                    structure=index,
                )
            gradient = gradient * volume if volume else gradient
        else:
            gradient = -gradient
        result.append(gradient.reshape(3, 3, 1))
    return result
