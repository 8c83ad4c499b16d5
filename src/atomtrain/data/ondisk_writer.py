"""Writing on-disk datasets (the format is described in :mod:`.ondisk`).

:class:`DiskDatasetWriter` appends structures one at a time, buffering a chunk in
memory. A new dataset is written under a temporary name and renamed when complete, so
an interrupted or failed write leaves no half-written dataset (and a temporary
directory left by a killed process is removed by the next writer in the same place).

Structures appended to an existing dataset (``append=True``) are written after the
rows its header describes, and the header is replaced (atomically) only once they are
all on disk: until then the dataset is the one it was, whatever happens. Rows beyond
the header, left by an append that failed or was killed, are cut off by the next.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import IO, Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..files import (
    OutputError,
    check_writable_directory,
    remove_stale_temporaries,
    temporary_path,
    write_text,
)
from .info import DatasetInfo, TargetInfo
from .ondisk import FORMAT_NAME, FORMAT_VERSION, read_header
from .structure import Structure, TargetData


class DiskDatasetWriter:
    """Writes a dataset to ``path`` one structure at a time.

    ``info`` describes the targets and extra data every appended structure must hold;
    the atomic types in the header are those actually seen. Use as a context manager:
    the dataset appears at ``path`` only when the block exits without an exception.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        info: DatasetInfo,
        chunk_size: int = 4096,
        append: bool = False,
    ) -> None:
        self.path = Path(path)
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
        #: the header of the dataset appended to (None: a new dataset)
        self._existing: Optional[Dict[str, Any]] = None
        if append:
            self._continue(read_header(self.path))
            return
        if self.path.exists() or self.path.is_symlink():
            raise OutputError(
                f"'{self.path}' exists already: an on-disk dataset is written into a "
                "new directory; choose another name, or add to it with --append"
            )
        check_writable_directory(self.path.parent, "the dataset")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(self.path.parent)
        self._tmp = temporary_path(self.path)
        self._tmp.mkdir()

    def _continue(self, header: Dict[str, Any]) -> None:
        """Start after the rows of the existing ``header``, whose description must
        be this writer's."""
        stored = DatasetInfo.from_dict(header["info"])
        if (stored.length_unit, stored.targets, stored.extra_data) != (
            self.info.length_unit,
            self.info.targets,
            self.info.extra_data,
        ):
            raise OutputError(
                f"cannot append to '{self.path}': it holds {describe(stored)}, the "
                f"structures to append {describe(self.info)}; convert them with the "
                "same targets and units"
            )
        remove_stale_temporaries(self.path)
        self._existing = header
        self._tmp = self.path
        self._input_files = list(header["files"])
        self._types_seen = set(stored.atomic_types)
        self._num_structures = int(header["num_structures"])
        self._num_atoms = int(header["num_atoms"])
        for name, spec in header["arrays"].items():
            rows = spec["shape"][0] - (1 if name == "atom_offsets" else 0)
            # the last offset is written again (same value) by the first structure
            self._shapes[name] = (spec["dtype"], [rows, *spec["shape"][1:]])

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
            self._shapes.setdefault(name, (array.dtype.str, [0, *array.shape[1:]]))
            self._files[name] = self._open(name, array)
        self._buffers[name].append(array)
        self._shapes[name][1][0] += array.shape[0]

    def _open(self, name: str, array: np.ndarray) -> IO[bytes]:
        """The file of array ``name``, positioned after the rows already written
        (none for a new dataset)."""
        file = self._tmp / f"{name}.bin"
        file.parent.mkdir(parents=True, exist_ok=True)
        if self._existing is None or not file.exists():
            return open(file, "wb")
        row = array[:1].nbytes
        handle = open(file, "r+b")  # noqa: SIM115
        # rows past the header are left by a failed append; the last offset is
        # kept until it is written again
        handle.truncate(self._existing["arrays"][name]["shape"][0] * row)
        handle.seek(self._shapes[name][1][0] * row)
        return handle

    def _flush(self) -> None:
        for name, buffer in self._buffers.items():
            if buffer:
                np.ascontiguousarray(np.concatenate(buffer)).tofile(self._files[name])
                buffer.clear()
        self._pending = 0

    def close(self) -> None:
        """Write what is buffered and the header, then move the dataset in place
        (or replace the header of the dataset appended to)."""
        self._push("atom_offsets", np.array([self._num_atoms], dtype=np.int64))
        self._flush()
        for file in self._files.values():
            file.flush()
            os.fsync(file.fileno())
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
        text = json.dumps(header, indent=1)
        if self._existing is not None:
            write_text(self.path / "header.json", text, "the dataset's header")
            return
        (self._tmp / "header.json").write_text(text)
        self._tmp.rename(self.path)

    @property
    def num_structures(self) -> int:
        """Structures in the dataset so far (those it held before an append too)."""
        return self._num_structures

    def _abort(self) -> None:
        for handle in self._files.values():
            handle.close()
        if self._existing is None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            return
        # back to the rows the header describes
        for name, spec in self._existing["arrays"].items():
            path = self.path / f"{name}.bin"
            if path.exists():
                size = int(np.prod(spec["shape"])) * np.dtype(spec["dtype"]).itemsize
                os.truncate(path, size)


def describe(info: DatasetInfo) -> str:
    """``"energy (eV, gradients positions), length unit angstrom"``."""
    targets = [
        f"{name} ({target.unit or 'no unit'}, gradients "
        f"{', '.join(target.gradients) or 'none'})"
        for name, target in {**info.targets, **info.extra_data}.items()
    ]
    return f"{', '.join(targets) or 'no target'}, length unit {info.length_unit}"
