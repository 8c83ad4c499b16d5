"""Units of the metatomic model: systems handed over in the wrapped model's length
unit, cutoffs in the dataset's, outputs scaled and shifted."""

from __future__ import annotations

import pytest
import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import NeighborListOptions, System

from atomtrain.metatomic_model.units import converted_systems, in_length_unit, scaled

TO_BOHR = 1.8897261246257702


def _system_with_pairs(options: NeighborListOptions) -> System:
    positions = torch.tensor(
        [[0.0, 0.0, 0.0], [1.0, 0.5, 0.0]], dtype=torch.float64, requires_grad=True
    )
    system = System(
        types=torch.tensor([1, 8]),
        positions=positions,
        cell=torch.eye(3, dtype=torch.float64) * 5.0,
        pbc=torch.tensor([True, True, True]),
    )
    vector = (positions[1] - positions[0]).reshape(1, 3, 1)
    pairs = TensorBlock(
        values=vector,
        samples=Labels(
            [
                "first_atom",
                "second_atom",
                "cell_shift_a",
                "cell_shift_b",
                "cell_shift_c",
            ],
            torch.tensor([[0, 1, 0, 0, 0]]),
        ),
        components=[Labels.range("xyz", 3)],
        properties=Labels.range("distance", 1),
    )
    system.add_neighbor_list(options, pairs)
    return system


def test_lengths_are_scaled_inside_the_graph_and_lists_renamed() -> None:
    engine = NeighborListOptions(cutoff=3.0, full_list=False, strict=True)
    wanted = NeighborListOptions(cutoff=3.0 * TO_BOHR, full_list=False, strict=True)
    system = _system_with_pairs(engine)
    (converted,) = converted_systems([system], TO_BOHR, [engine], [wanted])
    torch.testing.assert_close(converted.positions, system.positions * TO_BOHR)
    torch.testing.assert_close(converted.cell, system.cell * TO_BOHR)
    vectors = converted.get_neighbor_list(wanted).values
    torch.testing.assert_close(
        vectors.reshape(3), torch.tensor([1.0, 0.5, 0.0]).to(torch.float64) * TO_BOHR
    )
    # the gradient of a length in the model's unit flows back to the positions
    (gradient,) = torch.autograd.grad(vectors.sum(), [system.positions])
    expected = torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]) * TO_BOHR
    torch.testing.assert_close(gradient, expected.to(torch.float64))


def test_cutoffs_are_given_in_the_dataset_unit() -> None:
    options = NeighborListOptions(cutoff=9.0, full_list=True, strict=False)
    converted = in_length_unit(options, "bohr", 1.0 / TO_BOHR)
    assert converted.cutoff == pytest.approx(9.0 * TO_BOHR)
    assert converted.full_list and not converted.strict
    assert converted.length_unit == "bohr"
    assert in_length_unit(options, "angstrom", 1.0) is options


def test_outputs_are_scaled_and_shifted() -> None:
    block = TensorBlock(
        values=torch.tensor([[1.0], [2.0]], dtype=torch.float64),
        samples=Labels.range("system", 2),
        components=[],
        properties=Labels.range("energy", 1),
    )
    tensor = TensorMap(Labels.single(), [block])
    shift = torch.tensor([[10.0], [20.0]], dtype=torch.float64)
    result = scaled(tensor, 4.0, shift).block().values
    torch.testing.assert_close(result, torch.tensor([[14.0], [28.0]]).to(torch.float64))
    plain = scaled(tensor, 0.5, None).block().values
    torch.testing.assert_close(plain, torch.tensor([[0.5], [1.0]]).to(torch.float64))
