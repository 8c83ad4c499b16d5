"""A dataset on disk, for data larger than memory.

Format (version 1): a directory holding flat binary arrays (C order, little endian,
no header) and ``header.json``, which gives the :class:`DatasetInfo`, the input files,
and the dtype and shape of every array::

    header.json          {"format": "atomtrain-disk-dataset", "version": 1, "info": ...,
                          "files": [...], "arrays": {name: {"dtype", "shape"}},
                          "targets": [name, ...], "extra_data": [name, ...]}
    types.bin            int32   [n_atoms_total]            atomic numbers
    positions.bin        float64 [n_atoms_total, 3]
    cells.bin            float64 [n_structures, 3, 3]       rows are cell vectors
    pbc.bin              bool    [n_structures, 3]
    atom_offsets.bin     int64   [n_structures + 1]         atoms of i: [o[i], o[i+1])
    origin_file.bin      int32   [n_structures]             index in "files"
    origin_index.bin     int64   [n_structures]             index in that file
    targets/K/block_B.bin    float64 [n_samples_total, *components, n_properties]
    targets/K/positions.bin  float64 [n_atoms_total, 3, n_properties]   dE/dr
    targets/K/strain.bin     float64 [n_structures, 3, 3, n_properties] dE/dε, NaN: none
    extra_data/K/...         the same for extra data

``K`` is the position of the target in the header's list (target names may hold
``/`` and ``::``); per-structure blocks have one sample per structure, per-atom blocks
one per atom (indexed with ``atom_offsets``). Values are in the declared units.

Datasets are written by :class:`~.ondisk_writer.DiskDatasetWriter` (``atomtrain
convert``) and read by :class:`DiskDataset`: a structure is read from disk when it
is indexed (positioned reads, cached by the kernel), so a dataset of any size opens
in the memory of its atom offsets (8 bytes per structure). A
:class:`DiskDataset` may read only some of the stored targets (and some of their
gradients), under other names (:class:`StoredEntry`), and only some structures
(:meth:`DiskDataset.subset`): what a dataset section of the options asks for.
"""

from __future__ import annotations

import array
import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import UserError
from .dataset import Dataset
from .info import DatasetInfo, TargetInfo
from .structure import Structure, TargetData

FORMAT_NAME = "atomtrain-disk-dataset"
FORMAT_VERSION = 1


class DiskFormatError(UserError):
    """A directory that is not an on-disk dataset this atomtrain can read."""


def is_disk_dataset(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a directory holding a dataset header."""
    return Path(path).is_dir() and (Path(path) / "header.json").is_file()


def read_header(path: str | os.PathLike[str]) -> Dict[str, Any]:
    """The header of the on-disk dataset at ``path``; :class:`DiskFormatError` when
    it is not one, or one written by a newer atomtrain."""
    header_file = Path(path) / "header.json"
    if not header_file.is_file():
        raise DiskFormatError(
            f"'{path}' is not an atomtrain on-disk dataset (no header.json); write "
            "one from structure files with atomtrain convert"
        )
    try:
        header = json.loads(header_file.read_text())
    except (OSError, ValueError) as error:
        raise DiskFormatError(f"'{header_file}' cannot be read: {error}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise DiskFormatError(f"'{header_file}' is not an atomtrain dataset header")
    if header["version"] > FORMAT_VERSION:
        raise DiskFormatError(
            f"'{path}' uses on-disk format version {header['version']}, newer than "
            f"this atomtrain reads ({FORMAT_VERSION}); upgrade atomtrain"
        )
    return header


@dataclass(frozen=True)
class StoredEntry:
    """What one target (or extra-data entry) of a :class:`DiskDataset` reads:
    ``key``, the name of a stored target, and ``info``, its description with the
    gradients to read (some or all of those stored)."""

    key: str
    info: TargetInfo


class DiskDataset(Dataset):
    """A dataset written by :class:`~.ondisk_writer.DiskDatasetWriter` (or
    ``atomtrain convert``), read a structure at a time.

    ``targets`` and ``extra_data`` select what structures carry (default: every
    stored target with all its gradients, and every extra-data entry); ``info``
    then describes the selection, with the atomic types of the whole stored
    dataset."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        targets: Optional[Dict[str, StoredEntry]] = None,
        extra_data: Optional[Dict[str, StoredEntry]] = None,
    ) -> None:
        self.path = Path(path)
        self.header = read_header(self.path)
        stored = DatasetInfo.from_dict(self.header["info"])
        self._columns = {
            "targets": _select(self.path, self.header["targets"], stored, targets),
            "extra_data": _select(
                self.path, self.header["extra_data"], stored, extra_data, True
            ),
        }
        self.info = DatasetInfo(
            length_unit=stored.length_unit,
            atomic_types=stored.atomic_types,
            targets={n: e.info for n, (_, e) in self._columns["targets"].items()},
            extra_data={n: e.info for n, (_, e) in self._columns["extra_data"].items()},
        )
        #: the stored structures this dataset holds, in order (None: all of them)
        self._rows: Optional[np.ndarray] = None
        self._open()

    def _open(self) -> None:
        self._arrays = _Arrays(self.path, self.header["arrays"])
        self._offsets = self._arrays.rows(
            "atom_offsets", 0, int(self.header["num_structures"]) + 1
        )

    def __getstate__(self) -> Dict[str, Any]:
        # files are opened again where the dataset is unpickled
        return {k: v for k, v in self.__dict__.items() if k != "_arrays"}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._arrays = _Arrays(self.path, self.header["arrays"])

    def __len__(self) -> int:
        if self._rows is not None:
            return len(self._rows)
        return int(self.header["num_structures"])

    def subset(self, indices: Sequence[int]) -> DiskDataset:
        """The structures at ``indices`` (of this dataset), in that order, reading
        the same files."""
        rows = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"indices out of range for {len(self)} structures")
        view = copy.copy(self)
        view._rows = rows if self._rows is None else self._rows[rows]
        return view

    def stored_index(self, index: int) -> int:
        """The position in the stored dataset of structure ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"structure {index} out of range for {len(self)}")
        return int(self._rows[index]) if self._rows is not None else index

    def __getitem__(self, index: int) -> Structure:
        structure = self.geometry(index)
        stored = self.stored_index(index)
        start, stop = int(self._offsets[stored]), int(self._offsets[stored + 1])
        structure.targets = self._entries("targets", stored, start, stop)
        structure.extra_data = self._entries("extra_data", stored, start, stop)
        return structure

    def geometry(self, index: int) -> Structure:
        stored = self.stored_index(index)
        start, stop = int(self._offsets[stored]), int(self._offsets[stored + 1])
        return Structure(
            types=self._read("types", start, stop),
            positions=self._read("positions", start, stop),
            cell=self._read("cells", stored, stored + 1)[0],
            pbc=self._read("pbc", stored, stored + 1)[0],
        )

    def _entries(
        self, group: str, stored: int, start: int, stop: int
    ) -> Dict[str, TargetData]:
        entries = {}
        for name, (column, entry) in self._columns[group].items():
            info = entry.info
            prefix = f"{group}/{column}"
            rows = (start, stop) if info.per_atom else (stored, stored + 1)
            blocks = [
                self._read(f"{prefix}/block_{b}", *rows)
                for b in range(len(info.block_components()))
            ]
            gradients = {}
            if "positions" in info.gradients:
                gradients["positions"] = self._read(f"{prefix}/positions", start, stop)
            if "strain" in info.gradients:
                strain = self._read(f"{prefix}/strain", stored, stored + 1)[0]
                if not torch.isnan(strain).all():
                    gradients["strain"] = strain
            entries[name] = TargetData(blocks=blocks, gradients=gradients)
        return entries

    def _read(self, name: str, start: int, stop: int) -> torch.Tensor:
        return torch.from_numpy(self._arrays.rows(name, start, stop))

    def origin(self, index: int) -> Tuple[str, int]:
        stored = self.stored_index(index)
        file = self._arrays.rows("origin_file", stored, stored + 1)[0]
        position = self._arrays.rows("origin_index", stored, stored + 1)[0]
        return self.header["files"][int(file)], int(position)

    def describe(self, index: int) -> str:
        """``"structure 7 of 'ethanol.xyz' (structure 7 of the dataset 'ds')"``:
        where the structure came from, and where it is stored."""
        return (
            f"{super().describe(index)} (structure {self.stored_index(index)} of the "
            f"dataset '{self.path}')"
        )

    def num_atoms(self) -> Sequence[int]:
        """As 8-byte integers (a list would take 36 bytes per structure)."""
        counts = np.diff(self._offsets)
        selected = counts if self._rows is None else counts[self._rows]
        compact = array.array("q")
        compact.frombytes(selected.astype(np.int64).tobytes())
        return compact


def _select(
    path: Path,
    names: List[str],
    stored: DatasetInfo,
    selection: Optional[Dict[str, StoredEntry]],
    extra: bool = False,
) -> Dict[str, Tuple[int, StoredEntry]]:
    """``{name: (column of the stored entry, entry)}``; a selection that the
    stored dataset cannot give is a :class:`DiskFormatError`."""
    infos = stored.extra_data if extra else stored.targets
    if selection is None:
        selection = {name: StoredEntry(name, infos[name]) for name in names}
    columns = {}
    for name, entry in selection.items():
        stored_info = infos.get(entry.key)
        missing = (
            stored_info is None
            or not stored_info.is_compatible_with(entry.info)
            or not set(entry.info.gradients) <= set(stored_info.gradients)
        )
        if missing:
            raise DiskFormatError(
                f"the dataset '{path}' has no {'extra data' if extra else 'target'} "
                f"'{entry.key}' described as {entry.info.to_dict()}; it holds "
                f"{ {k: v.to_dict() for k, v in infos.items()} }"
            )
        columns[name] = (names.index(entry.key), entry)
    return columns


class _Arrays:
    """The arrays of a dataset directory, read with positioned reads
    (``os.preadv``) into new arrays: what is read often stays in the kernel's page
    cache, and nothing read stays in the process's memory (memory maps would count
    every page ever read in the process's resident memory)."""

    def __init__(self, path: Path, specs: Dict[str, Any]) -> None:
        self.path = path
        self.specs = {
            name: (np.dtype(spec["dtype"]), tuple(spec["shape"]))
            for name, spec in specs.items()
        }
        self.files: Dict[str, int] = {}
        for name, (_, shape) in self.specs.items():
            if int(np.prod(shape)) > 0:
                self.files[name] = os.open(path / f"{name}.bin", os.O_RDONLY)

    def __del__(self) -> None:
        for descriptor in getattr(self, "files", {}).values():
            os.close(descriptor)

    def rows(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` of array ``name``."""
        dtype, shape = self.specs[name]
        out = np.empty((stop - start, *shape[1:]), dtype=dtype)
        if out.nbytes == 0:
            return out
        offset = start * (out.nbytes // len(out))
        buffer: Any = out  # numpy arrays are writable buffers
        if os.preadv(self.files[name], [buffer], offset) != out.nbytes:
            raise DiskFormatError(
                f"'{self.path / name}.bin' is shorter than its header says: the "
                "dataset is damaged; convert it again"
            )
        return out
