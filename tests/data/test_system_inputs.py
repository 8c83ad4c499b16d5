"""Per-structure inputs requested by a model: attached to a batch's systems from its
extra data or metatomic's defaults, and refused when nothing can provide them."""

from __future__ import annotations

import pytest
import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import ModelOutput, System

from atomtrain.data.system_inputs import attach_inputs, check_inputs
from atomtrain.errors import UserError


def systems(count: int) -> list[System]:
    return [
        System(
            types=torch.tensor([1, 8]),
            positions=torch.rand((2, 3), dtype=torch.float64),
            cell=torch.zeros((3, 3), dtype=torch.float64),
            pbc=torch.tensor([False, False, False]),
        )
        for _ in range(count)
    ]


def per_system(values: list[float]) -> TensorMap:
    block = TensorBlock(
        torch.tensor(values, dtype=torch.float64).reshape(-1, 1),
        Labels.range("system", len(values)),
        [],
        Labels.range("charge", 1),
    )
    return TensorMap(Labels.single(), [block])


def test_inputs_come_from_the_extra_data_or_the_defaults():
    batch = systems(3)
    attach_inputs(
        batch, ["charge", "spin_multiplicity"], {"charge": per_system([0, 1, -2])}
    )
    charges = [float(s.get_data("charge").block().values[0, 0]) for s in batch]
    spins = [float(s.get_data("spin_multiplicity").block().values[0, 0]) for s in batch]
    assert charges == [0.0, 1.0, -2.0]
    assert spins == [1.0, 1.0, 1.0]
    block = batch[1].get_data("charge").block()
    assert block.samples.names == ["system"] and block.properties.names == ["charge"]


def test_inputs_nothing_provides_are_refused_and_defaults_said():
    per_structure = ModelOutput(sample_kind="system")
    check_inputs({"charge": per_structure}, {"charge": "declared"})
    with pytest.warns(UserWarning, match="every structure is taken with charge 0"):
        check_inputs({"charge": per_structure}, {})
    with pytest.raises(UserError, match=r"declare it as extra_data.mtt::field"):
        check_inputs({"mtt::field": per_structure}, {})
    with pytest.raises(UserError, match="per-atom input 'mtt::spins'"):
        check_inputs({"mtt::spins": ModelOutput(sample_kind="atom")}, {})


def test_an_input_without_data_or_default_is_a_clear_error():
    with pytest.raises(UserError, match=r"input 'mtt::field' .* no default"):
        attach_inputs(systems(2), ["mtt::field"], {})
