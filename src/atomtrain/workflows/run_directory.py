"""Run directories: ``outputs/<date>/<time>/`` holding what one training run wrote.

A run directory is only created after the options were validated, so an invalid options
file leaves nothing behind.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any, Dict, Optional

import yaml

from ..errors import UserError
from ..files import OutputError, describe_os_error, is_environment_error

#: Name of the fully expanded options file written into every run directory.
OPTIONS_FILE = "options_restart.yaml"

_CHECKPOINT_EPOCH = re.compile(r"model_(\d+)\.ckpt$")


def create_run_directory(root: Path, now: Optional[datetime.datetime] = None) -> Path:
    """Create ``root/<YYYY-MM-DD>/<HH-MM-SS>/`` (``-1``, ``-2``… when taken). Runs
    started at the same second in the same place get distinct directories: each
    name is claimed by an exclusive ``mkdir``."""
    now = now or datetime.datetime.now()
    base = root / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        if is_environment_error(error):
            raise OutputError(
                f"cannot create the run directory under '{root}': "
                f"{describe_os_error(error)}"
            ) from None
        raise
    path, suffix = base, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            path = base.with_name(f"{base.name}-{suffix}")
            suffix += 1


def write_options(run_dir: Path, options: Dict[str, Any]) -> Path:
    """Write the fully expanded options next to the run's outputs."""
    path = run_dir / OPTIONS_FILE
    with open(path, "w") as file:
        yaml.safe_dump(options, file, sort_keys=False)
    return path


def _checkpoint_sort_key(path: Path) -> tuple[float, int]:
    match = _CHECKPOINT_EPOCH.search(path.name)
    return (path.stat().st_mtime, int(match.group(1)) if match else -1)


def newest_checkpoint(root: Path) -> Path:
    """The newest checkpoint of the newest run under ``root`` (``--restart auto``)."""
    runs = sorted(
        (p for p in root.glob("*/*") if p.is_dir()),
        key=lambda p: (p.parent.name, p.name),
    )
    for run in reversed(runs):
        checkpoints = list(run.glob("*.ckpt"))
        if checkpoints:
            return max(checkpoints, key=_checkpoint_sort_key)
    raise UserError(
        f"--restart auto found no checkpoint under '{root}': start a new training "
        "without --restart"
    )
