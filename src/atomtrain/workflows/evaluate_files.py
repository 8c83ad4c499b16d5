"""``atomtrain eval``: errors, predictions and parity plots of an exported model on the
datasets of a file, with every output checked against the inputs before any work."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..data.loading import load_section
from ..data.ondisk import is_disk_dataset
from ..data.readers import FileCache
from ..errors import OptionsError
from ..options import read_options_file
from ..options.datasets import expand_standalone_sections, located_sections
from ..options.target_sections import warn_about_units
from ..training.logging import configure_warnings
from .evaluate import Evaluation, evaluate
from .exported import load_exported_model
from .outputs import check_command_outputs, input_paths
from .per_structure import write_per_structure_errors
from .plots import parity_plot
from .predictions import prediction_paths, write_predictions


@dataclass
class DatasetEvaluation:
    """The evaluation of one dataset of ``atomtrain eval`` and the files written."""

    #: the dataset's ``read_from``, numbered ``[k] name`` when there are several
    name: str
    evaluation: Evaluation
    predictions: List[Path] = field(default_factory=list)
    plot: Optional[Path] = None
    per_structure: Optional[Path] = None


def evaluate_files(
    model_path: Path,
    options_path: Path,
    output: Optional[Path] = None,
    batch_size: int = 16,
    extensions: Optional[Path] = None,
    device: str = "cpu",
    plot: Optional[Path] = None,
    per_structure: Optional[Path] = None,
) -> Iterator[DatasetEvaluation]:
    """``atomtrain eval``: evaluate the metatomic model at ``model_path`` on the
    dataset section(s) of ``options_path`` (the dataset grammar of the training
    options: a file name, a section, or a list of sections), or on the on-disk
    dataset ``options_path`` names; given ``output``, write the predictions, given
    ``plot``, a parity plot and, given ``per_structure``, the errors of each
    structure (CSV). Yields each dataset's errors and files as soon as it is done,
    so that the caller can report them while the next one runs; every output is
    checked before the first dataset is read."""
    configure_warnings()
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
    outputs = _output_files(sections, output, plot)
    if per_structure is not None:
        outputs.extend(
            ("--per-structure", _numbered(per_structure, n, len(sections)))
            for n in range(len(sections))
        )
    inputs = [model_path, options_path, *input_paths(sections)]
    if extensions is not None and extensions.is_dir():
        inputs.extend(p for p in extensions.rglob("*") if p.is_file())
    check_command_outputs(outputs, inputs)
    model = load_exported_model(model_path, extensions)
    cache = FileCache()
    for number, section in enumerate(sections):
        dataset = load_section(section, cache)
        keep = output is not None or plot is not None or per_structure is not None
        evaluation = evaluate(model, dataset, batch_size, device, keep)
        name = section["systems"]["read_from"]
        done = DatasetEvaluation(
            name if len(sections) == 1 else f"[{number}] {name}", evaluation
        )
        if output is not None:
            target = _numbered(output, number, len(sections))
            done.predictions = write_predictions(evaluation, target)
        if plot is not None:
            target = _numbered(plot, number, len(sections))
            done.plot = parity_plot(evaluation, target, Path(name).name)
        if per_structure is not None:
            target = _numbered(per_structure, number, len(sections))
            done.per_structure = write_per_structure_errors(evaluation, target, dataset)
        yield done


def _numbered(path: Path, number: int, count: int) -> Path:
    """``path`` for one dataset, ``<stem>_<number><suffix>`` for one of several."""
    return path if count == 1 else path.with_name(f"{path.stem}_{number}{path.suffix}")


def _output_files(
    sections: List[Dict[str, Any]], output: Optional[Path], plot: Optional[Path]
) -> List[Tuple[str, Path]]:
    """Every file ``atomtrain eval`` will write, with the option that names it."""
    files: List[Tuple[str, Path]] = []
    for number, section in enumerate(sections):
        if output is not None:
            targets = list(section.get("targets") or {}) or ["energy"]
            target = _numbered(output, number, len(sections))
            files.extend(("-o", path) for path in prediction_paths(target, targets))
        if plot is not None:
            files.append(("-p", _numbered(plot, number, len(sections))))
    return files
