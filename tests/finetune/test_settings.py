"""The finetune section: defaults, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from atomtrain.errors import OptionsError, UserError
from atomtrain.finetune import finetune_settings
from atomtrain.finetune.heads import require_heads


def test_defaults_and_lora_options():
    assert finetune_settings({}) is None
    settings = finetune_settings({"finetune": {"read_from": "a.ckpt"}})
    assert settings is not None
    assert settings.method == "full" and settings.read_from == Path("a.ckpt")
    assert settings.lora is None and settings.inherit_heads == {}
    lora = finetune_settings(
        {
            "finetune": {
                "read_from": "a.ckpt",
                "method": "lora",
                "config": {"rank": 2, "target_modules": "network.0"},
                "inherit_heads": {"energy/pbe": "energy"},
            }
        }
    )
    assert lora is not None and lora.lora is not None
    assert (lora.lora.rank, lora.lora.alpha) == (2, 8.0)
    assert lora.lora.target_modules == ("network.0",)
    assert lora.inherit_heads == {"energy/pbe": "energy"}


def test_options_that_cannot_be_honoured_are_all_reported():
    with pytest.raises(OptionsError) as error:
        finetune_settings(
            {"finetune": {"read_from": "", "method": "head", "config": {"rank": 2}}}
        )
    message = str(error.value)
    assert "architecture.training.finetune.method" in message
    assert "did you mean 'heads'" in message
    assert "architecture.training.finetune.read_from" in message
    assert "architecture.training.finetune.config" in message

    with pytest.raises(OptionsError) as error:
        finetune_settings(
            {
                "finetune": {
                    "read_from": "a.ckpt",
                    "method": "lora",
                    "config": {"rank": 0, "alpha": -1, "ranks": 3},
                }
            }
        )
    message = str(error.value)
    assert "finetune.config.rank" in message and "finetune.config.alpha" in message
    assert "finetune.config.ranks" in message and "did you mean 'rank'" in message


def test_heads_need_an_architecture_that_declares_them():
    with pytest.raises(UserError, match="declares no heads"):
        require_heads(torch.nn.Linear(2, 2), "method 'heads' trains the heads alone")
