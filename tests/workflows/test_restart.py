"""The model hypers of a restart must be those of its checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from atomtrain.errors import UserError
from atomtrain.workflows.restart import changed_hypers, check_restart_hypers

STORED = {"cutoff": 4.0, "hidden": 32, "soap": {"max_radial": 7, "max_angular": 6}}


def test_changes_are_found_key_by_key():
    given = {"cutoff": 4, "hidden": 16, "soap": {"max_radial": 5, "max_angular": 6}}
    given["zbl"] = True
    changes = changed_hypers(STORED, given)
    assert [(key, old, new) for key, old, new in changes[:2]] == [
        ("architecture.model.hidden", 32, 16),
        ("architecture.model.soap.max_radial", 7, 5),
    ]
    # present in the options only
    assert [key for key, _, new in changes[2:]] == ["architecture.model.zbl"]


def test_a_restart_with_other_model_hypers_is_refused():
    given = {**STORED, "hidden": 16, "zbl": True}
    with pytest.raises(UserError) as error:
        check_restart_hypers(
            {"model": {"hypers": STORED}}, given, Path("run/model.ckpt")
        )
    assert str(error.value) == (
        "cannot restart from 'run/model.ckpt' with other model hyperparameters: a "
        "restart continues the checkpoint's model as it is\n"
        "  - architecture.model.hidden: 32 in the checkpoint, 16 in the options\n"
        "  - architecture.model.zbl: absent in the checkpoint, True in the options\n"
        "Set them back to continue that run, or train a new model from its weights "
        "by fine-tuning: architecture.training.finetune.read_from: run/model.ckpt "
        "(without --restart)"
    )


def test_the_same_hypers_or_a_checkpoint_without_them_pass():
    check_restart_hypers({"model": {"hypers": STORED}}, dict(STORED), Path("a"))
    check_restart_hypers({"model": {"weights": {}}}, {"hidden": 3}, Path("a"))
