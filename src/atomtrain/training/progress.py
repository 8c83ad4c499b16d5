"""Progress within an epoch: a tqdm bar on a terminal (batches, structures/s,
atoms/s, ETA), nothing per batch otherwise (the epoch line is the plain output)."""

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
            enabled = sys.stderr.isatty()
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
