"""``atomtrain eval``: errors, predictions and parity plots of an exported model on the
datasets of a file, with every output checked against the inputs before any work."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ..data.dataset import Dataset
from ..data.loading import load_section
from ..data.ondisk import is_disk_dataset
from ..data.readers import FileCache
from ..errors import OptionsError, UserError
from ..options import read_options_file
from ..options.datasets import expand_standalone_sections, located_sections
from ..options.target_sections import warn_about_units
from ..training.logging import configure_warnings, held_records
from .chemiscope_file import chemiscope_installed, chemiscope_path, write_chemiscope
from .eval_report import (
    LOGGER,
    EvaluationLog,
    describe_dataset,
    describe_model,
    report_evaluation,
)
from .evaluate import Evaluation, evaluate
from .exported import load_exported_model
from .outputs import check_command_outputs, input_paths
from .per_structure import write_per_structure_errors
from .plots import parity_plot
from .predictions import prediction_paths, write_predictions
from .summary import run_header


@dataclass
class DatasetEvaluation:
    """The evaluation of one dataset of ``atomtrain eval`` and the files written."""

    #: the dataset's ``read_from``, numbered ``[k] name`` when there are several
    name: str
    evaluation: Evaluation
    predictions: List[Path] = field(default_factory=list)
    plot: Optional[Path] = None
    per_structure: Optional[Path] = None
    chemiscope: Optional[Path] = None

    def written(self) -> List[Tuple[str, Path]]:
        """Every file written for this dataset, with what it holds."""
        files = [("predictions", path) for path in self.predictions]
        for what, path in (
            ("a chemiscope file", self.chemiscope),
            ("a parity plot", self.plot),
            ("the errors of each structure", self.per_structure),
        ):
            if path is not None:
                files.append((what, path))
        return files


@dataclass(frozen=True)
class EvaluationOutputs:
    """What ``atomtrain eval`` writes besides its report: predictions (``-o``), with
    a chemiscope file beside them where chemiscope is installed, parity plots
    (``-p``), errors of each structure (``--per-structure``) and the log (``--log``;
    by default ``<predictions>.log`` beside ``-o``, none without it)."""

    predictions: Optional[Path] = None
    plot: Optional[Path] = None
    per_structure: Optional[Path] = None
    log: Optional[Path] = None

    def log_path(self) -> Optional[Path]:
        if self.log is not None or self.predictions is None:
            return self.log
        return self.predictions.with_suffix(".log")


def evaluate_files(
    model_path: Path,
    options_path: Path,
    outputs: EvaluationOutputs = EvaluationOutputs(),
    batch_size: int = 16,
    extensions: Optional[Path] = None,
    device: str = "cpu",
    command_line: Sequence[str] = (),
) -> Iterator[DatasetEvaluation]:
    """``atomtrain eval``: evaluate the metatomic model at ``model_path`` on the
    dataset section(s) of ``options_path`` (the dataset grammar of the training
    options: a file name, a section, or a list of sections), or on the on-disk
    dataset ``options_path`` names, writing ``outputs``. Yields each dataset's
    errors and files as soon as it is done, so that the caller can use them while
    the next one runs; every output is checked before the first dataset is read.
    Everything is reported through the ``atomtrain.eval`` logger (and so in the
    log file); ``command_line`` is recorded in it."""
    configure_warnings()
    with held_records() as held:
        LOGGER.info(run_header(command_line))
        sections = _sections(options_path)
        _check_outputs(sections, outputs, model_path, options_path, extensions)
    log = EvaluationLog(outputs.log_path(), held)
    try:
        model = load_exported_model(model_path, extensions)
        LOGGER.info(describe_model(model, model_path))
        cache = FileCache()
        for number, section in enumerate(sections):
            dataset = load_section(section, cache)
            name = section["systems"]["read_from"]
            yield _evaluate_dataset(
                model,
                dataset,
                name,
                (number, len(sections)),
                outputs,
                batch_size,
                device,
            )
    except UserError as error:
        log.record_error(error)
        raise
    finally:
        log.close()


def _sections(options_path: Path) -> List[Dict[str, Any]]:
    """The dataset sections of an evaluation's options file (or on-disk dataset)."""
    value: Any
    if is_disk_dataset(options_path):
        value = options_path.name
    else:
        raw = read_options_file(options_path)
        value = (
            raw["test_set"]
            if isinstance(raw, dict) and set(raw) == {"test_set"}
            else raw
        )
    sections, problems = expand_standalone_sections(value, "", options_path.parent)
    if problems:
        raise OptionsError(problems, str(options_path))
    warn_about_units(located_sections(sections, ""))
    return sections


def _check_outputs(
    sections: List[Dict[str, Any]],
    outputs: EvaluationOutputs,
    model_path: Path,
    options_path: Path,
    extensions: Optional[Path],
) -> None:
    """Refuse, before any work, an output that is an input or cannot be written."""
    files = _output_files(sections, outputs)
    inputs = [model_path, options_path, *input_paths(sections)]
    if extensions is not None and extensions.is_dir():
        inputs.extend(p for p in extensions.rglob("*") if p.is_file())
    check_command_outputs(files, inputs)


def _evaluate_dataset(
    model: Any,
    dataset: Dataset,
    name: str,
    position: Tuple[int, int],
    outputs: EvaluationOutputs,
    batch_size: int,
    device: str,
) -> DatasetEvaluation:
    """Evaluate one dataset read from ``name`` (``position``: its number and how
    many there are) and write its files; reported as it goes."""
    number, count = position
    shown = name if count == 1 else f"[{number}] {name}"
    LOGGER.info(
        describe_dataset(dataset, "dataset" if count == 1 else f"dataset [{number}]")
    )
    keep = any(
        path is not None
        for path in (outputs.predictions, outputs.plot, outputs.per_structure)
    )
    evaluation = evaluate(model, dataset, batch_size, device, keep)
    done = DatasetEvaluation(shown, evaluation)
    if outputs.predictions is not None:
        target = _numbered(outputs.predictions, number, count)
        done.predictions = write_predictions(evaluation, target)
        if chemiscope_installed():
            done.chemiscope = write_chemiscope(
                evaluation, chemiscope_path(target), Path(name).name, dataset
            )
    if outputs.plot is not None:
        target = _numbered(outputs.plot, number, count)
        done.plot = parity_plot(evaluation, target, Path(name).name)
    if outputs.per_structure is not None:
        target = _numbered(outputs.per_structure, number, count)
        done.per_structure = write_per_structure_errors(evaluation, target, dataset)
    report_evaluation(shown, evaluation, done.written())
    return done


def _numbered(path: Path, number: int, count: int) -> Path:
    """``path`` for one dataset, ``<stem>_<number><suffix>`` for one of several."""
    return path if count == 1 else path.with_name(f"{path.stem}_{number}{path.suffix}")


def _output_files(
    sections: List[Dict[str, Any]], outputs: EvaluationOutputs
) -> List[Tuple[str, Path]]:
    """Every file ``atomtrain eval`` will write, with the option that names it."""
    files: List[Tuple[str, Path]] = []
    count = len(sections)
    for number, section in enumerate(sections):
        if outputs.predictions is not None:
            targets = list(section.get("targets") or {}) or ["energy"]
            target = _numbered(outputs.predictions, number, count)
            files.extend(("-o", path) for path in prediction_paths(target, targets))
            if chemiscope_installed():
                files.append(("-o", chemiscope_path(target)))
        if outputs.plot is not None:
            files.append(("-p", _numbered(outputs.plot, number, count)))
        if outputs.per_structure is not None:
            files.append(
                ("--per-structure", _numbered(outputs.per_structure, number, count))
            )
    log = outputs.log_path()
    if log is not None:
        files.append(("--log", log))
    return files
