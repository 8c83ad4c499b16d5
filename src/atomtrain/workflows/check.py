"""``atomtrain check``: validate an options file and lint its datasets, no training."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..architectures.discovery import import_architecture
from ..data.dataset import Dataset
from ..data.info import DatasetInfo
from ..data.lint import Finding, check_elements_covered, lint_dataset
from ..data.neighbors import requested_neighbor_lists
from ..data.statistics import dataset_statistics, format_statistics
from ..errors import UserError
from ..options import load_options
from ..options.datasets import options_sections
from ..options.run_options import RunOptions, read_run_options
from ..options.target_sections import warn_about_units
from ..training.logging import configure_warnings


def model_cutoff(options: RunOptions, dataset_info: DatasetInfo) -> Optional[float]:
    """The largest neighbour-list cutoff the configured model requests, found by
    building the model from the options (None when it requests none)."""
    architecture = import_architecture(options.architecture.name)
    hypers = options.architecture.hypers()["model"]
    model = architecture.__model__(hypers, dataset_info)
    requested = requested_neighbor_lists(model, dataset_info.length_unit)
    return max((o.cutoff for o in requested), default=None)


def check_options(
    options_path: Path, overrides: Sequence[str] = ()
) -> tuple[str, List[Finding]]:
    """The statistics table and every finding about the datasets of the options."""
    from ..data.loading import load_datasets

    configure_warnings()
    raw, file = load_options(options_path, overrides)
    options = read_run_options(raw, file, options_path.parent)
    plain = options.as_plain()  # the readers take plain sections
    warn_about_units(options_sections(plain))
    # every problem of the data becomes a finding, rather than stopping at the first
    data = load_datasets(plain, run_dir=None, validate=False)
    findings: List[Finding] = []
    try:
        cutoff = model_cutoff(options, data.dataset_info)
    except UserError as error:
        cutoff = None
        name = options.architecture.name
        findings.append(Finding("error", f"architecture '{name}'", str(error)))
    splits: Dict[str, List[Dataset]] = {
        "training_set": list(data.training),
        "validation_set": list(data.validation),
        "test_set": list(data.test),
    }
    statistics = []
    for split, datasets in splits.items():
        for number, dataset in enumerate(datasets):
            name = split if len(datasets) == 1 else f"{split}[{number}]"
            if len(dataset) == 0:
                continue
            statistics.append(dataset_statistics(dataset, name))
            findings += lint_dataset(dataset, name, cutoff)
    declared = list(options.architecture.atomic_types or [])
    findings += check_elements_covered(
        splits["training_set"],
        {k: v for k, v in splits.items() if k != "training_set"},
        declared,
    )
    return format_statistics(statistics), findings
