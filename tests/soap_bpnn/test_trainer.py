"""The SOAP-BPNN trainer: the shared engine trains the model on real ethanol data."""

import csv
from pathlib import Path

import torch
import yaml
from soap_helpers import RESOURCES, tiny_model

from atomtrain.checkpoints import read_checkpoint_file
from atomtrain.soap_bpnn import SoapBpnn, Trainer
from atomtrain.training.hypers import base_trainer_defaults


def test_a_few_epochs_lower_the_energy_and_force_losses(ethanol, tmp_path: Path):
    hypers = base_trainer_defaults()
    hypers.update(num_epochs=5, batch_size=10, learning_rate=1e-2, warmup_fraction=0.0)
    model = tiny_model(ethanol)
    trainer = Trainer(hypers)  # type: ignore[arg-type]
    trainer.train(
        model,
        torch.float64,
        [torch.device("cpu")],
        [ethanol.subset(range(60))],
        [ethanol.subset(range(60, 80))],
        tmp_path,
    )
    with (tmp_path / "train.csv").open() as file:
        rows = list(csv.DictReader(file))[1:]
    assert len(rows) == 5
    assert float(rows[-1]["train.loss"]) < 0.8 * float(rows[0]["train.loss"])
    assert float(rows[-1]["val.loss"]) < float(rows[0]["val.loss"])
    assert model.composition_baseline.active
    assert "val.energy.forces.rmse" in rows[0]

    trainer.save_checkpoint(model, tmp_path / "final.ckpt")
    checkpoint = read_checkpoint_file(tmp_path / "final.ckpt")
    assert checkpoint["architecture_name"] == "soap_bpnn"
    restored = SoapBpnn.load_checkpoint(checkpoint, context="restart")
    resumed = Trainer.load_checkpoint(checkpoint, hypers, context="restart")  # type: ignore[arg-type]
    assert resumed.state is not None
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(restored.state_dict()[name], tensor.cpu())


def test_an_options_file_without_precision_trains_in_float32(tmp_path: Path, capsys):
    """The reference implementation trains SOAP-BPNN in float32 when the options
    file names no precision: the same file gives the same precision here."""
    from atomtrain.cli.main import main

    options = {
        "architecture": {
            "name": "soap_bpnn",
            "model": {"soap": {"max_radial": 2, "max_angular": 2}},
            "training": {"num_epochs": 1, "batch_size": 10},
        },
        "training_set": {
            "systems": str(RESOURCES / "ethanol_reduced_100.xyz"),
            "targets": {"energy": {"unit": "kcal/mol"}},
            "indices": list(range(20)),
        },
        "validation_set": 0.1,
        "test_set": 0.0,
    }
    path = tmp_path / "options.yaml"
    path.write_text(yaml.safe_dump(options))
    output = tmp_path / "model.pt"
    command = ["train", str(path), "-o", str(output), "-e", str(tmp_path / "ext")]
    assert main([*command, "--outputs", str(tmp_path / "outputs")]) == 0
    assert "training soap_bpnn: " in capsys.readouterr().out
    summary = next((tmp_path / "outputs").glob("*/*/train.log")).read_text()
    assert " on cpu in float32" in summary
