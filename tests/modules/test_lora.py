"""LoRA adapters: an exact start, plain state dicts, merging, and module selection."""

from __future__ import annotations

import pytest
import torch

from atomtrain.errors import OptionsError
from atomtrain.modules.lora import (
    LoRALinear,
    adapter_state,
    inject_lora,
    linear_layers,
    load_adapter_state,
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
    reference_state = network.state_dict()
    plain_keys = set(reference_state)
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
    # loading its own state changes nothing, not even the frozen weights
    frozen = network[0].base.weight.detach().clone()
    lora_b = network[0].lora_b.detach().clone()
    network.load_state_dict(state)
    assert torch.equal(network[0].base.weight, frozen)
    assert torch.equal(network[0].lora_b, lora_b)
    torch.testing.assert_close(network(x), adapted, rtol=0, atol=0)
    # another plain state (an EMA average, the best model) becomes the merged
    # weights, and the adapters keep training from where they were
    network.load_state_dict(reference_state)
    assert torch.equal(network[0].lora_b, lora_b)
    torch.testing.assert_close(network(x), reference)
    network.load_state_dict(state)

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


def test_adapter_state_puts_back_the_exact_adapters():
    network = _network()
    inject_lora(network, ["0", "3"], rank=2, alpha=4.0)
    with torch.no_grad():
        for name in ("0", "3"):
            network.get_submodule(name).lora_b.normal_()
    x = torch.randn(7, 5, dtype=torch.float64)
    adapted = network(x)
    state = adapter_state(network)
    assert sorted(state) == ["0", "3"]
    assert set(state["0"]) == {"base.weight", "lora_a", "lora_b"}

    # what a restart does: the plain model with the merged weights, new adapters
    plain = _network()
    plain.load_state_dict(network.state_dict())
    inject_lora(plain, ["0", "3"], rank=2, alpha=4.0)
    load_adapter_state(plain, state)
    for name in ("0", "3"):
        ours, theirs = plain.get_submodule(name), network.get_submodule(name)
        for key in ("base.weight", "lora_a", "lora_b"):
            assert torch.equal(ours.get_parameter(key), theirs.get_parameter(key))
    torch.testing.assert_close(plain(x), adapted, rtol=0, atol=0)

    other = _network()
    inject_lora(other, ["0"], rank=2, alpha=4.0)
    with pytest.raises(ValueError, match=r"adapters on \['0', '3'\]"):
        load_adapter_state(other, state)
    wider = _network()
    inject_lora(wider, ["0", "3"], rank=3, alpha=4.0)
    with pytest.raises(ValueError, match=r"'0\.lora_a' of the checkpoint has shape"):
        load_adapter_state(wider, state)


def test_weight_and_bias_of_an_adapted_layer_are_the_adapted_ones():
    """Models may multiply by a layer's ``weight`` (or slices of it) rather than
    call the layer: an adapted layer's weight is the merged, trainable one."""
    torch.manual_seed(0)
    layer = LoRALinear(torch.nn.Linear(6, 4), rank=2, alpha=4.0)
    with torch.no_grad():
        layer.lora_b.normal_()
    x = torch.randn(5, 6)
    direct = torch.nn.functional.linear(x, layer.weight, layer.bias)
    torch.testing.assert_close(direct, layer(x))
    direct.sum().backward()
    assert layer.lora_a.grad is not None and layer.lora_b.grad is not None
    assert layer.base.weight.grad is None
