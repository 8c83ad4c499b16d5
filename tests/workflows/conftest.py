"""Fixtures of the workflow tests: a small exported model beside its data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
import yaml

from atomtrain.composition.model import CompositionModel
from atomtrain.data.loading import load_datasets
from atomtrain.options import validate_options
from atomtrain.workflows.models import save_exported


@pytest.fixture
def composition_model(resources: Path, tmp_path: Path, monkeypatch) -> Path:
    """A composition model of ethanol energies (kcal/mol) exported in ``tmp_path``,
    with ``ethanol.xyz`` and ``eval.yaml`` (energy and forces) beside it: its forces
    are zero, so that each structure's force errors are those of zero forces."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(resources / "ethanol_reduced_100.xyz", "ethanol.xyz")
    section = {
        "systems": "ethanol.xyz",
        "targets": {"energy": {"unit": "kcal/mol", "forces": "on"}},
    }
    options = validate_options(
        {
            "architecture": {"name": "composition"},
            "training_set": {**section, "indices": list(range(20))},
            "validation_set": 0.0,
            "test_set": 0.0,
        },
        None,
        tmp_path,
    )
    dataset = load_datasets(options).training[0]
    model = CompositionModel({}, dataset.info).to(torch.float64)
    model.composition_baseline.fit([dataset])
    save_exported(model.export(), tmp_path / "model.pt", None, None)
    Path("eval.yaml").write_text(yaml.safe_dump({**section, "indices": [3, 1, 7]}))
    return tmp_path / "model.pt"
