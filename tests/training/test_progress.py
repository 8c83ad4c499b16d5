"""Progress bars show on a terminal only: with standard error on a terminal, a run
draws bars for the neighbour lists, the training epochs, validation and the final
evaluation, and ``atomtrain eval`` one for its pass; with standard error in a file
or a pipe (a batch job, a log), none of their lines appear."""

from __future__ import annotations

import fcntl
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import List

import pytest
import yaml

from atomtrain.training.progress import StructureProgress

ATOMTRAIN = [sys.executable, "-m", "atomtrain"]


def test_a_structure_bar_counts_structures(capsys: pytest.CaptureFixture[str]) -> None:
    with StructureProgress(10, "evaluation", enabled=True) as progress:
        progress.update(4)
    assert "evaluation:" in capsys.readouterr().err
    with StructureProgress(10, "evaluation") as progress:  # stderr is not a tty
        progress.update(4)
    assert capsys.readouterr().err == ""


def on_terminal(command: List[str], cwd: Path) -> str:
    """Standard error of ``command`` run with a pseudo-terminal as standard error."""
    main, child = pty.openpty()
    # a terminal of 120 columns (a new pseudo-terminal has none: tqdm draws nothing)
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    process = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=child,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=600) == 0, b"".join(chunks)[-3000:]
    os.close(main)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_bars_on_a_terminal_and_none_in_a_pipe(
    tmp_path: Path, resources: Path, dummy_architecture: str
) -> None:
    shutil.copy(resources / "ethanol_reduced_100.xyz", tmp_path / "ethanol.xyz")
    options = {
        "architecture": {
            "name": dummy_architecture,
            "training": {
                "num_epochs": 1,
                "batch_size": 10,
                "max_edges_per_batch": 100000,
            },
        },
        "training_set": {
            "systems": "ethanol.xyz",
            "targets": {"energy": {"unit": "kcal/mol"}},
        },
        "validation_set": 0.1,
        "test_set": 0.1,
    }
    (tmp_path / "options.yaml").write_text(yaml.safe_dump(options))
    shown = on_terminal([*ATOMTRAIN, "train", "options.yaml"], tmp_path)
    for bar in ("neighbour lists:", "epoch 0:", "validation:", "evaluation:"):
        assert bar in shown, bar
    assert "structure/s" in shown

    (tmp_path / "eval.yaml").write_text(
        yaml.safe_dump(
            {"systems": "ethanol.xyz", "targets": {"energy": {"unit": "kcal/mol"}}}
        )
    )
    shown = on_terminal([*ATOMTRAIN, "eval", "model.pt", "eval.yaml"], tmp_path)
    assert "evaluation:" in shown and "structure/s" in shown

    piped = subprocess.run(
        [*ATOMTRAIN, "train", "options.yaml", "-o", "second.pt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert piped.returncode == 0, piped.stderr
    for stream in (piped.stdout, piped.stderr):
        assert "structure/s" not in stream and "\r" not in stream
