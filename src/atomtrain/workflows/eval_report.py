"""What ``atomtrain eval`` reports: the command line and versions, the model, each
dataset, its errors and the files written. Every line goes through the
``atomtrain.eval`` logger: to the console under the command line, and to the log file
of the evaluation (``--log``, or ``<predictions>.log`` beside ``-o``) as ``train.log``
records a training run.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Optional, Tuple

from metatomic.torch import AtomisticModel

from ..data.dataset import Dataset
from ..data.elements import format_types
from ..data.statistics import dataset_statistics, format_statistics
from ..errors import UserError
from ..files import atomic_output
from ..training.logging import RunLogFile, write_records
from .evaluate import Evaluation, format_metrics

LOGGER = logging.getLogger("atomtrain.eval")


def describe_model(model: AtomisticModel, path: Path) -> str:
    """The model's file, name, outputs with their units, elements, range and
    precision."""
    capabilities = model.capabilities()
    name = model.metadata().name
    outputs = ", ".join(
        f"{output} ({described.unit})" if described.unit else output
        for output, described in capabilities.outputs.items()
    )
    return "\n".join(
        [
            f"model: {path}" + (f" ({name})" if name else ""),
            f"  outputs: {outputs}",
            f"  elements: {format_types(capabilities.atomic_types)}",
            f"  interaction range {capabilities.interaction_range:g} "
            f"{capabilities.length_unit}, {capabilities.dtype}",
        ]
    )


def describe_dataset(dataset: Dataset, name: str) -> str:
    """Sizes, elements and label statistics of one evaluated dataset."""
    return format_statistics([dataset_statistics(dataset, name)])


def report_evaluation(
    name: str, evaluation: Evaluation, written: List[Tuple[str, Path]]
) -> None:
    """Log a dataset's errors and the files written for it (``(what, path)``)."""
    LOGGER.info(format_metrics(name, evaluation))
    for what, path in written:
        LOGGER.info(f"wrote {what} to {path}")


class EvaluationLog:
    """The log file of an evaluation (none for ``path`` None), opened once the
    outputs are checked: it starts with the messages ``held`` until then, copies
    every later one, and records the user error that stops the evaluation (which
    the command line prints itself)."""

    def __init__(self, path: Optional[Path], held: List[logging.LogRecord]) -> None:
        self.file: Optional[RunLogFile] = None
        if path is None:
            return
        with atomic_output(path, "--log"):
            pass  # an empty file, or the error of a directory that cannot hold one
        write_records(path, held)
        self.file = RunLogFile(path)
        LOGGER.info(f"log: {path}")

    def record_error(self, error: UserError) -> None:
        if self.file is not None:
            self.file.write_only(f"error: {error}")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
