import pytest
import torch

from atomtrain.checkpoints import (
    CheckpointContentError,
    CheckpointVersionError,
    checkpoint_fingerprint,
    checkpoint_signature,
    new_checkpoint,
    upgrade,
)


def version_1() -> dict:
    checkpoint = new_checkpoint("demo", 1)
    checkpoint["model"] = {"width": 8, "weights": torch.zeros(8, 3)}
    return checkpoint


def rename_width(checkpoint: dict) -> dict:
    checkpoint["model"]["hidden_size"] = checkpoint["model"].pop("width")
    return checkpoint


def add_bias(checkpoint: dict) -> dict:
    checkpoint["model"]["bias"] = torch.zeros(checkpoint["model"]["hidden_size"])
    return checkpoint


def test_steps_are_applied_in_order_and_the_version_updated():
    upgraded = upgrade(version_1(), "model", 3, {2: add_bias, 1: rename_width})
    assert upgraded["model_checkpoint_version"] == 3
    assert upgraded["model"]["hidden_size"] == 8
    assert upgraded["model"]["bias"].shape == (8,)


def test_a_current_checkpoint_is_unchanged():
    checkpoint = version_1()
    assert upgrade(checkpoint, "model", 1, {}) is checkpoint


def test_a_missing_step_is_named():
    with pytest.raises(KeyError, match="from model checkpoint version 2 to 3"):
        upgrade(version_1(), "model", 3, {1: rename_width})


def test_a_newer_checkpoint_asks_for_a_newer_atomtrain():
    checkpoint = version_1()
    checkpoint["trainer_checkpoint_version"] = 5
    checkpoint["trainer"] = {}
    with pytest.raises(
        CheckpointVersionError,
        match=r"needs a newer atomtrain \(checkpoint version 5 .* reads up to 2\)",
    ):
        upgrade(checkpoint, "trainer", 2, {})


def test_a_checkpoint_without_the_section_version_is_an_error():
    with pytest.raises(
        CheckpointContentError, match="no 'trainer_checkpoint_version' entry"
    ):
        upgrade(version_1(), "trainer", 1, {})


@pytest.mark.parametrize("version", [-1, 0, "2", 1.0, None])
def test_a_version_no_atomtrain_wrote_is_damage(version):
    checkpoint = version_1()
    checkpoint["model_checkpoint_version"] = version
    with pytest.raises(CheckpointContentError) as error:
        upgrade(checkpoint, "model", 3, {2: add_bias, 1: rename_width})
    assert str(error.value) == (
        f"its entry 'model_checkpoint_version' is {version!r}, but the model of "
        "'demo' has versions 1 to 3 only: the file is damaged or was edited"
    )
    assert not isinstance(error.value, CheckpointVersionError)


def test_the_oldest_version_is_that_of_the_first_step():
    checkpoint = version_1()
    checkpoint["model"]["hidden_size"] = checkpoint["model"].pop("width")
    checkpoint["model_checkpoint_version"] = 1
    # an architecture whose first format is version 2
    with pytest.raises(CheckpointContentError, match="has versions 2 to 3 only"):
        upgrade(checkpoint, "model", 3, {2: add_bias})
    with pytest.raises(CheckpointContentError, match="has version 4 only"):
        upgrade(checkpoint, "model", 4, {})


def test_fingerprint_ignores_values_and_sizes_but_not_the_format():
    reference = checkpoint_fingerprint(version_1())
    other_values = version_1()
    other_values["model"]["weights"] = torch.ones(4, 3)
    other_values["model"]["width"] = 4
    other_values["atomtrain_version"] = "9.9.9"
    assert checkpoint_fingerprint(other_values) == reference

    renamed = rename_width(version_1())
    assert checkpoint_fingerprint(renamed) != reference
    other_dtype = version_1()
    other_dtype["model"]["weights"] = torch.zeros(8, 3, dtype=torch.float32).double()
    assert checkpoint_fingerprint(other_dtype) != reference
    other_rank = version_1()
    other_rank["model"]["weights"] = torch.zeros(24)
    assert checkpoint_fingerprint(other_rank) != reference


def test_signature_describes_lists_by_their_distinct_items():
    signature = checkpoint_signature(
        {"groups": [{"lr": 0.1}, {"lr": 0.2}], "ids": (1, 2)}
    )
    assert signature == {
        "groups": {"list[]": ['{"lr": "float"}']},
        "ids": {"tuple[]": ['"int"']},
    }
