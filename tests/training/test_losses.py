"""The loss grammar, by its problems and by its effect on the loss value."""

from __future__ import annotations

import pytest
import torch
from metatensor.torch import Labels, TensorBlock, TensorMap

from atomtrain.data.info import TargetInfo
from atomtrain.errors import OptionsError
from atomtrain.training.losses import LossFunction, resolve_loss

ENERGY = TargetInfo(quantity="energy", unit="eV", gradients=("positions", "strain"))
TARGETS = {"energy": ENERGY, "dipole": TargetInfo(unit="D")}


def energy_map(values, forces, strain) -> TensorMap:
    n = values.shape[0]
    block = TensorBlock(
        values.reshape(n, 1),
        Labels(["system"], torch.arange(n, dtype=torch.int32).reshape(-1, 1)),
        [],
        Labels.range("energy", 1),
    )
    atoms = forces.shape[0] // n
    samples = torch.stack(
        [
            torch.arange(n).repeat_interleave(atoms),
            torch.arange(n).repeat_interleave(atoms),
            torch.arange(atoms).repeat(n),
        ],
        dim=1,
    )
    block.add_gradient(
        "positions",
        TensorBlock(
            forces.reshape(-1, 3, 1),
            Labels(["sample", "system", "atom"], samples.to(torch.int32)),
            [Labels.range("xyz", 3)],
            Labels.range("energy", 1),
        ),
    )
    block.add_gradient(
        "strain",
        TensorBlock(
            strain.reshape(n, 3, 3, 1),
            Labels(["sample"], torch.arange(n, dtype=torch.int32).reshape(-1, 1)),
            [Labels.range("xyz_1", 3), Labels.range("xyz_2", 3)],
            Labels.range("energy", 1),
        ),
    )
    return TensorMap(Labels.single(), [block])


def test_string_gives_every_term_that_type():
    terms = resolve_loss("mae", {"energy": ENERGY})
    assert [(t.name, t.gradient, t.type) for t in terms] == [
        ("energy", None, "mae"),
        ("energy.forces", "positions", "mae"),
        ("energy.stress", "strain", "mae"),
    ]


def test_gradients_inherit_and_override():
    loss = {"energy": {"type": "huber", "delta": 0.5, "forces": {"weight": 10.0}}}
    terms = {t.name: t for t in resolve_loss(loss, {"energy": ENERGY})}
    assert terms["energy.forces"].type == "huber"
    assert terms["energy.forces"].weight == 10.0
    assert terms["energy.stress"].weight == 1.0


def test_the_gradients_form_of_metatrain_means_forces_and_stress():
    loss = {
        "energy": {
            "type": "mae",
            "gradients": {
                "positions": {"type": "mse", "weight": 10.0},
                "strain": {"weight": 0.1},
            },
        },
        # as metatrain writes it: a strain entry for a target without strain labels
        "dipole": {"gradients": {"positions": {}, "strain": {"weight": 3.0}}},
    }
    terms = {t.name: t for t in resolve_loss(loss, TARGETS)}
    assert (terms["energy.forces"].type, terms["energy.forces"].weight) == ("mse", 10)
    assert (terms["energy.stress"].type, terms["energy.stress"].weight) == ("mae", 0.1)
    assert sorted(terms) == ["dipole", "energy", "energy.forces", "energy.stress"]
    same = {"energy": {"type": "mae", "forces": {"type": "mse", "weight": 10.0}}}
    assert resolve_loss(same, {"energy": ENERGY})[1] == terms["energy.forces"]


def test_the_gradients_form_reports_its_problems():
    loss = {
        "energy": {
            "forces": {"weight": 2.0},
            "gradients": {"positions": {"weight": 1.0}, "stran": {}},
        },
        "dipole": {"gradients": [1, 2]},
    }
    with pytest.raises(OptionsError) as error:
        resolve_loss(loss, TARGETS)
    message = str(error.value)
    assert "loss.energy.gradients.positions: given twice: here and as 'forces'" in (
        message
    )
    assert "loss.energy.gradients.stran: unknown gradient (did you mean 'strain'?)" in (
        message
    )
    assert "loss.dipole.gradients: expected a mapping" in message


def test_every_problem_at_once():
    loss = {
        "enrgy": "mse",
        "energy": {"type": "rmse", "reduction": "max", "forcs": {}, "weight": -1},
        "dipole": {"forces": {"weight": 1.0}},
    }
    with pytest.raises(OptionsError) as error:
        resolve_loss(loss, TARGETS)
    message = str(error.value)
    assert "architecture.training.loss.enrgy: no target of that name" in message
    assert "(did you mean 'energy'?)" in message
    assert "loss.energy.type: unknown loss type (did you mean 'mse'?)" in message
    assert "loss.energy.reduction: expected 'mean' or 'sum'" in message
    assert "loss.energy.forcs: unknown key (did you mean 'forces'?)" in message
    assert "loss.energy.weight: expected a number" in message
    assert "loss.dipole.forces: target 'dipole' has no forces labels" in message


def test_weights_types_and_nan_labels_change_the_loss():
    torch.manual_seed(0)
    strain = torch.full((2, 3, 3), 2.0)
    strain_labels = torch.zeros(2, 3, 3)
    strain_labels[1] = float("nan")  # the second structure has no stress label
    labels = {"energy": energy_map(torch.zeros(2), torch.zeros(6, 3), strain_labels)}
    predictions = {
        "energy": energy_map(torch.tensor([3.0, 3.0]), torch.ones(6, 3), strain)
    }
    atoms = torch.tensor([3, 3])

    mse = LossFunction(resolve_loss("mse", {"energy": ENERGY}), ["energy"])
    total, parts = mse(predictions, labels, {}, atoms)
    # energy per atom 1 → 1; forces 1 → 1; stress (strain/atoms) 2/3 → 4/9, 9 values
    assert parts["energy.stress"][1] == 9  # the NaN structure is left out
    assert float(total) == pytest.approx(1.0 + 1.0 + 4.0 / 9.0)

    weighted = {"energy": {"forces": {"weight": 10.0}, "stress": {"weight": 0.0}}}
    total, _ = LossFunction(resolve_loss(weighted, {"energy": ENERGY}), ["energy"])(
        predictions, labels, {}, atoms
    )
    assert float(total) == pytest.approx(1.0 + 10.0)

    per_structure = LossFunction(resolve_loss("mae", {"energy": ENERGY}), [])
    total, _ = per_structure(predictions, labels, {}, atoms)
    assert float(total) == pytest.approx(3.0 + 1.0 + 2.0)

    scaled = LossFunction(
        resolve_loss("mse", {"energy": ENERGY}), ["energy"], {"energy": 2.0}
    )
    total, _ = scaled(predictions, labels, {}, atoms)
    assert float(total) == pytest.approx((1.0 + 1.0 + 4.0 / 9.0) / 4.0)


def test_masked_loss_reads_the_mask_from_extra_data():
    info = TargetInfo(unit="eV", sample_kind="system")
    values = TensorMap(
        Labels.single(),
        [
            TensorBlock(
                torch.tensor([[1.0], [5.0]]),
                Labels(["system"], torch.tensor([[0], [1]], dtype=torch.int32)),
                [],
                Labels.range("properties", 1),
            )
        ],
    )
    zeros = TensorMap(
        values.keys,
        [
            TensorBlock(
                torch.zeros(2, 1), values.block().samples, [], values.block().properties
            )
        ],
    )
    mask = TensorMap(
        values.keys,
        [
            TensorBlock(
                torch.tensor([[1.0], [0.0]]),
                values.block().samples,
                [],
                values.block().properties,
            )
        ],
    )
    loss = LossFunction(resolve_loss("masked_mse", {"gap": info}), [])
    total, _ = loss(
        {"gap": values}, {"gap": zeros}, {"gap_mask": mask}, torch.tensor([1, 1])
    )
    assert float(total) == pytest.approx(1.0)
    with pytest.raises(KeyError, match="needs a boolean mask 'gap_mask'"):
        loss({"gap": values}, {"gap": zeros}, {}, torch.tensor([1, 1]))
