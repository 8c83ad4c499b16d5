"""Reading targets from metatensor ``.mts`` files (saved with
:func:`metatensor.torch.save`).

The file holds one TensorMap with the target's layout: the keys of its type (a single
key for scalar and Cartesian targets, ``o3_lambda, o3_sigma`` for spherical ones), the
components, ``num_subtargets`` properties, and samples whose first dimension is
``system`` (the structure's index in the systems file) followed, for per-atom targets,
by ``atom``. Gradients sit in the blocks as metatensor gradients: ``positions``
(dE/dr, samples ``sample, system, atom``) and ``strain`` (dE/dε, samples ``sample``).
Structures are never read from ``.mts`` files.
"""

from __future__ import annotations

from typing import Any, List, Optional

import torch

from ...errors import DataError
from ..info import TargetInfo
from ..structure import Structure


def parse(file: str) -> Any:
    """The TensorMap stored in ``file``; an unreadable file is a :class:`DataError`."""
    import metatensor.torch

    try:
        return metatensor.torch.load(file)
    except Exception as error:  # metatensor raises its own error types
        raise DataError(
            f"not a metatensor TensorMap file: {error}", file=file
        ) from None


def _check_layout(tensor: Any, info: TargetInfo, file: str, key: str) -> None:
    expected = info.layout(key)
    if len(tensor.keys) != len(expected.keys) or (
        info.kind == "spherical" and tensor.keys != expected.keys
    ):
        raise DataError(
            f"expected keys {expected.keys.names} {expected.keys.values.tolist()}, "
            f"got {tensor.keys.names} {tensor.keys.values.tolist()}",
            file=file,
            key=key,
        )
    for block, reference in zip(tensor.blocks(), expected.blocks()):
        names = block.samples.names[: len(reference.samples.names)]
        if names != reference.samples.names:
            raise DataError(
                f"expected samples named {reference.samples.names}, got "
                f"{block.samples.names}",
                file=file,
                key=key,
            )
        shape, wanted = list(block.values.shape[1:]), list(reference.values.shape[1:])
        if shape != wanted:
            raise DataError(
                f"expected blocks of shape [n_samples, {', '.join(map(str, wanted))}], "
                f"got [n_samples, {', '.join(map(str, shape))}]",
                file=file,
                key=key,
            )


def _rows_by_system(
    systems: torch.Tensor, count: int, file: str, key: str
) -> List[torch.Tensor]:
    if len(systems) and int(systems.max()) >= count:
        raise DataError(
            f"samples refer to structure {int(systems.max())}, but the systems file "
            f"holds {count} structures",
            file=file,
            key=key,
        )
    order = torch.argsort(systems, stable=True)
    counts = torch.bincount(systems, minlength=count).tolist()
    return list(torch.split(order, counts))


def read_values(
    tensor: Any, structures: List[Structure], file: str, key: str, info: TargetInfo
) -> List[List[torch.Tensor]]:
    """The blocks of each structure, ``[n_samples, *components, num_subtargets]``."""
    _check_layout(tensor, info, file, key)
    per_block = []
    for block in tensor.blocks():
        systems = block.samples.column("system").to(torch.int64)
        rows = _rows_by_system(systems, len(structures), file, key)
        values = block.values.to(torch.float64)
        per_block.append([values[r] for r in rows])
    result = []
    for index, structure in enumerate(structures):
        expected = len(structure) if info.per_atom else 1
        blocks = [b[index] for b in per_block]
        for block in blocks:
            if block.shape[0] != expected:
                raise DataError(
                    f"expected {expected} samples for this structure in every block, "
                    f"got {block.shape[0]}",
                    file=file,
                    key=key,
                    structure=index,
                )
        result.append(blocks)
    return result


def read_gradient(
    tensor: Any, structures: List[Structure], file: str, gradient: str
) -> List[Optional[torch.Tensor]]:
    """The ``positions`` (``[n_atoms, 3, P]``) or ``strain`` (``[3, 3, P]``) gradient
    of each structure from the single block of ``tensor``; ``None`` for structures with
    no gradient row, and for all when the block has no such gradient."""
    block = tensor.block(0)
    if gradient not in block.gradients_list():
        return [None] * len(structures)
    data = block.gradient(gradient)
    block_systems = block.samples.column("system").to(torch.int64)
    sample = data.samples.column("sample").to(torch.int64)
    systems = block_systems[sample]
    values = data.values.to(torch.float64)
    result: List[Optional[torch.Tensor]] = []
    for index, rows in enumerate(
        _rows_by_system(systems, len(structures), file, gradient)
    ):
        if len(rows) == 0:
            result.append(None)
        elif gradient == "strain":
            result.append(values[rows].sum(dim=0))
        else:
            full = torch.zeros(
                (len(structures[index]), 3, values.shape[-1]), dtype=torch.float64
            )
            atoms = data.samples.column("atom").to(torch.int64)[rows]
            full[atoms] = values[rows]
            result.append(full)
    return result
