"""End-to-end runs of ``atomtrain train``, ``export`` and ``eval`` through the command
line, on the real ethanol and carbon data, with the engine's test architecture."""

from __future__ import annotations

import csv
import os
import pickle
import subprocess
from pathlib import Path

import ase.io
import numpy as np
import pytest
import yaml

from atomtrain.cli.main import main

REFERENCE_MTT = Path(os.environ.get("TMPDIR", "/tmp")) / "metatrain-ref" / "bin" / "mtt"


def _options(path: Path, data: Path, epochs: int = 2, **targets) -> Path:
    energy = {"unit": "kcal/mol", **targets}
    options = {
        "architecture": {
            "name": "dummy",
            "training": {"num_epochs": epochs, "batch_size": 8},
        },
        "base_precision": 64,
        "seed": 11,
        "training_set": {"systems": str(data), "targets": {"energy": energy}},
        "validation_set": 0.1,
        "test_set": 0.1,
    }
    path.write_text(yaml.safe_dump(options))
    return path


@pytest.fixture
def workdir(tmp_path, monkeypatch, dummy_architecture):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _runs(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("outputs/*/*") if p.is_dir())


def test_train_export_and_evaluate_ethanol(workdir, resources, capsys):
    data = resources / "ethanol_reduced_100.xyz"
    options = _options(workdir / "options.yaml", data)
    assert main(["train", str(options)]) == 0
    output = capsys.readouterr().out
    assert "final errors on the test set" in output
    assert "energy.forces.rmse" in output

    [run] = _runs(workdir)
    for name in ("model.ckpt", "model.pt", "train.csv", "train.log"):
        assert (run / name).is_file(), name
    assert (workdir / "model.pt").is_file() and (workdir / "model.ckpt").is_file()
    assert sorted(p.name for p in (run / "indices").iterdir()) == [
        "test.txt",
        "training.txt",
        "validation.txt",
    ]
    log = (run / "train.log").read_text()
    for line in (
        f"command: atomtrain train {options}",
        "versions: atomtrain ",
        "training dummy: ",
        "training: 80 structures",
        f"  read from '{data}'",
        "epoch    0 | lr",
        "epoch    1 | lr",
        "the trained model keeps the weights of epoch ",
        "the best by val.loss (",
        "final errors on the training set:",
        "final errors on the validation set:",
        "final errors on the test set:",
        "energy.forces.rmse = ",
        "training finished; files written:",
        "  exported model    model.pt",
        f"  metrics per epoch {run.relative_to(workdir) / 'train.csv'}",
    ):
        assert line in log, line
    expanded = yaml.safe_load((run / "options_restart.yaml").read_text())
    assert expanded["seed"] == 11
    assert expanded["architecture"]["training"]["num_epochs"] == 2

    with open(run / "train.csv") as file:
        rows = list(csv.reader(file))
    assert rows[0][:4] == ["epoch", "learning_rate", "train.loss", "val.loss"]
    assert [row[0] for row in rows[2:]] == ["0", "1"]
    train_loss, val_loss = float(rows[-1][2]), float(rows[-1][3])
    assert 0.2 < train_loss / val_loss < 5.0

    from metatomic_ase import MetatomicCalculator

    atoms = ase.io.read(data, index=0)
    atoms.calc = MetatomicCalculator(str(workdir / "model.pt"))
    assert np.isfinite(atoms.get_potential_energy())
    forces = atoms.get_forces()
    assert forces.shape == (9, 3) and np.isfinite(forces).all()

    assert main(["export", "model.ckpt", "-o", "exported.pt"]) == 0
    (workdir / "eval.yaml").write_text(
        yaml.safe_dump(
            {"systems": str(data), "targets": {"energy": {"unit": "kcal/mol"}}}
        )
    )
    capsys.readouterr()
    command = ["eval", "exported.pt", "eval.yaml", "-o", "predictions.xyz"]
    assert main([*command, "--plot", "parity.png"]) == 0
    assert (workdir / "parity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "energy.rmse" in printed and "energy.forces.rmse" in printed
    assert printed.startswith("command: atomtrain eval exported.pt eval.yaml")
    assert f"\n{data}:\n" in printed
    assert "wrote predictions to predictions.xyz\n" in printed
    assert printed.endswith("wrote a parity plot to parity.png\n")
    predicted = ase.io.read(workdir / "predictions.xyz", ":")
    assert len(predicted) == 100
    # ASE's extxyz reader hands energy and forces to a single-point calculator
    np.testing.assert_allclose(
        predicted[0].get_forces(), forces * 23.0605, rtol=1e-3, atol=1e-4
    )
    assert np.isfinite(predicted[0].get_potential_energy())


def test_wandb_records_the_expanded_options_in_the_run_directory(
    workdir, resources, monkeypatch
):
    pytest.importorskip("wandb", reason="wandb is an optional logger")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    options = _options(workdir / "options.yaml", resources / "ethanol_reduced_100.xyz")
    raw = yaml.safe_load(options.read_text())
    raw["loggers"] = {"wandb": {"project": "atomtrain-tests"}}
    options.write_text(yaml.safe_dump(raw))
    assert (
        main(["train", str(options), "-r", "architecture.training.num_epochs=1"]) == 0
    )
    [run] = _runs(workdir)
    assert not (workdir / "wandb").exists()
    # the config it records is checked by the logger's own test
    assert len(list((run / "wandb").glob("offline-run-*"))) == 1


def test_invalid_options_leave_no_run_directory(workdir, resources, capsys):
    data = resources / "ethanol_reduced_100.xyz"
    options = _options(workdir / "options.yaml", data)
    raw = yaml.safe_load(options.read_text())
    raw["architecture"]["training"] = {"num_epoch": 1, "num_epochs": "five"}
    options.write_text(yaml.safe_dump(raw))
    assert main(["train", str(options)]) == 1
    error = capsys.readouterr().err
    assert "architecture.training.num_epoch" in error
    assert "did you mean 'num_epochs'" in error
    assert "architecture.training.num_epochs" in error
    assert not (workdir / "outputs").exists()


def test_an_unknown_best_model_metric_leaves_no_run_directory(
    workdir, resources, capsys
):
    options = _options(workdir / "options.yaml", resources / "ethanol_reduced_100.xyz")
    raw = yaml.safe_load(options.read_text())
    raw["architecture"]["training"]["best_model_metric"] = "energy.force.mae"
    options.write_text(yaml.safe_dump(raw))
    assert main(["train", str(options)]) == 1
    error = capsys.readouterr().err
    assert "architecture.training.best_model_metric" in error
    assert "did you mean 'energy.forces.mae'" in error and "mae_prod" in error
    assert not (workdir / "outputs").exists()


def test_units_that_differ_between_sets_leave_no_run_directory(
    workdir, resources, capsys
):
    data = resources / "ethanol_reduced_100.xyz"
    options = _options(workdir / "options.yaml", data)
    raw = yaml.safe_load(options.read_text())
    raw["validation_set"] = {
        "systems": str(data),
        "targets": {"energy": {"unit": "eV"}},
    }
    options.write_text(yaml.safe_dump(raw))
    assert main(["train", str(options)]) == 1
    error = capsys.readouterr().err
    assert "validation_set.targets.energy.unit" in error, error
    assert not (workdir / "outputs").exists()


def _ev_training_kcal_validation(raw, resources):
    raw["training_set"]["targets"]["energy"]["unit"] = "eV"
    raw["validation_set"] = {
        "systems": str(resources / "ethanol_reduced_100.xyz"),
        "targets": {"energy": {"unit": "kcal/mol"}},
    }


def _forces_metric_without_forces(raw, resources):
    raw["training_set"] = {
        "systems": str(resources / "qm9_reduced_100.xyz"),
        "targets": {"energy": {"key": "U0", "unit": "eV"}},
    }
    raw["architecture"]["training"]["best_model_metric"] = "energy.forces.rmse"


def _validation_without_the_target(raw, resources):
    raw["validation_set"] = {
        "systems": str(resources / "qm9_reduced_100.xyz"),
        "targets": {"mtt::U0": {"key": "U0"}},
    }


def _fractions_taking_everything(raw, resources):
    raw["validation_set"], raw["test_set"] = 0.5, 0.5


INVALID_OPTIONS = {
    "units between sets": (
        _ev_training_kcal_validation,
        ["validation_set.targets.energy.unit", "differs from 'eV' in training_set"],
    ),
    "a metric of gradients the data lacks": (
        _forces_metric_without_forces,
        ["architecture.training.best_model_metric", "choose from loss"],
    ),
    "a validation set without a trained target": (
        _validation_without_the_target,
        ["validation_set.targets", "has no target 'energy'"],
    ),
    "fractions": (_fractions_taking_everything, ["test_set", "sum must be below 1"]),
}


@pytest.mark.parametrize("case", INVALID_OPTIONS)
def test_invalid_options_of_every_kind_leave_no_run_directory(
    case, workdir, resources, capsys
):
    change, fragments = INVALID_OPTIONS[case]
    options = _options(workdir / "options.yaml", resources / "ethanol_reduced_100.xyz")
    raw = yaml.safe_load(options.read_text())
    change(raw, resources)
    options.write_text(yaml.safe_dump(raw))
    assert main(["train", str(options)]) == 1
    error = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in error, error
    assert not (workdir / "outputs").exists()


def test_a_data_error_leaves_no_run_directory(workdir, resources, capsys):
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":")
    frames[7].positions[1] = frames[7].positions[0]
    ase.io.write(workdir / "overlap.xyz", frames)
    options = _options(workdir / "options.yaml", workdir / "overlap.xyz")
    assert main(["train", str(options)]) == 1
    error = capsys.readouterr().err
    assert "structure 7" in error and "overlap.xyz" in error, error
    assert not (workdir / "outputs").exists()


def test_misspelt_forces_key_names_key_and_file(workdir, resources, capsys):
    data = resources / "ethanol_reduced_100.xyz"
    options = _options(workdir / "options.yaml", data, forces={"key": "forcez"})
    assert main(["train", str(options)]) == 1
    error = capsys.readouterr().err
    assert "forcez" in error and "ethanol_reduced_100.xyz" in error


def test_restart_auto_continues_the_newest_run(workdir, resources, capsys):
    data = resources / "ethanol_reduced_100.xyz"
    options = _options(workdir / "options.yaml", data, epochs=1)
    assert main(["train", str(options)]) == 0
    assert (
        main(
            [
                "train",
                str(options),
                "--restart",
                "auto",
                "-r",
                "architecture.training.num_epochs=3",
            ]
        )
        == 0
    )
    first, second = _runs(workdir)
    with open(second / "train.csv") as file:
        epochs = [row[0] for row in list(csv.reader(file))[2:]]
    assert epochs == ["1", "2"]
    assert (first / "indices" / "training.txt").read_text() == (
        second / "indices" / "training.txt"
    ).read_text()


def test_restart_needs_a_checkpoint_of_the_same_architecture(
    workdir, resources, capsys
):
    options = _options(workdir / "options.yaml", resources / "ethanol_reduced_100.xyz")
    checkpoint = resources / "checkpoints" / "soap_bpnn-model-v2-trainer-v1.ckpt"
    assert main(["train", str(options), "--restart", str(checkpoint)]) == 1
    assert capsys.readouterr().err == (
        f"error: --restart: checkpoint '{checkpoint}' holds a 'soap_bpnn' model, but "
        "the options train architecture.name 'dummy'; restart with the options of the "
        "run that wrote the checkpoint, or train a new 'dummy' model without "
        "--restart\n"
    )
    assert not (workdir / "outputs").exists()


class _CreatesFile:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("command", ["export", "eval", "restart"])
def test_pickled_checkpoint_is_refused(workdir, resources, capsys, command):
    victim = workdir / "created-by-checkpoint"
    crafted = workdir / "crafted.ckpt"
    with open(crafted, "wb") as file:
        pickle.dump({"payload": _CreatesFile(str(victim))}, file)
    data = resources / "ethanol_reduced_100.xyz"
    if command == "export":
        code = main(["export", str(crafted)])
    elif command == "eval":
        (workdir / "eval.yaml").write_text(yaml.safe_dump({"systems": str(data)}))
        code = main(["eval", str(crafted), "eval.yaml"])
    else:
        options = _options(workdir / "options.yaml", data, epochs=1)
        code = main(["train", str(options), "--restart", str(crafted)])
    assert code == 1
    assert not victim.exists()
    assert "error:" in capsys.readouterr().err


@pytest.mark.skipif(not REFERENCE_MTT.exists(), reason="reference environment absent")
@pytest.mark.parametrize("architecture", ["dummy", "soap_bpnn"])
def test_reference_mtt_eval_reads_an_exported_model(workdir, resources, architecture):
    data = resources / "carbon_reduced_100.xyz"
    options = _options(
        workdir / "options.yaml",
        data,
        epochs=1,
        forces={"key": "force"},
        virial={"key": "virial"},
    )
    raw = yaml.safe_load(options.read_text())
    raw["training_set"]["targets"]["energy"]["unit"] = "eV"
    raw["architecture"]["name"] = architecture
    if architecture == "soap_bpnn":
        raw["architecture"]["model"] = {"soap": {"max_radial": 3, "max_angular": 2}}
    options.write_text(yaml.safe_dump(raw))
    assert main(["train", str(options), "-o", "carbon.pt", "-e", "extensions"]) == 0
    (workdir / "eval.yaml").write_text(
        yaml.safe_dump(
            {
                "systems": str(data),
                "targets": {
                    "energy": {
                        "unit": "eV",
                        "forces": {"key": "force"},
                        "virial": {"key": "virial"},
                    }
                },
            }
        )
    )
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [
            str(REFERENCE_MTT),
            *("eval", "carbon.pt", "eval.yaml", "-o", "ref.xyz", "-e", "extensions"),
        ],
        capture_output=True,
        text=True,
        env=environment,
        cwd=workdir,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "energy_positions_gradients RMSE" in result.stderr + result.stdout
    assert "energy_strain_gradients RMSE" in result.stderr + result.stdout
    predicted = ase.io.read(workdir / "ref.xyz", ":")
    assert len(predicted) == 100
    assert all(np.isfinite(a.get_potential_energy()) for a in predicted)
    gradients = np.array(predicted[0].info["energy_positions_gradients"])
    assert gradients.shape == (len(predicted[0]), 3)


def test_elements_of_the_validation_set_declared_in_atomic_types(
    workdir, resources, capsys
):
    options = yaml.safe_load(
        _options(
            workdir / "options.yaml", resources / "ethanol_reduced_100.xyz", epochs=1
        ).read_text()
    )
    options["validation_set"] = {
        "systems": {"read_from": str(resources / "qm9_reduced_100.xyz")},
        "targets": {"energy": {"key": "U0", "unit": "kcal/mol", "forces": False}},
        "indices": list(range(12)),
    }
    (workdir / "options.yaml").write_text(yaml.safe_dump(options))
    assert main(["train", "options.yaml"]) == 1
    error = capsys.readouterr().err
    assert "structures 1, 4, 9, 11 of the validation_set: element N" in error
    assert "architecture.atomic_types" in error

    options["architecture"]["atomic_types"] = [1, 6, 7, 8]
    (workdir / "options.yaml").write_text(yaml.safe_dump(options))
    assert main(["train", "options.yaml"]) == 0
    assert "final errors on the validation set" in capsys.readouterr().out
