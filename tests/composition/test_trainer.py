import logging

import pytest
import torch

from atomtrain.checkpoints import read_checkpoint_file
from atomtrain.composition import CompositionModel, Trainer
from atomtrain.composition.trainer import validation_rmse
from atomtrain.errors import DataError

CPU = [torch.device("cpu")]


def test_train_fits_in_one_solve_and_logs_the_validation_rmse(ethanol, caplog):
    train, validation = ethanol.subset(range(80)), ethanol.subset(range(80, 100))
    model = CompositionModel({}, ethanol.info)
    with caplog.at_level(logging.INFO, logger="atomtrain.composition.trainer"):
        Trainer({"atomic_baseline": {}}).train(
            model, torch.float32, CPU, [train], [validation], ""
        )
    assert model.dtype_probe.dtype == torch.float32
    train_labels = torch.cat([s.targets["energy"].blocks[0] for s in train])
    val_labels = torch.cat([s.targets["energy"].blocks[0] for s in validation])
    # one composition: the fit predicts the training mean for every structure
    expected = float(torch.sqrt(((val_labels - train_labels.mean()) ** 2).mean()))
    assert validation_rmse(model, [validation], "energy") == pytest.approx(
        expected, rel=1e-9
    )
    assert "composition energy: validation RMSE" in caplog.text
    assert "kcal/mol" in caplog.text


def test_atomic_baseline_fixes_weights(ethanol):
    model = CompositionModel({}, ethanol.info)
    hypers = {"atomic_baseline": {"energy": {1: -300.0, 8: -47000.0}}}
    Trainer(hypers).train(model, torch.float64, CPU, [ethanol], [ethanol], "")
    weights = model.composition_baseline.target_weights("energy")[:, 0]
    assert weights[0] == -300.0
    assert weights[2] == -47000.0
    labels = torch.cat([s.targets["energy"].blocks[0] for s in ethanol])
    # carbon (2 per molecule) takes what remains of the mean energy
    assert float(weights[1]) == pytest.approx(
        (float(labels.mean()) + 6 * 300 + 47000) / 2
    )


def test_validation_structures_with_unknown_types_are_named(
    ethanol, make_dataset, resources, qm9_frames
):
    model = CompositionModel({}, ethanol.info)
    path = resources / "qm9_reduced_100.xyz"
    qm9 = make_dataset(
        path, {"energy": lambda a: [[a.info["U0"]]]}, ethanol.info.targets, qm9_frames
    )
    with pytest.raises(
        DataError, match=r"qm9_reduced_100\.xyz', structure \d+: atomic type 7"
    ):
        Trainer({"atomic_baseline": {}}).train(
            model, torch.float64, CPU, [ethanol], [qm9], ""
        )


def test_only_composition_models_are_trained(ethanol):
    with pytest.raises(TypeError, match="trains CompositionModel, not"):
        Trainer({"atomic_baseline": {}}).train(
            object(), torch.float64, CPU, [ethanol], [], ""
        )  # type: ignore[arg-type]


def test_save_checkpoint_adds_the_trainer_section(ethanol, tmp_path):
    model = CompositionModel({}, ethanol.info)
    hypers = {"atomic_baseline": {"energy": {1: -300.0}}}
    trainer = Trainer(hypers)
    trainer.train(model, torch.float64, CPU, [ethanol], [ethanol], "")
    trainer.save_checkpoint(model, tmp_path / "model.ckpt")
    checkpoint = Trainer.upgrade_checkpoint(
        read_checkpoint_file(tmp_path / "model.ckpt")
    )
    assert checkpoint["architecture_name"] == "composition"
    assert checkpoint["trainer_checkpoint_version"] == Trainer.__checkpoint_version__
    assert checkpoint["trainer"]["hypers"] == hypers
    for context in ("restart", "finetune"):
        restored = Trainer.load_checkpoint(
            checkpoint, checkpoint["trainer"]["hypers"], context
        )
        assert restored.hypers == hypers
    with pytest.raises(ValueError, match="unknown checkpoint context 'export'"):
        Trainer.load_checkpoint(checkpoint, hypers, "export")  # type: ignore[arg-type]


def test_a_checkpoint_without_trainer_needs_no_trainer_upgrade(ethanol):
    checkpoint = CompositionModel({}, ethanol.info).get_checkpoint()
    assert Trainer.upgrade_checkpoint(checkpoint) is checkpoint
