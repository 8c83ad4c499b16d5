"""Random splits of training datasets into training, validation and test structures.

When ``validation_set`` or ``test_set`` is a fraction, each training dataset is split
with a permutation drawn from ``numpy.random.default_rng(seed)``. The indices (positions
in the training dataset after its ``indices`` selection, one per line) are written to
``<run>/indices/{training,validation,test}.txt`` — ``training_<i>.txt`` and so on when
there are several training datasets — and a restart reads them back instead of drawing
new ones.
"""

from __future__ import annotations

import array
from pathlib import Path
from typing import Dict, Iterable, List, Sequence

import numpy as np

from ..errors import UserError

SPLITS = ("training", "validation", "test")

#: ``split name -> one array of indices (8-byte integers) per training dataset``
SplitIndices = Dict[str, List["array.array[int]"]]

#: Indices written per ``write`` call: the file is never built whole in memory.
_WRITE_CHUNK = 2**16


def index_array(values: Iterable[int]) -> array.array[int]:
    """``values`` as a compact array of 8-byte integers: the indices of a split of
    10^6 structures take 8 MB, where a list of Python integers takes 36 MB."""
    if isinstance(values, np.ndarray):
        return array.array("q", values.astype(np.int64).tobytes())
    return array.array("q", values)


class SplitError(UserError):
    """A split cannot be drawn or the stored one does not fit the data."""


def draw_splits(
    sizes: Sequence[int], validation: float, test: float, seed: int
) -> SplitIndices:
    """Split each training dataset (of ``sizes[i]`` structures) at random:
    ``floor(fraction · size)`` structures go to validation and to test, the rest stays
    for training (in increasing order within each split)."""
    rng = np.random.default_rng(seed)
    result: SplitIndices = {split: [] for split in SPLITS}
    for number, size in enumerate(sizes):
        n_validation, n_test = int(validation * size), int(test * size)
        for name, fraction, count in (
            ("validation_set", validation, n_validation),
            ("test_set", test, n_test),
        ):
            if fraction > 0 and count == 0:
                raise SplitError(
                    f"{name}: {fraction} of training dataset {number} "
                    f"({size} structures) is no structure; use a larger fraction"
                )
        if n_validation + n_test >= size:
            raise SplitError(
                f"training dataset {number} ({size} structures) keeps no structure "
                "for training after the validation and test splits"
            )
        permutation = rng.permutation(size)
        parts = np.split(permutation, [n_validation, n_validation + n_test])
        for split, part in zip(("validation", "test", "training"), parts):
            result[split].append(index_array(np.sort(part)))
    return result


def _file_name(split: str, number: int, count: int) -> str:
    return f"{split}.txt" if count == 1 else f"{split}_{number}.txt"


def write_indices(directory: Path, indices: SplitIndices) -> None:
    """Write every split of every training dataset to ``directory`` (created)."""
    directory.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        count = len(indices[split])
        for number, values in enumerate(indices[split]):
            with open(directory / _file_name(split, number, count), "w") as file:
                for start in range(0, len(values), _WRITE_CHUNK):
                    chunk = values[start : start + _WRITE_CHUNK]
                    file.write("".join(f"{i}\n" for i in chunk))


def read_indices(directory: Path, sizes: Sequence[int]) -> SplitIndices:
    """The splits stored in ``directory`` for training datasets of ``sizes``; a missing
    file or indices that do not fit the datasets is a :class:`SplitError`."""
    result: SplitIndices = {split: [] for split in SPLITS}
    for split in SPLITS:
        for number, size in enumerate(sizes):
            file = directory / _file_name(split, number, len(sizes))
            if not file.is_file():
                raise SplitError(
                    f"the restarted run's split indices are missing: '{file}' "
                    "does not exist"
                )
            try:
                values = [int(line) for line in file.read_text().split()]
            except ValueError:
                raise SplitError(
                    f"'{file}' holds something else than indices"
                ) from None
            if values and (min(values) < 0 or max(values) >= size):
                raise SplitError(
                    f"'{file}' holds indices up to {max(values)}, but training "
                    f"dataset {number} has {size} structures: the data changed since "
                    "the run being restarted"
                )
            result[split].append(index_array(values))
    return result


def read_index_file(file: Path) -> List[int]:
    """Structure indices, one per line (blank lines and ``#`` comments skipped); a
    line that is no integer is a :class:`ValueError` naming it."""
    indices = []
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            indices.append(int(text))
        except ValueError:
            raise ValueError(
                f"line {number} of '{file}' is not an integer: {text!r}"
            ) from None
    return indices
