"""Progress bars: within a training epoch (batches, structures/s, atoms/s, ETA) and
over the structures of a pass that is not training (validation, evaluation,
neighbour lists: structures/s and ETA). They show on a terminal only: a log file, a
pipe or a batch job's output gets none of their lines."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Optional, Type

from tqdm import tqdm


class EpochProgress:
    """Counts the batches, structures and atoms of one pass over a dataset."""

    def __init__(self, total: int, description: str, enabled: Optional[bool] = None):
        if enabled is None:
            enabled = progress_enabled()
        self.bar = (
            tqdm(total=total, desc=description, unit="batch", leave=False)
            if enabled
            else None
        )
        self.structures = 0
        self.atoms = 0
        self.start = time.perf_counter()

    def update(self, structures: int, atoms: int) -> None:
        self.structures += structures
        self.atoms += atoms
        if self.bar is not None:
            elapsed = max(time.perf_counter() - self.start, 1e-9)
            self.bar.set_postfix(
                structures_per_s=f"{self.structures / elapsed:.1f}",
                atoms_per_s=f"{self.atoms / elapsed:.0f}",
                refresh=False,
            )
            self.bar.update(1)

    def __enter__(self) -> EpochProgress:
        return self

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        if self.bar is not None:
            self.bar.close()


def progress_enabled() -> bool:
    """Bars are drawn when standard error is a terminal."""
    return sys.stderr.isatty()


class StructureProgress:
    """Counts the structures of one pass over ``total`` structures; the bar's rate
    is in structures/s and its ETA follows from it."""

    def __init__(self, total: int, description: str, enabled: Optional[bool] = None):
        if enabled is None:
            enabled = progress_enabled()
        self.bar = (
            tqdm(total=total, desc=description, unit="structure", leave=False)
            if enabled
            else None
        )

    def update(self, structures: int) -> None:
        if self.bar is not None:
            self.bar.update(structures)

    def __enter__(self) -> StructureProgress:
        return self

    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        if self.bar is not None:
            self.bar.close()
