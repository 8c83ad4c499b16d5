"""``atomtrain convert``: structure files, ASE databases and on-disk datasets into one
on-disk dataset, new or appended to.

Inputs may be glob patterns (``'data/*.xyz'``, ``'**/*.db'``, expanded here when the
shell did not), expanded in sorted order. A progress bar on a terminal shows the
structures converted, their rate and, when the number of structures is cheap to know
(XYZ files, ASE databases, datasets), the time left. SIGINT (Ctrl-C) and SIGTERM stop
the conversion cleanly: a new dataset is not created, and a dataset appended to is
left as it was.
"""

from __future__ import annotations

import contextlib
import glob
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Iterator, List, Optional, Sequence

from tqdm import tqdm

from ..data.ondisk import DiskDataset, is_disk_dataset
from ..data.ondisk_convert import ConvertTarget, convert
from ..data.readers.ase import count_frames
from ..errors import Interrupted, UserError


def convert_inputs(
    inputs: Sequence[str],
    output: Path,
    targets: Optional[List[ConvertTarget]],
    length_unit: Optional[str] = None,
    append: bool = False,
    progress: Optional[bool] = None,
) -> int:
    """Convert ``inputs`` (see the module docstring) into ``output``; the number of
    structures written. ``progress``: show a bar (default: when standard error is a
    terminal)."""
    sources = expand_inputs(inputs)
    for source in sources:
        if Path(source).resolve() == output.resolve():
            raise UserError(
                f"'{output}' is both an input and the output: a dataset cannot be "
                "merged into itself"
            )
    if append and not is_disk_dataset(output):
        raise UserError(
            f"--append: '{output}' is not an on-disk dataset to append to; leave "
            "--append out to create it"
        )
    total = _total(sources)
    enabled = sys.stderr.isatty() if progress is None else progress
    with (
        tqdm(
            total=total, unit="structure", disable=not enabled, desc="converting"
        ) as bar,
        _stopped_by_signals(output, append),
    ):

        def advance(count: int) -> None:
            bar.update(count)

        return convert(
            sources, output, targets, length_unit, append=append, progress=advance
        )


def expand_inputs(inputs: Sequence[str]) -> List[str]:
    """Each input as given when it exists, else the sorted paths its glob pattern
    matches; a pattern that matches nothing, or a missing input, is an error."""
    sources: List[str] = []
    for pattern in inputs:
        if Path(pattern).exists():
            sources.append(pattern)
            continue
        matches = sorted(glob.glob(pattern, recursive=True))
        if not glob.has_magic(pattern):
            raise UserError(f"input '{pattern}' does not exist")
        if not matches:
            raise UserError(f"no file matches the input pattern '{pattern}'")
        sources.extend(matches)
    return sources


def _total(sources: Sequence[str]) -> Optional[int]:
    """The number of structures of ``sources``, or None when one cannot be counted
    without reading it."""
    total = 0
    for source in sources:
        count = (
            len(DiskDataset(source))
            if is_disk_dataset(source)
            else count_frames(source)
        )
        if count is None:
            return None
        total += count
    return total


@contextlib.contextmanager
def _stopped_by_signals(output: Path, append: bool) -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the block, so that the
    writer cleans up; the previous handlers are restored after it."""
    state = "left as it was" if append else "not created"

    def stop(number: int, frame: Optional[FrameType]) -> None:
        name = signal.Signals(number).name
        raise Interrupted(
            f"conversion interrupted by {name}: '{output}' {state}", number
        )

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
