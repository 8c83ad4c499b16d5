"""LLPR of a MACE model: the last-layer features MACE exposes give calibrated
uncertainties, and ensemble members with forces, through metatomic's ASE calculator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict

import ase.io
import numpy as np
import pytest
import yaml
from metatomic.torch import ModelOutput
from metatomic_ase import MetatomicCalculator

from atomtrain.cli.main import main

TINY_MACE = {
    "r_max": 4.0,
    "num_radial_basis": 4,
    "max_ell": 2,
    "correlation": 2,
    "hidden_irreps": "4x0e + 4x1o",
    "MLP_irreps": "4x0e",
    "radial_MLP": [8],
}
ENERGY = {"energy": {"unit": "eV", "forces": True}}


def _write(path: Path, content: Dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.mark.slow
def test_uncertainties_and_ensembles_of_a_mace_model(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    data = Path(__file__).parents[2] / "examples" / "data" / "ethanol_gfn2_1000.xyz"
    frames = ase.io.read(data, index=":")
    for name, start in (("train", 0), ("calibration", 1), ("test", 3)):
        ase.io.write(tmp_path / f"{name}.xyz", frames[start::8])
    section = {"systems": "train.xyz", "targets": ENERGY}
    common = {"seed": 3, "test_set": 0.0, "final_eval": False}
    mace = {
        "architecture": {
            "name": "mace",
            "model": TINY_MACE,
            "training": {"num_epochs": 4, "batch_size": 10},
        },
        "training_set": section,
        "validation_set": 0.1,
        **common,
    }
    assert main(["train", str(_write(tmp_path / "mace.yaml", mace)), "-o", "m.pt"]) == 0
    llpr = {
        "architecture": {
            "name": "llpr",
            "model": {"ensembles": {"energy": 4}},
            "training": {"model_checkpoint": "m.ckpt"},
        },
        "training_set": section,
        "validation_set": {"systems": "calibration.xyz", "targets": ENERGY},
        **common,
    }
    options = _write(tmp_path / "llpr.yaml", llpr)
    assert main(["train", str(options), "-o", "llpr.pt"]) == 0
    capsys.readouterr()
    test = _write(tmp_path / "test.yaml", {"systems": "test.xyz", "targets": ENERGY})
    assert main(["eval", "llpr.pt", str(test)]) == 0
    line = re.search(
        r"energy_uncertainty: ([\d.]+) % of errors within ±1 sigma",
        capsys.readouterr().out,
    )
    assert line is not None and 0.0 < float(line.group(1)) <= 100.0
    calculator = MetatomicCalculator(
        "llpr.pt",
        additional_outputs={
            "energy_uncertainty": ModelOutput(unit="eV", sample_kind="system")
        },
    )
    sigmas = []
    for atoms in ase.io.read(tmp_path / "test.xyz", index=":4"):
        atoms.calc = calculator
        assert np.all(np.isfinite(atoms.get_forces()))
        uncertainty = calculator.additional_outputs["energy_uncertainty"]
        sigmas.append(float(uncertainty.block().values.detach()[0, 0]))
    assert all(s > 0 for s in sigmas) and len(set(sigmas)) == len(sigmas)
    members = calculator.run_model(
        atoms, {"energy_ensemble": ModelOutput(unit="eV", sample_kind="system")}
    )["energy_ensemble"]
    assert members.block().values.shape == (1, 4)
    spread = float(members.block().values.detach().std())
    assert 0.0 < spread < 100 * sigmas[-1]
