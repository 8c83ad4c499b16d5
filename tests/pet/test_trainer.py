"""The PET trainer: random rotations and reflections of structures and labels, training
through the shared engine, and ``atomtrain train`` on ethanol and carbon."""

from __future__ import annotations

import contextlib
import csv
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import ase.io
import numpy as np
import pytest
import torch
import yaml
from metatomic_ase import MetatomicCalculator
from pet_helpers import ENERGY, frame_structure, tiny_hypers

from atomtrain.architectures.hypers import get_defaults
from atomtrain.cli.main import main
from atomtrain.data.dataset import InMemoryDataset
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.data.structure import TargetData
from atomtrain.pet import PET, Trainer
from atomtrain.pet.trainer import RandomOrientation, invert
from atomtrain.training.baseline import fit_output_scales
from atomtrain.training.hypers import base_trainer_defaults

DIPOLE = TargetInfo(kind="cartesian", rank=1, unit="D")
POLARIZABILITY = TargetInfo(kind="cartesian", rank=2)


def labelled(atoms):
    """A structure with forces, a stress-like strain gradient, a vector and a rank-2
    tensor all built from its own geometry, so that each transforms as it must."""
    positions = torch.tensor(atoms.positions)
    centred = positions - positions.mean(dim=0)
    dipole = centred.sum(dim=0).reshape(1, 3, 1)
    tensor = (centred.T @ centred).reshape(1, 3, 3, 1)
    labels = {
        "energy": TargetData(
            [torch.zeros((1, 1), dtype=torch.float64)],
            {
                "positions": centred[..., None],
                "strain": (centred.T @ centred)[..., None],
            },
        ),
        "mtt::dipole": TargetData([dipole]),
        "mtt::polarizability": TargetData([tensor]),
    }
    return frame_structure(atoms, labels)


def test_orientations_transform_structures_and_labels_consistently(resources):
    atoms = ase.io.read(resources / "ethanol_reduced_100.xyz", "0")
    structure = labelled(atoms)
    infos = {
        "energy": ENERGY,
        "mtt::dipole": DIPOLE,
        "mtt::polarizability": POLARIZABILITY,
    }
    transform = RandomOrientation(infos, {}, rotations=True, reflections=True)
    determinants = []
    for seed in range(40):
        moved = transform(structure, torch.Generator().manual_seed(seed))
        again = transform(structure, torch.Generator().manual_seed(seed))
        torch.testing.assert_close(moved.positions, again.positions)
        # the labels were built from the geometry: rebuilding them from the moved
        # geometry must give the moved labels
        expected = labelled(atoms.copy()).targets
        rebuilt = labelled(_with_positions(atoms, moved.positions)).targets
        for name in expected:
            for got, want in zip(moved.targets[name].blocks, rebuilt[name].blocks):
                torch.testing.assert_close(got, want)
            for key, got in moved.targets[name].gradients.items():
                torch.testing.assert_close(got, rebuilt[name].gradients[key])
        transformation = torch.linalg.lstsq(
            structure.positions, moved.positions
        ).solution
        determinants.append(float(torch.linalg.det(transformation)))
    signs = np.sign(determinants)
    assert np.allclose(np.abs(determinants), 1.0)
    assert 5 < (signs < 0).sum() < 35  # reflections about half of the time


def _with_positions(atoms, positions):
    moved = atoms.copy()
    moved.positions = positions.numpy()
    return moved


def test_inversion_keeps_the_cell_consistent(resources):
    atoms = ase.io.read(resources / "carbon_reduced_100.xyz", "1")
    structure = frame_structure(atoms, {})
    inverted = invert(structure, {})
    torch.testing.assert_close(inverted.cell, -structure.cell)
    # fractional coordinates, hence the cached neighbour topology, are unchanged
    fractional = torch.linalg.solve(structure.cell.T, structure.positions.T)
    torch.testing.assert_close(
        torch.linalg.solve(inverted.cell.T, inverted.positions.T), fractional
    )


def test_augmentation_can_be_turned_off(ethanol):
    off = {"random_rotations": False, "random_reflections": False}
    trainer = Trainer({**get_defaults("pet")["training"], **off})
    trainer.before_training(PET(tiny_hypers(), ethanol.info), [ethanol], ethanol.info)
    assert trainer.transform_structure() is None


def per_atom_energy_scale(model, dataset, name: str = "energy") -> float:
    """Root mean square of the per-atom residual energies (the fitted scale)."""
    baseline = model.composition_baseline
    residuals = [
        float(s.targets[name].blocks[0] - baseline.contributions(s.types, name))
        / len(s)
        for s in dataset
    ]
    return float(np.sqrt(np.mean(np.square(residuals))))


def test_output_scales_are_fitted_once_and_new_heads_get_theirs(ethanol):
    model = PET(tiny_hypers(), ethanol.info)
    first = ethanol.subset(range(10))
    model.composition_baseline.fit([first])
    fit_output_scales(model, [first], ethanol.info.targets, model.composition_baseline)
    expected = per_atom_energy_scale(model, first)
    assert float(model.output_scaler.scale("energy")) == pytest.approx(expected)
    # a restart or fine-tune on other data keeps the scale the weights were
    # trained with; a new head (energy/pbe labels) gets its own
    model.restart(DatasetInfo(atomic_types=[1, 6, 8], targets={"energy/pbe": ENERGY}))
    other = InMemoryDataset(
        [
            replace(s, targets={"energy/pbe": s.targets["energy"]})
            for s in ethanol.subset(range(50, 90))
        ],
        model.dataset_info,
        [ethanol.origin(i) for i in range(50, 90)],
    )
    model.composition_baseline.fit([other])
    fit_output_scales(
        model, [other], model.dataset_info.targets, model.composition_baseline
    )
    assert float(model.output_scaler.scale("energy")) == pytest.approx(expected)
    assert float(model.output_scaler.scale("energy/pbe")) == pytest.approx(
        per_atom_energy_scale(model, other, "energy/pbe")
    )


@pytest.mark.slow
def test_training_through_the_engine_lowers_the_loss(ethanol, tmp_path):
    # 100 steps on ten structures (without augmentation, so that the fit itself is
    # tested); the output scale is fitted first, to the per-atom residual energies
    torch.manual_seed(0)
    model = PET(tiny_hypers(num_gnn_layers=1, num_attention_layers=1), ethanol.info)
    hypers = {
        **base_trainer_defaults(),
        "num_epochs": 100,
        "batch_size": 10,
        "learning_rate": 1e-2,
        "warmup_fraction": 0.0,
        "random_rotations": False,
        "random_reflections": False,
    }
    train, val = ethanol.subset(range(10)), ethanol.subset(range(80, 90))
    with single_thread():
        Trainer(hypers).train(
            model, torch.float32, [torch.device("cpu")], [train], [val], tmp_path
        )
    with open(tmp_path / "train.csv") as file:
        rows = [row for row in csv.DictReader(file) if row["epoch"].isdigit()]
    losses = [float(row["train.loss"]) for row in rows]
    assert len(losses) == 100
    assert losses[-1] < 0.5 * losses[0]
    assert model.composition_baseline.active
    assert float(model.output_scaler.scale("energy")) == pytest.approx(
        per_atom_energy_scale(model, train)
    )


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Tiny tensors: one thread avoids contention between the pool's threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _options(path: Path, data: Path, targets: dict) -> Path:
    model = {
        k: v for k, v in tiny_hypers().items() if k in ("d_pet", "d_head", "d_node")
    }
    model.update(d_feedforward=32, num_heads=2, num_radial=6, cutoff=3.5)
    options = {
        "architecture": {
            "name": "pet",
            "model": model,
            "training": {"num_epochs": 2, "batch_size": 8, "learning_rate": 1e-3},
        },
        "seed": 3,
        "training_set": {"systems": str(data), "targets": targets},
        "validation_set": 0.1,
        "test_set": 0.1,
    }
    path.write_text(yaml.safe_dump(options))
    return path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "targets"),
    [
        ("ethanol_reduced_100.xyz", {"energy": {"unit": "kcal/mol"}}),
        (
            "carbon_reduced_100.xyz",
            {
                "energy": {
                    "unit": "eV",
                    "forces": {"key": "force"},
                    "virial": {"key": "virial"},
                }
            },
        ),
    ],
)
def test_atomtrain_train_gives_a_model_that_runs_in_ase(
    resources, tmp_path, monkeypatch, name, targets
):
    monkeypatch.chdir(tmp_path)
    data = resources / name
    options = _options(tmp_path / "options.yaml", data, targets)
    with single_thread():
        assert main(["train", str(options)]) == 0
    atoms = ase.io.read(data, "1")
    atoms.calc = MetatomicCalculator(str(tmp_path / "model.pt"), device="cpu")
    forces = atoms.get_forces()
    assert forces.shape == (len(atoms), 3) and np.all(np.isfinite(forces))
    if atoms.pbc.any():
        assert np.all(np.isfinite(atoms.get_stress()))


def test_inversion_flips_each_irrep_by_its_parity(resources):
    atoms = ase.io.read(resources / "carbon_reduced_100.xyz", "1")
    structure = frame_structure(atoms, {})
    irreps = ((0, 1), (1, 1), (1, -1), (2, 1), (2, -1))
    info = TargetInfo(kind="spherical", irreps=irreps)
    blocks = [torch.ones(1, 2 * lam + 1, 1, dtype=torch.float64) for lam, _ in irreps]
    labelled = replace(structure, targets={"mtt::t": TargetData(blocks, {})})
    inverted = invert(labelled, {"mtt::t": info}).targets["mtt::t"].blocks
    assert [float(b.flatten()[0]) for b in inverted] == [1.0, -1.0, 1.0, 1.0, -1.0]
