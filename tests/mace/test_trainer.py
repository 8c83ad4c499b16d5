"""The MACE trainer: ``mace_run_train``'s choices (average number of neighbours,
force scale, weight decay and AMSGrad) on the shared engine, and ``atomtrain train``
on ethanol through to a model that runs in ASE."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any, Dict, Iterator

import ase.io
import ase.units
import numpy as np
import pytest
import torch
import yaml
from ase.neighborlist import neighbor_list
from mace_helpers import structure_of, tiny_hypers
from metatomic_ase import MetatomicCalculator

from atomtrain.architectures.checkpoints import load_model
from atomtrain.architectures.hypers import get_defaults
from atomtrain.checkpoints import read_checkpoint_file
from atomtrain.cli.main import main
from atomtrain.mace import MACE, Trainer
from atomtrain.testing.probe import Probe


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids contention between the pool's threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _train(model: MACE, ethanol, directory: Path, **hypers: Any) -> None:
    settings = get_defaults("mace")["training"]
    settings.update({"num_epochs": 1, "batch_size": 5, **hypers})
    train, val = ethanol.subset(range(10)), ethanol.subset(range(80, 85))
    with single_thread():
        Trainer(settings).train(
            model, torch.float32, [torch.device("cpu")], [train], [val], directory
        )


def test_neighbours_and_force_scale_come_from_the_training_set(
    ethanol, resources, tmp_path
):
    torch.manual_seed(0)
    model = MACE(tiny_hypers(), ethanol.info)
    _train(model, ethanol, tmp_path)
    frames = ase.io.read(resources / "ethanol_reduced_100.xyz", ":10")
    pairs = sum(len(neighbor_list("i", atoms, 4.0)) for atoms in frames)
    atoms = sum(len(atoms) for atoms in frames)
    for interaction in model.encoder.interactions:
        assert interaction.avg_num_neighbors == pytest.approx(pairs / atoms)
    forces = np.concatenate([atoms.get_forces() for atoms in frames])
    rms = float(np.sqrt(np.mean(forces**2)))
    assert float(model.output_scaler.scale("energy")) == pytest.approx(rms)
    # the count travels with the weights, the hypers stay as the user gave them
    checkpoint = model.get_checkpoint()["model"]
    assert checkpoint["hypers"]["avg_num_neighbors"] is None
    saved = checkpoint["state_dict"]["encoder.avg_num_neighbors"]
    assert saved.dtype == torch.float64 and float(saved) == pytest.approx(pairs / atoms)
    reloaded = MACE.load_checkpoint(model.get_checkpoint(), "restart")
    assert not reloaded.needs_avg_num_neighbors()
    for interaction in reloaded.encoder.interactions:
        assert interaction.avg_num_neighbors == float(saved)


def test_given_neighbour_count_and_fitted_scales_are_kept(ethanol, tmp_path):
    torch.manual_seed(0)
    model = MACE(tiny_hypers(avg_num_neighbors=3.5), ethanol.info)
    model.output_scaler.set_scales("energy", torch.tensor([2.0], dtype=torch.float64))
    _train(model, ethanol, tmp_path)
    assert float(model.encoder.avg_num_neighbors) == 3.5
    assert model.encoder.interactions[0].avg_num_neighbors == 3.5
    assert float(model.output_scaler.scale("energy")) == 2.0


def test_weight_decay_on_interaction_linears_and_products_with_amsgrad(ethanol):
    model = MACE(tiny_hypers(), ethanol.info)
    hypers = {**get_defaults("mace")["training"], "weight_decay": 1e-3}
    groups = Trainer({**hypers, "amsgrad": True}).parameter_groups(model)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = sorted(names[id(p)] for p in groups[0]["params"])
    others = sorted(names[id(p)] for p in groups[1]["params"])
    assert [g["weight_decay"] for g in groups] == [1e-3, 0.0]
    assert all(g["amsgrad"] for g in groups)
    assert "encoder.interactions.0.linear.weight" in decayed
    assert "encoder.products.1.linear.weight" in decayed
    assert "encoder.interactions.0.linear_up.weight" in others
    assert "encoder.node_embedding.linear.weight" in others
    assert any(name.startswith("heads.energy.") for name in others)
    assert len(decayed) + len(others) == len(names)


def test_training_lowers_the_loss(ethanol, tmp_path):
    torch.manual_seed(0)
    model = MACE(tiny_hypers(), ethanol.info)
    _train(model, ethanol, tmp_path, num_epochs=50, ema_decay=None)
    with open(tmp_path / "train.csv") as file:
        rows = [row for row in csv.DictReader(file) if row["epoch"].isdigit()]
    losses = [float(row["train.loss"]) for row in rows]
    assert len(losses) == 50
    assert losses[-1] < 0.5 * losses[0]


def _options(path: Path, data: Path, training: Dict[str, Any]) -> Path:
    options = {
        "architecture": {
            "name": "mace",
            "model": tiny_hypers(),
            "training": {"num_epochs": 2, "batch_size": 8, **training},
        },
        "seed": 3,
        "training_set": {
            "systems": str(data),
            "targets": {"energy": {"unit": "kcal/mol", "forces": {"key": "forces"}}},
        },
        "validation_set": 0.1,
        "test_set": 0.1,
    }
    path.write_text(yaml.safe_dump(options))
    return path


@pytest.mark.slow
def test_atomtrain_train_gives_a_model_that_runs_in_ase(
    resources, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    data = resources / "ethanol_reduced_100.xyz"
    with single_thread():
        assert main(["train", str(_options(tmp_path / "options.yaml", data, {}))]) == 0
    atoms = ase.io.read(data, "1")
    atoms.calc = MetatomicCalculator(str(tmp_path / "model.pt"), device="cpu")
    # the exported model computes what the checkpoint's model computes, in eV
    model = load_model(tmp_path / "model.ckpt", "export")
    probe = Probe(
        model.to(torch.float64), {"energy": model.dataset_info.targets["energy"]}
    )
    energy, leaves = probe.energy_and_gradients(structure_of(atoms, {}))
    assert leaves.positions.grad is not None
    kcal_per_mol = ase.units.kcal / ase.units.mol
    assert atoms.get_potential_energy() == pytest.approx(
        float(energy) * kcal_per_mol, rel=1e-6
    )
    np.testing.assert_allclose(
        atoms.get_forces(),
        -leaves.positions.grad.numpy() * kcal_per_mol,
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.slow
def test_finetuning_the_readouts_alone_and_lora_refused(
    resources, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    data = resources / "ethanol_reduced_100.xyz"
    with single_thread():
        assert main(["train", str(_options(tmp_path / "options.yaml", data, {}))]) == 0
        # without the moving average, whose rounding moves frozen weights by 1e-7
        heads = {
            "finetune": {"read_from": "model.ckpt", "method": "heads"},
            "ema_decay": None,
        }
        options = _options(tmp_path / "heads.yaml", data, heads)
        assert main(["train", str(options), "-o", "heads.pt"]) == 0
    before = read_checkpoint_file(tmp_path / "model.ckpt")["model"]["state_dict"]
    after = read_checkpoint_file(tmp_path / "heads.ckpt")["model"]["state_dict"]
    for name, value in before.items():
        if name.startswith("encoder."):
            torch.testing.assert_close(after[name], value, rtol=0, atol=0)
    changed = [
        n
        for n in before
        if n.startswith("heads.") and not torch.equal(before[n], after[n])
    ]
    assert changed
    capsys.readouterr()
    lora = {"finetune": {"read_from": "model.ckpt", "method": "lora"}}
    options = _options(tmp_path / "lora.yaml", data, lora)
    assert main(["train", str(options), "-o", "lora.pt"]) == 1
    error = capsys.readouterr().err
    assert (
        "error: architecture.training.finetune.method 'lora' adapts torch.nn.Linear "
        "layers, and this MACE model has none" in error
    )
    assert "fine-tune it with method 'full' or 'heads'" in error
