"""Invalid trainer options are refused before the run directory exists: the error
names the options file and the dotted key, is no bug report, and leaves no
``outputs/`` behind. Some are refuted by the options alone (a misspelt target in the
loss), some only by the data (a loss on the stress of a file that has none) or the
model (a fixed baseline value for an element it does not have) or the trainer (the
checkpoint LLPR wraps): all of them are checked before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, Tuple

import pytest
import yaml
from fault_helpers import write_options

Edit = Callable[[Dict[str, Any]], None]


def _training(**hypers: Any) -> Edit:
    def edit(options: Dict[str, Any]) -> None:
        options["architecture"]["training"].update(hypers)

    return edit


def _forces_off(options: Dict[str, Any]) -> None:
    options["training_set"]["targets"]["energy"]["forces"] = "off"
    options["architecture"]["training"]["loss"] = {"energy": {"forces": {"weight": 9}}}


def _units_disagree(options: Dict[str, Any]) -> None:
    options["validation_set"] = {
        "systems": "ethanol.xyz",
        "targets": {"energy": {"unit": "eV"}},
    }


def _llpr(**hypers: Any) -> Edit:
    def edit(options: Dict[str, Any]) -> None:
        options["architecture"] = {"name": "llpr", "training": hypers}

    return edit


def _llpr_without_validation(options: Dict[str, Any]) -> None:
    # a file that exists: the calibration's data is refused before it is read
    _llpr(model_checkpoint="ethanol.xyz")(options)
    options["validation_set"] = 0.0


FAULTS: Dict[str, Tuple[Edit, Tuple[str, ...]]] = {
    "misspelt target in the loss": (
        _training(loss={"enrgy": {"weight": 2.0}}),
        ("architecture.training.loss.enrgy: no target of that name", "'energy'"),
    ),
    "unknown key of a loss entry": (
        _training(loss={"energy": {"forces": {"wieght": 2.0}}}),
        ("architecture.training.loss.energy.forces.wieght: unknown key",),
    ),
    "loss on a gradient whose section is off": (
        _forces_off,
        ("architecture.training.loss.energy.forces: target 'energy' has no forces",),
    ),
    "stress and virial in one loss entry": (
        _training(loss={"energy": {"stress": {}, "virial": {}}}),
        ("architecture.training.loss.energy: give either 'stress' or 'virial'",),
    ),
    "loss on a stress the file lacks": (
        _training(loss={"energy": {"stress": {"weight": 1.0}}}),
        ("architecture.training.loss.energy.stress: target 'energy' has no stress",),
    ),
    "best model metric on a stress the file lacks": (
        _training(best_model_metric="energy.stress.mae"),
        ("architecture.training.best_model_metric: not a metric of this run",),
    ),
    "masked loss without its mask": (
        _training(loss={"energy": {"type": "masked_mse"}}),
        ("training_set.extra_data: the 'masked_mse' loss of 'energy'", "energy_mask"),
    ),
    "misspelt per-structure target": (
        _training(per_structure_targets=["enrgy"]),
        ("architecture.training.per_structure_targets[0]: not a target", "'energy'"),
    ),
    "fixed baseline of an absent element": (
        _training(atomic_baseline={"energy": {79: -1.0}}),
        ("architecture.training.atomic_baseline.energy.79: atomic type not among",),
    ),
    "fixed baseline of an unknown target": (
        _training(atomic_baseline={"enrgy": {1: -1.0}}),
        ("architecture.training.atomic_baseline.enrgy: no composition baseline",),
    ),
    "uncertainties of no model": (
        _llpr(),
        ("architecture.training.model_checkpoint: required",),
    ),
    "uncertainties of a missing checkpoint": (
        _llpr(model_checkpoint="absent.ckpt"),
        ("architecture.training.model_checkpoint: no such checkpoint file",),
    ),
    "uncertainties with no validation set to calibrate on": (
        _llpr_without_validation,
        ("validation_set: LLPR calibrates its uncertainties on the validation set",),
    ),
    "units that differ between sets": (
        _units_disagree,
        ("validation_set.targets.energy.unit",),
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_invalid_trainer_options_leave_no_run_directory(
    fault: str, workdir: Path, atomtrain
) -> None:
    edit, fragments = FAULTS[fault]
    path = write_options(workdir / "options.yaml")
    options = yaml.safe_load(path.read_text())
    edit(options)
    path.write_text(yaml.safe_dump(options, sort_keys=False))
    outcome = atomtrain("train", path)
    outcome.assert_user_error(f"in the options in {path}", *fragments)
    assert not (workdir / "outputs").exists()
    assert not (workdir / "model.pt").exists()
