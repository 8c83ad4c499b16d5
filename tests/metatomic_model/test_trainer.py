"""Fine-tuning through ``atomtrain train``: the step-0 check, the energy correction,
replay, the fine-tuning note of the export, LLPR on top; and fine-tuning models that
atomtrain exported itself (PET, SOAP-BPNN)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import ase.io
import numpy as np
import pytest
import torch
import yaml
from metatomic.torch import ModelOutput, load_atomistic_model, unit_conversion_factor
from metatomic_ase import MetatomicCalculator
from metatomic_helpers import ethanol

from atomtrain.cli.main import main
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.metatomic_model.model import NOTE_KEY, MetatomicModel
from atomtrain.metatomic_model.replay import with_replay_loss
from atomtrain.metatomic_model.step_zero import check_step_zero, tolerance
from atomtrain.metatomic_model.wrapped import REPLAY_TARGET, WrappedModelError

RESOURCES = Path(__file__).parents[1] / "resources"
GFN2 = Path(__file__).parents[2] / "examples" / "data" / "ethanol_gfn2_1000.xyz"
TARGETS = {"energy": {"unit": "kcal/mol", "forces": True}}


def options(model: Dict[str, Any], **training: Any) -> Dict[str, Any]:
    return {
        "seed": 0,
        "base_precision": 64,
        "architecture": {
            "name": "metatomic",
            "model": model,
            "training": {"num_epochs": 2, "batch_size": 4, **training},
        },
        "training_set": {"systems": "train.xyz", "targets": TARGETS},
        "validation_set": {"systems": "validation.xyz", "targets": TARGETS},
        "test_set": 0.0,
    }


def train(directory: Path, content: Dict[str, Any], output: str = "model.pt") -> str:
    path = directory / "options.yaml"
    path.write_text(yaml.safe_dump(content))
    assert main(["train", str(path), "-o", output]) == 0
    return (sorted(directory.glob("outputs/*/*/train.log"))[-1]).read_text()


@pytest.fixture(scope="module")
def finetuned(
    tmp_path_factory: pytest.TempPathFactory, handmade_file: Path
) -> Iterator[Dict[str, Any]]:
    """The hand-made model fine-tuned on 12 DFT ethanol frames (kcal/mol), with 8
    GFN2 frames replayed."""
    directory = tmp_path_factory.mktemp("finetuned")
    frames = ase.io.read(RESOURCES / "ethanol_reduced_100.xyz", ":16")
    ase.io.write(directory / "train.xyz", frames[:12])
    ase.io.write(directory / "validation.xyz", frames[12:])
    ase.io.write(directory / "replay.xyz", ase.io.read(GFN2, "900:908"))
    content = options(
        {"path": str(handmade_file), "trainable": ["hidden.*", "last.*"]},
        learning_rate=1e-3,
        replay={"read_from": "replay.xyz", "weight": 0.5},
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(directory)
        log = train(directory, content)
    yield {"directory": directory, "log": log, "model": directory / "model.pt"}


def test_the_step_zero_check_is_printed(finetuned: Dict[str, Any]) -> None:
    line = re.search(
        r"step-0 check on 12 training structures against MetatomicCalculator\("
        r"'.*model.pt'\): largest relative difference (\S+) in energies, (\S+) in "
        r"forces \(tolerance 1e-06\)",
        finetuned["log"],
    )
    assert line is not None, finetuned["log"]
    assert float(line.group(1)) < 1e-6 and float(line.group(2)) < 1e-6


def test_the_correction_absorbs_the_reference_energy_shift(
    finetuned: Dict[str, Any], handmade_file: Path
) -> None:
    """The pretrained model predicts a few eV; the DFT labels are -97,000 kcal/mol:
    the correction takes the shift, so the fine-tuned energies are within a few
    kcal/mol of the labels from the first epoch on."""
    assert "energy correction of 'energy' per element:" in finetuned["log"]
    calculator = MetatomicCalculator(str(finetuned["model"]))
    frames = ase.io.read(finetuned["directory"] / "validation.xyz", ":")
    errors = []
    for frame in frames:
        label = frame.get_potential_energy() / 23.0605  # the file's kcal/mol, in eV
        frame.calc = calculator
        with np.errstate(invalid="ignore"):
            errors.append(frame.get_potential_energy() - label)
    assert max(abs(e) for e in errors) < 1.0  # eV, against labels of -4210 eV


def test_replay_trains_beside_the_new_data(finetuned: Dict[str, Any]) -> None:
    log = finetuned["log"]
    assert "replay: 8 structures of replay.xyz labelled by the pretrained model" in log
    assert "energy/replay" in log
    exported = load_atomistic_model(str(finetuned["model"]))
    assert REPLAY_TARGET not in exported.capabilities().outputs


def test_replay_loss_weights_the_energy_terms() -> None:
    loss = {"energy": {"weight": 2.0, "forces": {"weight": 10.0, "type": "mae"}}}
    result = with_replay_loss(loss, ["energy", REPLAY_TARGET], 0.5)
    assert result["energy"] == loss["energy"]
    assert result[REPLAY_TARGET] == {
        "weight": 1.0,
        "forces": {"weight": 5.0, "type": "mae"},
    }
    plain = with_replay_loss("mae", ["energy", REPLAY_TARGET], 0.25)
    assert plain[REPLAY_TARGET] == {
        "type": "mae",
        "weight": 0.25,
        "forces": {"weight": 0.25},
    }


def test_the_export_notes_what_it_was_finetuned_on(
    finetuned: Dict[str, Any], handmade_file: Path
) -> None:
    metadata = load_atomistic_model(str(finetuned["model"])).metadata()
    assert metadata.name == "gaussian pairs"
    note = json.loads(metadata.extra[NOTE_KEY])
    train_file = str(finetuned["directory"] / "train.xyz")
    digest = hashlib.sha256(Path(train_file).read_bytes()).hexdigest()
    assert note["training_files"] == {train_file: digest}
    assert note["model"] == {
        "file": str(handmade_file),
        "trainable": ["hidden.*", "last.*"],
    }
    assert note["options"]["replay"] == {"read_from": "replay.xyz", "weight": 0.5}
    assert note["options"]["learning_rate"] == 1e-3


def test_frozen_parameters_did_not_change(
    finetuned: Dict[str, Any], handmade_file: Path
) -> None:
    before = dict(load_atomistic_model(str(handmade_file)).named_parameters())
    after = dict(load_atomistic_model(str(finetuned["model"])).named_parameters())
    for name, value in before.items():
        tuned = after["module.wrapped." + name.removeprefix("module.")]
        if name.split(".")[1] in ("hidden", "last"):
            assert not torch.equal(tuned, value), name
        else:
            assert torch.equal(tuned, value), name


def test_llpr_on_the_finetuned_model(finetuned: Dict[str, Any]) -> None:
    directory = finetuned["directory"]
    content = {
        "architecture": {
            "name": "llpr",
            "training": {"model_checkpoint": str(directory / "model.ckpt")},
        },
        "base_precision": 64,
        "training_set": {"systems": "train.xyz", "targets": TARGETS},
        "validation_set": {"systems": "validation.xyz", "targets": TARGETS},
        "test_set": 0.0,
        "final_eval": False,
    }
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(directory)
        train(directory, content, "llpr.pt")
    calculator = MetatomicCalculator(
        str(directory / "llpr.pt"),
        additional_outputs={
            "energy_uncertainty": ModelOutput(unit="eV", sample_kind="system")
        },
    )
    sigmas = []
    for frame in ase.io.read(directory / "validation.xyz", ":"):
        frame.calc = calculator
        with np.errstate(invalid="ignore"):
            assert np.isfinite(frame.get_potential_energy())
        values = calculator.additional_outputs["energy_uncertainty"].block().values
        sigmas.append(float(values[0, 0]))
    assert all(np.isfinite(s) and s > 0 for s in sigmas)


def test_the_step_zero_check_refuses_a_model_unlike_its_file(
    handmade_file: Path, pet_file: Path, resources: Path
) -> None:
    """A model built from one file and compared with another (the file was
    replaced since) is an error that gives both differences."""
    energy = TargetInfo(quantity="energy", unit="kcal/mol", gradients=("positions",))
    info = DatasetInfo(atomic_types=[1, 6, 8], targets={"energy": energy})
    hypers = {"path": str(handmade_file), "extensions": None, "trainable": ["*"]}
    model = MetatomicModel(hypers, info).to(torch.float64)  # type: ignore[arg-type]
    energy_error, force_error = check_step_zero(model, [ethanol(3)])
    assert energy_error < 1e-10 and force_error < 1e-8
    model.hypers = {**hypers, "path": str(pet_file)}  # type: ignore[assignment]
    with pytest.raises(
        WrappedModelError,
        match=(
            r"step-0 check on 3 training structures against "
            r"MetatomicCalculator\('.*pet.pt'\): largest relative "
            r"difference \S+ in energies"
        ),
    ):
        check_step_zero(model, [ethanol(3)])


def test_tolerances() -> None:
    assert tolerance([torch.float64, torch.float64]) == 1e-6
    assert tolerance([torch.float32, torch.float64]) == 1e-4


@pytest.mark.parametrize("fixture", ["pet_file", "soap_file"])
def test_finetune_a_model_atomtrain_exported(
    fixture: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = request.getfixturevalue(fixture)
    frames = ase.io.read(RESOURCES / "ethanol_reduced_100.xyz", ":8")
    ase.io.write(tmp_path / "train.xyz", frames[:6])
    ase.io.write(tmp_path / "validation.xyz", frames[6:])
    monkeypatch.chdir(tmp_path)
    log = train(tmp_path, options({"path": str(path)}, num_epochs=1))
    assert "step-0 check on 6 training structures" in log
    exported = load_atomistic_model(str(tmp_path / "model.pt"))
    assert exported.capabilities().outputs["energy"].unit == "kcal/mol"
    frame = frames[7]
    frame.calc = MetatomicCalculator(str(tmp_path / "model.pt"))
    with np.errstate(invalid="ignore"):
        assert np.isfinite(frame.get_forces()).all()


REFERENCE = Path("/tmp/metatrain-ref/bin/mtt")


@pytest.mark.skipif(
    not REFERENCE.is_file(),
    reason="the reference implementation is not installed at /tmp/metatrain-ref "
    "(bash shared/bench/reference-env.sh installs it)",
)
def test_the_reference_mtt_eval_reads_the_finetuned_export(
    finetuned: Dict[str, Any],
) -> None:
    """``mtt eval`` of the reference implementation runs the fine-tuned export and
    reports its errors on the validation frames, the same as atomtrain's."""
    import subprocess

    directory = finetuned["directory"]
    section = {
        "systems": {"read_from": "validation.xyz", "length_unit": "angstrom"},
        "targets": {"energy": {"key": "energy", "unit": "kcal/mol", "forces": True}},
    }
    (directory / "eval.yaml").write_text(yaml.safe_dump(section))
    result = subprocess.run(
        [str(REFERENCE), "eval", "model.pt", "eval.yaml", "-o", "reference.xyz"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    predicted = ase.io.read(directory / "reference.xyz", ":")
    calculator = MetatomicCalculator(str(finetuned["model"]))
    for frame, reference in zip(
        ase.io.read(directory / "validation.xyz", ":"), predicted
    ):
        frame.calc = calculator
        with np.errstate(invalid="ignore"):
            ours = frame.get_potential_energy() * unit_conversion_factor(
                "eV", "kcal/mol"
            )
        assert reference.get_potential_energy() == pytest.approx(ours, rel=1e-6)


def test_finetune_on_a_dataset_in_bohr(
    handmade_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Positions in bohr and forces per bohr: the model (in ångström) sees its own
    unit, the step-0 check passes, and the export works in bohr."""
    to_bohr = unit_conversion_factor("angstrom", "bohr")
    frames = ase.io.read(RESOURCES / "ethanol_reduced_100.xyz", ":8")
    for frame in frames:
        forces = frame.get_forces()
        energy = frame.get_potential_energy()
        frame.positions *= to_bohr
        frame.calc = None
        frame.info["energy"] = energy
        frame.arrays["forces"] = forces / to_bohr
    ase.io.write(tmp_path / "train.xyz", frames[:6])
    ase.io.write(tmp_path / "validation.xyz", frames[6:])
    content = options({"path": str(handmade_file)}, num_epochs=1)
    for section in ("training_set", "validation_set"):
        systems = content[section]["systems"]
        content[section]["systems"] = {"read_from": systems, "length_unit": "bohr"}
    monkeypatch.chdir(tmp_path)
    log = train(tmp_path, content)
    difference = re.search(r"largest relative difference (\S+) in energies, (\S+)", log)
    assert difference is not None, log
    assert max(float(difference[1]), float(difference[2].rstrip(","))) < 1e-6
    exported = load_atomistic_model(str(tmp_path / "model.pt"))
    assert exported.capabilities().length_unit == "bohr"
    frame = ase.io.read(RESOURCES / "ethanol_reduced_100.xyz", "7")
    frame.calc = MetatomicCalculator(str(tmp_path / "model.pt"))
    with np.errstate(invalid="ignore"):
        assert np.isfinite(frame.get_forces()).all()


@pytest.mark.slow
def test_two_processes_fine_tune_as_one_with_the_same_global_batch(
    handmade_file: Path, tmp_path: Path
) -> None:
    """torchrun with 2 processes of batch 2 gives the run of one process of batch 4
    (docs/distributed.md): the wrapped TorchScript module trains under DDP."""
    frames = ase.io.read(RESOURCES / "ethanol_reduced_100.xyz", ":12")
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM_", "MASTER_", "RANK", "WORLD_SIZE", "LOCAL_"))
    }
    environment["OMP_NUM_THREADS"] = "1"
    rows = {}
    for processes, batch in ((1, 4), (2, 2)):
        directory = tmp_path / f"{processes}"
        directory.mkdir()
        ase.io.write(directory / "train.xyz", frames[:8])
        ase.io.write(directory / "validation.xyz", frames[8:])
        content = options(
            {"path": str(handmade_file), "trainable": ["hidden.*", "last.*"]},
            batch_size=batch,
            learning_rate=1e-3,
        )
        (directory / "options.yaml").write_text(yaml.safe_dump(content))
        command = [sys.executable, "-m", "atomtrain", "train", "options.yaml"]
        if processes > 1:
            command[1:2] = ["-m", "torch.distributed.run", "--standalone"]
            command[4:4] = ["--nproc_per_node", str(processes), "-m"]
        result = subprocess.run(
            command,
            cwd=directory,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        (csv,) = directory.glob("outputs/*/*/train.csv")
        rows[processes] = [line.split(",") for line in csv.read_text().splitlines()]
    one, two = rows[1], rows[2]
    assert one[0] == two[0] and len(one) == len(two) == 4
    for expected, actual in zip(one[2:], two[2:]):
        for a, b in zip(expected, actual):
            assert float(b) == pytest.approx(float(a), rel=1e-9), (one, two)
