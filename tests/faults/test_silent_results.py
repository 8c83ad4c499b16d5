"""Inputs that atomtrain used to accept and turn into a wrong result without a word.

Each is now a user error naming the file, the dotted key and, for data, the structure
(or, for suspicious units, a warning printed once), reached through the command line as
a user would.

No ``from __future__ import annotations`` here: metatomic reads the annotations of the
``forward`` of the model defined below.
"""

import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

import ase.io
import pytest
import torch
from fault_helpers import Snapshot, environment_without_threads, write_options
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelCapabilities,
    ModelMetadata,
    ModelOutput,
    System,
)

from atomtrain.architectures.checkpoints import load_model
from atomtrain.checkpoints import read_checkpoint_file, write_checkpoint_file
from atomtrain.options.target_sections import UnitWarning


def _runs(workdir: Path) -> list:
    """The run directories under ``outputs/``."""
    return sorted((workdir / "outputs").glob("*/*"))


# --- a key given twice in a YAML file ---------------------------------------------


def test_a_key_given_twice_in_the_options_is_refused(workdir, atomtrain):
    options = workdir / "options.yaml"
    write_options(options)
    text = options.read_text().replace(
        "    batch_size: 10\n", "    batch_size: 10\n    num_epochs: 50\n"
    )
    options.write_text(text)
    outcome = atomtrain("train", options)
    outcome.assert_user_error(
        f"in {options}",
        "architecture.training.num_epochs: given twice, at lines 4 and 6",
    )
    assert _runs(workdir) == []


def test_a_key_given_twice_in_the_eval_datasets_is_refused(trained, atomtrain):
    datasets = trained / "datasets.yaml"
    datasets.write_text(
        "systems: ethanol.xyz\n"
        "targets:\n"
        "  energy:\n"
        "    unit: kcal/mol\n"
        "    key: energy\n"
        "    unit: eV\n"
    )
    outcome = atomtrain("eval", trained / "model.pt", datasets)
    outcome.assert_user_error(
        f"in {datasets}", "targets.energy.unit: given twice, at lines 4 and 6"
    )


def test_a_key_given_twice_in_the_export_metadata_is_refused(trained, atomtrain):
    metadata = trained / "metadata.yaml"
    metadata.write_text("name: first\ndescription: a model\nname: second\n")
    snapshot = Snapshot(trained)
    outcome = atomtrain(
        "export", trained / "model.ckpt", "-o", trained / "named.pt", "-m", metadata
    )
    outcome.assert_user_error(f"in {metadata}", "name: given twice, at lines 1 and 3")
    assert not (trained / "named.pt").exists()
    snapshot.assert_unchanged()


# --- a fraction written as a string ----------------------------------------------


def test_a_fraction_in_quotes_is_refused_as_a_number(workdir, atomtrain):
    options = write_options(workdir / "options.yaml", validation_set="0.1")
    outcome = atomtrain("train", options)
    outcome.assert_user_error(
        f"in {options}",
        "validation_set: a fraction of the training set is a number: write "
        "validation_set: 0.1 without quotes",
    )
    assert _runs(workdir) == []


# --- counts that are not positive ------------------------------------------------


def test_negative_epochs_are_refused_before_training(workdir, atomtrain):
    options = write_options(workdir / "options.yaml", epochs=-3)
    outcome = atomtrain("train", options)
    outcome.assert_user_error(
        f"in {options}",
        "architecture.training.num_epochs: expected an integer ≥ 1 (got -3)",
    )
    assert _runs(workdir) == []
    assert not (workdir / "model.pt").exists()


def test_check_refuses_zero_counts_all_at_once(workdir, atomtrain):
    options = write_options(
        workdir / "options.yaml",
        training={"batch_size": 0, "log_interval": 0, "max_atoms_per_batch": 0},
    )
    outcome = atomtrain("check", options)
    outcome.assert_user_error(
        "3 problems in the options",
        "architecture.training.batch_size: expected an integer ≥ 1 (got 0)",
        "architecture.training.log_interval: expected an integer ≥ 1 (got 0)",
        "architecture.training.max_atoms_per_batch: expected an integer ≥ 1 (got 0)",
    )


# --- suspicious or missing units -------------------------------------------------


def test_an_energy_in_kcal_is_warned_about_once(workdir):
    options = write_options(workdir / "options.yaml")
    text = options.read_text().replace("unit: kcal/mol", "unit: kcal")
    options.write_text(text)
    # a process of its own: the warning as a user's terminal shows it
    result = subprocess.run(
        [sys.executable, "-m", "atomtrain", "check", str(options)],
        capture_output=True,
        text=True,
        env=environment_without_threads(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    warning = (
        "warning: training_set.targets.energy.unit: 'kcal' is the energy of a "
        "macroscopic amount, not of one structure; you probably meant 'kcal/mol'\n"
    )
    assert result.stderr.count(warning) == 1, result.stderr


def test_a_target_without_unit_is_warned_about_in_train_and_eval(
    trained, atomtrain, recwarn
):
    options = write_options(trained / "unitless.yaml", epochs=1)
    options.write_text(options.read_text().replace("unit: kcal/mol", "unit: ''"))
    outcome = atomtrain("train", options, "-o", trained / "unitless.pt")
    assert outcome.code == 0, outcome.err
    assert _unit_warnings(recwarn) == [
        "training_set.targets.energy has no unit: its predictions will carry no "
        "unit, and no conversion to another unit is possible (in ASE, LAMMPS or "
        "eval); declare it with training_set.targets.energy.unit (for example 'eV' "
        "or 'kcal/mol')"
    ]

    recwarn.clear()
    datasets = trained / "datasets.yaml"
    datasets.write_text("systems: ethanol.xyz\ntargets: {energy: {key: energy}}\n")
    outcome = atomtrain("eval", trained / "model.pt", datasets)
    assert outcome.code == 0, outcome.err
    (warning,) = _unit_warnings(recwarn)
    assert warning.startswith("targets.energy has no unit")


def _unit_warnings(recorded: pytest.WarningsRecorder) -> list:
    return [str(w.message) for w in recorded if w.category is UnitWarning]


# --- NaN labels, overlapping atoms -----------------------------------------------


def _planted(workdir: Path, name: str, plant) -> Path:
    """A copy of ethanol with ``plant(frames)`` applied, at ``workdir/name``."""
    frames = ase.io.read(workdir / "ethanol.xyz", ":")
    plant(frames)
    path = workdir / name
    ase.io.write(path, frames, format="extxyz")
    return path


def _nan_energy(frames) -> None:
    frames[7].calc.results["energy"] = float("nan")


def _overlap(frames) -> None:
    frames[3].positions[1] = frames[3].positions[0] + [0.1, 0.1, 0.0]


def test_a_nan_label_is_an_error_in_train_as_in_check(workdir, atomtrain):
    data = _planted(workdir, "nan.xyz", _nan_energy)
    options = write_options(workdir / "options.yaml", data="nan.xyz")
    outcome = atomtrain("check", options)
    assert outcome.code == 1
    assert "error: training_set: NaN or infinite values in 'energy'" in outcome.out
    outcome = atomtrain("train", options)
    outcome.assert_user_error(
        f"file '{data}', structure 7, key 'energy': NaN or infinite labels of "
        "'energy' in 1 structure (7)"
    )
    assert not (workdir / "model.pt").exists()


def test_a_nan_label_is_an_error_in_eval(trained, atomtrain):
    data = _planted(trained, "nan.xyz", _nan_energy)
    datasets = trained / "datasets.yaml"
    datasets.write_text("systems: nan.xyz\ntargets: {energy: {unit: kcal/mol}}\n")
    outcome = atomtrain("eval", trained / "model.pt", datasets)
    outcome.assert_user_error(
        f"file '{data}', structure 7, key 'energy': NaN or infinite labels"
    )


def test_overlapping_atoms_are_an_error_in_train_and_eval(trained, atomtrain):
    data = _planted(trained, "overlap.xyz", _overlap)
    options = write_options(trained / "overlap.yaml", data="overlap.xyz")
    outcome = atomtrain("train", options, "-o", trained / "overlap.pt")
    outcome.assert_user_error(
        f"file '{data}', structure 3: atoms 0 and 1 are 0.141 Å apart, closer than "
        "0.5 Å"
    )
    assert not (trained / "overlap.pt").exists()
    datasets = trained / "datasets.yaml"
    datasets.write_text("systems: overlap.xyz\ntargets: {energy: {unit: kcal/mol}}\n")
    outcome = atomtrain("eval", trained / "model.pt", datasets)
    outcome.assert_user_error(f"file '{data}', structure 3: atoms 0 and 1 are 0.141")


# --- NaN predictions ---------------------------------------------------------------


class _NanAboveThreshold(torch.nn.Module):
    """An energy of zero, except NaN for the structures whose first atom lies beyond
    ``threshold`` along x: a model that breaks down on a few structures."""

    def __init__(self, threshold: float) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(
        self,
        systems: List[System],
        outputs: Dict[str, ModelOutput],
        selected_atoms: Optional[Labels] = None,
    ) -> Dict[str, TensorMap]:
        energies = []
        for system in systems:
            energy = 0.0 * system.positions.sum()
            broken = system.positions[0, 0] > self.threshold
            nan = torch.full_like(energy, float("nan"))
            energies.append(torch.where(broken, nan, energy))
        device = systems[0].positions.device
        block = TensorBlock(
            values=torch.stack(energies).reshape(-1, 1),
            samples=Labels(
                "system",
                torch.arange(len(systems), dtype=torch.int32, device=device).reshape(
                    -1, 1
                ),
            ),
            components=[],
            properties=Labels("energy", torch.zeros(1, 1, dtype=torch.int32)).to(
                device
            ),
        )
        keys = Labels("_", torch.zeros(1, 1, dtype=torch.int32)).to(device)
        return {"energy": TensorMap(keys, [block])}


NAN = float("nan")


def _save_partly_nan_model(path: Path, threshold: float) -> None:
    capabilities = ModelCapabilities(
        outputs={"energy": ModelOutput(unit="kcal/mol", sample_kind="system")},
        atomic_types=[1, 6, 8],
        interaction_range=0.0,
        length_unit="angstrom",
        supported_devices=["cpu"],
        dtype="float64",
    )
    module = _NanAboveThreshold(threshold).eval()
    AtomisticModel(module, ModelMetadata(), capabilities).save(str(path))


def _save_nan_weight_model(checkpoint: Path, path: Path) -> None:
    """The trained model of ``checkpoint`` with one weight set to NaN, exported
    through the library (``atomtrain export`` refuses NaN weights)."""
    model = load_model(checkpoint, context="export")
    with torch.no_grad():
        next(model.parameters())[0, 0] = NAN
    model.export().save(str(path))


def test_an_all_nan_model_is_an_error_in_eval(trained, atomtrain):
    _save_nan_weight_model(trained / "model.ckpt", trained / "nan.pt")
    datasets = trained / "datasets.yaml"
    datasets.write_text("systems: ethanol.xyz\ntargets: {energy: {unit: kcal/mol}}\n")
    outcome = atomtrain("eval", trained / "nan.pt", datasets)
    outcome.assert_user_error(
        "the model predicts NaN or infinite values of 'energy' for 100 of 100 "
        f"structures: structure 0 of '{trained / 'ethanol.xyz'}';",
        "; and 95 more. Its errors cannot be computed on these structures",
    )
    assert "rmse" not in outcome.out


def test_partly_nan_predictions_are_an_error_naming_the_structures(workdir, atomtrain):
    frames = ase.io.read(workdir / "ethanol.xyz", ":")
    first_x = [float(atoms.positions[0, 0]) for atoms in frames]
    threshold = sorted(first_x)[-3] - 1e-9  # the three largest are broken
    _save_partly_nan_model(workdir / "partly.pt", threshold)
    broken = sorted(i for i, x in enumerate(first_x) if x > threshold)
    datasets = workdir / "datasets.yaml"
    datasets.write_text("systems: ethanol.xyz\ntargets: {energy: {unit: kcal/mol}}\n")
    outcome = atomtrain("eval", workdir / "partly.pt", datasets)
    listed = "; ".join(f"structure {i} of '{workdir / 'ethanol.xyz'}'" for i in broken)
    outcome.assert_user_error(
        f"NaN or infinite values of 'energy' for 3 of 100 structures: {listed}. "
    )


# --- NaN weights ---------------------------------------------------------------


def _diverged_checkpoint(source: Path, target: Path) -> str:
    """A copy of the checkpoint ``source`` whose live and best weights hold a NaN,
    as a diverged training leaves them; the name of the weight."""
    checkpoint = read_checkpoint_file(source)
    weights = [checkpoint["model"]["state_dict"]]
    best = checkpoint["trainer"]["state"].get("best_model_state_dict")
    weights += [best] if best is not None else []
    name = next(k for k, v in weights[0].items() if v.is_floating_point())
    for state in weights:
        state[name].view(-1)[0] = NAN
    write_checkpoint_file(checkpoint, target)
    return name


def test_export_refuses_nan_weights_naming_them(trained, atomtrain):
    name = _diverged_checkpoint(trained / "model.ckpt", trained / "diverged.ckpt")
    snapshot = Snapshot(trained)
    outcome = atomtrain("export", trained / "diverged.ckpt", "-o", trained / "x.pt")
    outcome.assert_user_error(
        f"cannot export the model of '{trained / 'diverged.ckpt'}': NaN or infinite "
        f"values in parameter '{name}' (1 of ",
        "The training that wrote it diverged: export an earlier checkpoint",
    )
    assert not (trained / "x.pt").exists()
    snapshot.assert_unchanged()


def test_train_does_not_export_nan_weights_at_its_end(trained, atomtrain):
    (run,) = _runs(trained)
    name = _diverged_checkpoint(run / "model.ckpt", run / "diverged.ckpt")
    # the run is complete: the restart goes straight to the export
    options = write_options(trained / "options.yaml")
    outcome = atomtrain(
        "train", options, "--restart", run / "diverged.ckpt", "-o", "resumed.pt"
    )
    outcome.assert_user_error(
        "cannot export the model of", f"NaN or infinite values in parameter '{name}'"
    )
    assert not (trained / "resumed.pt").exists()


# --- a restart with other model hypers --------------------------------------------


def test_a_restart_with_other_model_hypers_is_refused(trained, atomtrain):
    (run,) = _runs(trained)
    options = write_options(trained / "options.yaml", epochs=2)
    text = options.read_text().replace(
        "  name: dummy\n", "  name: dummy\n  model:\n    hidden: 16\n"
    )
    options.write_text(text)
    outcome = atomtrain("train", options, "--restart", run / "model.ckpt")
    outcome.assert_user_error(
        f"cannot restart from '{run / 'model.ckpt'}' with other model hyperparameters",
        "  - architecture.model.hidden: 32 in the checkpoint, 16 in the options\n",
        "fine-tuning: architecture.training.finetune.read_from: "
        f"{run / 'model.ckpt'} (without --restart)",
    )
    assert _runs(trained) == [run]


def test_a_restart_may_change_the_training_hypers(trained, atomtrain):
    (run,) = _runs(trained)
    options = write_options(trained / "options.yaml", epochs=2)
    outcome = atomtrain("train", options, "--restart", run / "model.ckpt")
    assert outcome.code == 0, outcome.err
