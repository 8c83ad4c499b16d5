"""What a training run says before it starts and after it ends."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any, Dict, List, Sequence

import torch

from .._version import __version__
from ..data.dataset import Dataset
from ..data.statistics import dataset_statistics, format_statistics
from ..utils.dtype import dtype_to_str


def run_header(command_line: Sequence[str] = ()) -> str:
    """The command line (as typed; empty for a call from Python) and the versions of
    what ran it, for the run's log."""
    import metatensor.torch
    import metatomic.torch

    command = " ".join(command_line) or "(called from Python)"
    versions = ", ".join(
        f"{name} {version}"
        for name, version in (
            ("atomtrain", __version__),
            ("torch", torch.__version__),
            ("metatomic-torch", metatomic.torch.__version__),
            ("metatensor-torch", metatensor.torch.__version__),
            ("python", platform.python_version()),
        )
    )
    return f"command: {command}\nversions: {versions}\nhost: {platform.node()}"


def start_summary(
    architecture: str,
    model: torch.nn.Module,
    splits: Dict[str, List[Dataset]],
    devices: List[torch.device],
    dtype: torch.dtype,
    run_dir: Path,
) -> str:
    """Data sizes, elements and label statistics per split, the model's size, the
    device and the precision."""
    statistics = []
    for split, datasets in splits.items():
        for number, dataset in enumerate(datasets):
            if len(dataset) == 0:
                continue
            name = split if len(datasets) == 1 else f"{split}[{number}]"
            statistics.append(dataset_statistics(dataset, name))
    parameters = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    where = ", ".join(str(d) for d in devices)
    return "\n".join(
        [
            f"training {architecture}: {parameters:,} parameters ({trainable:,} "
            f"trainable), on {where} in {dtype_to_str(dtype)}",
            f"run directory: {run_dir}",
            format_statistics(statistics),
        ]
    )


def end_summary(run_dir: Path, checkpoint: Path, model: Path, extensions: Any) -> str:
    """Where every file of the run was written."""
    lines = [
        "training finished; files written:",
        f"  exported model    {model}",
        f"  checkpoint        {checkpoint}",
    ]
    if extensions is not None and Path(extensions).is_dir():
        lines.append(f"  extensions        {extensions}")
    for name, what in (
        ("train.log", "log"),
        ("train.csv", "metrics per epoch"),
        ("options_restart.yaml", "expanded options"),
        ("indices", "split indices"),
    ):
        if (run_dir / name).exists():
            lines.append(f"  {what:<17} {run_dir / name}")
    return "\n".join(lines)
