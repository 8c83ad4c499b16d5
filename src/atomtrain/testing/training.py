"""Suite: training through the real command line (fresh, restart, fine-tune, export),
and the trainer's predictions against the model's."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

from ..architectures.discovery import get_entry
from ..architectures.docsource import hypers_classes
from ..checkpoints import read_checkpoint_file
from ..data.structure import Structure
from ..training.engine import EngineTrainer
from ..training.settings import declaration_mismatches
from ..utils.abc import ModelInterface
from .base import ArchitectureFixtures
from .export_checks import check_export_matches_checkpoint
from .probe import fail
from .trainer_checks import check_trainer_predictions

#: The metadata file of the suite's ``atomtrain export -m`` run.
SUITE_METADATA: Dict[str, Any] = {
    "name": "conformance suite export",
    "description": "exported by the conformance suite with -m metadata.yaml",
    "authors": ["Conformance Suite <suite@atomtrain.invalid>"],
}


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
        model_hypers: Optional[Dict[str, Any]] = None,
    ) -> Path:
        """An options file training on ``training_file`` (validation: 20 %), with
        ``model_hypers`` (default: :attr:`model_hypers`)."""
        training: Dict[str, Any] = dict(self.trainer_hypers)
        if self.epoch_based:
            training.update({"num_epochs": num_epochs, "batch_size": 4})
        if finetune is not None:
            training["finetune"] = {"read_from": str(finetune)}
        options = {
            "architecture": {
                "name": architecture_name,
                "model": dict(
                    self.model_hypers if model_hypers is None else model_hypers
                ),
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

    def atomtrain(self, directory: Path, *commands: List[str]) -> None:
        """``atomtrain <command>`` for each of ``commands``, run side by side in
        ``directory`` as a user runs them: the installed command line, each in a
        process of its own."""
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "atomtrain", *arguments],
                cwd=directory,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for arguments in commands
        ]
        for arguments, process in zip(commands, processes):
            _, stderr = process.communicate()
            if process.returncode != 0:
                raise fail(
                    f"'atomtrain {' '.join(arguments)}' exited with "
                    f"{process.returncode}:\n{stderr.strip()}",
                    "fix the error: the architecture must train from a plain "
                    "options file and export its checkpoints",
                )

    def train(self, directory: Path, *arguments: str) -> None:
        """``atomtrain train options.yaml *arguments`` run in ``directory``."""
        self.atomtrain(directory, ["train", "options.yaml", *arguments])

    def check_exports(self, directory: Path) -> None:
        """``atomtrain export model.ckpt``, without and with ``-m metadata.yaml``;
        every exported file predicts what the checkpoint's model does."""
        (directory / "metadata.yaml").write_text(yaml.safe_dump(SUITE_METADATA))
        self.atomtrain(
            directory,
            ["export", "model.ckpt", "-o", "exported.pt", "-e", "extensions"],
            [
                "export",
                "model.ckpt",
                "-m",
                "metadata.yaml",
                "-o",
                "named.pt",
                "-e",
                "named-extensions",
            ],
        )
        for name in ("model.pt", "exported.pt"):
            check_export_matches_checkpoint(directory / name, directory / "model.ckpt")
        named = check_export_matches_checkpoint(
            directory / "named.pt", directory / "model.ckpt"
        )
        metadata = named.metadata()
        if metadata.name != SUITE_METADATA["name"] or not set(
            SUITE_METADATA["authors"]
        ) <= set(metadata.authors):
            raise fail(
                f"'atomtrain export -m metadata.yaml' wrote a model named "
                f"'{metadata.name}' by {metadata.authors}, not the metadata's "
                f"'{SUITE_METADATA['name']}' by {SUITE_METADATA['authors']}",
                "use the metadata given to export(metadata=None): pass "
                "'metadata if metadata is not None else self.metadata' to "
                "AtomisticModel",
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
        model_overrides: Dict[str, Any],
    ) -> None:
        epochs = self.num_epochs
        arguments = (architecture_name, training_file, training_targets)
        self.write_options(
            workdir, *arguments, num_epochs=epochs, model_hypers=model_overrides
        )
        self.train(workdir)
        for name in ("model.pt", "model.ckpt"):
            if not (workdir / name).is_file():
                raise fail(f"training wrote no {name}", "save and export the model")
        [first] = run_directories(workdir)
        self.check_epochs(first, list(range(epochs)), "a fresh run")
        checkpoint = read_checkpoint_file(workdir / "model.ckpt")
        if checkpoint.get("architecture_name") != architecture_name:
            raise fail(
                f"the checkpoint names the architecture "
                f"'{checkpoint.get('architecture_name')}', not '{architecture_name}'",
                "pass the architecture's name to new_checkpoint() in get_checkpoint()",
            )
        self.check_exports(workdir)

        self.write_options(
            workdir, *arguments, num_epochs=epochs + 1, model_hypers=model_overrides
        )
        self.train(workdir, "--restart", "auto", "-o", "restarted.pt")
        restarted = run_directories(workdir)[-1]
        self.check_epochs(restarted, [epochs], "a restart for one more epoch")

        if not (workdir / "restarted.pt").is_file():
            raise fail("the restart wrote no restarted.pt", "export after training")
        if not self.supports_finetune:
            return
        self.write_options(
            workdir,
            *arguments,
            num_epochs=epochs,
            finetune=workdir / "model.ckpt",
            model_hypers=model_overrides,
        )
        self.train(workdir, "-o", "finetuned.pt")
        finetuned = run_directories(workdir)[-1]
        self.check_epochs(finetuned, list(range(epochs)), "a fine-tuning run")
        if not (workdir / "finetuned.pt").is_file():
            raise fail("fine-tuning wrote no finetuned.pt", "export after training")

    def test_trainer_predictions_are_the_energy_and_its_derivatives(
        self,
        trainer_class: type,
        hypers: Dict[str, Any],
        model: ModelInterface[Any],
        structures: List[Structure],
    ) -> None:
        trainer = self.trainer(trainer_class, hypers)
        if not isinstance(trainer, EngineTrainer):
            pytest.skip("the trainer does not train with the engine's predict hook")
        gradients = ["positions"] if self.depends_on_positions else []
        if self.supports_stress and self.depends_on_positions:
            gradients.append("strain")
        check_trainer_predictions(trainer, model, structures, gradients)

    def test_trainer_settings_are_the_declared_trainer_hypers(
        self, architecture_name: str, trainer_class: type
    ) -> None:
        if not issubclass(trainer_class, EngineTrainer):
            pytest.skip("the trainer does not read its hypers through the engine")
        declared = hypers_classes(get_entry(architecture_name))["training"]
        settings = trainer_class.settings_class
        mismatches = declaration_mismatches(settings, declared)
        if mismatches:
            raise fail(
                f"{settings.__name__} is not the declared {declared.__name__}: "
                + "; ".join(mismatches),
                "give the trainer's settings_class a field of the same name and type "
                "for each key of TrainerHypers (a subclass of TrainerSettings adding "
                "the architecture's own keys), and nothing else",
            )
