"""LLPR end to end: a dummy model trained on GFN2 ethanol, its LLPR computed through
the train workflow, exported, and used through metatomic's ASE calculator."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
import yaml
from metatomic.torch import ModelOutput, load_atomistic_model
from metatomic_ase import MetatomicCalculator

from atomtrain.training.uncertainty import coverage
from atomtrain.workflows.train import train


def _options(path: Path, data: Path, architecture: dict, test: float) -> Path:
    options = {
        "architecture": architecture,
        "base_precision": 64,
        "seed": 7,
        "training_set": {
            "systems": str(data),
            "targets": {"energy": {"unit": "eV", "forces": True}},
        },
        "validation_set": 0.25,
        "test_set": test,
        "final_eval": False,
    }
    path.write_text(yaml.safe_dump(options))
    return path


@pytest.fixture
def llpr_model(tmp_path, monkeypatch, dummy_architecture, ethanol_gfn2) -> Path:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "gfn2.xyz"
    ase.io.write(data, ase.io.read(ethanol_gfn2, index="0:1000:2"))
    base = _options(
        tmp_path / "base.yaml",
        data,
        {
            "name": "dummy",
            "model": {"hidden": 16},
            "training": {"num_epochs": 4, "batch_size": 10, "learning_rate": 3e-3},
        },
        0.0,
    )
    checkpoint = train(base, output=tmp_path / "base.pt").checkpoint
    options = _options(
        tmp_path / "llpr.yaml",
        data,
        {
            "name": "llpr",
            "model": {"ensembles": {"energy": 64}},
            "training": {"model_checkpoint": str(checkpoint)},
        },
        0.3,
    )
    return train(options, output=tmp_path / "llpr.pt").model


def test_energy_uncertainty_through_the_ase_calculator_is_calibrated(
    llpr_model, tmp_path, ethanol_gfn2, caplog
):
    calculator = MetatomicCalculator(
        str(llpr_model),
        additional_outputs={
            "energy_uncertainty": ModelOutput(unit="eV", sample_kind="system")
        },
    )
    # held-out frames: odd indices were never seen by the model nor the calibration
    frames = ase.io.read(ethanol_gfn2, index="1:1000:5")
    errors, sigmas = [], []
    for atoms in frames:
        reference = atoms.get_potential_energy()
        atoms.calc = calculator
        errors.append(atoms.get_potential_energy() - reference)
        sigmas.append(
            float(
                calculator.additional_outputs["energy_uncertainty"]
                .block()
                .values.detach()
            )
        )
    check = coverage(torch.tensor(errors), torch.tensor(sigmas))
    print(check.message("the held-out frames", "energy"))
    assert np.all(np.array(sigmas) > 0)
    assert abs(check.one_sigma - 0.683) < 0.10
    assert abs(check.two_sigma - 0.954) < 0.10


def test_ensemble_members_spread_like_the_uncertainty_and_give_forces(
    llpr_model, ethanol_gfn2
):
    model = load_atomistic_model(str(llpr_model))
    outputs = model.capabilities().outputs
    assert {"energy", "energy_uncertainty", "energy_ensemble"} <= set(outputs)
    atoms = ase.io.read(ethanol_gfn2, index=3)
    calculator = MetatomicCalculator(str(llpr_model))
    results = calculator.run_model(
        atoms,
        {
            "energy_ensemble": ModelOutput(unit="eV", sample_kind="system"),
            "energy_uncertainty": ModelOutput(unit="eV", sample_kind="system"),
        },
    )
    members = results["energy_ensemble"].block().values[0]
    sigma = float(results["energy_uncertainty"].block().values)
    assert members.shape == (64,)
    assert float(members.std()) == pytest.approx(sigma, rel=0.35)
