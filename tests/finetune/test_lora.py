"""LoRA adapters: an exact start, plain state dicts, merging, and module selection."""

from __future__ import annotations

import pytest
import torch

from atomtrain.errors import OptionsError
from atomtrain.finetune.lora import (
    LoRALinear,
    inject_lora,
    linear_layers,
    merge_lora,
    select_lora_targets,
)


def _network() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(5, 8),
        torch.nn.SiLU(),
        torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.SiLU()),
        torch.nn.Linear(8, 2),
    ).to(torch.float64)


def test_adapters_start_exactly_at_the_pretrained_model_and_merge_exactly():
    network = _network()
    x = torch.randn(7, 5, dtype=torch.float64)
    reference = network(x)
    plain_keys = set(network.state_dict())
    inject_lora(network, ["0", "2.0"], rank=2, alpha=4.0)
    assert isinstance(network[0], LoRALinear)
    torch.testing.assert_close(network(x), reference, rtol=0, atol=0)
    trainable = {n for n, p in network.named_parameters() if p.requires_grad}
    assert trainable == {
        "0.lora_a",
        "0.lora_b",
        "2.0.lora_a",
        "2.0.lora_b",
        "3.weight",
        "3.bias",
    }

    with torch.no_grad():
        network[0].lora_b.normal_()
        network[2][0].lora_b.normal_()
    adapted = network(x)
    assert not torch.allclose(adapted, reference)
    # the state reads as the plain architecture, with merged weights
    state = network.state_dict()
    assert set(state) == plain_keys
    plain = _network()
    plain.load_state_dict(state)
    torch.testing.assert_close(plain(x), adapted)
    # loading a plain state puts the weights in W and the adapters back to zero
    network.load_state_dict(state)
    assert float(network[0].lora_b.detach().abs().max()) == 0.0
    torch.testing.assert_close(network(x), adapted)

    with torch.no_grad():
        network[0].lora_b.normal_()
    adapted = network(x)
    assert merge_lora(network) == 2
    assert type(network[0]) is torch.nn.Linear
    assert not any(isinstance(m, LoRALinear) for m in network.modules())
    torch.testing.assert_close(network(x), adapted)
    torch.jit.script(network)


def test_target_modules_are_matched_by_name_suffix_and_unknown_ones_named():
    network = _network()
    assert linear_layers(network) == ["0", "2.0", "3"]
    assert select_lora_targets(network, [], ["3"]) == ["0", "2.0"]
    assert select_lora_targets(network, ["0"], []) == ["0", "2.0"]
    with pytest.raises(OptionsError) as error:
        select_lora_targets(network, ["2.1", "0"], [])
    message = str(error.value)
    assert "finetune.config.target_modules.0" in message
    assert "its linear layers are 0, 2.0, 3" in message
