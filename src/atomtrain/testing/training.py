"""Suite: training through the real command line (fresh, restart, fine-tune)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

from ..checkpoints import load_checkpoint
from .base import ArchitectureFixtures
from .probe import fail


def epochs_logged(run_dir: Path) -> List[int]:
    """The epochs of the rows of ``train.csv`` in ``run_dir``."""
    path = run_dir / "train.csv"
    if not path.is_file():
        return []
    with open(path) as file:
        rows = list(csv.reader(file))
    return [int(row[0]) for row in rows if row and row[0].isdigit()]


def run_directories(root: Path) -> List[Path]:
    """Run directories ``outputs/<date>/<time>`` under ``root``, oldest first."""
    return sorted(p for p in root.glob("outputs/*/*") if p.is_dir())


class TrainingTests(ArchitectureFixtures):
    """``atomtrain train`` trains, exports, restarts and fine-tunes the architecture
    for exactly the requested number of epochs."""

    def write_options(
        self,
        directory: Path,
        architecture_name: str,
        training_file: Path,
        training_targets: Dict[str, Any],
        num_epochs: int,
        finetune: Optional[Path] = None,
    ) -> Path:
        """An options file training on ``training_file`` (validation: 20 %)."""
        training: Dict[str, Any] = dict(self.trainer_hypers)
        if self.epoch_based:
            training.update({"num_epochs": num_epochs, "batch_size": 4})
        if finetune is not None:
            training["finetune"] = {"read_from": str(finetune)}
        options = {
            "architecture": {
                "name": architecture_name,
                "model": dict(self.model_hypers),
                "training": training,
            },
            "base_precision": 64,
            "seed": 1,
            "training_set": {
                "systems": {"read_from": str(training_file), "length_unit": "angstrom"},
                "targets": training_targets,
            },
            "validation_set": 0.2,
            "test_set": 0.0,
        }
        path = directory / "options.yaml"
        path.write_text(yaml.safe_dump(options))
        return path

    def train(self, directory: Path, *arguments: str) -> None:
        """``atomtrain train options.yaml *arguments`` run in ``directory``, as a user
        runs it: the installed command line in a process of its own."""
        command = [sys.executable, "-m", "atomtrain", "train", "options.yaml"]
        result = subprocess.run(
            [*command, *arguments], cwd=directory, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise fail(
                f"'atomtrain train options.yaml {' '.join(arguments)}' exited with "
                f"{result.returncode}:\n{result.stderr.strip()}",
                "fix the error: the architecture must train from a plain options file",
            )

    def check_epochs(self, run_dir: Path, expected: List[int], what: str) -> None:
        if not self.epoch_based:
            return
        logged = epochs_logged(run_dir)
        if logged != expected:
            raise fail(
                f"{what} logged epochs {logged}, expected {expected}",
                "train with the shared engine (EngineTrainer) or honour num_epochs "
                "and the epoch stored in the restart checkpoint",
            )

    @pytest.fixture
    def workdir(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        monkeypatch.chdir(tmp_path)
        return tmp_path

    def test_train_restart_and_finetune_through_the_cli(
        self,
        workdir: Path,
        architecture_name: str,
        training_file: Path,
        training_targets: Dict[str, Any],
    ) -> None:
        epochs = self.num_epochs
        arguments = (architecture_name, training_file, training_targets)
        self.write_options(workdir, *arguments, num_epochs=epochs)
        self.train(workdir)
        for name in ("model.pt", "model.ckpt"):
            if not (workdir / name).is_file():
                raise fail(f"training wrote no {name}", "save and export the model")
        [first] = run_directories(workdir)
        self.check_epochs(first, list(range(epochs)), "a fresh run")
        checkpoint = load_checkpoint(workdir / "model.ckpt")
        if checkpoint.get("architecture_name") != architecture_name:
            raise fail(
                f"the checkpoint names the architecture "
                f"'{checkpoint.get('architecture_name')}', not '{architecture_name}'",
                "pass the architecture's name to new_checkpoint() in get_checkpoint()",
            )

        self.write_options(workdir, *arguments, num_epochs=epochs + 1)
        self.train(workdir, "--restart", "auto", "-o", "restarted.pt")
        restarted = run_directories(workdir)[-1]
        self.check_epochs(restarted, [epochs], "a restart for one more epoch")

        if not (workdir / "restarted.pt").is_file():
            raise fail("the restart wrote no restarted.pt", "export after training")
        if not self.supports_finetune:
            return
        self.write_options(
            workdir, *arguments, num_epochs=epochs, finetune=workdir / "model.ckpt"
        )
        self.train(workdir, "-o", "finetuned.pt")
        finetuned = run_directories(workdir)[-1]
        self.check_epochs(finetuned, list(range(epochs)), "a fine-tuning run")
        if not (workdir / "finetuned.pt").is_file():
            raise fail("fine-tuning wrote no finetuned.pt", "export after training")
