"""Models read from checkpoints: a damaged content names the file and what is wrong."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, Dict

import pytest
import torch

from atomtrain.architectures.checkpoints import load_model, read_checkpoint
from atomtrain.checkpoints import CheckpointContentError, read_checkpoint_file
from atomtrain.pet.model import PET

Edit = Callable[[Dict[str, Any]], None]


@pytest.fixture
def pet_checkpoint(resources: Path) -> Dict[str, Any]:
    return read_checkpoint_file(
        resources / "checkpoints" / "pet-model-v3-trainer-v1.ckpt"
    )


def _damaged(checkpoint: Dict[str, Any], edit: Edit, path: Path) -> Path:
    damaged = copy.deepcopy(checkpoint)
    edit(damaged)
    torch.save(damaged, path)
    return path


def _weights(checkpoint: Dict[str, Any]) -> Dict[str, torch.Tensor]:
    return checkpoint["model"]["state_dict"]


def test_an_intact_checkpoint_loads(pet_checkpoint, resources: Path) -> None:
    path = resources / "checkpoints" / "pet-model-v3-trainer-v1.ckpt"
    assert isinstance(load_model(path, "export"), PET)
    assert read_checkpoint(path)[0]["model"]["hypers"]["cutoff"] == 4.0


def test_invalid_hypers_name_the_file_and_the_key(pet_checkpoint, tmp_path) -> None:
    def negative_cutoff(checkpoint: Dict[str, Any]) -> None:
        checkpoint["model"]["hypers"]["cutoff"] = -1.0
        checkpoint["model"]["hypers"]["cutoff_function"] = "Step"

    path = _damaged(pet_checkpoint, negative_cutoff, tmp_path / "pet.ckpt")
    with pytest.raises(CheckpointContentError) as error:
        read_checkpoint(path)
    assert str(error.value) == (
        f"checkpoint '{path}': its model hypers are invalid for 'pet' (the file is "
        "damaged or was edited):\n"
        "  - model.hypers.cutoff: expected a number > 0 (got -1.0)\n"
        "  - model.hypers.cutoff_function: expected one of 'Cosine', 'Bump' "
        "(got 'Step')"
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: _weights(c).pop("encoder.species.weight"),
            "'model.state_dict' do not fit the model built from its hypers (the file "
            "is damaged or was edited): missing tensor 'encoder.species.weight'",
        ),
        (
            lambda c: _weights(c).update(extra=torch.zeros(2)),
            "'model.state_dict' do not fit the model built from its hypers (the file "
            "is damaged or was edited): unexpected tensor 'extra'",
        ),
        (
            lambda c: c["trainer"]["state"]["best_model_state_dict"].update(
                {"encoder.species.weight": torch.zeros(3, 5)}
            ),
            "'trainer.state.best_model_state_dict' do not fit the model built from "
            "its hypers (the file is damaged or was edited): 'encoder.species.weight' "
            "has shape [3, 5] where the model has [3, 24]",
        ),
        (
            lambda c: c.update(model_checkpoint_version=-2),
            "its entry 'model_checkpoint_version' is -2, but the model of 'pet' has "
            "versions 1 to 10 only",
        ),
    ],
)
def test_damaged_tensors_and_versions(
    pet_checkpoint, tmp_path: Path, edit: Edit, message: str
) -> None:
    path = _damaged(pet_checkpoint, edit, tmp_path / "pet.ckpt")
    for context in ("export", "restart", "finetune"):
        with pytest.raises(CheckpointContentError) as error:
            load_model(path, context)
        assert str(error.value).startswith(f"checkpoint '{path}': ")
        assert message in str(error.value)
