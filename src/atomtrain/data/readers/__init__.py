"""Readers: from the files named in expanded dataset sections to structures and labels.

Only this package touches data files. :class:`FileCache` parses each file once per run,
however many sections, targets and gradients read from it; the loader shares one cache
for the whole run. Two readers exist: ``ase`` (structures and labels, see
:mod:`.ase`) and ``metatensor`` (labels from ``.mts`` TensorMaps, see
:mod:`.metatensor`).

A gradient section with ``required: true`` (written by the user) must be found in every
structure: a missing key is an error naming the key, the file and the first structure
without it. An implicit one (``required: false``) found in no structure is skipped; one
found in some structures only is an error, except a stress on structures without a
periodic cell, which gets NaN there (mixed stress training).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from ...errors import DataError
from ..info import TargetInfo
from ..structure import Structure, TargetData
from ..targets import GRADIENT_OF, target_info
from . import ase as ase_reader
from . import metatensor as metatensor_reader

PARSERS: Dict[str, Callable[[str], Any]] = {
    "ase": ase_reader.parse,
    "metatensor": metatensor_reader.parse,
}


class FileCache:
    """Parsed contents of files, keyed by resolved path and reader. ``misses`` counts
    the parses, ``hits`` the reuses."""

    def __init__(self) -> None:
        self._contents: Dict[Tuple[str, str], Any] = {}
        self._structures: Dict[str, List[Structure]] = {}
        self.misses = 0
        self.hits = 0

    def get(self, file: str, reader: str) -> Any:
        """The parsed content of ``file`` with ``reader`` (``ase``: a list of frames,
        ``metatensor``: a TensorMap)."""
        key = (str(Path(file).resolve()), reader)
        if key in self._contents:
            self.hits += 1
        else:
            if not Path(file).is_file():
                raise DataError("the file does not exist", file=file)
            self.misses += 1
            self._contents[key] = PARSERS[reader](file)
        return self._contents[key]

    def structures(self, file: str) -> List[Structure]:
        """The structures of ``file`` (read with ASE), without labels; built once and
        shared, so treat them as read-only."""
        key = str(Path(file).resolve())
        if key not in self._structures:
            self._structures[key] = ase_reader.structures(self.get(file, "ase"), file)
        return self._structures[key]


def read_target(
    cache: FileCache, section: Dict[str, Any], structures: List[Structure]
) -> Tuple[List[TargetData], TargetInfo]:
    """The labels of one expanded target (or extra-data) section for ``structures``,
    and its :class:`TargetInfo` with the gradients actually read."""
    info = target_info(section)
    file, key = section["read_from"], section["key"]
    content = cache.get(file, section["reader"])
    if section["reader"] == "metatensor":
        blocks = metatensor_reader.read_values(content, structures, file, key, info)
    else:
        _check_count(content, structures, file)
        blocks = ase_reader.read_values(content, file, key, info)
    data = [TargetData(blocks=b) for b in blocks]
    gradients = []
    for name, gradient in GRADIENT_OF.items():
        spec = section.get(name)
        if not spec:
            continue
        values = _read_gradient(cache, name, spec, structures, info.num_subtargets)
        if values is None:
            continue
        for item, value in zip(data, values):
            item.gradients[gradient] = value
        gradients.append(gradient)
    return data, target_info(section, gradients)


def _check_count(frames: List[Any], structures: List[Structure], file: str) -> None:
    if len(frames) != len(structures):
        raise DataError(
            f"holds {len(frames)} structures but the systems file holds "
            f"{len(structures)}",
            file=file,
        )


def _read_gradient(
    cache: FileCache,
    name: str,
    spec: Dict[str, Any],
    structures: List[Structure],
    num_subtargets: int,
) -> Optional[List[torch.Tensor]]:
    file, key = spec["read_from"], spec["key"]
    content = cache.get(file, spec["reader"])
    gradient = GRADIENT_OF[name]
    if spec["reader"] == "metatensor":
        values = metatensor_reader.read_gradient(content, structures, file, gradient)
    elif gradient == "positions":
        _check_count(content, structures, file)
        values = ase_reader.read_forces(content, file, key, num_subtargets)
    else:
        _check_count(content, structures, file)
        values = ase_reader.read_strain(content, structures, file, key, name)
    return _complete(values, structures, name, spec)


def _complete(
    values: List[Optional[torch.Tensor]],
    structures: List[Structure],
    name: str,
    spec: Dict[str, Any],
) -> Optional[List[torch.Tensor]]:
    missing = [i for i, value in enumerate(values) if value is None]
    if not missing:
        return [v for v in values if v is not None]
    if len(missing) == len(values) and not spec["required"]:
        return None
    periodic = [bool(s.pbc.all()) for s in structures]
    fillable = name == "stress" and not spec["required"]
    fillable = fillable and not any(periodic[i] for i in missing)
    if not fillable:
        found = len(values) - len(missing)
        raise DataError(
            f"the {name} are missing here (found in {found} of {len(values)} "
            f"structures{'' if spec['required'] else ' in this file'}); "
            f"check the key in the '{name}' section",
            file=spec["read_from"],
            key=spec["key"],
            structure=missing[0],
        )
    shape = next(v for v in values if v is not None).shape
    nan = torch.full(shape, float("nan"), dtype=torch.float64)
    return [nan.clone() if v is None else v for v in values]
