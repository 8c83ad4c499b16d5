from pathlib import Path

import pytest
import torch

from atomtrain.checkpoints import (
    CheckpointContentError,
    CheckpointError,
    CheckpointVersionError,
    check_weights,
    in_checkpoint,
    load_weights,
)
from atomtrain.checkpoints.content import weight_problems
from atomtrain.errors import UserError


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1))


def test_weights_of_the_same_model_fit() -> None:
    model = _model()
    assert weight_problems(model.state_dict(), _model().state_dict()) == []
    other = _model()
    load_weights(other, model.state_dict(), "model.state_dict")
    torch.testing.assert_close(other[0].weight, model[0].weight)


def test_missing_unexpected_and_reshaped_tensors_are_listed() -> None:
    expected = _model().state_dict()
    stored = dict(expected)
    del stored["0.bias"]
    stored["2.weight"] = torch.zeros(1)
    stored["1.weight"] = torch.zeros(2, 4)
    stored["1.bias"] = [0.0]
    assert weight_problems(expected, stored) == [
        "missing tensor '0.bias'",
        "unexpected tensor '2.weight' (the model has no such tensor)",
        "'1.weight' has shape [2, 4] where the model has [1, 4]",
        "'1.bias' is a list, not a tensor",
    ]
    # a partial copy (an EMA average of some tensors) may leave tensors out
    assert weight_problems(expected, {"0.weight": expected["0.weight"]}, True) == []


def test_check_weights_names_the_entry() -> None:
    model = _model()
    stored = {name: value for name, value in model.state_dict().items()}
    stored.pop("1.bias")
    with pytest.raises(CheckpointContentError) as error:
        load_weights(model, stored, "trainer.state.best_model_state_dict")
    assert str(error.value) == (
        "the tensors of its entry 'trainer.state.best_model_state_dict' do not fit "
        "the model built from its hypers (the file is damaged or was edited): "
        "missing tensor '1.bias'"
    )
    with pytest.raises(CheckpointContentError, match="is a str, not a mapping"):
        check_weights(model.state_dict(), "weights", "model.state_dict")


def test_many_tensors_are_counted_not_listed() -> None:
    expected = {f"layer{i}": torch.zeros(1) for i in range(8)}
    (problem,) = weight_problems(expected, {})
    assert problem == (
        "missing tensors 'layer0', 'layer1', 'layer2', 'layer3', 'layer4' and 3 more"
    )


def _raised_in(path, error: Exception) -> Exception:
    with pytest.raises(type(error)) as raised, in_checkpoint(path):
        raise error
    return raised.value


def test_in_checkpoint_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.ckpt"
    named = _raised_in(path, CheckpointContentError("its entry 'x' is wrong"))
    assert str(named) == f"checkpoint '{path}': its entry 'x' is wrong"
    newer = _raised_in(path, CheckpointVersionError("newer"))
    assert isinstance(newer, CheckpointVersionError)
    assert str(newer) == f"checkpoint '{path}': newer"
    unnamed = _raised_in(None, CheckpointContentError("its entry 'x' is wrong"))
    assert str(unnamed) == "its entry 'x' is wrong"
    # other errors pass unchanged
    assert str(_raised_in(path, ValueError("other"))) == "other"
    assert issubclass(CheckpointContentError, CheckpointError)
    assert issubclass(CheckpointContentError, UserError)
