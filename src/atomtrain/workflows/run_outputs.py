"""What ``atomtrain train`` writes outside its run directory: checked before the run
starts, and copied at the end unless another process wrote there meanwhile."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from ..files import (
    FileState,
    OutputChangedWarning,
    check_writable_directory,
    copy_file,
    remove_stale_temporaries,
)
from .outputs import check_command_outputs, input_paths

#: ``{name in the run directory: (where the user asked for it, its state when the
#: run started)}``
Targets = Dict[str, Tuple[Path, FileState]]


#: The copy a run keeps of the checkpoint it restarted from when it replaces it.
RESTARTED_FROM = "restarted_from.ckpt"


def same_path(a: Path, b: Path) -> bool:
    return a.absolute() == b.absolute() or (a.exists() and b.exists() and a.samefile(b))


def check_train_outputs(
    options_path: Path,
    options: Dict[str, Any],
    output: Path,
    extensions: Optional[Path],
    restart: Optional[Path],
    outputs_root: Path,
) -> Targets:
    """Before anything is written: the outputs are not inputs and can be written.
    Clears what killed runs left behind. ``{name in the run directory: (where the
    user asked for it, its state now)}``, to tell at the end whether another
    process replaced it meanwhile."""
    targets = {"model.pt": output, "model.ckpt": output.with_suffix(".ckpt")}
    inputs = [options_path, *input_paths(options)]
    if restart is not None and not same_path(restart, targets["model.ckpt"]):
        # a run restarted from the checkpoint it replaces keeps a copy of it in its
        # run directory (RESTARTED_FROM), so that nothing is lost
        inputs.append(restart)
    check_command_outputs(
        [("-o", output), ("the checkpoint next to -o", targets["model.ckpt"])],
        inputs,
        extensions,
        protected=[
            ("the outputs root", outputs_root),
            ("the working directory", Path.cwd()),
        ],
    )
    check_writable_directory(outputs_root, "the outputs root")
    remove_stale_temporaries(output.parent)
    for run in outputs_root.glob("*/*"):
        remove_stale_temporaries(run)
    return {name: (path, FileState.of(path)) for name, path in targets.items()}


def copy_run_outputs(run_dir: Path, targets: Targets) -> Dict[str, Path]:
    """Copy the run's model and checkpoint where the user asked, unless another
    process wrote there since this run started (its file is then kept, with a
    warning naming both); where each file now is."""
    where = {}
    for name, (target, state) in targets.items():
        source = run_dir / name
        where[name] = target
        if target.exists() and target.resolve() == source.resolve():
            continue
        if FileState.of(target) != state:
            warnings.warn(
                f"'{target}' was written by another process while this run "
                f"trained; it was left as it is, and this run's file is '{source}'",
                OutputChangedWarning,
                stacklevel=2,
            )
            where[name] = source
            continue
        copy_file(source, target, "-o")
    return where
