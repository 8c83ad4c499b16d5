"""Per-epoch output: an aligned line with units on the console and in ``train.log``,
one row per logged epoch in ``train.csv``, and optional external loggers.

``train.csv`` has a header row (``epoch``, ``learning_rate``, ``train.loss``,
``val.loss``, then ``train.<metric>`` and ``val.<metric>``), a units row, then one row
per logged epoch. The training loss is the mean of the per-batch losses over the epoch
(exact sums, see :mod:`atomtrain.training.losses`), computed with the weights as they
were at each step; the validation loss uses the same terms and scales on the
validation set, in evaluation mode, with the EMA weights when EMA is on.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Protocol, Type

from ..errors import UserError

LOGGER = logging.getLogger("atomtrain.training")
#: The logger every atomtrain message goes through (``atomtrain.train``,
#: ``atomtrain.training``, ...).
PACKAGE_LOGGER = logging.getLogger("atomtrain")

#: Known third-party notices that say nothing to a user of atomtrain.
WARNING_FILTERS = [
    (r".*TorchScript.*", DeprecationWarning),
    (r".*torch\.jit.*", DeprecationWarning),
    (r".*interpolation.*resolver.*", UserWarning),
    (r".*custom class.*buffer.*", UserWarning),
    (r".*metatensor.*buffer.*", UserWarning),
]


def configure_warnings() -> None:
    """Hide the known third-party noise and show every other warning once;
    atomtrain's own warnings read ``warning: <message>``, without the source line
    that raised them (which says nothing to a user)."""
    warnings.simplefilter("once")
    for message, category in WARNING_FILTERS:
        warnings.filterwarnings("ignore", message=message, category=category)
    warnings.formatwarning = _format_warning


_DEFAULT_FORMAT = warnings.formatwarning


def _format_warning(
    message: Warning | str,
    category: Type[Warning],
    filename: str,
    lineno: int,
    line: Optional[str] = None,
) -> str:
    if category.__module__.split(".")[0] == "atomtrain":
        return f"warning: {message}\n"
    return _DEFAULT_FORMAT(message, category, filename, lineno, line)


class ExternalLogger(Protocol):
    """A destination for per-epoch values besides the console and the CSV."""

    def log(self, epoch: int, values: Dict[str, float]) -> None: ...

    def close(self) -> None: ...


class TensorBoardLogger:
    """Scalars written with ``torch.utils.tensorboard`` into ``directory``."""

    def __init__(self, directory: Path) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise UserError(
                "the tensorboard logger is configured but tensorboard is not "
                "installed; install it with 'pip install tensorboard'"
            ) from error
        self.writer = SummaryWriter(str(directory))

    def log(self, epoch: int, values: Dict[str, float]) -> None:
        for name, value in values.items():
            self.writer.add_scalar(name, value, epoch)

    def close(self) -> None:
        self.writer.close()


class WandbLogger:
    """Values sent to Weights & Biases; ``settings`` go to ``wandb.init``.

    ``config`` (the run's expanded options) is recorded as the W&B run's config,
    under the keys of any ``config`` the settings give; W&B's files go into
    ``directory`` (the run directory) unless the settings name a ``dir``."""

    def __init__(
        self,
        settings: Dict[str, Any],
        config: Optional[Dict[str, Any]] = None,
        directory: Optional[Path] = None,
    ) -> None:
        try:
            import wandb
        except ImportError as error:
            raise UserError(
                "the wandb logger is configured but wandb is not installed; "
                "install it with 'pip install wandb'"
            ) from error
        arguments = dict(settings)
        if directory is not None:
            arguments.setdefault("dir", str(directory))
        if config is not None:
            arguments["config"] = {**config, **(settings.get("config") or {})}
        self.run = wandb.init(**arguments)

    def log(self, epoch: int, values: Dict[str, float]) -> None:
        self.run.log({"epoch": epoch, **values})

    def close(self) -> None:
        self.run.finish()


#: The format of ``train.log`` lines.
LOG_FORMAT = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S")


class _Held(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def held_records() -> Iterator[List[logging.LogRecord]]:
    """The records of atomtrain's loggers emitted within the block (they still reach
    the console), kept for :func:`write_held` once the run directory exists: a run
    is prepared before its directory is made, so that a refused run leaves none."""
    handler = _Held()
    PACKAGE_LOGGER.addHandler(handler)
    if PACKAGE_LOGGER.level == logging.NOTSET:
        PACKAGE_LOGGER.setLevel(logging.INFO)
    try:
        yield handler.records
    finally:
        PACKAGE_LOGGER.removeHandler(handler)


def write_held(run_dir: Path, records: List[logging.LogRecord]) -> None:
    """Append ``records`` (of :func:`held_records`) to ``run_dir/train.log``."""
    write_records(run_dir / "train.log", records)


def write_records(path: Path, records: List[logging.LogRecord]) -> None:
    """Append ``records`` (of :func:`held_records`) to the log file ``path``."""
    if not records:
        return
    with open(path, "a") as log:
        for record in records:
            log.write(LOG_FORMAT.format(record) + "\n")


class RunLogFile:
    """Copies every atomtrain log message into ``path`` (``train.log``), once: a
    second one for the same file adds nothing, so the workflow's log (summaries,
    final errors) and the loop's (epochs) share one file."""

    def __init__(self, path: Path) -> None:
        self.handler: Optional[logging.Handler] = None
        target = str(path.absolute())
        for handler in PACKAGE_LOGGER.handlers:
            if (
                isinstance(handler, logging.FileHandler)
                and handler.baseFilename == target
            ):
                return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.handler = logging.FileHandler(path)
        self.handler.setFormatter(LOG_FORMAT)
        PACKAGE_LOGGER.addHandler(self.handler)
        if PACKAGE_LOGGER.level == logging.NOTSET:
            PACKAGE_LOGGER.setLevel(logging.INFO)

    def write_only(self, message: str) -> None:
        """Write ``message`` to this file alone (not to the console): what the
        command line reports itself, such as the error that stopped a command."""
        if self.handler is not None:
            record = PACKAGE_LOGGER.makeRecord(
                PACKAGE_LOGGER.name, logging.ERROR, "", 0, message, (), None
            )
            self.handler.handle(record)

    def close(self) -> None:
        if self.handler is not None:
            PACKAGE_LOGGER.removeHandler(self.handler)
            self.handler.close()
            self.handler = None


class EpochLog:
    """Writes epoch summaries to the console, ``train.log`` and ``train.csv``.

    ``run_dir`` None writes no file; ``quiet`` also keeps the console silent (the
    processes other than rank 0 of a distributed run)."""

    def __init__(
        self,
        run_dir: Optional[Path],
        metric_units: Dict[str, str],
        loss_unit: str = "",
        external: Optional[List[ExternalLogger]] = None,
        quiet: bool = False,
    ) -> None:
        self.run_dir = run_dir
        self.quiet = quiet
        self.units = {
            "learning_rate": "",
            "train.loss": loss_unit,
            "val.loss": loss_unit,
        }
        for prefix in ("train", "val"):
            for name, unit in metric_units.items():
                self.units[f"{prefix}.{name}"] = unit
        self.columns = ["epoch", *self.units]
        self.external = list(external or [])
        self._file = RunLogFile(run_dir / "train.log") if run_dir is not None else None
        if LOGGER.level == logging.NOTSET:
            LOGGER.setLevel(logging.INFO)

    def info(self, message: str) -> None:
        if not self.quiet:
            LOGGER.info(message)

    def epoch(self, epoch: int, values: Dict[str, float]) -> None:
        """Log the values of one epoch (keys as in the CSV columns)."""
        if self.quiet:
            return
        LOGGER.info(self.format_line(epoch, values))
        if self.run_dir is not None:
            self._write_csv(epoch, values)
        for logger in self.external:
            logger.log(epoch, values)

    def format_line(self, epoch: int, values: Dict[str, float]) -> str:
        """``epoch 3 | lr 1.0e-03 | loss 2.1e+01 / 2.4e+01 | energy RMSE 1.2 / 1.5
        meV/atom | ...``: training / validation pairs; the MAEs are in the CSV."""
        parts = [f"epoch {epoch:>4d}"]
        if "learning_rate" in values:
            parts.append(f"lr {values['learning_rate']:.2e}")
        names = ["loss"] + [
            column[len("train.") : -len(".rmse")]
            for column in self.columns
            if column.startswith("train.") and column.endswith(".rmse")
        ]
        for name in names:
            suffix = "" if name == "loss" else ".rmse"
            pair = [values.get(f"{split}.{name}{suffix}") for split in ("train", "val")]
            if all(value is None for value in pair):
                continue
            shown = " / ".join("-" if v is None else f"{v:.4g}" for v in pair)
            unit = self.units.get(f"train.{name}{suffix}", "")
            label = "loss" if name == "loss" else f"{name} RMSE"
            parts.append(f"{label} {shown}{' ' + unit if unit else ''}")
        return " | ".join(parts)

    def _write_csv(self, epoch: int, values: Dict[str, float]) -> None:
        assert self.run_dir is not None
        path = self.run_dir / "train.csv"
        new = not path.exists()
        with path.open("a", newline="") as file:
            writer = csv.writer(file)
            if new:
                writer.writerow(self.columns)
                writer.writerow(
                    ["" if c == "epoch" else self.units[c] for c in self.columns]
                )
            writer.writerow(
                [epoch] + [_csv_value(values.get(c)) for c in self.columns[1:]]
            )

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        for logger in self.external:
            logger.close()


def _csv_value(value: Optional[float]) -> str:
    return "" if value is None else repr(float(value))
