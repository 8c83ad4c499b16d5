"""Reading exported models: every file that is not one is named, with what it is."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from atomtrain.checkpoints import new_checkpoint, write_checkpoint_file
from atomtrain.composition.model import CompositionModel
from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import UserError
from atomtrain.workflows.exported import EXPORTED_MODEL, load_exported_model


def _not_a_model(path: Path, what: str) -> None:
    with pytest.raises(UserError) as error:
        load_exported_model(path)
    assert str(error.value) == f"'{path}' is not {EXPORTED_MODEL}: {what}"


def test_an_exported_model_loads(tmp_path: Path) -> None:
    info = DatasetInfo(atomic_types=[1, 8], targets={"energy": TargetInfo("energy")})
    model = CompositionModel({}, info).to(torch.float64).export()
    model.save(str(tmp_path / "model.pt"))
    loaded = load_exported_model(tmp_path / "model.pt")
    assert list(loaded.capabilities().atomic_types) == [1, 8]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"model file '.*nothing.pt' does not exist"):
        load_exported_model(tmp_path / "nothing.pt")
    _not_a_model(tmp_path, "it is a directory")


def test_text_and_random_bytes(tmp_path: Path) -> None:
    (tmp_path / "options.yaml").write_text("training_set: data.xyz\n")
    _not_a_model(tmp_path / "options.yaml", "it is a text file")
    (tmp_path / "noise.pt").write_bytes(bytes(range(256)) * 8)
    _not_a_model(
        tmp_path / "noise.pt", "it holds binary data that is not a TorchScript archive"
    )


def test_files_written_by_torch_save(tmp_path: Path) -> None:
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    _not_a_model(
        tmp_path / "tensor.pt",
        "it holds a tensor saved with torch.save, not a TorchScript model",
    )
    torch.save({"weight": torch.ones(2)}, tmp_path / "state.pt")
    _not_a_model(
        tmp_path / "state.pt",
        "it holds a dict saved with torch.save, not a TorchScript model",
    )
    write_checkpoint_file(new_checkpoint("composition", 1), tmp_path / "model.ckpt")
    _not_a_model(
        tmp_path / "model.ckpt",
        f"it is an atomtrain checkpoint; run 'atomtrain export {tmp_path}/model.ckpt' "
        "first and evaluate the exported .pt file",
    )


def test_torchscript_that_is_not_a_metatomic_model(tmp_path: Path) -> None:
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "linear.pt")
    _not_a_model(
        tmp_path / "linear.pt", "it is a TorchScript file without a metatomic model"
    )
