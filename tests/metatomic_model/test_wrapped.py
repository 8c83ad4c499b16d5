"""Reading the exported model: each bad input is an error naming the file and what
is missing, raised when the model is built (before a run directory exists)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest
import torch
from handmade import export_handmade
from metatomic.torch import ModelOutput

from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import UserError
from atomtrain.metatomic_model.model import MetatomicModel
from atomtrain.metatomic_model.wrapped import (
    WrappedModelError,
    archive_tensor,
    tensor_archive,
)

ENERGY = TargetInfo(quantity="energy", unit="kcal/mol", gradients=("positions",))


def hypers(path: Path | str, **changes: Any) -> Dict[str, Any]:
    return {"path": str(path), "extensions": None, "trainable": ["*"], **changes}


def info(types: Tuple[int, ...] = (1, 6, 8), **targets: TargetInfo) -> DatasetInfo:
    return DatasetInfo(atomic_types=list(types), targets=targets or {"energy": ENERGY})


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent.pt"
    with pytest.raises(
        WrappedModelError,
        match=r"architecture.model.path: '.*absent.pt' does not exist",
    ):
        MetatomicModel(hypers(missing), info())


def test_no_path_is_an_error() -> None:
    with pytest.raises(UserError, match=r"architecture.model.path: give the exported"):
        MetatomicModel({"path": None, "extensions": None, "trainable": ["*"]}, info())


def test_a_pickle_is_not_a_metatomic_model(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(
        WrappedModelError, match=r"'.*weights.pt' is not a metatomic model"
    ):
        MetatomicModel(hypers(path), info())


def test_a_plain_torchscript_module_is_not_a_metatomic_model(tmp_path: Path) -> None:
    path = tmp_path / "linear.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(
        WrappedModelError, match=r"'.*linear.pt' is not a metatomic model"
    ):
        MetatomicModel(hypers(path), info())


def test_a_missing_extension_is_named(tmp_path: Path, handmade_file: Path) -> None:
    """A model whose code calls an operation of an extension that is not loaded
    (the operation ``atomtrain_absent::device`` put into the hand-made model's
    code)."""
    path = tmp_path / "needs_extension.pt"
    with zipfile.ZipFile(handmade_file) as source, zipfile.ZipFile(path, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith("code/__torch__/handmade.py"):
                data = data.replace(
                    b"ops.prim.device(energies)",
                    b"ops.atomtrain_absent.device(energies)",
                )
            out.writestr(item, data)
    with pytest.raises(
        WrappedModelError,
        match=(
            r"needs a TorchScript extension that is not loaded \(set "
            r"architecture.model.extensions\)"
        ),
    ):
        MetatomicModel(hypers(path), info())
    with pytest.raises(
        WrappedModelError,
        match=r"architecture.model.extensions: '.*nowhere' is not a directory",
    ):
        MetatomicModel(hypers(path, extensions=str(tmp_path / "nowhere")), info())


def test_a_model_without_energy_is_refused(tmp_path: Path) -> None:
    path = export_handmade(
        tmp_path / "features.pt",
        [1, 6, 8],
        outputs={
            "mtt::aux::energy_last_layer_features": ModelOutput(sample_kind="atom")
        },
    )
    with pytest.raises(
        WrappedModelError,
        match=(
            r"'.*features.pt' has no 'energy' output \(it computes "
            r"'mtt::aux::energy_last_layer_features'\)"
        ),
    ):
        MetatomicModel(hypers(path), info())


def test_elements_outside_the_model_are_named(handmade_file: Path) -> None:
    with pytest.raises(
        WrappedModelError,
        match=r"has no atomic type for Si \(14\) of the dataset; it knows \[1, 6, 8\]",
    ):
        MetatomicModel(hypers(handmade_file), info((1, 6, 8, 14)))


def test_targets_the_model_cannot_compute_are_named(handmade_file: Path) -> None:
    dipole = TargetInfo(kind="cartesian", rank=1)
    with pytest.raises(
        WrappedModelError,
        match=(
            r"cannot compute the target\(s\) 'mtt::dipole' of the "
            r"dataset; it computes 'energy', "
            r"'mtt::aux::energy_last_layer_features'"
        ),
    ):
        MetatomicModel(
            hypers(handmade_file), info(energy=ENERGY, **{"mtt::dipole": dipole})
        )


def test_units_that_do_not_convert_are_named(handmade_file: Path) -> None:
    wrong = TargetInfo(quantity="energy", unit="angstrom", gradients=("positions",))
    with pytest.raises(
        WrappedModelError,
        match=(
            r"the model's 'energy' is in 'eV', which does not convert to "
            r"the unit 'angstrom' of the target 'energy'"
        ),
    ):
        MetatomicModel(hypers(handmade_file), info(energy=wrong))


def test_a_length_unit_that_does_not_convert_is_refused(handmade_file: Path) -> None:
    seconds = DatasetInfo(
        length_unit="s", atomic_types=[1, 6, 8], targets={"energy": ENERGY}
    )
    with pytest.raises(
        WrappedModelError,
        match=r"works in 'angstrom', which does not convert to the dataset's length "
        r"unit 's'",
    ):
        MetatomicModel(hypers(handmade_file), seconds)


def test_a_trainable_pattern_matching_nothing_is_named(handmade_file: Path) -> None:
    with pytest.raises(
        WrappedModelError,
        match=(
            r"architecture.model.trainable: 'heads.\*' match\(es\) no "
            r"parameter of the model; its parameters are named like "
            r"'species'"
        ),
    ):
        MetatomicModel(hypers(handmade_file, trainable=["last.*", "heads.*"]), info())


def test_the_archive_survives_a_tensor_round_trip(handmade_file: Path) -> None:
    data = handmade_file.read_bytes()
    tensor = archive_tensor(data)
    assert tensor.dtype == torch.uint8 and tensor.numel() == len(data)
    assert tensor_archive(tensor) == data
