"""Predictions files list the structures in the order of the dataset, whatever the
order in which the batches were packed."""

from __future__ import annotations

from pathlib import Path

import ase.io
import metatensor.torch as mts
import numpy as np
import torch

from atomtrain.composition.model import CompositionModel
from atomtrain.data.loading import load_datasets
from atomtrain.options import validate_options
from atomtrain.workflows.evaluate import evaluate
from atomtrain.workflows.predictions import write_predictions


def test_structures_keep_the_dataset_order(resources: Path, tmp_path: Path) -> None:
    data = resources / "qm9_reduced_100.xyz"
    options = validate_options(
        {
            "architecture": {"name": "composition"},
            "training_set": {
                "systems": str(data),
                "targets": {"energy": {"key": "U0", "unit": "hartree"}},
                "indices": list(range(10)),
            },
            "validation_set": 0.0,
            "test_set": 0.0,
        },
        None,
        tmp_path,
    )
    dataset = load_datasets(options).training[0]
    model = CompositionModel({}, dataset.info).to(torch.float64)
    # batches of at most 4 of 10 structures are packed round-robin: 0, 3, 6, 9 ...
    evaluation = evaluate(model.export(), dataset, batch_size=4)
    assert [int(i) for i in evaluation.batches[0].indices] != [0, 1, 2, 3]

    write_predictions(evaluation, tmp_path / "predictions.xyz")
    frames = ase.io.read(tmp_path / "predictions.xyz", ":")
    reference = ase.io.read(data, ":10")
    for predicted, expected in zip(frames, reference, strict=True):
        assert predicted.get_chemical_symbols() == expected.get_chemical_symbols()
        np.testing.assert_allclose(predicted.positions, expected.positions)

    (written,) = write_predictions(evaluation, tmp_path / "predictions.mts")
    energies = mts.load(str(written))
    systems = energies.block().samples.column("system").tolist()
    values = energies.block().values[:, 0].tolist()
    by_system = dict(zip(systems, values))
    assert sorted(by_system) == list(range(10))
    for index, atoms in enumerate(frames):
        assert by_system[index] == atoms.get_potential_energy()
