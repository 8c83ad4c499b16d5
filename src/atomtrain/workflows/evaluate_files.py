"""``atomtrain eval``: errors, predictions and parity plots of an exported model on the
datasets of a file, with every output checked against the inputs before any work."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from ..data.loading import load_section
from ..data.ondisk import is_disk_dataset
from ..data.readers import FileCache
from ..errors import OptionsError
from ..options import read_options_file
from ..options.datasets import expand_dataset_section, located_sections
from ..options.target_sections import warn_about_units
from ..training.logging import configure_warnings
from .evaluate import Evaluation, evaluate, format_metrics
from .exported import load_exported_model
from .outputs import check_command_outputs, input_paths
from .per_structure import write_per_structure_errors
from .plots import parity_plot
from .predictions import prediction_paths, write_predictions


def evaluate_files(
    model_path: Path,
    options_path: Path,
    output: Optional[Path] = None,
    batch_size: int = 16,
    extensions: Optional[Path] = None,
    device: str = "cpu",
    plot: Optional[Path] = None,
    per_structure: Optional[Path] = None,
) -> List[Evaluation]:
    """``atomtrain eval``: evaluate the metatomic model at ``model_path`` on the
    dataset section(s) of ``options_path`` (the dataset grammar of the training
    options: a file name, a section, or a list of sections), or on the on-disk
    dataset ``options_path`` names; print the errors and, given ``output``, write the
    predictions and, given ``plot``, a parity plot and, given ``per_structure``, the
    errors of each structure (CSV)."""
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
    sections, problems = expand_dataset_section(
        value, "", options_path.parent, require_targets=False
    )
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
    evaluations = []
    for number, section in enumerate(sections):
        dataset = load_section(section, cache)
        keep = output is not None or plot is not None or per_structure is not None
        evaluation = evaluate(model, dataset, batch_size, device, keep)
        name = section["systems"]["read_from"]
        print(
            format_metrics(
                name if len(sections) == 1 else f"[{number}] {name}", evaluation
            )
        )
        if output is not None:
            target = _numbered(output, number, len(sections))
            for path in write_predictions(evaluation, target):
                print(f"wrote predictions to {path}")
        if plot is not None:
            target = _numbered(plot, number, len(sections))
            written = parity_plot(evaluation, target, Path(name).name)
            print(f"wrote a parity plot to {written}")
        if per_structure is not None:
            target = _numbered(per_structure, number, len(sections))
            written = write_per_structure_errors(evaluation, target, dataset)
            print(f"wrote the errors of each structure to {written}")
        evaluations.append(evaluation)
    return evaluations


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
