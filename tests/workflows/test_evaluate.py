"""Evaluating an exported model on datasets: what it refuses before predicting."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from atomtrain.composition.model import CompositionModel
from atomtrain.data.loading import load_datasets
from atomtrain.errors import DataError
from atomtrain.options import validate_options
from atomtrain.workflows.evaluate import evaluate


def _dataset(resources: Path, tmp_path: Path, file: str, key: str):
    options = validate_options(
        {
            "architecture": {"name": "composition"},
            "training_set": {
                "systems": str(resources / file),
                "targets": {"energy": {"key": key, "unit": "eV", "forces": False}},
            },
            "validation_set": 0.0,
            "test_set": 0.0,
        },
        None,
        tmp_path,
    )
    return load_datasets(options).training[0]


def test_elements_the_model_does_not_know(resources: Path, tmp_path: Path) -> None:
    ethanol = _dataset(resources, tmp_path, "ethanol_reduced_100.xyz", "energy")
    model = CompositionModel({}, ethanol.info).to(torch.float64).export()
    qm9 = _dataset(resources, tmp_path, "qm9_reduced_100.xyz", "U0")
    with pytest.raises(DataError) as error:
        evaluate(model, qm9)
    message = str(error.value)
    assert "qm9_reduced_100.xyz': structures 1, 4, 9, 11, 18 (and 31 more)" in message
    assert "element N (atomic number 7) is not among the model's atomic types: " in (
        message
    )
    assert "H, C, O (1, 6, 8)" in message
    assert evaluate(model, qm9.subset([0, 2, 3])).metrics
