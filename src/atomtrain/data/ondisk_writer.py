"""Writing on-disk datasets (the format is described in :mod:`.ondisk`).

:class:`DiskDatasetWriter` appends structures one at a time, buffering a chunk in
memory; the directory is written under a temporary name and renamed when complete, so
an interrupted or failed write leaves no half-written dataset (and a temporary
directory left by a killed process is removed by the next writer in the same place).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import IO, Any, Dict, List, Tuple

import numpy as np
import torch

from ..files import (
    OutputError,
    check_writable_directory,
    remove_stale_temporaries,
    temporary_path,
)
from .info import DatasetInfo, TargetInfo
from .ondisk import FORMAT_NAME, FORMAT_VERSION
from .structure import Structure, TargetData


class DiskDatasetWriter:
    """Writes a dataset to ``path`` one structure at a time.

    ``info`` describes the targets and extra data every appended structure must hold;
    the atomic types in the header are those actually seen. Use as a context manager:
    the dataset appears at ``path`` only when the block exits without an exception.
    """

    def __init__(
        self, path: str | os.PathLike[str], info: DatasetInfo, chunk_size: int = 4096
    ) -> None:
        self.path = Path(path)
        if self.path.exists() or self.path.is_symlink():
            raise OutputError(
                f"'{self.path}' exists already: an on-disk dataset is written into a "
                "new directory; choose another name"
            )
        check_writable_directory(self.path.parent, "the dataset")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path.parent)
        self._tmp = temporary_path(self.path)
        self._tmp.mkdir()
        self.info = info
        self.chunk_size = chunk_size
        self._files: Dict[str, IO[bytes]] = {}
        self._buffers: Dict[str, List[np.ndarray]] = {}
        self._shapes: Dict[str, Tuple[str, List[int]]] = {}
        self._input_files: List[str] = []
        self._types_seen: set[int] = set()
        self._num_structures = 0
        self._num_atoms = 0
        self._pending = 0

    def __enter__(self) -> DiskDatasetWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    def append(self, structure: Structure, origin: Tuple[str, int]) -> None:
        """Add one structure, read from ``origin = (file, index in file)``."""
        file, position = origin
        if file not in self._input_files:
            self._input_files.append(file)
        n_atoms = len(structure)
        self._push("types", structure.types.numpy().astype(np.int32))
        self._push("positions", structure.positions.numpy().astype(np.float64))
        self._push("cells", structure.cell.numpy().astype(np.float64)[None])
        self._push("pbc", structure.pbc.numpy().astype(bool)[None])
        self._push("atom_offsets", np.array([self._num_atoms], dtype=np.int64))
        self._push(
            "origin_file", np.array([self._input_files.index(file)], dtype=np.int32)
        )
        self._push("origin_index", np.array([position], dtype=np.int64))
        for group, infos, entries in (
            ("targets", self.info.targets, structure.targets),
            ("extra_data", self.info.extra_data, structure.extra_data),
        ):
            for k, (name, info) in enumerate(infos.items()):
                self._push_entry(f"{group}/{k}", name, info, entries, structure)
        self._types_seen.update(int(t) for t in torch.unique(structure.types))
        self._num_structures += 1
        self._num_atoms += n_atoms
        self._pending += 1
        if self._pending >= self.chunk_size:
            self._flush()

    def _push_entry(
        self,
        prefix: str,
        name: str,
        info: TargetInfo,
        entries: Dict[str, TargetData],
        structure: Structure,
    ) -> None:
        if name not in entries:
            raise KeyError(f"the structure has no entry '{name}'")
        data = entries[name]
        for b, block in enumerate(data.blocks):
            self._push(f"{prefix}/block_{b}", block.numpy().astype(np.float64))
        for gradient in info.gradients:
            values = data.gradients.get(gradient)
            if values is None:
                shape = [len(structure), 3] if gradient == "positions" else [3, 3]
                values = torch.full([*shape, info.num_subtargets], float("nan"))
            array = values.numpy().astype(np.float64)
            self._push(
                f"{prefix}/{gradient}",
                array if gradient == "positions" else array[None],
            )

    def _push(self, name: str, array: np.ndarray) -> None:
        if name not in self._buffers:
            self._buffers[name] = []
            self._shapes[name] = (array.dtype.str, [0, *array.shape[1:]])
            file = self._tmp / f"{name}.bin"
            file.parent.mkdir(parents=True, exist_ok=True)
            self._files[name] = open(file, "wb")  # noqa: SIM115
        self._buffers[name].append(array)
        self._shapes[name][1][0] += array.shape[0]

    def _flush(self) -> None:
        for name, buffer in self._buffers.items():
            if buffer:
                np.ascontiguousarray(np.concatenate(buffer)).tofile(self._files[name])
                buffer.clear()
        self._pending = 0

    def close(self) -> None:
        """Write what is buffered and the header, then move the dataset in place."""
        self._push("atom_offsets", np.array([self._num_atoms], dtype=np.int64))
        self._flush()
        for file in self._files.values():
            file.close()
        info = DatasetInfo(
            length_unit=self.info.length_unit,
            atomic_types=sorted(self._types_seen),
            targets=self.info.targets,
            extra_data=self.info.extra_data,
        )
        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "info": info.to_dict(),
            "num_structures": self._num_structures,
            "num_atoms": self._num_atoms,
            "files": self._input_files,
            "targets": list(info.targets),
            "extra_data": list(info.extra_data),
            "arrays": {
                name: {"dtype": dtype, "shape": shape}
                for name, (dtype, shape) in self._shapes.items()
            },
        }
        (self._tmp / "header.json").write_text(json.dumps(header, indent=1))
        self._tmp.rename(self.path)

    def _abort(self) -> None:
        for file in self._files.values():
            file.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
