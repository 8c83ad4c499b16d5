"""``atomtrain train`` with ``long_range`` on periodic NaCl (energies, forces,
stress) for PET and SOAP-BPNN, then the exported model in ASE and ``atomtrain
eval``: the run of a user with an ionic crystal."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
import pytest
import yaml

from atomtrain.cli.main import main

NACL = Path(__file__).parents[2] / "examples" / "data" / "nacl_periodic.xyz"

MODELS = {
    "pet": {
        "d_pet": 8,
        "d_head": 8,
        "d_node": 8,
        "d_feedforward": 8,
        "num_heads": 2,
        "num_gnn_layers": 1,
        "cutoff": 4.0,
        "long_range": {"enable": True, "num_charges": 2},
    },
    "soap_bpnn": {
        "soap": {"max_angular": 2, "max_radial": 2, "cutoff": {"radius": 4.0}},
        "bpnn": {"num_neurons_per_layer": 8},
        "long_range": {"enable": True, "num_charges": 2},
    },
}


@pytest.mark.parametrize("architecture", sorted(MODELS))
def test_train_a_long_range_model_of_a_crystal_and_run_it(
    architecture, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    targets = {"energy": {"unit": "eV", "forces": "on", "stress": "on"}}
    options = {
        "architecture": {
            "name": architecture,
            "model": MODELS[architecture],
            "training": {"num_epochs": 1, "batch_size": 4},
        },
        "seed": 0,
        "training_set": {
            "systems": str(NACL),
            "targets": targets,
            "indices": list(range(12)),
        },
        "validation_set": {
            "systems": str(NACL),
            "targets": targets,
            "indices": [100, 101],
        },
        "test_set": 0.0,
    }
    Path("options.yaml").write_text(yaml.safe_dump(options))
    assert main(["train", "options.yaml", "-o", "model.pt"]) == 0
    assert "energy.stress" in capsys.readouterr().out

    from metatomic_ase import MetatomicCalculator

    atoms = ase.io.read(NACL, index=200)  # 64 atoms, unseen
    labels = atoms.get_stress()
    atoms.calc = MetatomicCalculator("model.pt")
    energy = atoms.get_potential_energy()
    assert np.isfinite(energy)
    assert atoms.get_forces().shape == (64, 3)
    assert atoms.get_stress().shape == labels.shape
    assert np.isfinite(atoms.get_stress()).all()

    section = {"systems": str(NACL), "targets": targets, "indices": [150, 250]}
    Path("eval.yaml").write_text(yaml.safe_dump(section))
    assert main(["eval", "model.pt", "eval.yaml"]) == 0
    assert "energy.stress.rmse" in capsys.readouterr().out
    # the checkpoint holds the long-range part: exported again, the same energies
    assert main(["export", "model.ckpt", "-o", "again.pt"]) == 0
    atoms.calc = MetatomicCalculator("again.pt")
    assert atoms.get_potential_energy() == pytest.approx(energy, rel=1e-6)
