"""Every copy of a model's weights in a checkpoint (live, best, EMA): which one a
model loads, and upgrades that change all of them."""

import pytest
import torch

from atomtrain.checkpoints import (
    IncompleteUpgradeError,
    model_weights,
    new_checkpoint,
    rename_parameters,
    stored_model_weights,
    upgrade,
    upgrade_weights,
)


def weights(scale: float) -> dict:
    return {
        "readout.weight": torch.full((2, 3), scale),
        "readout.bias": torch.full((2,), scale),
        "embedding.weight": torch.full((4, 3), scale),
        "counts": torch.tensor([1, 2]),
    }


def engine_checkpoint() -> dict:
    """A checkpoint as the engine writes it: live, best and EMA weights (the EMA
    averages floating-point tensors only)."""
    checkpoint = new_checkpoint("demo", 1)
    checkpoint["model"] = {"hypers": {}, "state_dict": weights(1.0)}
    ema = {k: v for k, v in weights(3.0).items() if v.is_floating_point()}
    checkpoint["trainer_checkpoint_version"] = 1
    checkpoint["trainer"] = {
        "hypers": {},
        "state": {"best_model_state_dict": weights(2.0), "ema": ema},
    }
    return checkpoint


def test_each_context_loads_its_copy():
    checkpoint = engine_checkpoint()
    assert float(model_weights(checkpoint, "restart")["readout.bias"][0]) == 1.0
    assert float(model_weights(checkpoint, "export")["readout.bias"][0]) == 2.0
    entries = [entry for entry, _, _ in stored_model_weights(checkpoint)]
    assert entries == [
        "model.state_dict",
        "trainer.state.best_model_state_dict",
        "trainer.state.ema",
    ]


def test_renaming_a_module_renames_its_tensors_in_every_copy():
    checkpoint = rename_parameters(engine_checkpoint(), {"readout": "head"})
    for entry, copy, partial in stored_model_weights(checkpoint):
        assert not any(name.startswith("readout") for name in copy), entry
        assert list(copy)[:3] == ["head.weight", "head.bias", "embedding.weight"]
        assert ("counts" in copy) is not partial
    assert float(model_weights(checkpoint, "export")["head.bias"][0]) == 2.0


def test_renaming_one_tensor_leaves_its_neighbours():
    checkpoint = rename_parameters(engine_checkpoint(), {"readout.bias": "offset"})
    live = checkpoint["model"]["state_dict"]
    assert "offset" in live and "readout.weight" in live


def test_a_change_of_the_ema_copy_keeps_floating_point_tensors_only():
    def add_scales(copy):
        copy["scale.values"] = torch.ones(2)
        copy["scale.fitted"] = torch.tensor(True)
        return copy

    checkpoint = upgrade_weights(engine_checkpoint(), add_scales)
    state = checkpoint["trainer"]["state"]
    assert "scale.fitted" in state["best_model_state_dict"]
    assert "scale.values" in state["ema"] and "scale.fitted" not in state["ema"]


def test_a_model_checkpoint_without_trainer_section_is_changed_too():
    checkpoint = new_checkpoint("demo", 1)
    checkpoint["model"] = {"state_dict": weights(1.0)}
    renamed = rename_parameters(checkpoint, {"embedding": "types"})
    assert "types.weight" in renamed["model"]["state_dict"]


def rename_live_only(checkpoint: dict) -> dict:
    """The recipe that renamed model.state_dict alone."""
    live = checkpoint["model"]["state_dict"]
    live["head.weight"] = live.pop("readout.weight")
    return checkpoint


def test_an_upgrade_step_changing_the_live_weights_only_is_named():
    with pytest.raises(IncompleteUpgradeError) as error:
        upgrade(engine_checkpoint(), "model", 2, {1: rename_live_only})
    message = str(error.value)
    assert message.startswith(
        "the upgrade step of the model of 'demo' from version 1 to 2 changed the "
        "live weights only: trainer.state.best_model_state_dict has "
        "'readout.weight' that model.state_dict lacks and lacks 'head.weight'; "
        "trainer.state.ema has 'readout.weight' that model.state_dict lacks"
    )
    assert "rename_parameters" in message


def test_an_upgrade_step_renaming_every_copy_passes():
    def step(checkpoint: dict) -> dict:
        return rename_parameters(checkpoint, {"readout.weight": "head.weight"})

    upgraded = upgrade(engine_checkpoint(), "model", 2, {1: step})
    assert upgraded["model_checkpoint_version"] == 2
    assert "head.weight" in upgraded["trainer"]["state"]["ema"]


def test_copies_already_out_of_step_are_left_to_the_content_checks():
    """A damaged file (its best copy edited) is not blamed on the upgrade step: the
    checks of the weights against the model name the file and the entry."""
    checkpoint = engine_checkpoint()
    del checkpoint["trainer"]["state"]["best_model_state_dict"]["readout.bias"]
    upgraded = upgrade(checkpoint, "model", 2, {1: rename_live_only})
    assert upgraded["model_checkpoint_version"] == 2
